import { env } from "cloudflare:workers";
import { base64url, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";
import { auditDb } from "../support/audit-store";
import { AUDIENCE, ISSUER, login, putPolicy, signingKey, signJwt, uniqueName, type SigningKey } from "./helpers";

const now = () => Math.floor(Date.now() / 1000);

describe("POST /api/v1/auth/login (inline JWKS)", () => {
  let key: SigningKey;
  let role: string;
  let policy: string;
  const secretPath = uniquePath("ci");

  beforeAll(async () => {
    key = await signingKey("RS256");
    policy = await putPolicy(uniqueName("ci-read"), [{ paths: [`${secretPath}`], capabilities: ["read"] }]);
    role = uniqueName("gha");
    const res = await api("POST", "/api/v1/auth/roles", {
      body: {
        name: role,
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { keys: [key.publicJwk] },
        bound_claims: { repository: "acme/api", ref: ["refs/heads/main", "refs/heads/release"], sub: "repo:acme/*" },
        token_ttl_seconds: 600,
        max_ttl: 900,
        policies: [policy],
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.jwks.keys[0].kid).toBe(key.kid);
    expect((await api("POST", `/api/v1/secrets/store/${secretPath}`, { body: { value: "ci-value" } })).status).toBe(201);
  });

  it("exchanges a good token for a Hush token that carries the role's policies and TTL", async () => {
    const res = await login(role, await signJwt(key));
    expect(res.status, res.text).toBe(200);
    expect(res.body.token).toMatch(/^hush_/);
    expect(res.body.policies).toEqual([policy]);
    expect(res.body.ttl_seconds).toBe(600);
    expect(res.body.subject).toBe(`jwt:${role}:repo:acme/api:ref:refs/heads/main`);
    const expires = Date.parse(res.body.expires_at) - Date.now();
    expect(expires).toBeGreaterThan(590_000);
    expect(expires).toBeLessThanOrEqual(600_000);

    // The token works, within its policy only.
    const read = await api("GET", `/api/v1/secrets/store/${secretPath}`, { token: res.body.token });
    expect(read.status, read.text).toBe(200);
    expect(read.body.value).toBe("ci-value");
    expectProblem(await api("PUT", `/api/v1/secrets/store/${secretPath}`, { token: res.body.token, body: { value: "x" } }), 403);
    expectProblem(await api("GET", `/api/v1/secrets/store/${uniquePath("other")}`, { token: res.body.token }), 403);

    // Stored hashed in api_tokens, like any other token.
    const row = await env.DB.prepare("SELECT token_hash, policies, scopes FROM api_tokens WHERE id = ?").bind(res.body.token_id).first<any>();
    expect(row.token_hash).not.toContain(res.body.token);
    expect(JSON.parse(row.policies)).toEqual([policy]);
    expect(JSON.parse(row.scopes)).toEqual([]);
  });

  it("caps a requested TTL at max_ttl", async () => {
    const res = await login(role, await signJwt(key), { ttl_seconds: 3600 });
    expect(res.status, res.text).toBe(200);
    expect(res.body.ttl_seconds).toBe(900);
  });

  it("accepts a token expired within the 60 s clock-skew leeway", async () => {
    const res = await login(role, await signJwt(key, { iat: now() - 600, exp: now() - 30 }));
    expect(res.status, res.text).toBe(200);
  });

  const cases: [string, () => Promise<string>, string][] = [
    ["wrong issuer", () => signJwt(key, { iss: "https://evil.example" }), "issuer"],
    ["wrong audience", () => signJwt(key, { aud: "https://other.example" }), "audience"],
    ["expired beyond the leeway", () => signJwt(key, { iat: now() - 600, exp: now() - 120 }), "expired"],
    ["not yet valid (nbf in the future)", () => signJwt(key, { nbf: now() + 300, exp: now() + 600 }), "not-yet-valid"],
    ["no exp at all", () => signJwt(key, { exp: undefined }), "missing-claim"],
    ["an unknown kid", async () => signJwt({ ...(await signingKey("RS256")), kid: "not-in-jwks" }), "unknown-key"],
    ["a known kid signed by another key", async () => signJwt({ ...(await signingKey("RS256")), kid: key.kid }), "signature"],
    [
      "alg: none",
      async () => {
        const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT", kid: key.kid }));
        const payload = base64url.encode(
          JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "repo:acme/x", repository: "acme/api", ref: "refs/heads/main", exp: now() + 300 }),
        );
        return `${header}.${payload}.`;
      },
      "algorithm",
    ],
    [
      "HS256 signed with the public key as the secret",
      async () => {
        const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
        return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "repo:acme/x", repository: "acme/api", ref: "refs/heads/main", exp: now() + 300 })
          .setProtectedHeader({ alg: "HS256", kid: key.kid })
          .sign(secret);
      },
      "algorithm",
    ],
    ["a bound claim mismatch (repository)", () => signJwt(key, { repository: "acme/other" }), "bound-claim"],
    ["a bound claim not in its list (ref)", () => signJwt(key, { ref: "refs/heads/feature" }), "bound-claim"],
    ["a bound glob mismatch (sub)", () => signJwt(key, { sub: "repo:evil/api:ref:refs/heads/main" }), "bound-claim"],
    [
      "a tampered payload",
      async () => {
        const [h, p, s] = (await signJwt(key)).split(".");
        const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
        claims.repository = "acme/api";
        claims.ref = "refs/heads/release";
        return `${h}.${base64url.encode(JSON.stringify(claims))}.${s}`;
      },
      "signature",
    ],
    ["garbage", async () => "not.a.jwt", "malformed"],
  ];

  for (const [name, make, reason] of cases) {
    it(`refuses ${name} with the generic 401 and audits the reason`, async () => {
      const res = await login(role, await make());
      expectProblem(res, 401);
      expect(res.body.detail).toBe("Login failed: the token was not accepted for this role");
      expect(res.body.token).toBeUndefined();
      const event = await auditDb
        .prepare("SELECT detail, outcome FROM audit_events WHERE tenant_id = 'default' AND request_id = ? AND action = 'auth.login'")
        .bind(res.headers.get("x-request-id"))
        .first<any>();
      expect(event.outcome).toBe("denied");
      expect(JSON.parse(event.detail).reason).toBe(reason);
    });
  }

  it("gives the same 401 for an unknown role", async () => {
    const res = await login(uniqueName("nope"), await signJwt(key));
    expectProblem(res, 401);
    expect(res.body.detail).toBe("Login failed: the token was not accepted for this role");
  });

  it("never audits the JWT itself", async () => {
    const jwt = await signJwt(key, { repository: "acme/other" });
    const res = await login(role, jwt);
    expectProblem(res, 401);
    const leaked = await auditDb
      .prepare("SELECT COUNT(*) AS n FROM audit_events WHERE detail LIKE ?")
      .bind(`%${jwt.split(".")[2]!.slice(0, 20)}%`)
      .first<any>();
    expect(leaked.n).toBe(0);
  });

  it("verifies ES256 and EdDSA keys too, and a nested claim by JSON pointer (Kubernetes)", async () => {
    const es = await signingKey("ES256");
    const ed = await signingKey("EdDSA");
    const k8s = uniqueName("k8s");
    const created = await api("POST", "/api/v1/auth/roles", {
      body: {
        name: k8s,
        issuer: "https://kubernetes.default.svc.cluster.local",
        audience: ["hush"],
        jwks: { keys: [es.publicJwk, ed.publicJwk] },
        bound_claims: { "/kubernetes.io/namespace": "prod", sub: "system:serviceaccount:prod:*" },
        token_subject: "service:ai-service",
        policies: [policy],
      },
    });
    expect(created.status, created.text).toBe(201);
    const claims = (ns: string) => ({
      iss: "https://kubernetes.default.svc.cluster.local",
      aud: ["hush", "https://kubernetes.default.svc"],
      sub: `system:serviceaccount:${ns}:ai-service`,
      "kubernetes.io": { namespace: ns, serviceaccount: { name: "ai-service", uid: "1234" } },
    });
    for (const k of [es, ed]) {
      const ok = await login(k8s, await signJwt(k, claims("prod")));
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.subject).toBe("service:ai-service");
      expect(ok.body.ttl_seconds).toBe(3600);
    }
    expectProblem(await login(k8s, await signJwt(es, claims("dev"))), 401);
  });
});

describe("POST /api/v1/auth/roles", () => {
  it("needs auth:admin (or root)", async () => {
    const res = await api("POST", "/api/v1/tokens", { body: { subject: "w", scopes: ["secrets:write"] } });
    const denied = await api("GET", "/api/v1/auth/roles", { token: res.body.token });
    expectProblem(denied, 403);
    const admin = await api("POST", "/api/v1/tokens", { body: { subject: "a", scopes: ["auth:admin"] } });
    expect((await api("GET", "/api/v1/auth/roles", { token: admin.body.token })).status).toBe(200);
  });

  it("refuses private keys, both or neither key source, unbound roles and unknown policies", async () => {
    const key = await signingKey("RS256");
    const priv = { ...key.publicJwk, d: "AAAA" };
    const policy = await putPolicy(uniqueName("p"), [{ paths: ["*"], capabilities: ["read"] }]);
    const base = { issuer: ISSUER, audience: AUDIENCE, bound_claims: { repository: "acme/api" }, policies: [policy] };
    const bad = [
      { ...base, name: uniqueName("r"), jwks: { keys: [priv] } },
      { ...base, name: uniqueName("r") },
      { ...base, name: uniqueName("r"), jwks: { keys: [key.publicJwk] }, jwks_url: "https://example.com/jwks" },
      { ...base, name: uniqueName("r"), jwks_url: "http://example.com/jwks" },
      { ...base, name: uniqueName("r"), jwks: { keys: [key.publicJwk] }, bound_claims: {} },
      { ...base, name: uniqueName("r"), jwks: { keys: [key.publicJwk] }, policies: ["no-such-policy"] },
      { ...base, name: uniqueName("r"), jwks: { keys: [key.publicJwk] }, extra: 1 },
    ];
    for (const body of bad) expectProblem(await api("POST", "/api/v1/auth/roles", { body }), 400);
    const name = uniqueName("r");
    expect((await api("POST", "/api/v1/auth/roles", { body: { ...base, name, jwks: { keys: [key.publicJwk] } } })).status).toBe(201);
    expectProblem(await api("POST", "/api/v1/auth/roles", { body: { ...base, name, jwks: { keys: [key.publicJwk] } } }), 409);
    expect((await api("DELETE", `/api/v1/auth/roles/${name}`)).status).toBe(200);
    expectProblem(await api("GET", `/api/v1/auth/roles/${name}`), 404);
  });

  it("ignores an Idempotency-Key on login instead of failing", async () => {
    const res = await api("POST", "/api/v1/auth/login", { token: null, headers: { "idempotency-key": "k1" }, body: { role: "nope", jwt: "a.b.c" } });
    expectProblem(res, 401);
  });
});
