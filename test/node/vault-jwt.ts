import { exportJWK, generateKeyPair, SignJWT } from "jose";

const ISSUER = "https://ci.example/oidc";
const AUDIENCE = "hush-vault-tests";

/**
 * A login role on a fresh test issuer (inline JWKS), a policy reading `paths`, and a JWT the
 * issuer signed for it: what a CI job brings to `vault login -method=jwt`.
 */
export async function jwtRole(addr: string, rootToken: string, paths: string) {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = `k-${suffix}`;
  const call = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${addr}/api/v1/auth/${path}`, {
      method,
      headers: { authorization: `Bearer ${rootToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  };
  const policy = `vault-read-${suffix}`;
  const role = `vault-ci-${suffix}`;
  await call("PUT", `policies/${policy}`, { rules: [{ paths: [paths], capabilities: ["read", "list"] }] });
  await call("POST", "roles", {
    name: role,
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] },
    bound_claims: { repository: "acme/api" },
    policies: [policy],
  });
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "repo:acme/api:ref:refs/heads/main", repository: "acme/api", iat: now, exp: now + 300 })
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .sign(privateKey);
  return { role, jwt };
}
