import { asc, eq, sql } from "drizzle-orm";
import { database, prepared } from "./client";
import { tenants } from "./schema";

/**
 * Tenants spread over several D1 databases (docs/decisions.md, "Tenants live in one of N databases").
 *
 * The databases are the bindings `DB`, `DB_1`, `DB_2`, ... (contiguous) of wrangler.jsonc; their
 * index is their place in that list. The tenant directory is the `tenants` table of the home
 * database (`DB`, index 0): one row per tenant, with the index of the database that holds every
 * other row of that tenant. A tenant never moves, so an isolate may cache where it lives.
 */
export const HOME = 0;

/** The binding name of database `index`. */
export const bindingName = (index: number) => (index === HOME ? "DB" : `DB_${index}`);

const homes = new WeakMap<Env, Env>();
const views = new WeakMap<Env, Env[]>();

/** The env a deployment was started with (every `envAt` view leads back to it). */
export const baseEnv = (env: Env): Env => homes.get(env) ?? env;

/** The D1 bindings of this deployment, in index order. */
export function d1Databases(env: Env): D1Database[] {
  const base = baseEnv(env) as unknown as Record<string, D1Database | undefined>;
  const list: D1Database[] = [];
  for (let i = 0; base[bindingName(i)]; i++) list.push(base[bindingName(i)]!);
  return list;
}

export const databaseCount = (env: Env) => d1Databases(env).length;

/**
 * `env` as seen by the tenants of database `index`: the same bindings with `DB` being that
 * database, so code that reads `env.DB` (jobs, queue consumers, Durable Objects) works on the
 * tenant's rows without knowing there are several. Undefined for an index with no binding.
 *
 * @example
 * const tenantEnv = envAt(env, 1); // tenantEnv.DB === env.DB_1
 */
export function envAt(env: Env, index: number): Env | undefined {
  const base = baseEnv(env);
  let list = views.get(base);
  if (!list) {
    list = d1Databases(base).map((d1, i) => {
      if (i === HOME) return base;
      const view = Object.create(base, { DB: { value: d1, enumerable: true } }) as Env;
      homes.set(view, base);
      return view;
    });
    views.set(base, list);
  }
  return Number.isInteger(index) ? list[index] : undefined;
}

/** Every database's view of `env`, home first: for work that covers every tenant (cron, re-wrap). */
export const everyDatabase = (env: Env): Env[] => d1Databases(env).map((_, i) => envAt(env, i)!);

/** The directory lives in the home database. */
const directory = (env: Env) => database(baseEnv(env).DB);

const placed = new Map<string, number>();

/**
 * The index of the database that holds `tenantId`'s rows, or null for a tenant that does not
 * exist. One row read in the home database, then cached for the isolate (tenants never move).
 */
export async function databaseOf(env: Env, tenantId: string): Promise<number | null> {
  const cached = placed.get(tenantId);
  if (cached !== undefined) return cached;
  const row = await prepared(directory(env), "tenant-database", (db) =>
    db
      .select({ database: tenants.database })
      .from(tenants)
      .where(eq(tenants.id, sql.placeholder("id")))
      .prepare(),
  ).get({ id: tenantId });
  if (!row) return null;
  placed.set(tenantId, row.database);
  return row.database;
}

/** `env` as seen by `tenantId` (its database as `DB`), or null for an unknown tenant or unbound database. */
export async function tenantEnv(env: Env, tenantId: string): Promise<Env | null> {
  const index = await databaseOf(env, tenantId);
  return index === null ? null : (envAt(env, index) ?? null);
}

/**
 * The env of the tenant a queue message names (`tenant_id` in its body), or null: messages carry
 * ids only, and the tenant's database is found in the directory, never in the message.
 */
export async function messageEnv(env: Env, body: unknown): Promise<Env | null> {
  const tenant = (body as { tenant_id?: unknown } | null)?.tenant_id;
  return typeof tenant === "string" && tenant.length <= 64 ? tenantEnv(env, tenant) : null;
}

/**
 * The placement rule for a new tenant: the database with the fewest tenants in the directory,
 * the lowest index on a tie. (Counted, not hashed, so adding a database fills the new one first
 * and nobody moves.) An operator may pin a tenant to a database instead (`POST /tenants` with
 * `database`).
 */
export async function placeNewTenant(env: Env): Promise<number> {
  const count = databaseCount(env);
  const rows = await directory(env)
    .select({ database: tenants.database, n: sql<number>`COUNT(*)` })
    .from(tenants)
    .groupBy(tenants.database)
    .orderBy(asc(tenants.database))
    .all();
  const load = new Array<number>(count).fill(0);
  for (const row of rows) if (row.database < count) load[row.database] = row.n;
  let best = 0;
  for (let i = 1; i < count; i++) if (load[i]! < load[best]!) best = i;
  return best;
}

/** The most audit chains a tenant may have (tenants.audit_chains, 1..MAX_AUDIT_CHAINS). */
export const MAX_AUDIT_CHAINS = 64;
/**
 * How long an isolate trusts the chain count it read. A stale count is only ever lower than the
 * current one (it only grows), so it sends a request's events to a lower chain, which is listed
 * and verified like every other: nothing is lost (docs/decisions.md, "Several audit chains").
 */
export const CHAINS_TTL_MS = 5_000;

/** How long one request's refresh of an expired count may take before another request does its own. */
const REFRESH_MS = 1_000;

/** Settled counts only: an in-flight read is never handed to another request (see `auditChainCount`). */
const chainCounts = new Map<string, { n: number; until: number }>();

/**
 * How many audit chains `tenantId` has (1 for a tenant missing from the directory). Read from the
 * directory in the home database, then trusted for CHAINS_TTL_MS; `fresh` reads it now (listing,
 * verify: they must see every chain). A caller gets a number, or a read of its own: never another
 * request's read in flight, which workerd may cancel for it as hung (its I/O belongs to the request
 * that started it). Once the count expires, the first caller reads it again and the others keep
 * the count they had until that read lands (or REFRESH_MS passes, if that request went away).
 */
export function auditChainCount(env: Env, tenantId: string, fresh = false): number | Promise<number> {
  const now = Date.now();
  const cached = chainCounts.get(tenantId);
  if (!fresh && cached) {
    if (cached.until > now) return cached.n;
    // This caller refreshes it; the others keep this count meanwhile (for at most REFRESH_MS).
    cached.until = now + REFRESH_MS;
  }
  return prepared(directory(env), "tenant-audit-chains", (db) =>
    db
      .select({ chains: tenants.auditChains })
      .from(tenants)
      .where(eq(tenants.id, sql.placeholder("id")))
      .prepare(),
  )
    .get({ id: tenantId })
    .then((row) => {
      const stored = Number(row?.chains ?? 1);
      const n = Number.isSafeInteger(stored) && stored >= 1 ? Math.min(stored, MAX_AUDIT_CHAINS) : 1;
      if (chainCounts.size >= 10_000) chainCounts.clear();
      // A count only grows: a slower read that lands after a newer one does not lower it.
      const known = chainCounts.get(tenantId);
      chainCounts.set(tenantId, { n: Math.max(n, known?.n ?? 1), until: Date.now() + CHAINS_TTL_MS });
      return n;
    });
}

/** Forgets the cached chain count (after root raised it in this isolate). */
export const forgetAuditChainCount = (tenantId: string) => void chainCounts.delete(tenantId);
