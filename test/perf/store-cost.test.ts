// D1 cost of the store's bulk paths (issue 3), measured from the query result meta in
// workerd. Each test prints one `STORE_COST {json}` line that bench/store.mjs collects.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { api, uniquePath } from "../helpers";

type Meta = { rows_read: number; rows_written: number };
let captured: Meta[] = [];
const originalBatch = env.DB.batch;
const originalPrepare = env.DB.prepare;
const originalWithSession = env.DB.withSession;

/**
 * Requests run their statements in a D1 session (withSession, docs/decisions.md): while `patch`
 * is installed, each session the Worker opens gets it too, so its statements are measured like
 * the binding's.
 */
function patchSessions(patch: (session: D1DatabaseSession) => void) {
  env.DB.withSession = function (this: D1Database, constraint?: string) {
    const session = originalWithSession.call(this, constraint as D1SessionConstraint);
    patch(session);
    return session;
  } as typeof env.DB.withSession;
}

/** Records the meta of every D1 batch and statement the Worker runs while `fn` runs. */
async function measure(fn: () => Promise<void>) {
  captured = [];
  const counted = (batch: D1Database["batch"]) =>
    async function (this: unknown, statements: D1PreparedStatement[]) {
      const results = await batch.call(this, statements);
      for (const r of results) captured.push(r.meta as unknown as Meta);
      return results;
    } as D1Database["batch"];
  env.DB.batch = counted(originalBatch);
  patchSessions((session) => (session.batch = counted(session.batch)));
  await fn();
  env.DB.batch = originalBatch;
  env.DB.withSession = originalWithSession;
  return {
    rowsRead: captured.reduce((n, m) => n + m.rows_read, 0),
    rowsWritten: captured.reduce((n, m) => n + m.rows_written, 0),
    statements: captured.length,
  };
}

afterEach(() => {
  env.DB.batch = originalBatch;
  env.DB.prepare = originalPrepare;
  env.DB.withSession = originalWithSession;
});

describe("D1 cost of the secret store", () => {
  it("imports 1,000 entries in one batch with rows written linear in the entries", async () => {
    const prefix = uniquePath("costimport");
    const values = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`svc${i % 20}/key${i}`, `value-${i}`]));
    const started = performance.now();
    const cost = await measure(async () => {
      const res = await api("POST", "/api/v1/secrets/store/import", { body: { prefix, values } });
      expect(res.status, res.text.slice(0, 200)).toBe(201);
    });
    const ms = performance.now() - started;
    console.log(
      `STORE_COST ${JSON.stringify({ measure: "import", entries: 1000, ms: Math.round(ms), rows_written: cost.rowsWritten, statements: cost.statements })}`,
    );
    // Per entry: the secrets row, its primary-key index and two secondary indexes, the
    // version row, its primary-key index and the two scanning indexes on its value MAC
    // (secret_versions_value_mac, secret_versions_mac_pending) (8), plus the one audit event.
    expect(cost.rowsWritten).toBeGreaterThanOrEqual(2000);
    expect(cost.rowsWritten).toBeLessThanOrEqual(8 * 1000 + 10);
  });

  it("lists the history of a path with 1,000 versions reading rows in proportion to the page, not the history", async () => {
    const path = uniquePath("costhistory");
    await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: "v" } });
    // 999 more versions written directly (their values are never read here).
    const insert = env.DB.prepare(
      "INSERT INTO secret_versions (tenant_id, path, version, ciphertext, iv, wrapped_key, key_id, state, created_at, created_by) SELECT tenant_id, path, ?, ciphertext, iv, wrapped_key, key_id, state, created_at, created_by FROM secret_versions WHERE tenant_id = 'default' AND path = ? AND version = 1",
    );
    const statements = Array.from({ length: 999 }, (_, i) => insert.bind(i + 2, path));
    await env.DB.batch(statements);
    await env.DB.prepare("UPDATE secrets SET current_version = 1000 WHERE tenant_id = 'default' AND path = ?").bind(path).run();

    const rowsRead = async (limit: number) => {
      // The exact statements the versions route runs (drizzle sends them through prepare().all()/raw()).
      const metas: Meta[] = [];
      const counting = (prepare: D1Database["prepare"]) =>
        function (this: unknown, query: string) {
          const statement = prepare.call(this, query);
          for (const method of ["all", "raw", "first", "run"] as const) {
            const original = (statement as any)[method].bind(statement);
            (statement as any)[method] = async (...args: unknown[]) => {
              const result = await original(...args);
              if (method === "all" || method === "run") metas.push(result.meta);
              return result;
            };
          }
          const bind = statement.bind.bind(statement);
          statement.bind = (...values: unknown[]) => {
            const bound = bind(...values);
            for (const method of ["all", "run"] as const) {
              const original = (bound as any)[method].bind(bound);
              (bound as any)[method] = async (...args: unknown[]) => {
                const result = await original(...args);
                metas.push(result.meta);
                return result;
              };
            }
            const raw = (bound as any).raw.bind(bound);
            (bound as any).raw = async (options?: unknown) => {
              const all = await (bound as any).all();
              return options && (options as any).columnNames ? raw(options) : all.results.map((r: object) => Object.values(r));
            };
            return bound;
          };
          return statement;
        } as typeof env.DB.prepare;
      env.DB.prepare = counting(originalPrepare);
      patchSessions((session) => (session.prepare = counting(session.prepare)));
      const res = await api("GET", `/api/v1/secrets/store/${path}/versions?limit=${limit}`);
      env.DB.prepare = originalPrepare;
      env.DB.withSession = originalWithSession;
      expect(res.body.items.length).toBe(limit);
      return metas.reduce((n, m) => n + (m?.rows_read ?? 0), 0);
    };
    const full = await rowsRead(1000);
    const page = await rowsRead(100);
    console.log(`STORE_COST ${JSON.stringify({ measure: "history", versions: 1000, rows_read_limit_1000: full, rows_read_limit_100: page })}`);
    expect(full).toBeLessThanOrEqual(1005);
    expect(page).toBeLessThanOrEqual(105);
  });

  it("resolves a 10-deep reference chain", { timeout: 60_000 }, async () => {
    const base = uniquePath("costchain");
    await api("PUT", `/api/v1/secrets/store/${base}/n10`, { body: { value: "bottom" } });
    for (let i = 9; i >= 0; i--) {
      await api("PUT", `/api/v1/secrets/store/${base}/n${i}`, { body: { value: `${i}.\${secret.${base}/n${i + 1}}` } });
    }
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      const res = await api("GET", `/api/v1/secrets/store/${base}/n0?resolve=true`);
      times.push(performance.now() - t);
      expect(res.body.value).toBe("0.1.2.3.4.5.6.7.8.9.bottom");
    }
    times.sort((a, b) => a - b);
    const plain: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await api("GET", `/api/v1/secrets/store/${base}/n10`);
      plain.push(performance.now() - t);
    }
    plain.sort((a, b) => a - b);
    console.log(`STORE_COST ${JSON.stringify({ measure: "resolve-in-vitest", resolve_p50_ms: times[25], plain_p50_ms: plain[25] })}`);
  });
});
