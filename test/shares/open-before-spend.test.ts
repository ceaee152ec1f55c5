import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { BASE, expectProblem } from "../helpers";
import { createE2e, createSealed, indexRow, nonceFor, redeem, storedRow } from "./share-helpers";
import { auditDb } from "../support/audit-store";

/** MASTER_KEYS after an operator removed k1 without re-wrapping: k1-sealed payloads cannot open. */
const K1_REMOVED = JSON.stringify({ active: "k2", keys: { k2: "s2QH57D+wqPMRwQBZd19TbvGSP6BbA3TOnXLUx+ckXQ=" } });

async function post(workerEnv: Env, path: string, body: unknown) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    workerEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text), text };
}

const unopenable = { ...env, MASTER_KEYS: K1_REMOVED } as Env;

describe("a view is spent only once its payload opened", () => {
  it("a reveal whose payload cannot be opened does not spend the view", async () => {
    const share = await createSealed("still here", { max_views: 1 });
    const failed = await post(unopenable, "/api/v1/secrets/shares/redeem", { token: share.token });
    expectProblem(failed, 500);
    expect(failed.body.type).toContain("master-key-removed");
    expect(failed.text).not.toContain("still here");
    // Nothing was spent: the object and the index still hold the one view and the payload.
    const row = await storedRow(share.id);
    expect(row).toMatchObject({ state: "active", views_left: 1 });
    expect(row!.payload).not.toBeNull();
    expect(await indexRow(share.id)).toMatchObject({ state: "active", views_left: 1 });
    // The failure is audited, with no view spent.
    const events = await auditDb.prepare("SELECT action, outcome, detail FROM audit_events WHERE resource = ? ORDER BY n").bind(`share:${share.id}`).all();
    expect(events.results.map((e) => e.action)).toEqual(["share.create", "integrity_failure"]);
    expect(JSON.parse(String(events.results[1]!.detail))).toMatchObject({ reason: "master-key-removed", views_spent: 0 });

    // With the key back, the recipient still gets the value, once.
    const ok = await redeem(share.token);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ value: "still here", views_left: 0 });
    expectProblem(await redeem(share.token), 410);
  });

  it("a browser reveal of a sealed share whose payload cannot be opened does not spend the view or its nonce", async () => {
    const share = await createSealed("browser copy", { max_views: 1 });
    const nonce = await nonceFor(share.id);
    const failed = await post(unopenable, `/api/v1/shares/${share.id}/reveal`, { nonce, token: share.token });
    expectProblem(failed, 500);
    expect(await storedRow(share.id)).toMatchObject({ state: "active", views_left: 1 });
    // The same nonce still works once the payload can be opened.
    const ok = await post(env, `/api/v1/shares/${share.id}/reveal`, { nonce, token: share.token });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ value: "browser copy", views_left: 0 });
  });

  it("concurrent reveals still spend exactly max_views, and every spent view was delivered", async () => {
    const share = await createSealed("three times", { max_views: 3 });
    const results = await Promise.all(Array.from({ length: 30 }, () => redeem(share.token)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(3);
    expect(ok.map((r) => r.body.views_left).sort()).toEqual([0, 1, 2]);
    expect(results.filter((r) => r.status === 410)).toHaveLength(27);
    expect(await storedRow(share.id)).toMatchObject({ state: "viewed", views_left: 0, payload: null });
    // e2e shares take the same two steps.
    const e2e = await createE2e("e2e once", { max_views: 1 });
    const nonces = await Promise.all(Array.from({ length: 10 }, () => nonceFor(e2e.id)));
    const reveals = await Promise.all(nonces.map((nonce) => post(env, `/api/v1/shares/${e2e.id}/reveal`, { nonce })));
    expect(reveals.filter((r) => r.status === 200)).toHaveLength(1);
    expect(await storedRow(e2e.id)).toMatchObject({ state: "viewed", views_left: 0, payload: null });
  });
});
