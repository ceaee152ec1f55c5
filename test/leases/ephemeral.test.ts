import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, expectProblem, tokenWith } from "../helpers";
import { storedResponse } from "../foundation/stored-response";
import { leaseRow, uniqueName, waitFor } from "./helpers";

// Revocations travel through the real queue (batch timeout 1 s): allow for a few rounds.
vi.setConfig({ testTimeout: 30_000 });

describe("POST /api/v1/ephemeral/api-keys", () => {
  it("returns the token once, stores only its hash, and it works until it expires", async () => {
    const subject = uniqueName("ci-job");
    const res = await api("POST", "/api/v1/ephemeral/api-keys", { body: { subject, scopes: ["secrets:read"], ttl_seconds: 2 } });
    expect(res.status, res.text).toBe(201);
    // Root's own key nests under root (auth/identity.ts).
    expect(res.body).toMatchObject({ subject: `root/${subject}`, scopes: ["secrets:read"] });
    expect(res.body.id).toMatch(/^tok_/);
    expect(res.body.lease_id).toMatch(/^lease_/);
    const token = res.body.token as string;
    const stored = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(res.body.id).raw();
    expect(JSON.stringify(stored)).not.toContain(token);

    expect((await api("GET", "/api/v1/tokens/self", { token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, Date.parse(res.body.expires_at) - Date.now() + 50));
    // Refused at auth time the moment it expires, before any revocation has run.
    expectProblem(await api("GET", "/api/v1/tokens/self", { token }), 401);

    // The lease's own alarm fires and its revocation records revoked_at on the token.
    const lease = await waitFor("lease expired", async () => {
      const row = await leaseRow(res.body.lease_id);
      return row.state === "expired" && row;
    });
    const tokens = await api("GET", `/api/v1/tokens?subject=root/${subject}&include_revoked=true`);
    const row = tokens.body.items.find((t: { id: string }) => t.id === res.body.id);
    expect(row.revoked_at).not.toBeNull();
    expect(Date.parse(row.revoked_at)).toBeGreaterThanOrEqual(Date.parse(res.body.expires_at));
    expect(lease.revokedAt).toBeGreaterThanOrEqual(Date.parse(row.revoked_at));
    expect((await api("GET", `/api/v1/tokens?subject=root/${subject}`)).body.items).toHaveLength(0);
  });

  it("a replayed ephemeral key creation does not return the key again", async () => {
    const headers = { "idempotency-key": `eph-${crypto.randomUUID()}` };
    const body = { subject: uniqueName("replayed"), scopes: ["secrets:read"], ttl_seconds: 600 };
    const first = await api("POST", "/api/v1/ephemeral/api-keys", { body, headers });
    expect(first.status, first.text).toBe(201);
    const token = first.body.token as string;
    const again = await api("POST", "/api/v1/ephemeral/api-keys", { body, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const { token: _, ...metadata } = first.body;
    expect(again.body).toEqual({ ...metadata, credential_already_issued: true });
    expect(again.text).not.toContain(token);
    expect(await storedResponse(headers["idempotency-key"])).not.toContain(token);
    // One key was made, and it is the one shown the first time.
    expect((await api("GET", "/api/v1/tokens/self", { token })).body.id).toBe(first.body.id);
  });

  it("grants no more than the caller holds, and needs leases:write", async () => {
    const caller = await tokenWith(["leases:write", "secrets:read"], { paths: ["app/*"] });
    expectProblem(await api("POST", "/api/v1/ephemeral/api-keys", { token: caller.token, body: { subject: "x", scopes: ["secrets:write"] } }), 403);
    expectProblem(
      await api("POST", "/api/v1/ephemeral/api-keys", { token: caller.token, body: { subject: "x", scopes: ["secrets:read"], paths: ["*"] } }),
      403,
    );
    const ok = await api("POST", "/api/v1/ephemeral/api-keys", { token: caller.token, body: { subject: "x", scopes: ["secrets:read"], ttl_seconds: 60 } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.paths).toEqual(["app/*"]);
    const reader = await tokenWith(["secrets:read"]);
    expectProblem(await api("POST", "/api/v1/ephemeral/api-keys", { token: reader.token, body: { subject: "x", scopes: ["secrets:read"] } }), 403);
    expectProblem(await api("POST", "/api/v1/ephemeral/api-keys", { body: { subject: "x", scopes: ["secrets:read"], ttl_seconds: 86401 } }), 400);
  });

  it("is revoked at once by the lease revoke", async () => {
    const res = await api("POST", "/api/v1/ephemeral/api-keys", { body: { subject: uniqueName("job"), scopes: ["secrets:read"], ttl_seconds: 600 } });
    expect((await api("POST", `/api/v1/secrets/leases/${res.body.lease_id}/revoke`)).status).toBe(202);
    await waitFor("revoked", async () => (await leaseRow(res.body.lease_id)).state === "revoked");
    expectProblem(await api("GET", "/api/v1/tokens/self", { token: res.body.token }), 401);
  });
});
