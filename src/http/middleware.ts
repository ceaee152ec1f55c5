import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { database, inSessions, latestBookmark, useBookmark } from "../db/client";
import { d1Databases, databaseOf, envAt, HOME } from "../db/directory";
import { toHex, randomBytes } from "../crypto/encoding";
import type { AppEnv, Principal } from "./context";
import { Problem } from "./problem";
import { abandonUnusedIntents } from "./commit";
import { setResponseHeaders } from "./response-headers";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a well-formed X-Request-Id or makes one, and sets per-request variables. */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header("x-request-id");
  const requestId = given && REQUEST_ID.test(given) ? given : `req_${toHex(randomBytes(12))}`;
  c.set("requestId", requestId);
  // D1 Sessions: the consistency rule is openSession's (docs/scale.md, "Consistency").
  const sessions = await inSessions(c.req.method, async () => {
    useDatabase(c, HOME);
    await next();
  });
  abandonUnusedIntents(c);
  const headers: Record<string, string> = { "X-Request-Id": requestId };
  const latest = latestBookmark(sessions, c.env.DB);
  if (latest) headers["x-hush-bookmark"] = bookmarkHeader(d1Databases(c.env).indexOf(c.env.DB), latest);
  setResponseHeaders(c, headers);
};

/**
 * `x-hush-bookmark` names its database: the bare D1 bookmark for the home database, `x<k>-<bookmark>`
 * for database k (D1 bookmarks are hex and dashes, so `x` cannot start one). A bookmark of another
 * database than the caller's is ignored, never handed to the wrong one.
 */
const bookmarkHeader = (index: number, bookmark: string) => (index === HOME ? bookmark : `x${index}-${bookmark}`);
function bookmarkFor(header: string | undefined, index: number): string | undefined {
  if (!header) return undefined;
  const named = /^x(\d{1,3})-(.+)$/.exec(header);
  const [given, value] = named ? [Number(named[1]), named[2]] : [HOME, header];
  return given === index ? value : undefined;
}

/**
 * Points the request at D1 database `index` (src/db/directory.ts): `db` and `c.env.DB` both.
 * Called with the home database first, then by `signIn` with the caller's tenant's database,
 * or by `enterTenant` on routes where the tenant is known before any token (login, share reveals).
 */
export function useDatabase(c: Context<AppEnv>, index: number): void {
  const env = envAt(c.env, index);
  if (!env) throw new Error(`No D1 binding for database ${index}`);
  c.env = env;
  c.set("db", database(env.DB));
  useBookmark(env.DB, bookmarkFor(c.req.header("x-hush-bookmark"), index));
}

/**
 * Points the request at `tenantId`'s own database, looked up in the tenant directory; false
 * (and the request left where it was) for a tenant that does not exist. Only for routes where
 * no token names the tenant yet (login, public share routes) and for root, which administers
 * every tenant: root then acts as root *in* that tenant (its queries, audit events and writes
 * all land there). A tenant id in a request can only ever lead to that tenant's own database,
 * and a token of another tenant never gets here (`signIn` routes it by the token alone).
 */
export async function enterTenant(c: Context<AppEnv>, tenantId: string): Promise<boolean> {
  const principal = c.get("principal") as Principal | undefined;
  if (principal && !principal.isRoot) throw new Error("enterTenant: only root or an unauthenticated route may choose a tenant");
  const index = await databaseOf(c.env, tenantId);
  if (index === null) return false;
  useDatabase(c, index);
  if (principal) c.set("principal", { ...principal, tenantId, database: index });
  return true;
}

/** Responses of the API may carry secrets: never cache, never sniff, never index. */
export const apiHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  setResponseHeaders(c, API_HEADERS);
};
const API_HEADERS = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Robots-Tag": "noindex",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
};

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/** A body that is not JSON is 415 before any parser sees it. */
export const requireJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method === "POST" || method === "PUT" || method === "PATCH") {
    const length = c.req.header("content-length");
    const hasBody = (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined;
    const type = c.req.header("content-type");
    if (hasBody && !(type && JSON_TYPE.test(type))) {
      throw new Problem(415, "unsupported-media-type", "Send the request body as application/json");
    }
  }
  await next();
};

/** Caps the body before parsing; the stream is cut as soon as it passes `maxSize`. */
export const limitBody = (maxSize: number): MiddlewareHandler<AppEnv> =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new Problem(413, "body-too-large", `The request body is larger than ${maxSize} bytes`);
    },
  });
