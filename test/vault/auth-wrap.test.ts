import { beforeAll, describe, expect, it } from "vitest";
import { api, tokenWith as mint, uniquePath } from "../helpers";
import { AUDIENCE, ISSUER, putPolicy, signJwt, signingKey, uniqueName, type SigningKey } from "../identity/helpers";
import { vault } from "./helpers";
import { auditDb } from "../support/audit-store";

const tokenWith = async (...args: Parameters<typeof mint>) => (await mint(...args)).token;

describe("Vault login (auth/jwt, auth/kubernetes) on Hush login roles", () => {
  let key: SigningKey;
  let role: string;
  const path = uniquePath("vlogin");
  beforeAll(async () => {
    key = await signingKey("RS256");
    const policy = await putPolicy(uniqueName("vault-ci"), [{ paths: [path], capabilities: ["read"] }]);
    role = uniqueName("vault-gha");
    const res = await api("POST", "/api/v1/auth/roles", {
      body: { name: role, issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] }, bound_claims: { repository: "acme/api" }, policies: [policy] },
    });
    expect(res.status, res.text).toBe(201);
    await vault("POST", `secret/data/${path}`, { body: { data: { k: "v" } } });
  });

  it("the exact request `vault login -method=jwt role=R jwt=J` sends logs in and returns Vault's auth block", async () => {
    // The Go client: PUT /v1/auth/jwt/login, body {"jwt": ..., "role": ...}, no token.
    const res = await vault("PUT", "auth/jwt/login", { token: null, body: { jwt: await signJwt(key), role } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.auth).toMatchObject({ renewable: false, token_type: "service", orphan: true });
    expect(res.body.auth.client_token).toMatch(/^hush_/);
    expect(res.body.auth.lease_duration).toBeGreaterThan(0);
    expect(res.body.auth.policies.length).toBe(1);
    const read = await vault("GET", `secret/data/${path}`, { token: res.body.auth.client_token });
    expect(read.body.data.data).toEqual({ k: "v" });
  });

  it("kubernetes login maps onto the same roles; a bad JWT is one generic 400, audited", async () => {
    const ok = await vault("POST", "auth/kubernetes/login", { token: null, body: { jwt: await signJwt(key), role } });
    expect(ok.status).toBe(200);
    const wrongClaim = await vault("POST", "auth/jwt/login", { token: null, body: { jwt: await signJwt(key, { repository: "evil/x" }), role } });
    const noRole = await vault("POST", "auth/jwt/login", { token: null, body: { jwt: await signJwt(key), role: "no-such-role" } });
    expect(wrongClaim.status).toBe(400);
    expect(noRole.body).toEqual(wrongClaim.body);
    const events = await auditDb
      .prepare("SELECT detail FROM audit_events WHERE action = 'auth.login' AND outcome = 'denied' AND resource = ? ORDER BY n DESC LIMIT 1")
      .bind(`auth_role:${role}`)
      .first<{ detail: string }>();
    expect(JSON.parse(events!.detail)).toMatchObject({ reason: "bound-claim", via: "vault:jwt" });
  });

  it("an unknown namespace (tenant) logs nobody in", async () => {
    const res = await vault("POST", "auth/jwt/login", {
      token: null,
      body: { jwt: await signJwt(key), role },
      headers: { "x-vault-namespace": "nobody-here" },
    });
    expect(res.status).toBe(400);
  });
});

describe("auth/token: create, lookup, renew-self, revoke-self", () => {
  it("create mints a nested child with the caller's grants; revoke-self takes its children with it", async () => {
    const parent = await tokenWith(["tokens:admin", "secrets:read"], { subject: uniqueName("vparent"), ttl_seconds: 3600 });
    const created = await vault("POST", "auth/token/create", { token: parent, body: { display_name: "ci", policies: ["secrets:read"], ttl: "2h" } });
    expect(created.status, created.text).toBe(200);
    const child = created.body.auth.client_token as string;
    expect(created.body.auth.policies).toEqual(["secrets:read"]);
    expect(created.body.auth.lease_duration).toBeLessThanOrEqual(3600); // capped by the parent
    const me = await vault("GET", "auth/token/lookup-self", { token: child });
    expect(me.body.data.display_name).toMatch(/^vparent-.*\/ci$/);
    expect(me.body.data.id).not.toBe(child);
    const looked = await vault("POST", "auth/token/lookup", { token: parent, body: { token: child } });
    expect(looked.body.data.accessor).toBe(me.body.data.accessor);
    const renewed = await vault("POST", "auth/token/renew-self", { token: child });
    expect(renewed.status).toBe(200);
    expect(renewed.body.auth.renewable).toBe(false);
    const grandchild = (await vault("POST", "auth/token/create", { token: parent, body: {} })).body.auth.client_token;
    expect((await vault("POST", "auth/token/revoke-self", { token: parent })).status).toBe(204);
    expect((await vault("GET", "auth/token/lookup-self", { token: child })).status).toBe(403);
    expect((await vault("GET", "auth/token/lookup-self", { token: grandchild })).status).toBe(403);
  });

  it("attacker: a token with less than admin cannot create tokens, nor escalate scopes, policies, lifetime or orphanhood", async () => {
    const reader = await tokenWith(["secrets:read"]);
    expect((await vault("POST", "auth/token/create", { token: reader, body: {} })).status).toBe(403);
    const admin = await tokenWith(["tokens:admin"], { ttl_seconds: 600 });
    const escalate = await vault("POST", "auth/token/create", { token: admin, body: { policies: ["secrets:write"] } });
    expect(escalate.status).toBe(403);
    expect((await vault("POST", "auth/token/create", { token: admin, body: { policies: ["no-such-policy"] } })).status).toBe(400);
    expect((await vault("POST", "auth/token/create", { token: admin, body: { no_parent: true } })).status).toBe(403);
    const long = await vault("POST", "auth/token/create", { token: admin, body: { ttl: "30d" } });
    expect(long.body.auth.lease_duration).toBeLessThanOrEqual(600);
    expect((await vault("POST", "auth/token/lookup", { token: await tokenWith(["secrets:read"]), body: { token: long.body.auth.client_token } })).status).toBe(
      403,
    );
  });

  it("an Idempotency-Key replay of token create never returns the token again", async () => {
    const headers = { "idempotency-key": uniqueName("idem") };
    const first = await vault("POST", "auth/token/create", { body: { display_name: uniqueName("idem"), policies: ["secrets:read"] }, headers });
    const again = await vault("POST", "auth/token/create", {
      body: { display_name: first.body.auth.accessor ? undefined : "x", policies: ["secrets:read"] },
      headers: { ...headers },
    });
    void again;
    const replay = await vault("POST", "auth/token/create", {
      body: { display_name: uniqueName("other"), policies: ["secrets:read"] },
      headers: { "idempotency-key": headers["idempotency-key"] },
    });
    expect([422, 200]).toContain(replay.status);
    const same = { display_name: uniqueName("same"), policies: ["secrets:read"] };
    const k = { "idempotency-key": uniqueName("idem2") };
    const a = await vault("POST", "auth/token/create", { body: same, headers: k });
    const b = await vault("POST", "auth/token/create", { body: same, headers: k });
    expect(a.body.auth.client_token).toMatch(/^hush_/);
    expect(b.body.auth.client_token).toBeUndefined();
    expect(b.body.credential_already_issued).toBe(true);
    expect(JSON.stringify(b.body)).not.toContain(a.body.auth.client_token);
  });
});

describe("sys/health and sys/seal-status", () => {
  it("are unauthenticated and leak nothing", async () => {
    const health = await vault("GET", "sys/health", { token: null });
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ initialized: true, sealed: false, standby: false });
    expect(Object.keys(health.body).sort()).toEqual([
      "cluster_id",
      "cluster_name",
      "initialized",
      "performance_standby",
      "replication_dr_mode",
      "replication_performance_mode",
      "sealed",
      "server_time_utc",
      "standby",
      "version",
    ]);
    expect(health.text).not.toMatch(/tenant|default|root|hush_/i);
    expect((await vault("GET", "sys/health?activecode=204", { token: null })).status).toBe(204);
    expect((await vault("GET", "sys/health?activecode=abc", { token: null })).status).toBe(400);
    const seal = await vault("GET", "sys/seal-status", { token: null });
    expect(seal.body).toMatchObject({ sealed: false, initialized: true, type: "shamir" });
    // the rest of sys still needs a token
    expect((await vault("GET", "sys/mounts", { token: null })).status).toBe(403);
  });
});

describe("response wrapping", () => {
  it("a wrapped read returns wrap_info; unwrap returns the read exactly once; lookup never consumes", async () => {
    const path = uniquePath("wrap");
    await vault("POST", `secret/data/${path}`, { body: { data: { pw: "s3cret" } } });
    const wrapped = await vault("GET", `secret/data/${path}`, { headers: { "x-vault-wrap-ttl": "5m" } });
    expect(wrapped.status, wrapped.text).toBe(200);
    expect(wrapped.body.data).toBeNull();
    expect(wrapped.text).not.toContain("s3cret");
    const info = wrapped.body.wrap_info;
    expect(info).toMatchObject({ ttl: 300, creation_path: `secret/data/${path}` });
    const look = await vault("POST", "sys/wrapping/lookup", { token: null, body: { token: info.token } });
    expect(look.body.data).toMatchObject({ creation_path: `secret/data/${path}`, creation_ttl: 300 });
    expect(look.text).not.toContain("s3cret");
    // concurrent unwraps: exactly one gets the value
    const results = await Promise.all(Array.from({ length: 8 }, () => vault("POST", "sys/wrapping/unwrap", { token: info.token })));
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBe(1);
    expect(ok[0]!.body.data.data).toEqual({ pw: "s3cret" });
    expect(results.filter((r) => r.status === 400).length).toBe(7);
    expect((await vault("POST", "sys/wrapping/unwrap", { token: null, body: { token: info.token } })).status).toBe(400);
    expect((await vault("POST", "sys/wrapping/lookup", { token: null, body: { token: info.token } })).status).toBe(400);
    const events = await auditDb
      .prepare("SELECT action FROM audit_events WHERE resource = ? ORDER BY n")
      .bind(`share:${info.accessor}`)
      .all<{ action: string }>();
    expect(events.results.map((e) => e.action)).toEqual(expect.arrayContaining(["share.create", "vault.wrap", "vault.unwrap"]));
  });

  it("sys/wrapping/wrap and rewrap; a rewrapped token's old one is dead; a forged token is refused", async () => {
    const w = await vault("POST", "sys/wrapping/wrap", { body: { hello: "world" }, headers: { "x-vault-wrap-ttl": "60" } });
    expect(w.status, w.text).toBe(200);
    const re = await vault("POST", "sys/wrapping/rewrap", { token: null, body: { token: w.body.wrap_info.token } });
    expect(re.status, re.text).toBe(200);
    expect(re.body.wrap_info.token).not.toBe(w.body.wrap_info.token);
    expect((await vault("POST", "sys/wrapping/unwrap", { token: w.body.wrap_info.token })).status).toBe(400);
    const un = await vault("POST", "sys/wrapping/unwrap", { token: re.body.wrap_info.token });
    expect(un.body.data).toEqual({ hello: "world" });
    const forged = re.body.wrap_info.token.replace(/.$/, (c: string) => (c === "a" ? "b" : "a"));
    expect((await vault("POST", "sys/wrapping/unwrap", { token: forged })).status).toBe(400);
  });

  it("attacker: a wrapped read still passes the read rule, and wrapping needs share rights", async () => {
    const path = uniquePath("wrap");
    await vault("POST", `secret/data/${path}`, { body: { data: { pw: "x" } } });
    const outsider = await tokenWith(["secrets:read", "secrets:write"], { paths: ["elsewhere/*"] });
    expect((await vault("GET", `secret/data/${path}`, { token: outsider, headers: { "x-vault-wrap-ttl": "60" } })).status).toBe(403);
    const readOnly = await tokenWith(["secrets:read"]);
    expect((await vault("GET", `secret/data/${path}`, { token: readOnly })).status).toBe(200);
    expect((await vault("GET", `secret/data/${path}`, { token: readOnly, headers: { "x-vault-wrap-ttl": "60" } })).status).toBe(403);
    await vault("DELETE", `secret/data/${path}`);
    expect((await vault("GET", `secret/data/${path}`, { headers: { "x-vault-wrap-ttl": "60" } })).status).toBe(404);
    // a wrap header where Hush does not wrap is refused, not ignored
    expect((await vault("POST", `secret/destroy/${path}`, { body: { versions: [1] }, headers: { "x-vault-wrap-ttl": "60" } })).status).toBe(400);
  });

  it("a wrapped token create: the token is only inside the wrap", async () => {
    const res = await vault("POST", "auth/token/create", { body: { policies: ["secrets:read"] }, headers: { "x-vault-wrap-ttl": "2m" } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.auth).toBeNull();
    const un = await vault("POST", "sys/wrapping/unwrap", { token: null, body: { token: res.body.wrap_info.token } });
    expect(un.body.auth.client_token).toMatch(/^hush_/);
    expect((await vault("GET", "auth/token/lookup-self", { token: un.body.auth.client_token })).status).toBe(200);
  });
});

describe("the unwrap page", () => {
  it("is served with a CSP without inline script, and loading it consumes nothing", async () => {
    const { exports } = await import("cloudflare:workers");
    const w = await vault("POST", "sys/wrapping/wrap", { body: { k: "v" }, headers: { "x-vault-wrap-ttl": "60" } });
    const page = await exports.default.fetch(new Request(`https://hush.test/vault/unwrap#${w.body.wrap_info.token}`));
    expect(page.status).toBe(200);
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    const js = await exports.default.fetch(new Request("https://hush.test/vault/unwrap.js"));
    expect(js.headers.get("content-type")).toContain("javascript");
    expect(await js.text()).toContain("/v1/sys/wrapping/unwrap");
    // still unwrappable after the page and its script were fetched
    expect((await vault("POST", "sys/wrapping/unwrap", { token: null, body: { token: w.body.wrap_info.token } })).body.data).toEqual({ k: "v" });
  });
});
