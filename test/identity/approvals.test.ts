import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";
import { auditDb } from "../support/audit-store";
import { policyToken, putPolicy, uniqueName } from "./helpers";

async function tokenFor(subject: string) {
  const res = await api("POST", "/api/v1/tokens", { body: { subject, scopes: ["secrets:read", "secrets:write", "secrets:delete"] } });
  expect(res.status, res.text).toBe(201);
  return res.body.token as string;
}

/** A guarded area with its own requester and approvers (subjects unique to this test). */
async function guarded(actions: string[], required = 2, extra: Record<string, unknown> = {}) {
  const base = uniquePath("dual");
  const tag = uniqueName("u");
  const subjects = { requester: `${tag}-dev`, a1: `${tag}-lead1`, a2: `${tag}-lead2`, outsider: `${tag}-other` };
  const policy = await api("POST", "/api/v1/secrets/approvals/policies", {
    body: { paths: [`${base}/*`], actions, approvals_required: required, approvers: { subjects: [subjects.requester, subjects.a1, subjects.a2] }, ...extra },
  });
  expect(policy.status, policy.text).toBe(201);
  const tokens = {
    requester: await tokenFor(subjects.requester),
    a1: await tokenFor(subjects.a1),
    a2: await tokenFor(subjects.a2),
    outsider: await tokenFor(subjects.outsider),
  };
  const path = `${base}/db`;
  expect((await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: "v1" } })).status).toBe(201);
  return { path, tokens, subjects, policyId: policy.body.id as string };
}

const rotate = (path: string, token: string, value = "v2") => api("PUT", `/api/v1/secrets/store/${path}`, { token, body: { value } });
const approve = (id: string, token: string) => api("POST", `/api/v1/secrets/approvals/${id}/approve`, { token });

describe("dual-control approvals", () => {
  it("a guarded rotation answers 403 with a request; quorum then exactly one retry succeeds", async () => {
    const { path, tokens, subjects } = await guarded(["rotate"]);
    const first = await rotate(path, tokens.requester);
    expectProblem(first, 403);
    expect(first.body.type).toContain("approval-required");
    const id = first.body.approval_request_id;
    expect(id).toMatch(/^apr_/);
    expect(first.body).toMatchObject({ required: 2, received: 0 });

    // Asking again before approval reuses the same request.
    const again = await rotate(path, tokens.requester);
    expect(again.body.approval_request_id).toBe(id);

    // Approvers find it in their list; outsiders do not.
    const listed = await api("GET", "/api/v1/secrets/approvals", { token: tokens.a1 });
    expect(listed.body.items.map((r: any) => r.id)).toContain(id);
    const hidden = await api("GET", "/api/v1/secrets/approvals", { token: tokens.outsider });
    expect(hidden.body.items.map((r: any) => r.id)).not.toContain(id);

    const one = await approve(id, tokens.a1);
    expect(one.status, one.text).toBe(200);
    expect(one.body).toMatchObject({ state: "pending", received: 1, required: 2 });
    expectProblem(await rotate(path, tokens.requester), 403);

    const two = await approve(id, tokens.a2);
    expect(two.body).toMatchObject({ state: "approved", received: 2 });
    expect(two.body.approvers.map((a: any) => a.subject)).toEqual([subjects.a1, subjects.a2]);

    const ok = await rotate(path, tokens.requester, "v2");
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.version).toBe(2);
    const state = await api("GET", `/api/v1/secrets/approvals/${id}`, { token: tokens.requester });
    expect(state.body.state).toBe("consumed");

    // The approval is used up: the next rotation opens a new request.
    const next = await rotate(path, tokens.requester, "v3");
    expectProblem(next, 403);
    expect(next.body.approval_request_id).not.toBe(id);
    expect((await api("GET", `/api/v1/secrets/store/${path}`)).body.value).toBe("v2");

    const actions = await auditDb
      .prepare("SELECT action FROM audit_events WHERE tenant_id = 'default' AND resource = ? ORDER BY n")
      .bind(`approval:${id}`)
      .all<any>();
    expect(actions.results.map((r) => r.action)).toEqual(["approval.request", "approval.approve", "approval.approve", "approval.consume"]);
  });

  it("the requester can never approve their own request", async () => {
    const { path, tokens } = await guarded(["delete"], 1);
    const first = await api("DELETE", `/api/v1/secrets/store/${path}`, { token: tokens.requester });
    expectProblem(first, 403);
    const self = await approve(first.body.approval_request_id, tokens.requester);
    expectProblem(self, 403);
    expect(self.body.detail).toContain("own");
    expectProblem(await api("DELETE", `/api/v1/secrets/store/${path}`, { token: tokens.requester }), 403);
    // Nor can someone who is not an approver.
    expectProblem(await approve(first.body.approval_request_id, tokens.outsider), 403);
    const state = await api("GET", `/api/v1/secrets/approvals/${first.body.approval_request_id}`, { token: tokens.a1 });
    expect(state.body).toMatchObject({ state: "pending", received: 0 });
    expect((await approve(first.body.approval_request_id, tokens.a1)).body.state).toBe("approved");
    expect((await api("DELETE", `/api/v1/secrets/store/${path}`, { token: tokens.requester })).status).toBe(200);
  });

  it("an approver may deny a request: it can no longer be approved or used, and a retry opens a new one; the requester cannot deny", async () => {
    const { path, tokens } = await guarded(["rotate"], 1);
    const first = await rotate(path, tokens.requester);
    const id = first.body.approval_request_id;
    const deny = (token: string) => api("POST", `/api/v1/secrets/approvals/${id}/deny`, { token });
    expectProblem(await deny(tokens.requester), 403);
    expectProblem(await deny(tokens.outsider), 403);
    const denied = await deny(tokens.a1);
    expect(denied.status, denied.text).toBe(200);
    expect(denied.body.state).toBe("denied");
    // Denied is final: no approval turns it into a usable one.
    expect((await approve(id, tokens.a2)).status).toBe(410);
    expect((await deny(tokens.a2)).status).toBe(410);
    const listed = await api("GET", "/api/v1/secrets/approvals", { token: tokens.a1 });
    expect(listed.body.items.map((r: any) => r.id)).not.toContain(id);
    const retry = await rotate(path, tokens.requester);
    expectProblem(retry, 403);
    expect(retry.body.approval_request_id).not.toBe(id);
    expect((await api("GET", `/api/v1/secrets/store/${path}`)).body.value).toBe("v1");
    const actions = await auditDb
      .prepare("SELECT action, outcome FROM audit_events WHERE tenant_id = 'default' AND resource = ? ORDER BY n")
      .bind(`approval:${id}`)
      .all<any>();
    expect(actions.results.map((r) => `${r.action}:${r.outcome}`)).toEqual([
      "approval.request:denied",
      "approval.deny:denied",
      "approval.deny:denied",
      "approval.deny:success",
      "approval.approve:denied",
      "approval.deny:denied",
    ]);
  });

  it("each approver counts once", async () => {
    const { path, tokens } = await guarded(["rotate"], 2);
    const id = (await rotate(path, tokens.requester)).body.approval_request_id;
    expect((await approve(id, tokens.a1)).body.received).toBe(1);
    const twice = await approve(id, tokens.a1);
    expect(twice.status).toBe(200);
    expect(twice.body).toMatchObject({ received: 1, state: "pending" });
    await Promise.all([approve(id, tokens.a1), approve(id, tokens.a1)]);
    expect((await api("GET", `/api/v1/secrets/approvals/${id}`, { token: tokens.a1 })).body.received).toBe(1);
    expectProblem(await rotate(path, tokens.requester), 403);
  });

  it("after quorum, concurrent retries succeed exactly once", async () => {
    // DELETE is idempotent at the row level (a second soft-delete changes nothing), so only the
    // approval's single consumption can make all but one of these fail.
    const { path, tokens } = await guarded(["delete"], 1);
    const del = () => api("DELETE", `/api/v1/secrets/store/${path}`, { token: tokens.requester });
    const id = (await del()).body.approval_request_id;
    await approve(id, tokens.a1);
    const results = await Promise.all(Array.from({ length: 5 }, del));
    expect(
      results.filter((r) => r.status === 200),
      results.map((r) => r.status).join(),
    ).toHaveLength(1);
    const consumed = await env.DB.prepare("SELECT COUNT(*) AS n FROM approval_consumptions WHERE request_id = ?").bind(id).first<any>();
    expect(consumed.n).toBe(1);
  });

  it("requests expire (default 24 h); an expired request cannot be approved or used", async () => {
    const { path, tokens } = await guarded(["rotate"], 1);
    const first = await rotate(path, tokens.requester);
    const id = first.body.approval_request_id;
    const hours = (Date.parse(first.body.expires_at) - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    await approve(id, tokens.a1);
    // Time passes: move the expiry into the past.
    await env.DB.prepare("UPDATE approval_requests SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
    expect((await api("GET", `/api/v1/secrets/approvals/${id}`, { token: tokens.requester })).body.state).toBe("expired");
    const retry = await rotate(path, tokens.requester);
    expectProblem(retry, 403);
    expect(retry.body.approval_request_id).not.toBe(id);
    expectProblem(await approve(id, tokens.a2), 410);
  });

  it("approvers may be named by policy; a custom TTL applies", async () => {
    const approverPolicy = await putPolicy(uniqueName("approvers"), [{ paths: ["*"], capabilities: ["read"] }]);
    const base = uniquePath("dualpol");
    const created = await api("POST", "/api/v1/secrets/approvals/policies", {
      body: { paths: [`${base}/*`], actions: ["delete"], approvals_required: 1, approvers: { policies: [approverPolicy] }, request_ttl_seconds: 3600 },
    });
    expect(created.status, created.text).toBe(201);
    await api("POST", `/api/v1/secrets/store/${base}/k`, { body: { value: "x" } });
    const requester = await tokenFor(uniqueName("req"));
    const first = await api("DELETE", `/api/v1/secrets/store/${base}/k`, { token: requester });
    expectProblem(first, 403);
    expect(Date.parse(first.body.expires_at) - Date.now()).toBeLessThanOrEqual(3600_000);
    const approver = await policyToken([approverPolicy], uniqueName("lead"));
    expect((await approve(first.body.approval_request_id, approver)).body.state).toBe("approved");
    expect((await api("DELETE", `/api/v1/secrets/store/${base}/k`, { token: requester })).status).toBe(200);
  });

  it("unguarded paths and actions are not affected; creating through PUT is not a rotation", async () => {
    const { path, tokens } = await guarded(["delete"], 1);
    expect((await rotate(path, tokens.requester)).status).toBe(200);
    const fresh = `${path.slice(0, path.lastIndexOf("/"))}/fresh`;
    expect((await rotate(fresh, tokens.requester)).status).toBe(200);
  });

  it("validates approval policies and hides requests from uninvolved tokens", async () => {
    const bad = [
      { paths: ["a/*"], actions: ["rotate"], approvals_required: 0, approvers: { subjects: ["x"] } },
      { paths: ["a/*"], actions: ["fly"], approvals_required: 1, approvers: { subjects: ["x"] } },
      { paths: ["a/*"], actions: ["rotate"], approvals_required: 1, approvers: {} },
    ];
    for (const body of bad) expectProblem(await api("POST", "/api/v1/secrets/approvals/policies", { body }), 400);
    const { path, tokens } = await guarded(["rotate"], 1);
    const id = (await rotate(path, tokens.requester)).body.approval_request_id;
    expectProblem(await api("GET", `/api/v1/secrets/approvals/${id}`, { token: tokens.outsider }), 403);
    expectProblem(await api("GET", "/api/v1/secrets/approvals/apr_000000000000000000000000"), 404);
    expectProblem(await api("GET", "/api/v1/secrets/approvals/nope"), 400);
  });
});
