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

const place = (key: string) => ["idempotency", key] as const;

/**
 * `Idempotency-Key` on mutations: the same key and body replays the stored
 * response without a second write, another body is 422, a request still in flight
 * is 409. The response is stored in the handler's own batch (see `commit`), sealed,
 * because it may carry a secret such as a new token.
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
      throw new Problem(409, "request-in-flight", "A request with this Idempotency-Key is still in progress; retry later", {}, {
        "Retry-After": "1",
      });
    }
  } else {
    const inserted = await db
      .insert(idempotencyKeys)
      .values({ tenantId: principal.tenantId, key, fingerprint, state: "in_flight", createdAt: now })
      .onConflictDoNothing()
      .run();
    if (!inserted.meta.changes) {
      throw new Problem(409, "request-in-flight", "A request with this Idempotency-Key is still in progress; retry later", {}, {
        "Retry-After": "1",
      });
    }
  }

  const claim: IdempotencyClaim = { key, fingerprint, stored: false };
  c.set("idempotency", claim);
  await next();
  if (claim.stored) return;
  if (c.error || c.res.status >= 400) {
    // Nothing was written, so let a retry run afresh.
    await db.delete(idempotencyKeys).where(and(where, eq(idempotencyKeys.state, "in_flight"))).run();
    return;
  }
  // A handler that wrote without `commit` (none should): store after the fact.
  const { statement } = await storeResponse(c, claim, c.res.status, await c.res.clone().text());
  await statement.run();
};

/**
 * The statement that records the response under the claimed key; run it in the
 * write's batch. Wrapped in an object because drizzle queries are thenables: an
 * async function returning one bare would run it.
 */
export async function storeResponse(c: Context<AppEnv>, claim: IdempotencyClaim, status: number, body: string) {
  const tenantId = c.get("principal").tenantId;
  const stored: StoredResponse = { status, contentType: "application/json", body };
  const sealed = await seal(loadKeyring(c.env.MASTER_KEYS), tenantId, place(claim.key), utf8(JSON.stringify(stored)));
  const statement = c
    .get("db")
    .update(idempotencyKeys)
    .set({ state: "done", status, response: pack(sealed) })
    .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, claim.key)));
  return { statement };
}

async function replay(c: Context<AppEnv>, tenantId: string, key: string, blob: Uint8Array): Promise<Response> {
  const plain = await open(loadKeyring(c.env.MASTER_KEYS), tenantId, place(key), unpack(blob));
  const stored = JSON.parse(fromUtf8(plain)) as StoredResponse;
  c.header("Idempotent-Replayed", "true");
  if (stored.contentType) c.header("Content-Type", stored.contentType);
  return c.body(stored.body, stored.status as 200);
}

export function purgeIdempotencyKeys(db: Db, now = Date.now()) {
  return db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, now - IDEMPOTENCY_RETENTION_MS));
}
