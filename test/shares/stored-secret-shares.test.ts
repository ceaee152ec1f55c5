import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectProblem, tokenWith, uniquePath } from "../helpers";
import { putPolicy, uniqueName } from "../identity/helpers";
import { auditDb } from "../support/audit-store";

const share = (path: string, token?: string, extra: Record<string, unknown> = {}) => api("POST", "/api/v1/secrets/shares", { token, body: { path, ...extra } });
const redeem = (token: string) => api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token } });

describe("POST /api/v1/secrets/shares {path} (share a stored secret)", () => {
  it("shares the current value once; the read and the share are audited together, never the value", async () => {
    const path = uniquePath("share-stored");
    await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: "stored-value-1" } });
    await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: "stored-value-2" } });
    const created = await share(path);
    expect(created.status, created.text).toBe(201);
    expect(created.text).not.toContain("stored-value");
    const first = await redeem(created.body.token);
    expect(first.status, first.text).toBe(200);
    expect(first.body.value).toBe("stored-value-2");
    expectProblem(await redeem(created.body.token), 410);
    const events = await auditDb.prepare("SELECT action, detail FROM audit_events WHERE resource = ? ORDER BY n").bind(`secret:${path}`).all();
    const shared = events.results.find((e) => e.action === "secret.share");
    expect(shared, JSON.stringify(events.results)).toBeDefined();
    expect(JSON.parse(shared!.detail as string)).toMatchObject({ version: 2, share: created.body.id });
    expect(JSON.stringify(events.results)).not.toContain("stored-value");
  });

  it("a token that may create shares but not read the path cannot share it", async () => {
    const path = uniquePath("share-stored");
    await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: "not-for-you" } });
    const { token } = await tokenWith(["secrets:write"]);
    const refused = await share(path, token);
    expectProblem(refused, 403);
    expect(refused.text).not.toContain("not-for-you");
    const deny = await putPolicy(uniqueName("noshare"), [{ paths: [path], capabilities: ["read"], effect: "deny" }]);
    const mixed = await api("POST", "/api/v1/tokens", { body: { subject: uniqueName("mixed"), scopes: ["secrets:read", "secrets:write"], policies: [deny] } });
    expectProblem(await share(path, mixed.body.token), 403);
  });

  it("the read rule holds: allowed_services, expiry and missing paths", async () => {
    const billing = uniquePath("share-stored");
    await api("POST", `/api/v1/secrets/store/${billing}`, { body: { value: "billing-only", allowed_services: ["billing"] } });
    const web = await api("POST", "/api/v1/tokens", { body: { subject: "service:web", scopes: ["secrets:read", "secrets:write"] } });
    const refused = await share(billing, web.body.token);
    expectProblem(refused, 403);
    expect(refused.body.type).toContain("service-not-allowed");
    const expired = uniquePath("share-stored");
    await api("POST", `/api/v1/secrets/store/${expired}`, { body: { value: "old", expires_at: new Date(Date.now() + 60_000).toISOString() } });
    await env.DB.prepare("UPDATE secrets SET expires_at = ? WHERE path = ?")
      .bind(Date.now() - 1000, expired)
      .run();
    expectProblem(await share(expired), 410);
    expectProblem(await share(uniquePath("share-missing")), 404);
    expectProblem(await api("POST", "/api/v1/secrets/shares", { body: { path: billing, value: "both" } }), 400);
  });

  it("a share approval policy guards it: one approval, one share", async () => {
    const base = uniquePath("share-guarded");
    const path = `${base}/db`;
    await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: "guarded-value" } });
    const tag = uniqueName("sh");
    const policy = await api("POST", "/api/v1/secrets/approvals/policies", {
      body: { paths: [`${base}/*`], actions: ["share"], approvals_required: 1, approvers: { subjects: [`${tag}-lead`] } },
    });
    expect(policy.status, policy.text).toBe(201);
    const requester = await api("POST", "/api/v1/tokens", { body: { subject: `${tag}-dev`, scopes: ["secrets:read", "secrets:write"] } });
    const lead = await api("POST", "/api/v1/tokens", { body: { subject: `${tag}-lead`, scopes: ["secrets:read"] } });
    const first = await share(path, requester.body.token);
    expectProblem(first, 403);
    expect(first.body.approval_request_id).toMatch(/^apr_/);
    const approve = await api("POST", `/api/v1/secrets/approvals/${first.body.approval_request_id}/approve`, { token: lead.body.token });
    expect(approve.status, approve.text).toBe(200);
    const second = await share(path, requester.body.token);
    expect(second.status, second.text).toBe(201);
    expect((await redeem(second.body.token)).body.value).toBe("guarded-value");
    // Consumed: the next share needs a new approval.
    expectProblem(await share(path, requester.body.token), 403);
    // A literal value is not a stored secret: no approval applies.
    expect((await api("POST", "/api/v1/secrets/shares", { token: requester.body.token, body: { value: "literal" } })).status).toBe(201);
  });
});
