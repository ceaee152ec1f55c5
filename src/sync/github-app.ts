import { SignJWT } from "jose";
import { fromBase64, toHex, utf8 } from "../crypto/encoding";

/**
 * GitHub App auth for a sync target: an RS256 app JWT (iat 60 s in the past, exp 9 minutes ahead:
 * GitHub refuses more than 10, iss = the app id or client id) exchanged at
 * `POST /app/installations/{id}/access_tokens` for an installation token, which the secrets API
 * takes as a bearer token. The installation token lives ~1 hour; it is cached in the isolate's
 * memory (never in D1, never logged) until REFRESH_MARGIN_MS before it expires.
 */
export interface GitHubAppAuth {
  api_url: string;
  app_id: string;
  installation_id: string;
  private_key: string;
  scope: "repository" | "environment" | "organization";
  repo?: string;
}

export const REFRESH_MARGIN_MS = 5 * 60_000;
const cache = new Map<string, { token: string; refreshAt: number }>();

/** Thrown for a failed exchange; `status` is GitHub's answer (0: no answer). */
export class AppTokenError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "AppTokenError";
  }
}

const PKCS1_RSA_ALGORITHM = Uint8Array.from([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/** PKCS#1 RSAPrivateKey (what GitHub hands out: "BEGIN RSA PRIVATE KEY") wrapped as PKCS#8 for WebCrypto. */
function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const octet = [0x04, ...derLength(pkcs1.length)];
  const innerLength = 3 + PKCS1_RSA_ALGORITHM.length + octet.length + pkcs1.length;
  const head = [0x30, ...derLength(innerLength), 0x02, 0x01, 0x00, ...PKCS1_RSA_ALGORITHM, ...octet];
  const out = new Uint8Array(head.length + pkcs1.length);
  out.set(head, 0);
  out.set(pkcs1, head.length);
  return out;
}

/**
 * Imports a GitHub App private key (PKCS#1 or PKCS#8 PEM) for RS256 signing; throws on anything else.
 * @example
 * const key = await importAppKey(pem); // at configure time: a bad key is a 422, not a failed delivery
 */
export async function importAppKey(pem: string): Promise<CryptoKey> {
  const m = /-----BEGIN (RSA )?PRIVATE KEY-----([\s\S]+?)-----END (RSA )?PRIVATE KEY-----/.exec(pem);
  if (!m || m[1] !== m[3]) throw new Error("not a PEM private key");
  const der = fromBase64(m[2]!.replace(/\s+/g, ""));
  const pkcs8 = m[1] ? pkcs1ToPkcs8(der) : der;
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  const bits = (key.algorithm as { modulusLength: number }).modulusLength;
  if (bits < 2048) throw new Error("an RSA key of at least 2048 bits");
  return key;
}

/** The app JWT, as GitHub documents it (RS256; iat 60 s back for clock drift; exp under 10 minutes). */
export async function appJwt(auth: Pick<GitHubAppAuth, "app_id" | "private_key">, now = Date.now()): Promise<string> {
  const seconds = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(auth.app_id)
    .setIssuedAt(seconds - 60)
    .setExpirationTime(seconds + 540)
    .sign(await importAppKey(auth.private_key));
}

async function cacheKey(auth: GitHubAppAuth): Promise<string> {
  // A reconfigured target (other key, installation or repository) never reuses the old token.
  const material = JSON.stringify([auth.api_url, auth.app_id, auth.installation_id, auth.scope, auth.repo ?? null, auth.private_key]);
  return toHex(await crypto.subtle.digest("SHA-256", utf8(material)));
}

/** Forgets a cached installation token (GitHub answered 401 to it: revoked or the app was reinstalled). */
export async function forgetInstallationToken(auth: GitHubAppAuth): Promise<void> {
  cache.delete(await cacheKey(auth));
}

/**
 * An installation token for `auth`, from the cache while it has more than REFRESH_MARGIN_MS left.
 * Narrowed to what a sync needs: the one repository and `secrets: write` (organization targets:
 * `organization_secrets: write`).
 */
export async function installationToken(auth: GitHubAppAuth, now = Date.now()): Promise<{ token: string; cached: boolean }> {
  const key = await cacheKey(auth);
  const hit = cache.get(key);
  if (hit && hit.refreshAt > now) return { token: hit.token, cached: true };
  const url = `${auth.api_url.replace(/\/$/, "")}/app/installations/${encodeURIComponent(auth.installation_id)}/access_tokens`;
  const body =
    auth.scope === "organization" ? { permissions: { organization_secrets: "write" } } : { repositories: [auth.repo], permissions: { secrets: "write" } };
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
      headers: {
        authorization: `Bearer ${await appJwt(auth, now)}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": "hush-sync",
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new AppTokenError("GitHub App token: no answer", 0);
  }
  if (response.status !== 201 && response.status !== 200) {
    await response.body?.cancel();
    throw new AppTokenError(`GitHub App token: the target answered ${response.status}`, response.status);
  }
  const answer = (await response.json().catch(() => null)) as { token?: unknown; expires_at?: unknown } | null;
  const expiresAt = typeof answer?.expires_at === "string" ? Date.parse(answer.expires_at) : NaN;
  if (typeof answer?.token !== "string" || !answer.token || !Number.isFinite(expiresAt))
    throw new AppTokenError("GitHub App token: the answer has no token and expires_at", 502);
  cache.set(key, { token: answer.token, refreshAt: expiresAt - REFRESH_MARGIN_MS });
  return { token: answer.token, cached: false };
}
