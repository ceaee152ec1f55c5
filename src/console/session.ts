import { fromBase64, randomString, toBase64Url, fromUtf8, utf8 } from "../crypto/encoding";
import { IntegrityError, loadKeyring, open, pack, seal, unpack } from "../crypto/envelope";

/**
 * The console's session (docs/console.md). Signing in mints a session token, a child of the
 * pasted token (same grants, at most SESSION_SECONDS, revoked with its parent and at logout);
 * the browser holds it only sealed, in an HttpOnly cookie. The server keeps nothing new: the
 * session token is an api_tokens row (its SHA-256), so revoking it ends the session everywhere.
 */
/** Sent as `__Host-hush_console` (hono adds the prefix): Secure, Path=/, no Domain, so no subdomain can set it. */
export const SESSION_COOKIE = "hush_console";
export const SESSION_SECONDS = 3600;
export const CSRF_HEADER = "x-hush-csrf";

/** Not a tenant id (those are [a-z0-9-]), so no tenant's KEK can open a session and vice versa. */
const SESSION_TENANT = "\u0000console";
const PLACE = ["console-session", 1] as const;

export interface Session {
  /** The session's bearer token (a child of the signed-in token, or a login role's token). */
  token: string;
  tokenId: string;
  /** Sent back by the page's script in X-Hush-CSRF on every change. */
  csrf: string;
  /** Epoch ms; the cookie is refused after it whatever the token says. */
  expiresAt: number;
}

const toBytes = (b64url: string) => fromBase64(b64url.replace(/-/g, "+").replace(/_/g, "/"));

/** The cookie value: the session sealed under the active master key (AES-256-GCM envelope). */
export async function sealSession(env: Env, session: Session): Promise<string> {
  const sealed = await seal(loadKeyring(env.MASTER_KEYS), SESSION_TENANT, PLACE, utf8(JSON.stringify(session)));
  return toBase64Url(pack(sealed));
}

/** Opens a cookie value; null when it is absent, tampered, sealed under a removed key or past its time. */
export async function openSession(env: Env, value: string | undefined, now = Date.now()): Promise<Session | null> {
  if (!value || value.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(value)) return null;
  const keyring = loadKeyring(env.MASTER_KEYS);
  try {
    const sealed = unpack(toBytes(value));
    if (!keyring.has(sealed.keyId)) return null;
    const session = JSON.parse(fromUtf8(await open(keyring, SESSION_TENANT, PLACE, sealed))) as Session;
    if (typeof session.token !== "string" || typeof session.csrf !== "string" || !(session.expiresAt > now)) return null;
    return session;
  } catch (err) {
    if (err instanceof IntegrityError || err instanceof SyntaxError || err instanceof RangeError || err instanceof TypeError) return null;
    throw err;
  }
}

export const newCsrf = () => randomString(43);

/** Constant-time comparison of two short strings. */
export function sameSecret(a: string, b: string): boolean {
  const x = utf8(a);
  const y = utf8(b);
  return x.length === y.length && crypto.subtle.timingSafeEqual(x, y);
}
