// docs/decisions.md: an approver's own child tokens act for it (console sessions are child tokens),
// votes count distinct entities, and a child inherits its parent's entity. Checked here as an
// attacker holding one approver token would try it: mint children to vote twice, to approve its
// own request, or to become an approver it is not.
import { describe, expect, it } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";
import { putPolicy, uniqueName } from "./helpers";

const SCOPES = ["secrets:read", "secrets:write", "secrets:delete", "tokens:admin"];

/** A token minted by `parent` (root when absent). */
async function mint(subject: string, parent?: string, extra: Record<string, unknown> = {}) {
  const res = await api("POST", "/api/v1/tokens", { token: parent, body: { subject, scopes: SCOPES, ...extra } });
  expect(res.status, res.text).toBe(201);
  return { token: res.body.token as string, subject: res.body.subject as string, entity: res.body.entity as string };
}

/** A rotation guarded by a policy naming `approvers` (subjects), needing `required` votes. */
async function guarded(approvers: string[], required: number, approverPolicies: string[] = []) {
  const base = uniquePath("children");
  const policy = await api("POST", "/api/v1/secrets/approvals/policies", {
    body: { paths: [`${base}/*`], actions: ["rotate"], approvals_required: required, approvers: { subjects: approvers, policies: approverPolicies } },
  });
  expect(policy.status, policy.text).toBe(201);
  const path = `${base}/db`;
  expect((await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: "v1" } })).status).toBe(201);
  return path;
}

const rotate = (path: string, token: string) => api("PUT", `/api/v1/secrets/store/${path}`, { token, body: { value: "v2" } });
const approve = (id: string, token: string) => api("POST", `/api/v1/secrets/approvals/${id}/approve`, { token });
const state = async (id: string) => (await api("GET", `/api/v1/secrets/approvals/${id}`)).body;

describe("an approver's child tokens", () => {
  it("vote as their parent's entity: the parent and its children (any depth) are one vote, not two", async () => {
    const tag = uniqueName("kids");
    const dev = await mint(`${tag}-dev`);
    const lead = await mint(`${tag}-lead`);
    const other = await mint(`${tag}-lead2`);
    const path = await guarded([lead.subject, other.subject], 2);
    const console1 = await mint("console-1", lead.token);
    const grandchild = await mint("script", console1.token);
    expect(console1.subject).toBe(`${lead.subject}/console-1`);
    expect([console1.entity, grandchild.entity]).toEqual([lead.entity, lead.entity]);

    const id = (await rotate(path, dev.token)).body.approval_request_id as string;
    // The child acts for the listed approver...
    const first = await approve(id, console1.token);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ received: 1, state: "pending" });
    // ...but its parent, a sibling and a grandchild add nothing: one entity.
    const sibling = await mint("console-2", lead.token);
    for (const token of [lead.token, sibling.token, grandchild.token]) {
      const again = await approve(id, token);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ received: 1, state: "pending" });
    }
    await Promise.all([approve(id, lead.token), approve(id, sibling.token), approve(id, grandchild.token)]);
    expect(await state(id)).toMatchObject({ received: 1, state: "pending" });
    expectProblem(await rotate(path, dev.token), 403);

    // A second entity completes the quorum.
    expect((await approve(id, other.token)).body).toMatchObject({ received: 2, state: "approved" });
    expect((await rotate(path, dev.token)).status).toBe(200);
  });

  it("cannot approve (or deny) their parent's own request, nor can the parent approve its child's", async () => {
    const tag = uniqueName("self");
    const lead = await mint(`${tag}-lead`);
    const other = await mint(`${tag}-lead2`);
    // The requester is itself a listed approver: its children still may not approve for it.
    const path = await guarded([lead.subject, other.subject], 1);
    const child = await mint("console-1", lead.token);
    const grandchild = await mint("script", child.token);

    const id = (await rotate(path, lead.token)).body.approval_request_id as string;
    for (const token of [child.token, grandchild.token]) {
      const self = await approve(id, token);
      expectProblem(self, 403);
      expect(self.body.detail).toContain("own");
      expectProblem(await api("POST", `/api/v1/secrets/approvals/${id}/deny`, { token }), 403);
    }
    expect(await state(id)).toMatchObject({ received: 0, state: "pending" });
    expectProblem(await rotate(path, lead.token), 403);

    // The other way round: the child asks, the parent may not approve it.
    const path2 = await guarded([lead.subject, other.subject], 1);
    const id2 = (await rotate(path2, child.token)).body.approval_request_id as string;
    expectProblem(await approve(id2, lead.token), 403);
    expectProblem(await approve(id2, grandchild.token), 403);
    expect(await state(id2)).toMatchObject({ received: 0, state: "pending" });
    // Another entity may.
    expect((await approve(id2, other.token)).body.state).toBe("approved");
  });

  it("gain nothing their parent lacks: no approver policy it does not hold, no approval outside its own subject", async () => {
    const tag = uniqueName("gain");
    const dev = await mint(`${tag}-dev`);
    const outsider = await mint(`${tag}-outsider`);
    const approverPolicy = await putPolicy(uniqueName("approvers"), [{ paths: ["*"], capabilities: ["read"] }]);
    const path = await guarded([`${tag}-lead`], 1, [approverPolicy]);
    const id = (await rotate(path, dev.token)).body.approval_request_id as string;

    // The outsider's children are not approvers, and it cannot hand them the approver policy.
    const child = await mint("console-1", outsider.token);
    expectProblem(await approve(id, child.token), 403);
    const withPolicy = await api("POST", "/api/v1/tokens", {
      token: outsider.token,
      body: { subject: "p", scopes: ["secrets:read"], policies: [approverPolicy] },
    });
    expectProblem(withPolicy, 403);
    // Nor name a subject outside its own: asking for the approver's subject nests it under the outsider.
    const named = await mint(`${tag}-lead`, outsider.token);
    expect(named.subject).toBe(`${outsider.subject}/${tag}-lead`);
    expectProblem(await approve(id, named.token), 403);
    expect(await state(id)).toMatchObject({ received: 0, state: "pending" });
  });
});
