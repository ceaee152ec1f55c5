import { createLocalJWKSet, createRemoteJWKSet, errors, importJWK, jwtVerify, type JSONWebKeySet, type JWK, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { matchesGlob } from "./access";

/** Asymmetric algorithms only: never `none`, never HS* (a public key must not double as an HMAC secret). */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "EdDSA"] as const;
/** Clock skew tolerated on `exp` and `nbf`. */
export const CLOCK_SKEW_SECONDS = 60;
/** After an unknown `kid`, a remote JWKS is fetched again at most this often (key rotation). */
export const JWKS_COOLDOWN_MS = 5_000;
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;

/** Why a login failed: recorded in the audit log, never told to the caller. */
export type LoginFailure =
  | "unknown-role"
  | "malformed"
  | "algorithm"
  | "unknown-key"
  | "signature"
  | "issuer"
  | "audience"
  | "expired"
  | "not-yet-valid"
  | "missing-claim"
  | "bound-claim"
  | "jwks-unavailable";

export type VerifyResult = { ok: true; claims: JWTPayload } | { ok: false; reason: LoginFailure; claim?: string };

export interface RoleKeys {
  issuer: string;
  audience: string[];
  jwks: JSONWebKeySet | null;
  jwksUrl: string | null;
  boundClaims: Record<string, string | string[]>;
}

// createRemoteJWKSet keeps its own cache and refetches on an unknown kid; one per URL per isolate.
const remoteSets = new Map<string, JWTVerifyGetKey>();

function remoteJwks(url: string): JWTVerifyGetKey {
  let set = remoteSets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), {
      cooldownDuration: JWKS_COOLDOWN_MS,
      cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
      timeoutDuration: 5_000,
    });
    remoteSets.set(url, set);
  }
  return set;
}

const ALG_FOR_KTY: Record<string, string> = { RSA: "RS256", EC: "ES256", OKP: "EdDSA" };

/** Checks that an inline JWKS holds importable public keys only (throws a message otherwise). */
export async function checkPublicJwks(jwks: { keys: Record<string, unknown>[] }): Promise<string | undefined> {
  for (const [i, key] of jwks.keys.entries()) {
    if (["d", "p", "q", "dp", "dq", "qi", "k"].some((member) => member in key)) {
      return `keys.${i} holds private or symmetric key material; give public keys only`;
    }
    const alg = typeof key.alg === "string" ? key.alg : ALG_FOR_KTY[String(key.kty)];
    if (!alg || !(ALLOWED_ALGORITHMS as readonly string[]).includes(alg)) {
      return `keys.${i} is not an RS256, ES256 or EdDSA key`;
    }
    try {
      await importJWK(key as JWK, alg);
    } catch {
      return `keys.${i} is not a valid ${alg} public key`;
    }
  }
  return undefined;
}

/** A claim by name, or by JSON pointer when it starts with `/` (nested claims such as Kubernetes'). */
export function claimAt(claims: JWTPayload, name: string): unknown {
  if (!name.startsWith("/")) return claims[name];
  let value: unknown = claims;
  for (const raw of name.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** An exact value, one of a list, or a `*` glob; an array claim matches if any element does. */
export function claimMatches(actual: unknown, expected: string | string[]): boolean {
  const wanted = Array.isArray(expected) ? expected : [expected];
  const values = Array.isArray(actual) ? actual : [actual];
  return values.some((v) => (typeof v === "string" || typeof v === "number" || typeof v === "boolean") && wanted.some((w) => matchesGlob(w, String(v))));
}

function failureOf(err: unknown): VerifyResult {
  if (err instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (err.reason === "missing") return { ok: false, reason: "missing-claim", claim };
    if (claim === "iss") return { ok: false, reason: "issuer" };
    if (claim === "aud") return { ok: false, reason: "audience" };
    if (claim === "nbf" || claim === "iat") return { ok: false, reason: "not-yet-valid", claim };
    return { ok: false, reason: "malformed", claim };
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return { ok: false, reason: "algorithm" };
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return { ok: false, reason: "unknown-key" };
  if (err instanceof errors.JWSSignatureVerificationFailed) return { ok: false, reason: "signature" };
  // jose throws the bare JOSEError only when a remote JWKS answers non-200 or non-JSON.
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || (err instanceof errors.JOSEError && err.code === "ERR_JOSE_GENERIC")) {
    return { ok: false, reason: "jwks-unavailable" };
  }
  if (err instanceof errors.JOSEError) return { ok: false, reason: "malformed" };
  // fetch of a remote JWKS failed (network, bad status)
  return { ok: false, reason: "jwks-unavailable" };
}

/** Verifies a JWT against a role: signature, algorithm, iss, aud, exp/nbf (with skew) and bound claims. */
export async function verifyRoleJwt(jwt: string, role: RoleKeys): Promise<VerifyResult> {
  const keys = role.jwks ? createLocalJWKSet(role.jwks) : remoteJwks(role.jwksUrl!);
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(jwt, keys, {
      algorithms: [...ALLOWED_ALGORITHMS],
      issuer: role.issuer,
      audience: role.audience,
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ["exp"],
    }));
  } catch (err) {
    return failureOf(err);
  }
  for (const [name, expected] of Object.entries(role.boundClaims)) {
    if (!claimMatches(claimAt(claims, name), expected)) return { ok: false, reason: "bound-claim", claim: name };
  }
  return { ok: true, claims };
}
