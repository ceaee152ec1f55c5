import { createExecutionContext, createScheduledController, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { api, createTenant, expectProblem } from "../helpers";
import { rowCounts, tenantWithAdmin } from "../hardening/tenant-fixture";
import { auditDb } from "../support/audit-store";

/**
 * Tenants spread over two D1 databases (DB and DB_1, src/db/directory.ts): the directory places
 * them, a token names its database, and every row of a tenant, written by a request or by
 * background work, lands in that database and never in the other.
 */

const uniqueTenant = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

async function directoryLoad(): Promise<number[]> {
  const { results } = await env.DB.prepare("SELECT database, COUNT(*) AS n FROM tenants GROUP BY database").all<{ database: number; n: number }>();
  const load = [0, 0];
  for (const row of results) load[row.database] = row.n;
  return load;
}

describe("tenant directory", () => {
  it("places a new tenant in the database with the fewest tenants, or where root pins it", async () => {
    for (let i = 0; i < 3; i++) {
      const load = await directoryLoad();
      const expected = load[1]! < load[0]! ? 1 : 0;
      const created = await api("POST", "/api/v1/tenants", { body: { id: uniqueTenant("placed") } });
      expect(created.status, created.text).toBe(201);
      expect(created.body.database).toBe(expected);
    }
    const pinned = await api("POST", "/api/v1/tenants", { body: { id: uniqueTenant("pinned"), database: 1 } });
    expect(pinned.body.database).toBe(1);
    expectProblem(await api("POST", "/api/v1/tenants", { body: { id: uniqueTenant("nowhere"), database: 2 } }), 400);
    const listed = await api("GET", "/api/v1/tenants");
    expect(listed.body.items.find((t: { id: string }) => t.id === pinned.body.id)).toMatchObject({ database: 1 });
    // The directory is the home database's: DB_1 holds no directory row for it.
    expect(await env.DB_1.prepare("SELECT COUNT(*) AS n FROM tenants WHERE id = ?").bind(pinned.body.id).first("n")).toBe(0);
  });

  it("a token names its tenant's database; an edited index finds no token anywhere", async () => {
    const a = await tenantWithAdmin("shard-a", 1);
    expect(a.token).toMatch(/^hush1_[A-Za-z0-9]{40}$/);
    expect((await api("GET", "/api/v1/tokens/self", { token: a.token })).body).toMatchObject({ tenant: a.tenant });
    expect(await env.DB_1.prepare("SELECT COUNT(*) AS n FROM api_tokens WHERE id = ?").bind(a.tokenId).first("n")).toBe(1);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM api_tokens WHERE id = ?").bind(a.tokenId).first("n")).toBe(0);
    const secret = a.token.slice("hush1_".length);
    // The index is part of what is hashed: pointed at another (or no) database, the token is unknown.
    for (const edited of [`hush_${secret}`, `hush2_${secret}`, `hush0_${secret}`, `hush01_${secret}`]) {
      expectProblem(await api("GET", "/api/v1/tokens/self", { token: edited }), 401);
    }
    const home = await tenantWithAdmin("shard-home", 0);
    expect(home.token).toMatch(/^hush_[A-Za-z0-9]{40}$/);
    expectProblem(await api("GET", "/api/v1/tokens/self", { token: `hush1_${home.token.slice(5)}` }), 401);
  });

  it("a tenant's token cannot steer a request into another tenant's database", async () => {
    const a = await tenantWithAdmin("shard-victim", 1);
    const b = await tenantWithAdmin("shard-attacker", 0);
    await api("POST", "/api/v1/secrets/store/app/key", { token: a.token, body: { value: "a-value" } });
    // Naming A as the tenant (body, query, Vault namespace) gets B nothing of A.
    expectProblem(await api("POST", "/api/v1/tokens", { token: b.token, body: { subject: "x", scopes: ["secrets:read"], tenant: a.tenant } }), 403);
    expectProblem(await api("GET", `/api/v1/tokens?tenant=${a.tenant}`, { token: b.token }), 403);
    const vault = await api("GET", "/v1/secret/data/app/key", { token: b.token, headers: { "x-vault-namespace": a.tenant } });
    expect(vault.status).toBe(404);
    expect(vault.text).not.toContain("a-value");
    expectProblem(await api("GET", "/api/v1/secrets/store/app/key", { token: b.token, headers: { "x-hush-tenant": a.tenant } }), 404);
    // A's token id is not B's to revoke, even though B's database is searched first.
    expectProblem(await api("DELETE", `/api/v1/tokens/${a.tokenId}`, { token: b.token }), 404);
    expect((await api("GET", "/api/v1/tokens/self", { token: a.token })).status).toBe(200);
  });

  it("root administers a tenant of another database: tokens created, replayed, listed and revoked there", async () => {
    const tenant = uniqueTenant("shard-root");
    await createTenant(tenant, 1);
    const headers = { "idempotency-key": `root-${crypto.randomUUID()}` };
    const body = { subject: "ops", scopes: ["secrets:read", "secrets:write"], tenant };
    const created = await api("POST", "/api/v1/tokens", { body, headers });
    expect(created.status, created.text).toBe(201);
    expect(created.body.token).toMatch(/^hush1_/);
    const replayed = await api("POST", "/api/v1/tokens", { body, headers });
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(replayed.body).toMatchObject({ id: created.body.id, credential_already_issued: true });
    expect(replayed.text).not.toContain(created.body.token);
    const listed = await api("GET", `/api/v1/tokens?tenant=${tenant}`);
    expect(listed.body.items.map((t: { id: string }) => t.id)).toContain(created.body.id);
    // A token id alone: root finds it in whichever database holds it.
    expect((await api("DELETE", `/api/v1/tokens/${created.body.id}`)).status).toBe(200);
    expectProblem(await api("GET", "/api/v1/tokens/self", { token: created.body.token }), 401);
    // Root's actions in the tenant are in the tenant's own log, in its database; so is the revoked token's refusal.
    const events = await auditDb.prepare("SELECT actor, action FROM audit_events WHERE tenant_id = ? ORDER BY n").bind(tenant).all();
    // The changes' D1 copies (events themselves live in the tenant's chain object) are in DB_1 only.
    const copies = await env.DB_1.prepare("SELECT action FROM audit_events WHERE tenant_id = ?").bind(tenant).all<{ action: string }>();
    expect(copies.results.map((r) => r.action)).toEqual(expect.arrayContaining(["token.create", "token.revoke"]));
    expect(events.results).toEqual([
      { actor: "root", action: "token.create" },
      { actor: "root", action: "token.revoke" },
      { actor: `token:${created.body.id}`, action: "auth.reject" },
    ]);
    expect(await rowCounts(tenant, env.DB)).toEqual({});
  });

  it("every row a tenant writes (secrets, tokens, leases, shares, sync, audit, logins) lands in its own database", async () => {
    const a = await tenantWithAdmin("rows-a", 1);
    const b = await tenantWithAdmin("rows-b", 0);
    for (const t of [a, b]) {
      const as = (method: string, path: string, payload?: unknown) => api(method, path, { token: t.token, body: payload });
      expect((await as("POST", "/api/v1/secrets/store/app/db", { value: `${t.tenant}-v1` })).status).toBe(201);
      expect((await as("PUT", "/api/v1/secrets/store/app/db", { value: `${t.tenant}-v2` })).status).toBe(200);
      expect((await as("GET", "/api/v1/secrets/store/app/db")).body.value).toBe(`${t.tenant}-v2`);
      expect((await as("POST", "/api/v1/tokens", { subject: `${t.tenant}-admin/ci`, scopes: ["secrets:read"] })).status).toBe(201);
      expect((await as("POST", "/api/v1/ephemeral/api-keys", { subject: "job", scopes: ["secrets:read"], ttl_seconds: 600 })).status).toBe(201);
      const share = await as("POST", "/api/v1/secrets/shares", { value: "shared", max_views: 2 });
      expect(share.status).toBe(201);
      // A public redeem (no token): the share's tenant's database gets the event and the index update.
      const redeemed = await api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: share.body.token } });
      expect(redeemed.body).toMatchObject({ value: "shared", views_left: 1 });
      await as("POST", "/api/v1/secrets/sync-targets", {
        name: "hook",
        kind: "webhook",
        config: { url: "http://127.0.0.1:9/hook", signing_key: "a-sync-signing-key-0123456789abcdef" },
      });
      expect((await as("POST", "/api/v1/secrets/syncs", { target: "hook", path: "app/db", remote_key: "DB", run: false })).status).toBeLessThan(300);
      // A failed login names the tenant in the body: its refusal is audited in that tenant's database.
      await as("PUT", "/api/v1/auth/policies/readers", { rules: [{ paths: ["app/*"], capabilities: ["read"] }] });
      expect((await api("POST", "/api/v1/auth/login", { token: null, body: { role: "nobody", jwt: "e30.e30.sig", tenant: t.tenant } })).status).toBe(401);
    }
    const expected = ["api_tokens", "audit_events", "leases", "policies", "secret_versions", "secrets", "share_index", "sync_targets", "syncs"];
    expect(Object.keys(await rowCounts(a.tenant, env.DB_1))).toEqual(expect.arrayContaining(expected));
    expect(Object.keys(await rowCounts(b.tenant, env.DB))).toEqual(expect.arrayContaining(expected));
    expect(await rowCounts(a.tenant, env.DB)).toEqual({});
    expect(await rowCounts(b.tenant, env.DB_1)).toEqual({});
    const redeems = await env.DB_1.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ? AND action = 'share.redeem'").bind(a.tenant).first("n");
    expect(redeems).toBe(1);
  }, 30_000);

  it("background work finds the tenant's database: lease alarms, the revocation queue, the cron sweep and the audit chain", async () => {
    const a = await tenantWithAdmin("bg-a", 1);
    const key = await api("POST", "/api/v1/ephemeral/api-keys", { token: a.token, body: { subject: "job", scopes: ["secrets:read"], ttl_seconds: 600 } });
    expect(key.status, key.text).toBe(201);
    const leaseId = key.body.lease_id as string;
    const leaseState = () => env.DB_1.prepare("SELECT state FROM leases WHERE id = ?").bind(leaseId).first<string>("state");
    expect(await leaseState()).toBe("issued");
    // The lease's time runs out: its object's alarm expires it in DB_1, and the revocation queue finishes the job there.
    await env.DB_1.prepare("UPDATE leases SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1000, leaseId)
      .run();
    const stub = env.LEASE.get(env.LEASE.idFromName(leaseId));
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE due SET due_at = ? WHERE lease_id = ?", Date.now() - 1000, leaseId);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const deadline = Date.now() + 15_000;
    while ((await leaseState()) !== "expired" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await leaseState()).toBe("expired");
    expectProblem(await api("GET", "/api/v1/tokens/self", { token: key.body.token }), 401);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM leases WHERE id = ?").bind(leaseId).first("n")).toBe(0);

    // The cron sweep covers every database, and verify checks the tenant's chain against its D1 copies in DB_1.
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const verify = await api("GET", "/api/v1/audit/verify", { token: a.token });
    expect(verify.body.ok, verify.text).toBe(true);
    expect(verify.body.checked).toBeGreaterThan(3);
    const actions = (await api("GET", `/api/v1/audit?resource=lease:${leaseId}`, { token: a.token })).body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["lease.expire"]));
  }, 30_000);
});

describe("master-key re-wrap over every database", () => {
  const K1 = "q1Yl0n1X4mV5m3rXl0J8c2Zp0m9dW8l3cJ9v6yH2x0s=";
  const K2 = "s2QH57D+wqPMRwQBZd19TbvGSP6BbA3TOnXLUx+ckXQ=";
  const rotated = (): Env => ({
    ...env,
    MASTER_KEYS: JSON.stringify({ active: "k2", keys: { k1: K1, k2: K2 } }),
    REWRAP_QUEUE: env.REWRAP_PARKED,
    REWRAP_PAGE_SIZE: "50",
  });
  async function call(workerEnv: Env, method: string) {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://hush.test/api/v1/sys/rewrap", { method, headers: { authorization: `Bearer ${env.ROOT_TOKEN}` } }),
      workerEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return (await res.json()) as { state: string; remaining: number; by_key_id: Record<string, number> };
  }
  /** Delivers each database's current step to the consumer until every job is done (the parked queue is never consumed). */
  async function drive(workerEnv: Env) {
    const { createMessageBatch } = await import("cloudflare:test");
    for (let i = 0; i < 50; i++) {
      let running = 0;
      for (const [index, d1] of [env.DB, env.DB_1].entries()) {
        const job = await d1.prepare("SELECT job_id, step, state FROM rewrap_job WHERE id = 1").first<{ job_id: string; step: number; state: string }>();
        if (job?.state !== "running") continue;
        running++;
        const body = index === 0 ? { job: job.job_id, step: job.step } : { job: job.job_id, step: job.step, database: index };
        const batch = createMessageBatch("hush-rewrap", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }]);
        const ctx = createExecutionContext();
        await (worker.queue as ExportedHandlerQueueHandler<Env>)(batch as MessageBatch<unknown>, workerEnv, ctx);
        await waitOnExecutionContext(ctx);
      }
      if (running === 0) return;
    }
    throw new Error("the re-wrap did not finish");
  }

  it("re-wraps the data keys of a tenant in DB_1 too, and its values still open", async () => {
    const a = await tenantWithAdmin("rewrap-a", 1);
    expect((await api("POST", "/api/v1/secrets/store/app/rewrapped", { token: a.token, body: { value: "in-db-1" } })).status).toBe(201);
    const keyIds = () => env.DB_1.prepare("SELECT DISTINCT key_id AS k FROM secret_versions WHERE tenant_id = ?").bind(a.tenant).all<{ k: string }>();
    expect((await keyIds()).results).toEqual([{ k: "k1" }]);
    const workerEnv = rotated();
    const started = await call(workerEnv, "POST");
    expect(started.state).toBe("running");
    expect(started.by_key_id.k1).toBeGreaterThan(0);
    await drive(workerEnv);
    expect((await keyIds()).results).toEqual([{ k: "k2" }]);
    const done = await call(workerEnv, "GET");
    expect(done).toMatchObject({ state: "done", remaining: 0 });
    // Read with k2 only: the DB_1 tenant's value opens under the new master key.
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://hush.test/api/v1/secrets/store/app/rewrapped", { headers: { authorization: `Bearer ${a.token}` } }),
      { ...env, MASTER_KEYS: JSON.stringify({ active: "k2", keys: { k2: K2 } }) },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(((await res.json()) as { value: string }).value).toBe("in-db-1");
  }, 30_000);
});
