import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createTenant, expectProblem, tokenWith, uniquePath } from "../helpers";

const store = (path: string) => `/api/v1/secrets/store/${path}`;

describe("API tokens", () => {
  it("are shown once and stored only as their SHA-256", async () => {
    const created = await api("POST", "/api/v1/tokens", { body: { subject: "ci-deployer", scopes: ["secrets:read"] } });
    expect(created.status, created.text).toBe(201);
    const { token, id } = created.body;
    expect(token).toMatch(/^hush_[A-Za-z0-9]{40}$/);
    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(id).first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain(token);
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    expect(row?.token_hash).toBe(digest);

    const listed = await api("GET", "/api/v1/tokens?subject=ci-deployer");
    expect(listed.body.items.some((t: { id: string }) => t.id === id)).toBe(true);
    expect(listed.text).not.toContain(token);

    const self = await api("GET", "/api/v1/tokens/self", { token });
    expect(self.body).toMatchObject({ id, subject: "ci-deployer", scopes: ["secrets:read"], tenant: "default" });
  });

  it("without a token, with garbage, or with an unknown token gets 401", async () => {
    for (const token of [null, "nope", "hush_unknownunknownunknownunknownunknown1234"]) {
      const res = await api("GET", "/api/v1/secrets/store", { token });
      expectProblem(res, 401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    }
    expectProblem(await api("GET", "/api/v1/secrets/store", { token: null, headers: { authorization: "Basic abc" } }), 401);
  });

  it("refuses a revoked token at once", async () => {
    const { token, id } = await tokenWith(["secrets:read"]);
    expect((await api("GET", "/api/v1/secrets/store", { token })).status).toBe(200);
    expect((await api("DELETE", `/api/v1/tokens/${id}`)).status).toBe(200);
    const res = await api("GET", "/api/v1/secrets/store", { token });
    expectProblem(res, 401);
    expect(res.body.detail).toContain("revoked");
  });

  it("refuses an expired token at once", async () => {
    const { token, id } = await tokenWith(["secrets:read"], { ttl_seconds: 3600 });
    expect((await api("GET", "/api/v1/secrets/store", { token })).status).toBe(200);
    await env.DB.prepare("UPDATE api_tokens SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
    const res = await api("GET", "/api/v1/secrets/store", { token });
    expectProblem(res, 401);
    expect(res.body.detail).toContain("expired");
  });

  it("a token can revoke itself without tokens:admin", async () => {
    const { token, id } = await tokenWith(["secrets:read"]);
    expect((await api("DELETE", `/api/v1/tokens/${id}`, { token })).status).toBe(200);
    expectProblem(await api("GET", "/api/v1/tokens/self", { token }), 401);
  });

  it("cannot grant more than it holds", async () => {
    const { token } = await tokenWith(["tokens:admin", "secrets:read"], { paths: ["app/*"] });
    expectProblem(await api("POST", "/api/v1/tokens", { token, body: { subject: "x", scopes: ["secrets:write"], paths: ["app/*"] } }), 403);
    expectProblem(await api("POST", "/api/v1/tokens", { token, body: { subject: "x", scopes: ["secrets:read"], paths: ["db/*"] } }), 403);
    expectProblem(await api("POST", "/api/v1/tokens", { token, body: { subject: "x", scopes: ["secrets:read"] } }), 403);
    expect((await api("POST", "/api/v1/tokens", { token, body: { subject: "x", scopes: ["secrets:read"], paths: ["app/sub/*"] } })).status).toBe(201);
  });
});

describe("scopes and path globs", () => {
  it("a token without the scope gets 403, and the denial is audited", async () => {
    const path = uniquePath("app");
    await api("POST", store(path), { body: { value: "v" } });
    const { token } = await tokenWith(["secrets:read"], { subject: "reader" });
    expect((await api("GET", store(path), { token })).status).toBe(200);
    const denied = await api("PUT", store(path), { token, body: { value: "w" } });
    expectProblem(denied, 403);
    expect(denied.body.required_scope).toBe("secrets:write");
    expectProblem(await api("DELETE", store(path), { token }), 403);
    expectProblem(await api("GET", "/api/v1/audit", { token }), 403);
    expectProblem(await api("POST", "/api/v1/tokens", { token, body: { subject: "x", scopes: ["secrets:read"] } }), 403);

    const events = await api("GET", `/api/v1/audit?path=${path}&failed_only=true`);
    expect(events.body.items.map((e: { action: string; outcome: string; actor: string }) => [e.action, e.outcome, e.actor])).toEqual([
      ["secret.delete", "denied", "reader"],
      ["secret.write", "denied", "reader"],
    ]);
  });

  it("a token limited to app/* cannot read or list db/*", async () => {
    const stamp = uniquePath("x").split("/")[1];
    await api("POST", store(`app/${stamp}/key`), { body: { value: "app-value" } });
    await api("POST", store(`db/${stamp}/password`), { body: { value: "db-value" } });
    const { token } = await tokenWith(["secrets:read", "secrets:write"], { paths: ["app/*"] });
    expect((await api("GET", store(`app/${stamp}/key`), { token })).body.value).toBe("app-value");
    expectProblem(await api("GET", store(`db/${stamp}/password`), { token }), 403);
    expectProblem(await api("PUT", store(`db/${stamp}/password`), { token, body: { value: "x" } }), 403);
    const listed = await api("GET", "/api/v1/secrets/store?limit=1000", { token });
    expect(listed.body.items.every((i: { path: string }) => i.path.startsWith("app/"))).toBe(true);
    expect((await api("GET", store(`db/${stamp}/password`))).body.value).toBe("db-value");
  });
});

describe("tenants", () => {
  it("only the root token creates tenants and tokens in them", async () => {
    const { token } = await tokenWith(["tokens:admin", "secrets:read"]);
    expectProblem(await api("POST", "/api/v1/tenants", { token, body: { id: "not-allowed" } }), 403);
    expect((await api("POST", "/api/v1/tenants", { body: { id: "acme-root-test" } })).status).toBe(201);
    expectProblem(await api("POST", "/api/v1/tenants", { body: { id: "acme-root-test" } }), 409);
    expectProblem(await api("POST", "/api/v1/tokens", { token, body: { subject: "x", scopes: ["secrets:read"], tenant: "acme-root-test" } }), 403);
    expectProblem(await api("POST", "/api/v1/tokens", { body: { subject: "x", scopes: ["secrets:read"], tenant: "no-such-tenant" } }), 404);
  });

  it("isolates tenants: another tenant's paths are 404 and never listed", async () => {
    await createTenant("tenant-b");
    const path = uniquePath("shared-name");
    await api("POST", store(path), { body: { value: "tenant-a-value" } });
    const b = await tokenWith(["secrets:read", "secrets:write", "secrets:delete", "audit:read", "tokens:admin"], { tenant: "tenant-b" });

    expectProblem(await api("GET", store(path), { token: b.token }), 404);
    expectProblem(await api("GET", `${store(path)}?version=1`, { token: b.token }), 404);
    expectProblem(await api("DELETE", store(path), { token: b.token }), 404);
    const listed = await api("GET", "/api/v1/secrets/store?limit=1000", { token: b.token });
    expect(listed.text).not.toContain(path);
    // B's audit log holds only B's own (failed) attempts and root minting B's token in B, never A's events.
    const audit = await api("GET", "/api/v1/audit?limit=1000", { token: b.token });
    const own = audit.body.items.filter((e: { actor: string; action: string }) => !(e.actor === "root" && e.action === "token.create"));
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((e: { actor: string; outcome: string }) => e.actor === "test-user" && e.outcome !== "success")).toBe(true);
    const tokens = await api("GET", "/api/v1/tokens?include_revoked=true", { token: b.token });
    expect(tokens.body.items.every((t: { tenant: string }) => t.tenant === "tenant-b")).toBe(true);
    const rootTokens = await api("GET", "/api/v1/tokens");
    const aTokenId = rootTokens.body.items[0]?.id;
    if (aTokenId) expectProblem(await api("DELETE", `/api/v1/tokens/${aTokenId}`, { token: b.token }), 404);

    // The same path in tenant B is a different secret, sealed under B's own key.
    expect((await api("POST", store(path), { token: b.token, body: { value: "tenant-b-value" } })).status).toBe(201);
    expect((await api("GET", store(path), { token: b.token })).body.value).toBe("tenant-b-value");
    expect((await api("GET", store(path))).body.value).toBe("tenant-a-value");
  });
});
