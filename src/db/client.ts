import { AsyncLocalStorage } from "node:async_hooks";
import { getTableColumns, getTableName, type Table } from "drizzle-orm";
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

type Opened = { session: D1DatabaseSession; primary: boolean };

/**
 * The request's D1 sessions (D1 Sessions API; the rule is docs/scale.md, "Consistency"), one per
 * database it touches, opened on first use: statements of the shared drizzle clients (and their
 * prepared queries) run in them while the request runs. The client's bookmark applies only to
 * the database it came from (`bookmarkFor`), known once the caller is signed in.
 */
export interface RequestSessions {
  method: string;
  bookmark: { d1: D1Database | undefined; value: string } | undefined;
  sessions: Map<D1Database, Opened>;
}
const currentSessions = new AsyncLocalStorage<RequestSessions>();

const BOOKMARK = /^[A-Za-z0-9-]{1,128}$/;

/**
 * The consistency rule in one place. A request that may change something starts at the primary
 * (its reads decide what it writes). A GET or HEAD may be answered by a replica, never one older
 * than the bookmark the client sent back (read-your-writes across calls); a malformed bookmark is
 * ignored. `primary`: whether the session's first statement goes to the primary.
 */
export function openSession(d1: D1Database, method: string, bookmark: string | undefined): Opened {
  const read = method === "GET" || method === "HEAD";
  const given = bookmark && BOOKMARK.test(bookmark) ? bookmark : undefined;
  if (!read) return { session: d1.withSession("first-primary"), primary: true };
  return { session: d1.withSession(given ?? "first-unconstrained"), primary: false };
}

/** Runs `fn` (the rest of a request) with its own sessions; returns them for the response's bookmark. */
export async function inSessions(method: string, fn: () => Promise<void>): Promise<RequestSessions> {
  const sessions: RequestSessions = { method, bookmark: undefined, sessions: new Map() };
  await currentSessions.run(sessions, fn);
  return sessions;
}

/** The bookmark the client sent back, for database `d1` (the signed-in caller's). */
export function useBookmark(d1: D1Database, value: string | undefined): void {
  const current = currentSessions.getStore();
  if (current && value && !current.sessions.has(d1)) current.bookmark = { d1, value };
}

/** The latest bookmark of `d1`'s session in `sessions`, if the request used one. */
export const latestBookmark = (sessions: RequestSessions, d1: D1Database) => sessions.sessions.get(d1)?.session.getBookmark() ?? null;

function sessionOf(current: RequestSessions, d1: D1Database): Opened {
  let opened = current.sessions.get(d1);
  if (!opened) {
    opened = openSession(d1, current.method, current.bookmark?.d1 === d1 ? current.bookmark.value : undefined);
    current.sessions.set(d1, opened);
  }
  return opened;
}

/**
 * Runs `fn`'s statements on `d1` at the primary: for a read that needs freshness whatever the
 * client sent (the token lookup: a revoked token is refused at once, not once a replica has caught
 * up). Inside a session that started at the primary, that session is used.
 */
export function freshRead<T>(d1: D1Database, fn: () => Promise<T>, options: { adopt?: boolean } = {}): Promise<T> {
  const current = currentSessions.getStore();
  if (!current || current.sessions.get(d1)?.primary) return fn();
  const primary: Opened = { session: d1.withSession("first-primary"), primary: true };
  // `adopt`: the statement also read the request's own rows (the token lookup's prefetch), so the
  // request continues in this primary session and answers with its bookmark (what it read).
  if (options.adopt && !current.sessions.has(d1)) {
    current.sessions.set(d1, primary);
    return fn();
  }
  const sessions = new Map(current.sessions).set(d1, primary);
  return currentSessions.run({ ...current, sessions }, fn);
}

const target = (d1: D1Database): D1Database | D1DatabaseSession => {
  const current = currentSessions.getStore();
  return current ? sessionOf(current, d1).session : d1;
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

/** The D1 binding under a drizzle client (its statements run in the request's session, like the client's). */
export const clientOf = (db: Db) => (db as unknown as { $client: D1Database }).$client;

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

/**
 * A fixed SQL statement with its parameters, in the shape `db.batch()` takes from a query builder
 * (`_prepare()`), and with `toSQL()` like one. For the hot write path: drizzle's builders cost
 * about as much CPU to build as the D1 call itself (bench/RESULTS.md). `sql` must name its columns
 * exactly as the schema does; its result is D1's own (no mapping), as for any write.
 *
 * @example
 * rawStatement(db, 'update "secrets" set "updated_at" = ? where "tenant_id" = ? and "path" = ?', [now, tenantId, path]);
 */
export function rawStatement(db: Db, sql: string, params: unknown[]): BatchItem {
  const client = clientOf(db);
  const built = { sql, params };
  return {
    _prepare: () => ({ getQuery: () => built, stmt: client.prepare(sql), mapResult: (result: unknown) => result }),
    toSQL: () => built,
  } as unknown as BatchItem;
}

/**
 * One table's columns in a fixed statement's raw rows (D1 `.raw()`): the SQL that selects them
 * (`"table"."column", ...`) and a decoder that turns them back into the table's row, each value
 * through its column's own `mapFromDriverValue`, as drizzle does (JSON, booleans, blobs), without
 * drizzle's generic walk over the selection (the hot read, src/auth/tokens.ts: bench/RESULTS.md).
 * `decode` answers undefined when `present`, a NOT NULL column, is null: a LEFT JOIN found no row.
 */
export function tableColumns<T extends Table>(table: T, present: keyof T["$inferSelect"] & string) {
  const name = getTableName(table);
  const columns = Object.entries(getTableColumns(table));
  const presentAt = columns.findIndex(([key]) => key === present);
  if (presentAt < 0 || !columns[presentAt]![1].notNull) throw new Error(`tableColumns: ${present} is not a NOT NULL column of ${name}`);
  return {
    width: columns.length,
    sql: columns.map(([, column]) => `"${name}"."${column.name}"`).join(", "),
    decode(raw: readonly unknown[], offset: number): T["$inferSelect"] | undefined {
      if (raw[offset + presentAt] === null) return undefined;
      const row: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) {
        const [key, column] = columns[i]!;
        const value = raw[offset + i];
        row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
      }
      return row as T["$inferSelect"];
    },
  };
}
