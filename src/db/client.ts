import { AsyncLocalStorage } from "node:async_hooks";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

const clients = new WeakMap<D1Database, Db>();

/** One drizzle client per D1 binding, reused across requests of an isolate. */
export function database(d1: D1Database): Db {
  let db = clients.get(d1);
  if (!db) {
    db = drizzle(sessionRouted(d1) as D1Database, { schema });
    clients.set(d1, db);
  }
  return db;
}

/**
 * The request's D1 session (D1 Sessions API; the rule is docs/scale.md, "Consistency"):
 * statements of the shared drizzle client (and its prepared queries) run in it while `fn` runs.
 */
const currentSession = new AsyncLocalStorage<{ d1: D1Database; session: D1DatabaseSession; primary: boolean }>();

const BOOKMARK = /^[A-Za-z0-9-]{1,128}$/;

/**
 * The consistency rule in one place. A request that may change something starts at the primary
 * (its reads decide what it writes). A GET or HEAD may be answered by a replica, never one older
 * than the bookmark the client sent back (read-your-writes across calls); a malformed bookmark is
 * ignored. `primary`: whether the session's first statement goes to the primary.
 */
export function openSession(d1: D1Database, method: string, bookmark: string | undefined): { session: D1DatabaseSession; primary: boolean } {
  const read = method === "GET" || method === "HEAD";
  const given = bookmark && BOOKMARK.test(bookmark) ? bookmark : undefined;
  if (!read) return { session: d1.withSession("first-primary"), primary: true };
  return { session: d1.withSession(given ?? "first-unconstrained"), primary: false };
}

export function inSession<T>(d1: D1Database, opened: { session: D1DatabaseSession; primary: boolean }, fn: () => Promise<T>): Promise<T> {
  return currentSession.run({ d1, ...opened }, fn);
}

/**
 * Runs `fn`'s statements at the primary: for a read that needs freshness whatever the client sent
 * (the token lookup: a revoked token is refused at once, not once a replica has caught up).
 * Inside a session that started at the primary, that session is used.
 */
export function freshRead<T>(d1: D1Database, fn: () => Promise<T>): Promise<T> {
  const current = currentSession.getStore();
  if (!current || current.d1 !== d1 || current.primary) return fn();
  return currentSession.run({ d1, session: d1.withSession("first-primary"), primary: true }, fn);
}

const target = (d1: D1Database): D1Database | D1DatabaseSession => {
  const current = currentSession.getStore();
  return current && current.d1 === d1 ? current.session : d1;
};

class RoutedStatement {
  constructor(
    private readonly d1: D1Database,
    private readonly sql: string,
    private readonly values: unknown[] = [],
  ) {}
  bind(...values: unknown[]) {
    return new RoutedStatement(this.d1, this.sql, values);
  }
  statement(): D1PreparedStatement {
    const prepared = target(this.d1).prepare(this.sql);
    return this.values.length ? prepared.bind(...this.values) : prepared;
  }
  first(column?: string) {
    return column === undefined ? this.statement().first() : this.statement().first(column);
  }
  all() {
    return this.statement().all();
  }
  run() {
    return this.statement().run();
  }
  raw(options?: { columnNames?: boolean }) {
    return this.statement().raw(options as { columnNames: true });
  }
}

/** A D1 binding whose statements run in the current request's session, if any. */
function sessionRouted(d1: D1Database) {
  return {
    prepare: (sql: string) => new RoutedStatement(d1, sql),
    batch: (statements: RoutedStatement[]) => target(d1).batch(statements.map((s) => (s instanceof RoutedStatement ? s.statement() : s))),
    exec: (sql: string) => d1.exec(sql),
    dump: () => d1.dump(),
    withSession: (c?: string) => d1.withSession(c),
  } as unknown as D1Database;
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
