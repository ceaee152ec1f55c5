import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

const clients = new WeakMap<D1Database, Db>();

/** One drizzle client per D1 binding, reused across requests of an isolate. */
export function database(d1: D1Database): Db {
  let db = clients.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    clients.set(d1, db);
  }
  return db;
}

/** A statement `db.batch()` accepts. */
export type BatchItem = Parameters<Db["batch"]>[0][number];

const preparedQueries = new WeakMap<Db, Map<string, unknown>>();

/**
 * A drizzle prepared query (with `sql.placeholder`s) built once per client, so the hot
 * paths do not rebuild their SQL on every request (drizzle's builder costs about as much
 * CPU as the D1 call itself; see bench/RESULTS.md).
 *
 * @example
 * const query = prepared(db, "token-by-hash", (db) =>
 *   db.select().from(apiTokens).where(eq(apiTokens.tokenHash, sql.placeholder("hash"))).prepare());
 * const row = await query.get({ hash });
 */
export function prepared<T>(db: Db, name: string, build: (db: Db) => T): T {
  let queries = preparedQueries.get(db);
  if (!queries) {
    queries = new Map();
    preparedQueries.set(db, queries);
  }
  let query = queries.get(name) as T | undefined;
  if (query === undefined) {
    query = build(db);
    queries.set(name, query);
  }
  return query;
}
