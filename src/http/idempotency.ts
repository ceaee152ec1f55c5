import { and, eq, lt } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { fromUtf8, sha256Hex, utf8 } from "../crypto/encoding";
import { loadKeyring, open, pack, seal, unpack } from "../crypto/envelope";
import type { Db } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import type { AppEnv, IdempotencyClaim } from "./context";
import { Problem } from "./problem";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const KEY = /^[\x21-\x7e]{1,255}$/;
/** A claim older than this belongs to a request that died; the next retry may take it over. */
export const IN_FLIGHT_TIMEOUT_MS = 60_000;
/** Stored responses are kept this long, then purged by the sweeper. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 3600_000;

interface StoredResponse {
  status: number;
  contentType: string | null;
  body: string;
}

/** The place a stored response is sealed at (also used by the master-key re-wrap job). */
export const idempotencyPlace = (key: string) => ["idempotency", key] as const;

/**
 * `Idempotency-Key` on mutations: the same key and body replays the stored
 * response without a second write, another body is 422, a request still in flight
 * is 409. The response is stored in the handler's own batch (see `commit`), sealed, and
 * without its one-time fields (`storedBody`): a replay of a request that issued a token, a
 * lease credential or decrypted plaintext returns the metadata and
 * `credential_already_issued: true`, never the credential again.
 */
export const idempotency: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.req.header("idempotency-key");
  // Public routes (no principal, e.g. JWT login) have no tenant to key the record by.
  if (key === undefined || !MUTATING.has(c.req.method) || !c.get("principal")) return next();
  if (!KEY.test(key)) {
    throw new Problem(400, "invalid-idempotency-key", "Idempotency-Key must be 1-255 printable ASCII characters");
  }
  const db = c.get("db");
  const principal = c.get("principal");
  const fingerprint = await sha256Hex(JSON.stringify([c.req.method, c.req.path, principal.tokenId, await c.req.text()]));
  const where = and(eq(idempotencyKeys.tenantId, principal.tenantId), eq(idempotencyKeys.key, key));
  const now = Date.now();

  const existing = await db.select().from(idempotencyKeys).where(where).get();
  if (existing) {
    if (existing.fingerprint !== fingerprint) {
      throw new Problem(422, "idempotency-key-reused", "This Idempotency-Key was used with a different request; use a new key");
    }
    if (existing.state === "done" && existing.response) return replay(c, principal.tenantId, key, existing.response);
    const stale = existing.createdAt < now - IN_FLIGHT_TIMEOUT_MS;
    const takeover = stale
      ? await db
          .update(idempotencyKeys)
          .set({ createdAt: now })
          .where(and(where, eq(idempotencyKeys.createdAt, existing.createdAt)))
          .run()
      : undefined;
    if (!takeover?.meta.changes) {
      throw new Problem(
        409,
        "request-in-flight",
        "A request with this Idempotency-Key is still in progress; retry later",
        {},
        {
          "Retry-After": "1",
        },
      );
    }
  } else {
    const inserted = await db
      .insert(idempotencyKeys)
      .values({ tenantId: principal.tenantId, key, fingerprint, state: "in_flight", createdAt: now })
      .onConflictDoNothing()
      .run();
    if (!inserted.meta.changes) {
      throw new Problem(
        409,
        "request-in-flight",
        "A request with this Idempotency-Key is still in progress; retry later",
        {},
        {
          "Retry-After": "1",
        },
      );
    }
  }

  const claim: IdempotencyClaim = { key, fingerprint, stored: false, tenantId: principal.tenantId, db };
  c.set("idempotency", claim);
  await next();
  if (claim.stored) return;
  if (c.error || c.res.status >= 400) {
    // Nothing was written, so let a retry run afresh.
    await db
      .delete(idempotencyKeys)
      .where(and(where, eq(idempotencyKeys.state, "in_flight")))
      .run();
    return;
  }
  // A handler that wrote without `commit` (none should): store after the fact.
  const { statement } = await storeResponse(c, claim, c.res.status, await c.res.clone().text());
  await statement.run();
};

/** Set on a stored response whose one-time fields were left out (see `storedBody`). */
export const CREDENTIAL_ALREADY_ISSUED = "credential_already_issued";

/**
 * What is kept of a response: the body without its one-time fields. Each entry of `oneTime` is
 * a field path, `.`-separated, where `*` stands for every element of an array (`token`,
 * `credential`, `batch_results.*.plaintext`). When anything was removed the record gains
 * `credential_already_issued: true` at the top level, so a replay (same key, same body) says
 * the credential was issued once and is not shown again. A credential is never stored.
 */
export function storedBody(body: unknown, oneTime: readonly string[] = []): unknown {
  if (!oneTime.length || typeof body !== "object" || body === null || Array.isArray(body)) return body;
  let removed = false;
  const strip = (value: unknown, path: readonly string[]): unknown => {
    if (typeof value !== "object" || value === null) return value;
    const [head, ...rest] = path;
    if (head === "*") return Array.isArray(value) ? value.map((item) => strip(item, rest)) : value;
    if (Array.isArray(value) || head === undefined || !Object.hasOwn(value, head)) return value;
    const record = value as Record<string, unknown>;
    if (rest.length) return { ...record, [head]: strip(record[head], rest) };
    removed = true;
    const { [head]: _, ...kept } = record;
    return kept;
  };
  const kept = oneTime.reduce<unknown>((value, path) => strip(value, path.split(".")), body);
  return removed ? { ...(kept as Record<string, unknown>), [CREDENTIAL_ALREADY_ISSUED]: true } : kept;
}

/**
 * The statement that records the response under the claimed key; run it in the
 * write's batch. Wrapped in an object because drizzle queries are thenables: an
 * async function returning one bare would run it.
 */
export async function storeResponse(c: Context<AppEnv>, claim: IdempotencyClaim, status: number, body: string) {
  const tenantId = claim.tenantId;
  const stored: StoredResponse = { status, contentType: "application/json", body };
  const sealed = await seal(loadKeyring(c.env.MASTER_KEYS), tenantId, idempotencyPlace(claim.key), utf8(JSON.stringify(stored)));
  // In the claim's own database, which is the request's unless root entered a tenant elsewhere.
  const statement = claim.db
    .update(idempotencyKeys)
    .set({ state: "done", status, response: pack(sealed) })
    .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, claim.key)));
  return { statement };
}

async function replay(c: Context<AppEnv>, tenantId: string, key: string, blob: Uint8Array): Promise<Response> {
  const plain = await open(loadKeyring(c.env.MASTER_KEYS), tenantId, idempotencyPlace(key), unpack(blob));
  const stored = JSON.parse(fromUtf8(plain)) as StoredResponse;
  c.header("Idempotent-Replayed", "true");
  if (stored.contentType) c.header("Content-Type", stored.contentType);
  return c.body(stored.body, stored.status as 200);
}

export function purgeIdempotencyKeys(db: Db, now = Date.now()) {
  return db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, now - IDEMPOTENCY_RETENTION_MS));
}
