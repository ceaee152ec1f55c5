import { and, eq, sql } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { audit } from "../audit/log";
import { randomString, sha256Hex, utf8 } from "../crypto/encoding";
import { clientOf, database, freshRead, prepared, tableColumns, type Db } from "../db/client";
import { d1Databases, HOME } from "../db/directory";
import { apiTokens, secrets, secretVersions } from "../db/schema";
import type { AppEnv, Prefetched, Principal } from "../http/context";
import { useDatabase } from "../http/middleware";
import { Problem } from "../http/problem";
import { SCOPES } from "./access";
import { serviceOf } from "./identity";
import { resolvePolicies } from "./policies";

export const TOKEN_PREFIX = "hush_";

/**
 * A new bearer token of a tenant in database `index`: 40 base62 characters (~238 bits) after
 * `hush_` (home database) or `hush<index>_`. Shown once, stored only as SHA-256 of the whole
 * string, index included, so the index routes the lookup without an extra read and a token
 * whose index is edited hashes to a row that exists nowhere (docs/decisions.md).
 */
export const newToken = (index = HOME) => `hush${index === HOME ? "" : index}_${randomString(40)}`;
export const hashToken = (token: string) => sha256Hex(token);

const TOKEN_SHAPE = /^hush(?:([1-9][0-9]{0,2}))?_/;

/** The database a token names (its `hush<index>_` prefix), or null for a token of no shape Hush mints. */
export function tokenDatabase(token: string): number | null {
  const match = TOKEN_SHAPE.exec(token);
  return match ? (match[1] ? Number(match[1]) : HOME) : null;
}

const rootHashes = new Map<string, Promise<string>>();

/** Compares equal-length digests in constant time, so timing says nothing about the token. */
async function isRootToken(env: Env, tokenHash: string): Promise<boolean> {
  const root = env.ROOT_TOKEN;
  if (!root) return false;
  let rootHash = rootHashes.get(root);
  if (!rootHash) {
    rootHash = hashToken(root);
    rootHashes.set(root, rootHash);
  }
  return crypto.subtle.timingSafeEqual(utf8(await rootHash), utf8(tokenHash));
}

const rootPrincipal: Principal = Object.freeze({
  tokenId: "root",
  tenantId: "default",
  database: HOME,
  subject: "root",
  entity: "root",
  service: null,
  scopes: new Set<string>(SCOPES),
  paths: null,
  isRoot: true,
  expiresAt: null,
  policies: [],
  rules: [],
});

export type TokenRejection = "unknown" | "revoked" | "expired";

/**
 * The secret a request's token lookup may read in the same statement (`Prefetch`): a plain GET of
 * `/api/v1/secrets/store/<path>` (the current version with it) or a PUT of one (the secret row,
 * whether the tenant has any approval policy, and whether it has any sync). One D1 round trip
 * instead of two or three; nothing read this way is used before the route's own decision
 * (`decide` in the read rule, `authorize` on the write), and a route that finds no prefetch of its
 * own path simply loads it (docs/decisions.md, "The token lookup carries the route's first read").
 */
export type Prefetch = { kind: "read" | "write"; path: string };

const STORE_PATH = /^\/api\/v1\/secrets\/store\/([^?]+)$/;

/** What `authenticate` may read along with the token for this request, if anything. */
export function prefetchFor(method: string, path: string, hasVersion: boolean): Prefetch | undefined {
  const kind = method === "GET" ? "read" : method === "PUT" ? "write" : undefined;
  if (!kind || (kind === "read" && hasVersion)) return undefined;
  const match = STORE_PATH.exec(path);
  if (!match) return undefined;
  try {
    return { kind, path: decodeURIComponent(match[1]!) };
  } catch {
    return undefined;
  }
}

const tokenQuery = (db: Db) =>
  db
    .select()
    .from(apiTokens)
    .where(eq(apiTokens.tokenHash, sql.placeholder("tokenHash")))
    .prepare();

/**
 * The token row joined to its tenant's secret at `path` and that secret's current version: one
 * fixed statement, its raw row decoded by `tableColumns` (drizzle's own mapping of a three-table
 * join costs a few percent of the whole read, bench/RESULTS.md). Binds the token hash, then the path.
 */
const TOKEN_COLUMNS = tableColumns(apiTokens, "id");
const SECRET_COLUMNS = tableColumns(secrets, "path");
const VERSION_COLUMNS = tableColumns(secretVersions, "version");
const TOKEN_AND_READ_SQL = `select ${TOKEN_COLUMNS.sql}, ${SECRET_COLUMNS.sql}, ${VERSION_COLUMNS.sql} from "api_tokens"
  left join "secrets" on "secrets"."tenant_id" = "api_tokens"."tenant_id" and "secrets"."path" = ?2
  left join "secret_versions" on "secret_versions"."tenant_id" = "secrets"."tenant_id" and "secret_versions"."path" = "secrets"."path" and "secret_versions"."version" = "secrets"."current_version"
  where "api_tokens"."token_hash" = ?1`;

/**
 * The token-and-read statement run and decoded (above). No access decision: the caller makes it.
 * Exported for bench/floor/hush-storage.ts too, the floor that does exactly this storage work.
 */
export async function tokenAndRead(db: Db, tokenHash: string, path: string) {
  const [raw] = await clientOf(db).prepare(TOKEN_AND_READ_SQL).bind(tokenHash, path).raw();
  const token = raw && TOKEN_COLUMNS.decode(raw, 0);
  if (!token) return undefined;
  const secret = SECRET_COLUMNS.decode(raw, TOKEN_COLUMNS.width);
  const version = VERSION_COLUMNS.decode(raw, TOKEN_COLUMNS.width + SECRET_COLUMNS.width);
  return { token, secret, version: version ?? null };
}

/** The token row joined to its tenant's secret at `path`, and whether the tenant has approval policies or syncs. */
const tokenAndWriteQuery = (db: Db) =>
  db
    .select({
      token: apiTokens,
      secret: secrets,
      approvalPolicies: sql<number>`EXISTS (SELECT 1 FROM "approval_policies" WHERE "approval_policies"."tenant_id" = ${apiTokens.tenantId})`,
      syncs: sql<number>`EXISTS (SELECT 1 FROM "syncs" WHERE "syncs"."tenant_id" = ${apiTokens.tenantId})`,
    })
    .from(apiTokens)
    .leftJoin(secrets, and(eq(secrets.tenantId, apiTokens.tenantId), eq(secrets.path, sql.placeholder("path"))))
    .where(eq(apiTokens.tokenHash, sql.placeholder("tokenHash")))
    .prepare();

/** `tokenAndWriteQuery` run (no access decision: the caller makes it); also bench/floor/hush-storage.ts's. */
export const tokenAndWrite = (db: Db, tokenHash: string, path: string) => prepared(db, "token-and-write", tokenAndWriteQuery).get({ tokenHash, path });

type TokenRow = typeof apiTokens.$inferSelect;

async function lookUpToken(db: Db, tokenHash: string, prefetch: Prefetch | undefined): Promise<{ row: TokenRow; prefetched?: Prefetched } | undefined> {
  if (!prefetch) {
    const row = await prepared(db, "token-by-hash", tokenQuery).get({ tokenHash });
    return row && { row };
  }
  if (prefetch.kind === "read") {
    const found = await tokenAndRead(db, tokenHash, prefetch.path);
    if (!found) return undefined;
    const { token, secret, version } = found;
    return { row: token, prefetched: { tenantId: token.tenantId, path: prefetch.path, kind: "read", found: secret ? { secret, version } : undefined } };
  }
  const found = await tokenAndWrite(db, tokenHash, prefetch.path);
  if (!found) return undefined;
  const { token, secret } = found;
  return {
    row: token,
    prefetched: {
      tenantId: token.tenantId,
      path: prefetch.path,
      kind: "write",
      secret: secret ?? undefined,
      approvalPolicies: Boolean(found.approvalPolicies),
      syncs: Boolean(found.syncs),
    },
  };
}

/**
 * Resolves a bearer token to its principal, or says why not: one row read, in the database the
 * token names (root is the home database's). A rejection that names a token says in which
 * database (`database`), so its audit event lands with the token's tenant. With `prefetch`, the
 * same statement also reads the route's first rows (see `Prefetch`), returned as `prefetched`.
 */
export async function resolveToken(
  env: Env,
  token: string,
  now = Date.now(),
  prefetch?: Prefetch,
): Promise<{ principal: Principal; prefetched?: Prefetched } | { rejected: TokenRejection; tokenId?: string; tenantId?: string; database?: number }> {
  const tokenHash = await hashToken(token);
  if (await isRootToken(env, tokenHash)) return { principal: rootPrincipal };
  const index = tokenDatabase(token);
  const d1 = index === null ? undefined : d1Databases(env)[index];
  if (!d1) return { rejected: "unknown" };
  const db = database(d1);
  // At the primary whatever the request's session: a revoked token is refused at once, not once
  // a replica has caught up (docs/scale.md, "Consistency").
  return freshRead(
    d1,
    async () => {
      const looked = await lookUpToken(db, tokenHash, prefetch);
      if (!looked) return { rejected: "unknown" as const };
      const { row, prefetched } = looked;
      if (row.revokedAt !== null) return { rejected: "revoked" as const, tokenId: row.id, tenantId: row.tenantId, database: index! };
      if (row.expiresAt !== null && row.expiresAt <= now) return { rejected: "expired" as const, tokenId: row.id, tenantId: row.tenantId, database: index! };
      return { principal: await principalFromRow(db, row, index!), prefetched };
    },
    { adopt: prefetch !== undefined },
  );
}

/**
 * Makes `principal` the request's caller: the request's `db` (and `c.env.DB`) become the
 * database of the principal's tenant, so every later query of the request goes there.
 */
export function signIn(c: Context<AppEnv>, principal: Principal): void {
  useDatabase(c, principal.database ?? HOME);
  c.set("principal", principal);
}

/** The principal of a live api_tokens row (also used by sync deliveries, which act with their creator's token). */
export async function principalFromRow(db: Db, row: typeof apiTokens.$inferSelect, index = HOME): Promise<Principal> {
  return {
    tokenId: row.id,
    tenantId: row.tenantId,
    database: index,
    subject: row.subject,
    entity: row.entity || `subject:${row.subject}`,
    service: serviceOf(row.subject),
    scopes: new Set(row.scopes),
    paths: row.paths,
    isRoot: false,
    expiresAt: row.expiresAt,
    policies: row.policies ?? [],
    // Resolved here, once per request; later checks only read them.
    rules: await resolvePolicies(db, row.tenantId, row.policies ?? []),
  };
}

/** The operator's principal (tenant `default`). */
export const rootPrincipalOf = (): Principal => rootPrincipal;

/** Counts one failure under each key of `limiter`; whether any of them is now past its limit. */
export async function pastLimit(limiter: RateLimit, keys: string[]): Promise<boolean> {
  const outcomes = await Promise.all(keys.map((key) => limiter.limit({ key })));
  return outcomes.some((o) => !o.success);
}

export const tooManyFailures = () =>
  new Problem(
    429,
    "too-many-failed-attempts",
    "Too many failed authentication attempts; wait a minute before retrying",
    {},
    {
      "Retry-After": "60",
    },
  );

/**
 * Whether a refused (rate-limited) attempt under `key` is still audited: only the first of each
 * window, so a caller who keeps failing cannot flood the audit log.
 */
export async function auditRefusal(env: Env, key: string): Promise<boolean> {
  return (await env.AUTH_REFUSAL_AUDIT_LIMITER.limit({ key })).success;
}

const failedAuthKeys = (ip: string | undefined, token: string | undefined) => [`ip:${ip ?? "unknown"}`, ...(token ? [`prefix:${token.slice(0, 12)}`] : [])];

/**
 * Counts a failed authentication against the client's IP and the token's prefix
 * (the Workers rate-limit binding). Past the limit the answer is 429 instead of 401,
 * which slows guessing without telling a guesser anything new.
 */
export async function throttleFailedAuth(env: Env, ip: string | undefined, token: string | undefined): Promise<void> {
  if (await pastLimit(env.AUTH_FAILURE_LIMITER, failedAuthKeys(ip, token))) throw tooManyFailures();
}

export const unauthorized = (detail: string) => new Problem(401, "unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="hush"' });

export function bearerFrom(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer[ ]+([\x21-\x7e]{1,512})$/i);
  return match?.[1];
}

/** Requires a valid bearer token; expired and revoked tokens are refused at once. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearerFrom(c.req.header("authorization"));
  if (!token) {
    await throttleFailedAuth(c.env, c.req.header("cf-connecting-ip"), undefined);
    throw unauthorized('Send an API token in the header "Authorization: Bearer <token>"');
  }
  const result = await resolveToken(c.env, token, Date.now(), prefetchFor(c.req.method, c.req.path, c.req.query("version") !== undefined));
  if ("rejected" in result) {
    if (result.database !== undefined) useDatabase(c, result.database);
    const limited = await pastLimit(c.env.AUTH_FAILURE_LIMITER, failedAuthKeys(c.req.header("cf-connecting-ip"), token));
    // The tenant is known from the row: record the attempt there (never the token); past the
    // limit only the first refusal of the window, so a revoked token cannot flood the log.
    if (result.tenantId && result.tokenId && (!limited || (await auditRefusal(c.env, `token:${result.tokenId}`)))) {
      await audit(
        c,
        {
          action: "auth.reject",
          resource: `token:${result.tokenId}`,
          outcome: "denied",
          status: limited ? 429 : 401,
          detail: { reason: result.rejected, ...(limited && { rate_limited: true }) },
        },
        { tenantId: result.tenantId, actor: `token:${result.tokenId}`, requestId: c.get("requestId") },
      );
    }
    if (limited) throw tooManyFailures();
    throw unauthorized(
      result.rejected === "unknown"
        ? "The token is not valid; check HUSH_TOKEN or ask an operator for a new one"
        : `The token has been ${result.rejected}; create a new one`,
    );
  }
  signIn(c, result.principal);
  const prefetched = result.prefetched;
  if (prefetched) {
    c.set("prefetched", prefetched);
    if (prefetched.kind === "write")
      c.set("tenantHas", { tenantId: prefetched.tenantId, approvalPolicies: prefetched.approvalPolicies, syncs: prefetched.syncs });
  }
  await next();
};

/**
 * The rows `authenticate` read for this route with the token (`Prefetch`), if they are of `path`
 * in the caller's tenant and of this `kind`; taken once (a second lookup in the request reads D1).
 */
export function takePrefetched<K extends Prefetched["kind"]>(c: Context<AppEnv>, kind: K, path: string): Extract<Prefetched, { kind: K }> | undefined {
  const prefetched = c.get("prefetched");
  if (!prefetched || prefetched.kind !== kind || prefetched.path !== path || prefetched.tenantId !== c.get("principal")?.tenantId) return undefined;
  c.set("prefetched", undefined);
  return prefetched as Extract<Prefetched, { kind: K }>;
}
