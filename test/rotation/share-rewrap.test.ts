import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { unpack } from "../../src/crypto/envelope";
import worker from "../../src/index";
import { BASE, ROOT } from "../helpers";
import { createE2e, createSealed, indexRow, shareObject, storedRow } from "../shares/share-helpers";

const K1 = "q1Yl0n1X4mV5m3rXl0J8c2Zp0m9dW8l3cJ9v6yH2x0s=";
const K2 = "s2QH57D+wqPMRwQBZd19TbvGSP6BbA3TOnXLUx+ckXQ=";
const keys = (active: string, held: Record<string, string>) => JSON.stringify({ active, keys: held });
const K2_ACTIVE = keys("k2", { k1: K1, k2: K2 });
const K2_ONLY = keys("k2", { k2: K2 });

/** The worker with another MASTER_KEYS (as after `wrangler secret put`); rewrap messages are parked. */
const envWith = (masterKeys: string): Env => ({ ...env, MASTER_KEYS: masterKeys, REWRAP_QUEUE: env.REWRAP_PARKED, REWRAP_PAGE_SIZE: "2" });

async function call(workerEnv: Env, method: string, path: string, body?: unknown, token: string | null = ROOT) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await worker.fetch(
    new Request(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
    workerEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text };
}

async function deliver(workerEnv: Env, body: unknown) {
  const batch = createMessageBatch("hush-rewrap", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await (worker.queue as ExportedHandlerQueueHandler<Env>)(batch as MessageBatch<unknown>, workerEnv, ctx);
  return getQueueResult(batch, ctx);
}

const job = () => env.DB.prepare("SELECT job_id, step, state FROM rewrap_job WHERE id = 1").first<{ job_id: string; step: number; state: string }>();

/** Runs the whole job under `workerEnv`, one message at a time, each delivered twice. */
async function runJob(workerEnv: Env) {
  expect((await call(workerEnv, "POST", "/api/v1/sys/rewrap")).status).toBe(202);
  for (let i = 0; i < 200 && (await job())!.state === "running"; i++) {
    const row = (await job())!;
    const message = { job: row.job_id, step: row.step };
    await Promise.all([deliver(workerEnv, message), deliver(workerEnv, message)]);
  }
  expect((await job())!.state).toBe("done");
}

const payloadKeyId = async (id: string) => unpack(new Uint8Array((await storedRow(id))!.payload as ArrayBuffer)).keyId;

describe("master-key rotation and server-sealed shares", () => {
  it("a sealed share made before a master-key rotation still redeems after the old key is removed", async () => {
    // Under k1: two live sealed shares (one with two views), one already viewed out, one e2e share.
    const live = await createSealed("made under k1", { max_views: 2 });
    const other = await createSealed("also under k1", { passphrase: "correct horse" });
    const viewed = await createSealed("gone before the rotation");
    expect((await call(env, "POST", "/api/v1/secrets/shares/redeem", { token: viewed.token }, null)).status).toBe(200);
    const e2e = await createE2e("client encrypted");
    expect((await indexRow(live.id))?.key_id).toBe("k1");
    expect((await indexRow(viewed.id))?.key_id).toBeNull();
    expect((await indexRow(e2e.id))?.key_id).toBeNull();

    // The operator makes k2 active: the shares count as remaining under k1 until the job runs.
    const k2 = envWith(K2_ACTIVE);
    const before = await call(k2, "GET", "/api/v1/sys/rewrap");
    expect(before.body.by_key_id.k1).toBeGreaterThanOrEqual(2);
    const payloadBefore = new Uint8Array((await storedRow(live.id))!.payload as ArrayBuffer);
    await runJob(k2);
    const after = await call(k2, "GET", "/api/v1/sys/rewrap");
    expect(after.body).toMatchObject({ state: "done", remaining: 0, failed: 0 });
    expect(after.body.by_key_id.k1).toBeUndefined();
    for (const id of [live.id, other.id]) {
      expect((await indexRow(id))?.key_id).toBe("k2");
      expect(await payloadKeyId(id)).toBe("k2");
    }
    // Only the wrapped data key changed: the sealed value itself is untouched.
    const payloadAfter = unpack(new Uint8Array((await storedRow(live.id))!.payload as ArrayBuffer));
    expect(payloadAfter.ciphertext).toEqual(unpack(payloadBefore).ciphertext);

    // k1 removed: both shares still redeem, view by view.
    const k2only = envWith(K2_ONLY);
    const first = await call(k2only, "POST", "/api/v1/secrets/shares/redeem", { token: live.token }, null);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ value: "made under k1", views_left: 1 });
    const second = await call(k2only, "POST", "/api/v1/secrets/shares/redeem", { token: live.token }, null);
    expect(second.body).toEqual({ value: "made under k1", views_left: 0 });
    expect((await call(k2only, "POST", "/api/v1/secrets/shares/redeem", { token: live.token }, null)).status).toBe(410);
    const protectedOne = await call(k2only, "POST", "/api/v1/secrets/shares/redeem", { token: other.token, passphrase: "correct horse" }, null);
    expect(protectedOne.body).toEqual({ value: "also under k1", views_left: 0 });
    // A viewed-out share leaves the count: nothing under any key.
    expect((await indexRow(live.id))?.key_id).toBeNull();
  });

  it("a share whose index still says active after its payload went is recorded as holding no key", async () => {
    const share = await createSealed("index lags");
    // The object ends the share, but the index is not told (as if its D1 write had failed).
    await runInDurableObject(shareObject(share.id), (_instance, state) => {
      state.storage.sql.exec("UPDATE share SET state = 'revoked', payload = NULL");
    });
    expect((await indexRow(share.id))?.key_id).toBe("k1");
    await runJob(envWith(K2_ACTIVE));
    expect((await indexRow(share.id))?.key_id).toBeNull();
    expect((await call(envWith(K2_ACTIVE), "GET", "/api/v1/sys/rewrap")).body.remaining).toBe(0);
  });
});
