import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";

/** Direct access to a tenant's AuditChain object storage (chain 0, or chain `chain`: `<tenant>#<chain>`), as an insider who can write it would have. */
export const chainOf = (tenant: string, chain = 0) => env.AUDIT_CHAIN.get(env.AUDIT_CHAIN.idFromName(chain === 0 ? tenant : `${tenant}#${chain}`));

/** Runs SQL in the tenant's chain object's own SQLite (bypassing the object's methods). */
export function chainSql<T = Record<string, SqlStorageValue>>(tenant: string, query: string, ...binds: SqlStorageValue[]): Promise<T[]> {
  return runInDurableObject(chainOf(tenant), (_instance, state) => state.storage.sql.exec(query, ...binds).toArray() as T[]);
}

/** `chainSql` on chain `chain` of the tenant. */
export function chainSqlAt<T = Record<string, SqlStorageValue>>(tenant: string, chain: number, query: string, ...binds: SqlStorageValue[]): Promise<T[]> {
  return runInDurableObject(chainOf(tenant, chain), (_instance, state) => state.storage.sql.exec(query, ...binds).toArray() as T[]);
}

/** The events of chain `chain` of the tenant, oldest first. */
export const chainEventsAt = (tenant: string, chain: number, where = "1 = 1", ...binds: SqlStorageValue[]) =>
  chainSqlAt<Record<string, any>>(tenant, chain, `SELECT * FROM events WHERE ${where} ORDER BY seq`, ...binds);

/** The tenant's events as the chain object holds them, oldest first. */
export const chainEvents = (tenant: string, where = "1 = 1", ...binds: SqlStorageValue[]) =>
  chainSql<Record<string, any>>(tenant, `SELECT * FROM events WHERE ${where} ORDER BY seq`, ...binds);

/**
 * Makes every audit write fail, in D1 (a change's copy) and in the tenant's chain object (every
 * event), while `fn` runs: the audit store is down.
 */
export async function withAuditDown<T>(fn: () => Promise<T>, tenants: string[] = ["default"]): Promise<T> {
  const trigger = `fail_audit_${crypto.randomUUID().slice(0, 8)}`;
  await env.DB.exec(`CREATE TRIGGER ${trigger} BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END`);
  for (const tenant of tenants) {
    await chainSql(tenant, `CREATE TRIGGER IF NOT EXISTS fail_append BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END`);
  }
  try {
    return await fn();
  } finally {
    await env.DB.exec(`DROP TRIGGER ${trigger}`);
    for (const tenant of tenants) await chainSql(tenant, "DROP TRIGGER IF EXISTS fail_append");
  }
}

/**
 * Runs a query written against the old D1 `audit_events` table on the tenant's chain object
 * instead (where every event now lives; D1 keeps only changes' copies): `tenant_id = '<t>'` or
 * `tenant_id = ?` picks the tenant (else "default"), `ORDER BY n` becomes `ORDER BY seq`.
 */
export async function auditQuery<T = Record<string, any>>(query: string, ...binds: SqlStorageValue[]): Promise<{ results: T[] }> {
  let tenant = "default";
  let sql = query.replace(/tenant_id\s*=\s*'([^']+)'\s*(AND\s+)?/i, (_m, t: string) => ((tenant = t), ""));
  const placeholder = sql.match(/tenant_id\s*=\s*\?\s*(AND\s+)?/i);
  if (placeholder) {
    const index = (sql.slice(0, placeholder.index).match(/\?/g) ?? []).length;
    tenant = String(binds.splice(index, 1)[0]);
    sql = sql.replace(placeholder[0], "");
  }
  sql = sql
    .replace(/\baudit_events\b/g, "events")
    .replace(/ORDER BY n\b/gi, "ORDER BY seq")
    .replace(/WHERE\s+(ORDER|LIMIT|$)/i, "$1")
    .replace(/\bWHERE\s*$/i, "");
  return { results: await chainSql<T>(tenant, sql, ...binds) };
}

type Bound = {
  bind(...values: unknown[]): Bound;
  all<T = Record<string, any>>(): Promise<{ results: T[] }>;
  first<T = Record<string, any>>(): Promise<T | null>;
};

/** `env.DB`-shaped access to the chain objects' events, for queries written against D1 `audit_events` (see auditQuery). */
export const auditDb = {
  prepare(sql: string): Bound {
    const make = (binds: unknown[]): Bound => ({
      bind: (...values) => make(values),
      all: async <T>() => (await auditQuery<T>(sql, ...(binds as SqlStorageValue[]))) as { results: T[] },
      first: async <T>() => ((await auditQuery<T>(sql, ...(binds as SqlStorageValue[]))).results[0] ?? null) as T | null,
    });
    return make([]);
  },
};
