import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { api, BASE, ROOT, expectProblem, uniquePath } from "../helpers";
import { chainEvents } from "../support/audit-store";

const store = (path: string) => `/api/v1/secrets/store/${path}`;

async function fetchWith(overrides: Partial<Env>, method: string, path: string, body?: unknown) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${BASE}${path}`, {
      method,
      headers: { authorization: `Bearer ${ROOT}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

describe("master key handling", () => {
  for (const [label, value] of [
    ["missing", undefined],
    ["malformed JSON", "{not json"],
    ["a key of the wrong length", JSON.stringify({ active: "k1", keys: { k1: "c2hvcnQ=" } })],
    ["an active id with no key", JSON.stringify({ active: "k9", keys: { k1: "q1Yl0n1X4mV5m3rXl0J8c2Zp0m9dW8l3cJ9v6yH2x0s=" } })],
  ] as const) {
    it(`fails closed with 503 when MASTER_KEYS is ${label}, writing nothing`, async () => {
      const path = uniquePath("nokey");
      const before = await env.DB.prepare("SELECT (SELECT COUNT(*) FROM secrets) + (SELECT COUNT(*) FROM secret_versions) AS n").first<{ n: number }>();
      const write = await fetchWith({ MASTER_KEYS: value }, "POST", store(path), { value: "never-stored" });
      expect(write.status).toBe(503);
      expect(write.headers.get("content-type")).toBe("application/problem+json");
      expect(write.body.type).toContain("master-key-unavailable");
      const after = await env.DB.prepare("SELECT (SELECT COUNT(*) FROM secrets) + (SELECT COUNT(*) FROM secret_versions) AS n").first<{ n: number }>();
      expect(after?.n).toBe(before?.n);

      await api("POST", store(path), { body: { value: "stored-with-key" } });
      expect((await fetchWith({ MASTER_KEYS: value }, "GET", store(path))).status).toBe(503);
      const health = await fetchWith({ MASTER_KEYS: value }, "GET", "/healthz");
      expect(health.status).toBe(503);
      expect(health.body.master_key).toBe(value === undefined ? "missing" : "malformed");
    });
  }
});

describe("sealed data integrity", () => {
  it("a ciphertext copied onto another path fails to open: 500 problem, audited, never the other value", async () => {
    const source = uniquePath("copy");
    const target = uniquePath("copy");
    await api("POST", store(source), { body: { value: "source-value" } });
    await api("POST", store(target), { body: { value: "target-value" } });
    await env.DB.prepare(
      `UPDATE secret_versions SET (ciphertext, iv, wrapped_key, key_id) =
         (SELECT ciphertext, iv, wrapped_key, key_id FROM secret_versions WHERE path = ?1 AND version = 1)
       WHERE path = ?2 AND version = 1`,
    )
      .bind(source, target)
      .run();
    const res = await api("GET", store(target));
    expectProblem(res, 500);
    expect(res.body.type).toContain("integrity-failure");
    expect(res.text).not.toContain("source-value");
    expect(res.text).not.toContain("target-value");
    const events = await api("GET", `/api/v1/audit?path=${target}&action=integrity_failure`);
    expect(events.body.items).toHaveLength(1);
  });

  it("a ciphertext moved to another version of the same path fails to open", async () => {
    const path = uniquePath("move");
    await api("POST", store(path), { body: { value: "v1" } });
    await api("PUT", store(path), { body: { value: "v2" } });
    await env.DB.prepare(
      `UPDATE secret_versions SET (ciphertext, iv, wrapped_key) =
         (SELECT ciphertext, iv, wrapped_key FROM secret_versions WHERE path = ?1 AND version = 1)
       WHERE path = ?1 AND version = 2`,
    )
      .bind(path)
      .run();
    expectProblem(await api("GET", store(path)), 500);
    expect((await api("GET", `${store(path)}?version=1`)).body.value).toBe("v1");
  });

  it("a single flipped bit in the ciphertext or the wrapped key fails to open", async () => {
    for (const column of ["ciphertext", "wrapped_key"]) {
      const path = uniquePath("flip");
      await api("POST", store(path), { body: { value: "flip-me" } });
      const row = await env.DB.prepare(`SELECT ${column} AS blob FROM secret_versions WHERE path = ?`).bind(path).first<{ blob: ArrayBuffer }>();
      const bytes = new Uint8Array(row!.blob);
      bytes[bytes.length - 1]! ^= 1;
      await env.DB.prepare(`UPDATE secret_versions SET ${column} = ? WHERE path = ?`).bind(bytes, path).run();
      expectProblem(await api("GET", store(path)), 500);
    }
  });

  it("tampering after a read kept the data key is caught just the same (Keyring.dataKey)", async () => {
    const source = uniquePath("kept");
    const target = uniquePath("kept");
    await api("POST", store(source), { body: { value: "kept-source" } });
    await api("POST", store(target), { body: { value: "kept-target" } });
    // Both data keys are now kept by the isolate.
    expect((await api("GET", store(source))).body.value).toBe("kept-source");
    expect((await api("GET", store(target))).body.value).toBe("kept-target");
    // Another row's sealed value and wrapped key: the kept key of `target` must not open it.
    await env.DB.prepare(
      `UPDATE secret_versions SET (ciphertext, iv, wrapped_key) =
         (SELECT ciphertext, iv, wrapped_key FROM secret_versions WHERE path = ?1 AND version = 1)
       WHERE path = ?2 AND version = 1`,
    )
      .bind(source, target)
      .run();
    const copied = await api("GET", store(target));
    expectProblem(copied, 500);
    expect(copied.text).not.toContain("kept-source");
    // A flipped bit in the wrapped key, or in the value, of a secret whose data key is kept.
    for (const column of ["wrapped_key", "ciphertext"]) {
      const path = uniquePath("kept");
      await api("POST", store(path), { body: { value: "kept-flip" } });
      expect((await api("GET", store(path))).body.value).toBe("kept-flip");
      const row = await env.DB.prepare(`SELECT ${column} AS blob FROM secret_versions WHERE path = ?`).bind(path).first<{ blob: ArrayBuffer }>();
      const bytes = new Uint8Array(row!.blob);
      bytes[bytes.length - 1]! ^= 1;
      await env.DB.prepare(`UPDATE secret_versions SET ${column} = ? WHERE path = ?`).bind(bytes, path).run();
      expectProblem(await api("GET", store(path)), 500);
    }
  });

  it("a row moved to another tenant fails to open", async () => {
    // In the home database, where the rows are copied below (placement would pick DB_1).
    await api("POST", "/api/v1/tenants", { body: { id: "tenant-moved", database: 0 } });
    const token = (await api("POST", "/api/v1/tokens", { body: { subject: "m", scopes: ["secrets:read"], tenant: "tenant-moved" } })).body.token;
    const path = uniquePath("moved");
    await api("POST", store(path), { body: { value: "default-tenant-value" } });
    await env.DB.batch([
      // Columns named, so features that add columns to secrets keep this test valid.
      env.DB.prepare(
        "INSERT INTO secrets (tenant_id, path, current_version, type, environment, description, tags, expires_at, rotation_policy, rotation_days, next_rotation_at, max_versions, custom_metadata, created_at, created_by, updated_at, updated_by, deleted_at) SELECT 'tenant-moved', path, current_version, type, environment, description, tags, expires_at, rotation_policy, rotation_days, next_rotation_at, max_versions, custom_metadata, created_at, created_by, updated_at, updated_by, deleted_at FROM secrets WHERE tenant_id = 'default' AND path = ?",
      ).bind(path),
      env.DB.prepare(
        "INSERT INTO secret_versions (tenant_id, path, version, ciphertext, iv, wrapped_key, key_id, state, created_at, created_by, readable_until, destroyed_at) SELECT 'tenant-moved', path, version, ciphertext, iv, wrapped_key, key_id, state, created_at, created_by, readable_until, destroyed_at FROM secret_versions WHERE tenant_id = 'default' AND path = ?",
      ).bind(path),
    ]);
    const res = await api("GET", store(path), { token });
    expectProblem(res, 500);
    expect(res.text).not.toContain("default-tenant-value");
  });
});

describe("a secret value never leaks", () => {
  const logged: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    logged.length = 0;
  });

  it("not into audit rows, error bodies, idempotency records or logs", async () => {
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
    }
    const canary = `CANARY-${crypto.randomUUID()}`;
    const path = uniquePath("canary");
    const bodies: string[] = [];
    const record = async (p: Promise<{ text: string }>) => bodies.push((await p).text);
    await record(api("POST", store(path), { body: { value: canary }, headers: { "idempotency-key": `canary-${path}` } }));
    await record(api("POST", store(path), { body: { value: canary } })); // 409
    await record(api("PUT", store(path), { body: { value: canary, cas: 7 } })); // 409
    await record(api("PUT", store(path), { body: { value: canary, extra: canary } })); // 400
    await record(api("PUT", store(path), { body: { value: canary, type: canary } })); // 400
    await record(api("PUT", store(path), { body: { value: `${canary}${"x".repeat(70_000)}` } })); // 413
    await record(api("PUT", store(path), { rawBody: `{"value":"${canary}"`, headers: { "content-type": "application/json" } })); // 400
    await record(api("PUT", store(path), { rawBody: `value=${canary}`, headers: { "content-type": "text/plain" } })); // 415
    await record(api("PUT", store(path), { body: { value: canary } }));
    const reads = await api("GET", store(path));
    expect(reads.body.value).toBe(canary);

    for (const text of bodies) expect(text).not.toContain(canary);
    const audit = await env.DB.prepare("SELECT * FROM audit_events").all();
    expect(JSON.stringify(audit.results)).not.toContain(canary);
    expect(JSON.stringify(await chainEvents("default"))).not.toContain(canary);
    const idem = await env.DB.prepare("SELECT * FROM idempotency_keys").all();
    expect(JSON.stringify(idem.results, (_k, v) => (v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v))).not.toContain(canary);
    expect(logged.join("\n")).not.toContain(canary);
  });
});
