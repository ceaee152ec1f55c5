import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from "jose";
import { api } from "../helpers";

let counter = 0;
/** A name no other test uses (policies, roles). */
export const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}`;

export async function putPolicy(name: string, rules: unknown[]) {
  const res = await api("PUT", `/api/v1/auth/policies/${name}`, { body: { rules } });
  if (res.status !== 200) throw new Error(`policy failed: ${res.status} ${res.text}`);
  return name;
}

/** A token that carries only policies (no scopes). */
export async function policyToken(policies: string[], subject = "policy-user") {
  const res = await api("POST", "/api/v1/tokens", { body: { subject, policies } });
  if (res.status !== 201) throw new Error(`token failed: ${res.status} ${res.text}`);
  return res.body.token as string;
}

export interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256" | "EdDSA";
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(alg: SigningKey["alg"] = "RS256", kid = uniqueName("kid")): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

export const ISSUER = "https://token.actions.githubusercontent.com";
export const AUDIENCE = "https://hush.example";

/** A JWT like GitHub Actions issues, valid for 5 minutes unless claims say otherwise. */
export async function signJwt(key: SigningKey, claims: JWTPayload = {}, header: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "repo:acme/api:ref:refs/heads/main",
    repository: "acme/api",
    ref: "refs/heads/main",
    iat: now,
    exp: now + 300,
    ...claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey);
}

export const login = (role: string, jwt: string, extra: Record<string, unknown> = {}) =>
  api("POST", "/api/v1/auth/login", { token: null, body: { role, jwt, ...extra } });
