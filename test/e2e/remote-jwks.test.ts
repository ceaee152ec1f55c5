// JWT login against a JWKS served over HTTP by this process, as an OIDC provider
// would serve it: the Worker under `wrangler dev` fetches, caches and refetches it.
import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const JWKS_PORT = 8851; // from this branch's assigned range 8850-8859
const ISSUER = "https://token.actions.githubusercontent.com";
const AUDIENCE = "https://hush.example";

let server: Server;
let served: { keys: JWK[] } = { keys: [] };
let fetches = 0;
let slowFetches = 0;

async function key(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

const sign = (k: { kid: string; privateKey: CryptoKey }) =>
  new SignJWT({ repository: "acme/api", sub: "repo:acme/api:ref:refs/heads/main" })
    .setProtectedHeader({ alg: "RS256", kid: k.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(k.privateKey);

async function hush(method: string, path: string, body?: unknown, token: string | null = inject("hushRootToken")) {
  const res = await fetch(`${inject("hushAddr")}${path}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const login = async (role: string, jwt: string) => hush("POST", "/api/v1/auth/login", { role, jwt }, null);

describe("login with a remote JWKS (jwks_url)", () => {
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/slow/jwks.json") {
        // An identity provider that takes its time: logins arriving meanwhile must not wait on another request's fetch.
        slowFetches++;
        setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(served)), 400);
        return;
      }
      if (req.url !== "/.well-known/jwks.json") {
        res.writeHead(404).end();
        return;
      }
      fetches++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => server.listen(JWKS_PORT, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("fetches the keys once, caches them, and follows a key rotation", async () => {
    const first = await key("key-1");
    const second = await key("key-2");
    served = { keys: [first.jwk] };
    const policy = await hush("PUT", "/api/v1/auth/policies/remote-ci", { rules: [{ paths: ["ci/*"], capabilities: ["read"] }] });
    expect(policy.status).toBe(200);
    const role = await hush("POST", "/api/v1/auth/roles", {
      name: "remote-gha",
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks_url: `http://127.0.0.1:${JWKS_PORT}/.well-known/jwks.json`,
      bound_claims: { repository: "acme/api" },
      policies: ["remote-ci"],
    });
    expect(role.status, JSON.stringify(role.body)).toBe(201);

    const ok = await login("remote-gha", await sign(first));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.policies).toEqual(["remote-ci"]);
    for (let i = 0; i < 3; i++) expect((await login("remote-gha", await sign(first))).status).toBe(200);
    expect(fetches).toBe(1); // cached per isolate

    // The provider rotates: only key-2 is published now. A token with the new kid makes
    // the Worker refetch (after the 5 s cooldown between refetches).
    served = { keys: [second.jwk] };
    await new Promise((r) => setTimeout(r, 5_500));
    const rotated = await login("remote-gha", await sign(second));
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(fetches).toBe(2);
    // The retired key no longer verifies.
    expect((await login("remote-gha", await sign(first))).status).toBe(401);
  });

  // docs/decisions.md, "No request awaits another request's I/O": a login must not wait on a JWKS
  // fetch that another login's request started (workerd may cancel it as hung, a 500). jose's remote
  // key set does not share a fetch in flight on Workers; this holds it to that.
  it("many logins at once while the keys are being fetched: every one is answered 200", async () => {
    const k = await key("key-burst");
    served = { keys: [k.jwk] };
    const role = await hush("POST", "/api/v1/auth/roles", {
      name: "remote-burst",
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks_url: `http://127.0.0.1:${JWKS_PORT}/slow/jwks.json`,
      bound_claims: { repository: "acme/api" },
      policies: ["remote-ci"],
    });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    const jwts = await Promise.all(Array.from({ length: 12 }, () => sign(k)));
    const answers = await Promise.all(jwts.map((jwt) => login("remote-burst", jwt)));
    expect(answers.map((a) => a.status)).toEqual(jwts.map(() => 200));
    expect(slowFetches).toBeGreaterThanOrEqual(1);
    // Fetched keys are kept: the next logins fetch nothing.
    const before = slowFetches;
    for (let i = 0; i < 3; i++) expect((await login("remote-burst", await sign(k))).status).toBe(200);
    expect(slowFetches).toBe(before);
  });

  it("an unreachable JWKS is the same generic 401", async () => {
    const k = await key("key-x");
    const role = await hush("POST", "/api/v1/auth/roles", {
      name: "remote-down",
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks_url: `http://127.0.0.1:${JWKS_PORT}/missing.json`,
      bound_claims: { repository: "acme/api" },
      policies: ["remote-ci"],
    });
    expect(role.status).toBe(201);
    const res = await login("remote-down", await sign(k));
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe("Login failed: the token was not accepted for this role");
    const events = await hush("GET", "/api/v1/audit?action=auth.login&failed_only=true&limit=5");
    expect(events.status, JSON.stringify(events.body)).toBe(200);
    const event = events.body.items.find((e: any) => e.resource === "auth_role:remote-down");
    expect(event.detail.reason).toBe("jwks-unavailable");
  });
});
