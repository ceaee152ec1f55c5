/**
 * A D1 binding that records what each statement cost (`meta.rows_read` / `rows_written`).
 * Drizzle's `.get()` goes through `raw()`, which returns no meta, so for `raw()` the
 * same statement with the same bindings is first run through `all()` (reads only change
 * nothing) to take its meta; everything else is measured from its own result.
 */
export interface StatementCost {
  sql: string;
  rows_read: number;
  rows_written: number;
}

const INNER = Symbol("inner statement");
const SQL = Symbol("statement sql");
type Wrapped = D1PreparedStatement & { [INNER]?: D1PreparedStatement; [SQL]?: string };

export function countingD1(db: D1Database, log: StatementCost[]): D1Database {
  const record = (sql: string, meta: { rows_read?: number; rows_written?: number } | undefined) =>
    log.push({ sql, rows_read: meta?.rows_read ?? NaN, rows_written: meta?.rows_written ?? NaN });

  const wrap = (sql: string, statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, key) {
        if (key === INNER) return target;
        if (key === SQL) return sql;
        if (key === "bind") return (...values: unknown[]) => wrap(sql, target.bind(...values));
        if (key === "all" || key === "run") {
          return async () => {
            const result = await target[key]();
            record(sql, result.meta);
            return result;
          };
        }
        if (key === "first") {
          return async (column?: string) => {
            const result = await target.all<Record<string, unknown>>();
            record(sql, result.meta);
            const row = result.results[0] ?? null;
            return column === undefined || row === null ? row : row[column];
          };
        }
        if (key === "raw") {
          return async (options?: { columnNames?: boolean }) => {
            if (/^\s*select/i.test(sql)) record(sql, (await target.all()).meta);
            else throw new Error(`countingD1 cannot measure raw() of a write: ${sql}`);
            return target.raw(options as { columnNames: true });
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });

  return new Proxy(db, {
    get(target, key) {
      // A D1 session (withSession) is counted like the binding it came from.
      if (key === "withSession") return (constraint?: string) => countingD1(target.withSession(constraint) as unknown as D1Database, log);
      if (key === "getBookmark") return () => (target as unknown as D1DatabaseSession).getBookmark();
      if (key === "prepare") return (sql: string) => wrap(sql, target.prepare(sql));
      if (key === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const wrapped = statements as Wrapped[];
          const results = await target.batch(wrapped.map((s) => s[INNER] ?? s));
          results.forEach((result, i) => record(wrapped[i]![SQL] ?? "(unknown statement)", result.meta));
          return results;
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
