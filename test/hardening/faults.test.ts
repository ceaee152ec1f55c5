import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";

const store = (path: string) => `/api/v1/secrets/store/${path}`;
const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

describe("a D1 batch that fails on its last statement", () => {
  it("leaves no version, audit event or idempotency record; a retry with the same key then succeeds once", async () => {
    const path = uniquePath("fault");
    await api("POST", store(path), { body: { value: "v1" } });
    const key = `fault-${path}`;
    const auditBefore = await count("SELECT COUNT(*) AS n FROM audit_events WHERE resource = ?", `secret:${path}`);
    // The idempotency record is the last statement of the write's batch: make it fail.
    await env.DB.exec(
      "CREATE TRIGGER fail_idempotency BEFORE UPDATE ON idempotency_keys WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    try {
      const failed = await api("PUT", store(path), { body: { value: "v2" }, headers: { "idempotency-key": key } });
      expectProblem(failed, 500);
    } finally {
      await env.DB.exec("DROP TRIGGER fail_idempotency");
    }
    expect(await count("SELECT COUNT(*) AS n FROM secret_versions WHERE path = ?", path)).toBe(1);
    expect(await count("SELECT current_version AS n FROM secrets WHERE path = ?", path)).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM audit_events WHERE resource = ?", `secret:${path}`)).toBe(auditBefore);
    expect(await count("SELECT COUNT(*) AS n FROM idempotency_keys WHERE key = ?", key)).toBe(0);

    const retry = await api("PUT", store(path), { body: { value: "v2" }, headers: { "idempotency-key": key } });
    expect(retry.status).toBe(200);
    expect(retry.body.version).toBe(2);
    const replay = await api("PUT", store(path), { body: { value: "v2" }, headers: { "idempotency-key": key } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await count("SELECT COUNT(*) AS n FROM secret_versions WHERE path = ?", path)).toBe(2);
    expect(await count("SELECT COUNT(*) AS n FROM audit_events WHERE resource = ? AND action = 'secret.write'", `secret:${path}`)).toBe(1);
  });

  it("a version insert that loses a race rolls back the secret row and the audit event", async () => {
    const path = uniquePath("race");
    await api("POST", store(path), { body: { value: "v1" } });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => api("PUT", store(path), { body: { value: `w${i}`, cas: 1 } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    expect(await count("SELECT COUNT(*) AS n FROM secret_versions WHERE path = ?", path)).toBe(2);
    expect(await count("SELECT COUNT(*) AS n FROM audit_events WHERE resource = ? AND action = 'secret.write'", `secret:${path}`)).toBe(1);
  });
});

describe("the cron sweeper", () => {
  it("runs every step even when an earlier one fails", async () => {
    const { createExecutionContext, createScheduledController, waitOnExecutionContext } = await import("cloudflare:test");
    const worker = (await import("../../src/index")).default;
    await env.DB.exec("CREATE TRIGGER fail_purge BEFORE DELETE ON idempotency_keys BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    await env.DB.prepare("INSERT INTO idempotency_keys (tenant_id, key, fingerprint, state, created_at) VALUES ('sweeper-t', 'old', 'f', 'done', 0)").run();
    try {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), env, ctx);
      await waitOnExecutionContext(ctx);
    } finally {
      await env.DB.exec("DROP TRIGGER fail_purge");
    }
    // The purge failed, yet the run went on to its end (audit events need no sealing step any more:
    // they are chained as they are written; pending intents are settled by each chain's alarm).
    expect(await count("SELECT COUNT(*) AS n FROM idempotency_keys WHERE tenant_id = 'sweeper-t'")).toBe(1);
  });
});
