import { describe, expect, it } from "vitest";
import { api, createTenant, expectProblem, tokenWith, uniquePath } from "../helpers";
import { SCOPES } from "../../src/auth/access";
import { chainEvents } from "../support/audit-store";
import { policyToken, putPolicy, uniqueName } from "./helpers";

const write = (path: string, token?: string, value = "v") => api("PUT", `/api/v1/secrets/store/${path}`, { token, body: { value } });
const read = (path: string, token?: string) => api("GET", `/api/v1/secrets/store/${path}`, { token });

describe("access policies", () => {
  it("allow a capability on a glob, and only there", async () => {
    const base = uniquePath("pol");
    await write(`${base}/app/db`);
    await write(`${base}/other/db`);
    const policy = await putPolicy(uniqueName("app-rw"), [{ paths: [`${base}/app/*`], capabilities: ["read", "write"] }]);
    const token = await policyToken([policy]);
    expect((await read(`${base}/app/db`, token)).status).toBe(200);
    expect((await write(`${base}/app/new`, token)).status).toBe(200);
    const outside = await read(`${base}/other/db`, token);
    expectProblem(outside, 403);
    expect(outside.body.required_capability).toBe("read");
  });

  it("deny rules win over any allow", async () => {
    const base = uniquePath("pol");
    await write(`${base}/app/db`);
    await write(`${base}/app/prod/root`);
    const allow = await putPolicy(uniqueName("allow"), [{ paths: [`${base}/*`], capabilities: ["read", "list"] }]);
    const deny = await putPolicy(uniqueName("deny"), [{ paths: [`${base}/app/prod/*`], capabilities: ["read", "list"], effect: "deny" }]);
    const token = await policyToken([allow, deny]);
    expect((await read(`${base}/app/db`, token)).status).toBe(200);
    const denied = await read(`${base}/app/prod/root`, token);
    expectProblem(denied, 403);
    expect(denied.body.detail).toContain(deny);
    // Deny also filters listings.
    const list = await api("GET", `/api/v1/secrets/store?prefix=${base}/`, { token });
    expect(list.status, list.text).toBe(200);
    expect(list.body.items.map((i: any) => i.path)).toEqual([`${base}/app/db`]);
    // And it applies to scope tokens that carry the policy too.
    const mixed = await api("POST", "/api/v1/tokens", { body: { subject: "mixed", scopes: ["secrets:read"], policies: [deny] } });
    expect(mixed.status, mixed.text).toBe(201);
    expect(mixed.body.policies).toEqual([deny]);
    expect((await read(`${base}/app/db`, mixed.body.token)).status).toBe(200);
    expectProblem(await read(`${base}/app/prod/root`, mixed.body.token), 403);
  });

  it("a missing capability is 403 even on an allowed path", async () => {
    const base = uniquePath("pol");
    await write(`${base}/x`);
    const policy = await putPolicy(uniqueName("ro"), [{ paths: [`${base}/*`], capabilities: ["read"] }]);
    const token = await policyToken([policy]);
    expect((await read(`${base}/x`, token)).status).toBe(200);
    const w = await write(`${base}/x`, token);
    expectProblem(w, 403);
    expect(w.body.required_capability).toBe("write");
    expectProblem(await api("DELETE", `/api/v1/secrets/store/${base}/x`, { token }), 403);
    // list is its own capability
    expectProblem(await api("GET", `/api/v1/secrets/store?prefix=${base}/`, { token }), 403);
    // admin routes need admin on *
    expectProblem(await api("GET", "/api/v1/tokens", { token }), 403);
  });

  it("admin on * grants the tenant-wide admin scopes", async () => {
    const policy = await putPolicy(uniqueName("admin"), [{ paths: ["*"], capabilities: ["admin"] }]);
    const token = await policyToken([policy]);
    expect((await api("GET", "/api/v1/auth/policies", { token })).status).toBe(200);
    const narrow = await putPolicy(uniqueName("admin-narrow"), [{ paths: ["app/*"], capabilities: ["admin"] }]);
    expectProblem(await api("GET", "/api/v1/auth/policies", { token: await policyToken([narrow]) }), 403);
  });

  it("nothing a tenant can grant reaches across tenants: every scope and admin on * still cannot create or list tenants, act in another tenant or re-wrap", async () => {
    const policy = await putPolicy(uniqueName("all-admin"), [{ paths: ["*"], capabilities: ["read", "write", "delete", "list", "share", "lease", "admin"] }]);
    const scopes = [...SCOPES];
    const minted = await api("POST", "/api/v1/tokens", { body: { subject: uniqueName("almost-root"), scopes, policies: [policy] } });
    expect(minted.status, minted.text).toBe(201);
    const token = minted.body.token;
    await createTenant("identity-victim");
    const attempts: [string, string, unknown?][] = [
      ["POST", "/api/v1/tenants", { id: uniqueName("t").toLowerCase() }],
      ["GET", "/api/v1/tenants"],
      ["POST", "/api/v1/tokens", { tenant: "identity-victim", subject: "x", scopes: ["secrets:read"] }],
      ["GET", "/api/v1/tokens?tenant=identity-victim"],
      ["POST", "/api/v1/sys/rewrap"],
      ["GET", "/api/v1/sys/rewrap"],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api(method, path, { token, body });
      expectProblem(res, 403);
      expect(res.body.detail, `${method} ${path}`).toContain("Only the operator's root token");
    }
    // Each refusal is in the caller's own audit log, as a denial.
    const denied = await chainEvents("default", "actor = ? AND outcome = 'denied'", minted.body.subject);
    expect(denied.map((e) => e.action).sort()).toEqual(["rewrap.start", "rewrap.status", "tenant.create", "tenant.list", "token.create", "token.list"]);
    // Root still can.
    expect((await api("GET", "/api/v1/tenants")).status).toBe(200);
  });

  it("scope tokens keep working and map onto capabilities", async () => {
    const path = uniquePath("legacy");
    await write(path);
    const { token } = await tokenWith(["secrets:read"], { paths: [`${path.split("/")[0]}/*`] });
    expect((await read(path, token)).status).toBe(200);
    expectProblem(await write(path, token), 403);
    expectProblem(await read(`elsewhere/${path}`, token), 403);
  });

  it("a path in another tenant is 404, not 403", async () => {
    await createTenant("identity-other");
    const path = uniquePath("tenant");
    await write(path);
    // tokens:admin in the other tenant does not make it an auth admin.
    const admin = await api("POST", "/api/v1/tokens", { body: { subject: "o", scopes: ["tokens:admin"], tenant: "identity-other" } });
    expectProblem(await api("PUT", "/api/v1/auth/policies/x", { token: admin.body.token, body: { rules: [{ paths: ["*"], capabilities: ["read"] }] } }), 403);
    const t = await api("POST", "/api/v1/tokens", { body: { subject: "o2", scopes: ["secrets:read"], tenant: "identity-other" } });
    expectProblem(await read(path, t.body.token), 404);
  });

  it("a token cannot grant policies it does not hold, nor unknown ones", async () => {
    const mine = await putPolicy(uniqueName("mine"), [{ paths: ["*"], capabilities: ["read"] }]);
    const theirs = await putPolicy(uniqueName("theirs"), [{ paths: ["*"], capabilities: ["write"] }]);
    const holder = await api("POST", "/api/v1/tokens", { body: { subject: "holder", scopes: ["tokens:admin"], policies: [mine] } });
    const token = holder.body.token;
    expectProblem(await api("POST", "/api/v1/tokens", { token, body: { subject: "x", policies: [theirs] } }), 403);
    expect((await api("POST", "/api/v1/tokens", { token, body: { subject: "x", policies: [mine] } })).status).toBe(201);
    // An auth admin may hand out any policy (it could rewrite them anyway).
    const both = await tokenWith(["tokens:admin", "auth:admin"]);
    expect((await api("POST", "/api/v1/tokens", { token: both.token, body: { subject: "x", policies: [theirs] } })).status).toBe(201);
    expectProblem(await api("POST", "/api/v1/tokens", { body: { subject: "x", policies: ["no-such"] } }), 400);
    expectProblem(await api("POST", "/api/v1/tokens", { body: { subject: "x" } }), 400);
  });

  it("validates policy documents and deletes them", async () => {
    const name = uniqueName("bad");
    expectProblem(await api("PUT", `/api/v1/auth/policies/${name}`, { body: { rules: [{ paths: ["a/*"], capabilities: ["fly"] }] } }), 400);
    expectProblem(await api("PUT", `/api/v1/auth/policies/${name}`, { body: { rules: [] } }), 400);
    expectProblem(await api("PUT", `/api/v1/auth/policies/Bad Name`, { body: { rules: [{ paths: ["a"], capabilities: ["read"] }] } }), 400);
    await putPolicy(name, [{ paths: ["a/*"], capabilities: ["read"] }]);
    const got = await api("GET", `/api/v1/auth/policies/${name}`);
    expect(got.body.rules).toEqual([{ paths: ["a/*"], capabilities: ["read"], effect: "allow" }]);
    expect((await api("DELETE", `/api/v1/auth/policies/${name}`)).status).toBe(200);
    expectProblem(await api("GET", `/api/v1/auth/policies/${name}`), 404);
  });

  it("a deleted policy stops granting at once", async () => {
    const path = uniquePath("gone");
    await write(path);
    const policy = await putPolicy(uniqueName("temp"), [{ paths: [path], capabilities: ["read"] }]);
    const token = await policyToken([policy]);
    expect((await read(path, token)).status).toBe(200);
    await api("DELETE", `/api/v1/auth/policies/${policy}`);
    expectProblem(await read(path, token), 403);
  });
});

describe("/openapi.json", () => {
  it("documents the identity routes, login without bearer auth", async () => {
    const res = await api("GET", "/openapi.json", { token: null });
    const paths = res.body.paths;
    for (const p of [
      "/api/v1/auth/policies/{name}",
      "/api/v1/auth/roles",
      "/api/v1/auth/login",
      "/api/v1/secrets/service/{service}",
      "/api/v1/secrets/approvals/{request_id}/approve",
    ]) {
      expect(paths[p], p).toBeDefined();
    }
    expect(paths["/api/v1/auth/login"].post.security).toEqual([]);
    expect(res.body.components.schemas.PolicyRule.properties.capabilities.items.enum).toEqual(["read", "write", "delete", "list", "share", "lease", "admin"]);
  });
});
