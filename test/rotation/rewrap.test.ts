import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { api, BASE, expectProblem, ROOT, tokenWith, uniquePath } from "../helpers";
import { auditDb } from "../support/audit-store";

const K1 = "q1Yl0n1X4mV5m3rXl0J8c2Zp0m9dW8l3cJ9v6yH2x0s=";
const K2 = "s2QH57D+wqPMRwQBZd19TbvGSP6BbA3TOnXLUx+ckXQ=";
const keys = (active: string, held: Record<string, string>) => JSON.stringify({ active, keys: held });
/** After the operator switches the active key to k2 (k1 still held). */
const K2_ACTIVE = keys("k2", { k1: K1, k2: K2 });
/** After the operator removes k1. */
const K2_ONLY = keys("k2", { k2: K2 });

/**
 * The worker with another MASTER_KEYS, as after `wrangler secret put`. Its rewrap
 * messages go to a queue nothing consumes, so each test delivers them itself.
 */
const envWith = (masterKeys: string, extra: Partial<Env> = {}): Env => ({
  ...env,
  MASTER_KEYS: masterKeys,
  REWRAP_QUEUE: env.REWRAP_PARKED,
  REWRAP_PAGE_SIZE: "3",
  ...extra,
});

async function call(workerEnv: Env, method: string, path: string, body?: unknown) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${BASE}${path}`, {
      method,
      headers: { authorization: `Bearer ${ROOT}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    workerEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text), text };
}

/** Delivers one rewrap message to the consumer, as the queue would. */
async function deliver(workerEnv: Env, body: unknown) {
  const batch = createMessageBatch("hush-rewrap", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  const queue = worker.queue as ExportedHandlerQueueHandler<Env>;
  await queue(batch as MessageBatch<unknown>, workerEnv, ctx);
  return getQueueResult(batch, ctx);
}

const job = () =>
  env.DB.prepare("SELECT job_id, step, state, done, total, failed FROM rewrap_job WHERE id = 1").first<{
    job_id: string;
    step: number;
    state: string;
    done: number;
    total: number;
    failed: number;
  }>();
const currentMessage = async () => {
  const row = (await job())!;
  return { job: row.job_id, step: row.step };
};

const snapshot = async () =>
  JSON.stringify(
    (
      await env.DB.batch([
        env.DB.prepare("SELECT tenant_id, path, version, hex(ciphertext) c, hex(iv) i, hex(wrapped_key) w, key_id FROM secret_versions ORDER BY 1, 2, 3"),
        env.DB.prepare("SELECT tenant_id, name, version, hex(ciphertext) c, hex(wrapped_key) w, key_id FROM transit_key_versions ORDER BY 1, 2, 3"),
        env.DB.prepare("SELECT tenant_id, key, hex(response) r FROM idempotency_keys ORDER BY 1, 2"),
        env.DB.prepare("SELECT * FROM rewrap_job"),
      ])
    ).map((r) => r.results),
  );

const keyIdsOf = async (table: string) => (await env.DB.prepare(`SELECT key_id, COUNT(*) n FROM ${table} GROUP BY key_id ORDER BY key_id`).all()).results;

describe("POST /api/v1/sys/rewrap (master-key rotation)", () => {
  it("re-wraps every data key to the new master key, page by page, idempotently; then k1 can be removed", async () => {
    // Data under k1: secrets (two versions each), a transit key, a stored idempotent response.
    const paths = Array.from({ length: 5 }, () => uniquePath("rewrap"));
    for (const path of paths) {
      await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: `v1 of ${path}` } });
      await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: `v2 of ${path}` } });
    }
    const transitKey = `rewrap-${Date.now().toString(36)}`;
    await api("POST", `/api/v1/transit/keys/${transitKey}`, { body: { type: "aes256-gcm" } });
    const ciphertext = (await api("POST", `/api/v1/transit/encrypt/${transitKey}`, { body: { plaintext: btoa("transit data") } })).body.ciphertext;
    const idemPath = uniquePath("rewrap-idem");
    const idemHeaders = { "idempotency-key": `idem-${idemPath}` };
    const first = await api("POST", `/api/v1/secrets/store/${idemPath}`, { body: { value: "idempotent" }, headers: idemHeaders });
    expect(first.status).toBe(201);
    const sealedRows = 10 + 1 + 1 + 1; // secret versions (10 + idemPath) + transit version + idempotency response
    const valuesBefore = (await env.DB.prepare("SELECT hex(ciphertext) c FROM secret_versions ORDER BY path, version").all()).results;

    // The operator makes k2 active. New writes go under k2 at once; old rows stay under k1.
    const k2 = envWith(K2_ACTIVE);
    const newPath = uniquePath("rewrap-new");
    expect((await call(k2, "POST", `/api/v1/secrets/store/${newPath}`, { value: "written under k2" })).status).toBe(201);
    const idle = await call(k2, "GET", "/api/v1/sys/rewrap");
    expect(idle.body).toMatchObject({ state: "idle", active_key_id: "k2", remaining: sealedRows, by_key_id: { k1: sealedRows, k2: 1 } });

    const started = await call(k2, "POST", "/api/v1/sys/rewrap");
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ state: "running", target_key_id: "k2", total: sealedRows, done: 0, remaining: sealedRows });

    // One message: one page of 3 rows, then the job stops there (as if the worker died).
    const step0 = await currentMessage();
    expect(step0.step).toBe(0);
    const result = await deliver(k2, step0);
    expect(result.explicitAcks).toHaveLength(1);
    let progress = await call(k2, "GET", "/api/v1/sys/rewrap");
    expect(progress.body).toMatchObject({ state: "running", total: sealedRows, done: 3, remaining: sealedRows - 3 });

    // The same message again, twice (a duplicate and a retry): nothing changes.
    const afterOne = await snapshot();
    await deliver(k2, step0);
    await deliver(k2, step0);
    expect(await snapshot()).toBe(afterOne);
    // A message from the future or of another job changes nothing either.
    await deliver(k2, { ...step0, step: 7 });
    await deliver(k2, { job: "not-this-job", step: 1 });
    await deliver(k2, { something: "else" });
    expect(await snapshot()).toBe(afterOne);

    // Resuming re-sends the current step; the job continues where it stopped.
    const resumed = await call(k2, "POST", "/api/v1/sys/rewrap");
    expect(resumed.status).toBe(202);
    expect((await job())!.job_id).toBe(step0.job);
    for (let i = 0; i < 20 && (await job())!.state === "running"; i++) {
      const message = await currentMessage();
      // Every step delivered twice at the same moment: still applied exactly once.
      await Promise.all([deliver(k2, message), deliver(k2, message)]);
    }
    progress = await call(k2, "GET", "/api/v1/sys/rewrap");
    expect(progress.body).toMatchObject({ state: "done", total: sealedRows, done: sealedRows, failed: 0, remaining: 0, by_key_id: { k2: sealedRows + 1 } });
    expect(progress.body.finished_at).toEqual(expect.any(String));
    expect(await keyIdsOf("secret_versions")).toEqual([{ key_id: "k2", n: 12 }]);
    expect(await keyIdsOf("transit_key_versions")).toEqual([{ key_id: "k2", n: 1 }]);
    // Values were not touched: only the wrapped data keys changed.
    expect((await env.DB.prepare("SELECT hex(ciphertext) c FROM secret_versions WHERE path != ? ORDER BY path, version").bind(newPath).all()).results).toEqual(
      valuesBefore,
    );

    // k1 removed: everything still reads.
    const k2only = envWith(K2_ONLY);
    for (const path of paths) {
      const read = await call(k2only, "GET", `/api/v1/secrets/store/${path}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body.value).toBe(`v2 of ${path}`);
      expect((await call(k2only, "GET", `/api/v1/secrets/store/${path}?version=1`)).body.value).toBe(`v1 of ${path}`);
    }
    expect((await call(k2only, "GET", `/api/v1/secrets/store/${newPath}`)).body.value).toBe("written under k2");
    const decrypted = await call(k2only, "POST", `/api/v1/transit/decrypt/${transitKey}`, { ciphertext });
    expect(decrypted.body.plaintext).toBe(btoa("transit data"));
    // The stored idempotent response still replays.
    const replayCtx = createExecutionContext();
    const replay = await worker.fetch(
      new Request(`${BASE}/api/v1/secrets/store/${idemPath}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json", ...idemHeaders },
        body: JSON.stringify({ value: "idempotent" }),
      }),
      k2only,
      replayCtx,
    );
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");

    // The finish is audited, without any value.
    const events = await auditDb
      .prepare("SELECT action, detail FROM audit_events WHERE action LIKE 'sys.rewrap.%' ORDER BY n")
      .all<{ action: string; detail: string }>();
    expect(events.results.map((e) => e.action)).toEqual(["sys.rewrap.start", "sys.rewrap.resume", "sys.rewrap.finish"]);
  });

  it("a row still under a removed master key is an explicit problem naming the key; the job counts it as failed", async () => {
    const path = uniquePath("orphan");
    // Written under k1, never re-wrapped: then k1 is removed.
    await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: "left behind" } });
    const k2only = envWith(K2_ONLY);
    const read = await call(k2only, "GET", `/api/v1/secrets/store/${path}`);
    expectProblem(read, 500);
    expect(read.body.type).toContain("master-key-removed");
    expect(read.body.key_id).toBe("k1");
    expect(read.body.detail).toContain('"k1"');
    expect(read.text).not.toContain("left behind");

    // The job cannot re-wrap it: it skips the row, counts it, and finishes; the row stays visible as remaining.
    await call(k2only, "POST", "/api/v1/sys/rewrap");
    for (let i = 0; i < 30 && (await job())!.state === "running"; i++) await deliver(k2only, await currentMessage());
    const status = await call(k2only, "GET", "/api/v1/sys/rewrap");
    expect(status.body.state).toBe("done");
    expect(status.body.failed).toBeGreaterThanOrEqual(1);
    expect(status.body.remaining).toBeGreaterThanOrEqual(1);
    expect(status.body.by_key_id.k1).toBeGreaterThanOrEqual(1);
  });

  it("a consumer whose MASTER_KEYS has another active key retries later and changes nothing", async () => {
    await api("POST", `/api/v1/secrets/store/${uniquePath("stale")}`, { body: { value: "x" } });
    const k2 = envWith(K2_ACTIVE);
    await call(k2, "POST", "/api/v1/sys/rewrap");
    const before = await snapshot();
    // An isolate still on the old secret (active k1) gets the message.
    const result = await deliver(envWith(env.MASTER_KEYS!), await currentMessage());
    expect(result.retryMessages).toHaveLength(1);
    expect(await snapshot()).toBe(before);
  });

  it("is for the root token only (403) and fails closed without MASTER_KEYS (503)", async () => {
    const admin = await tokenWith(["tokens:admin", "secrets:write"]);
    expectProblem(await api("POST", "/api/v1/sys/rewrap", { token: admin.token }), 403);
    expectProblem(await api("GET", "/api/v1/sys/rewrap", { token: admin.token }), 403);
    expectProblem(await call(envWith(""), "GET", "/api/v1/sys/rewrap"), 503);
  });
});

describe("rewrap through the real queue", () => {
  it("the queue drives the job to the end by itself", async () => {
    // Seal rows under k2, then run the job back to the default active key (k1) through the
    // real `hush-rewrap` queue and consumer, which see the test's own MASTER_KEYS.
    const k2 = envWith(K2_ACTIVE);
    const paths = Array.from({ length: 4 }, () => uniquePath("queue"));
    for (const path of paths) await call(k2, "POST", `/api/v1/secrets/store/${path}`, { value: `queued ${path}` });
    const started = await api("POST", "/api/v1/sys/rewrap");
    expect(started.status).toBe(202);
    expect(started.body.target_key_id).toBe("k1");
    let status = started.body;
    for (let i = 0; i < 100 && status.state !== "done"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await api("GET", "/api/v1/sys/rewrap")).body;
    }
    expect(status).toMatchObject({ state: "done", remaining: 0 });
    expect(status.done).toBeGreaterThanOrEqual(4);
    const k1only = envWith(keys("k1", { k1: K1 }));
    for (const path of paths) expect((await call(k1only, "GET", `/api/v1/secrets/store/${path}`)).body.value).toBe(`queued ${path}`);
  });
});
