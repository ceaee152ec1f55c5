import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Context } from "hono";
import type { NewEvent } from "../../durable-objects/audit-chain";
import { clientOf, type Db } from "../db/client";
import type { AppEnv } from "../http/context";
import { auditChainCount } from "../db/directory";

export type AuditOutcome = "success" | "denied" | "failure";

export interface AuditInput {
  action: string;
  resource?: string | null;
  outcome?: AuditOutcome;
  status?: number;
  /** Non-secret context only: never a value, a bearer token or key material. */
  detail?: Record<string, unknown>;
}

export interface AuditActor {
  tenantId: string;
  actor: string;
  requestId: string;
}

/** The event as the chain object takes it (id and time are given here, the place in the chain there). */
export function newEvent(who: AuditActor, event: AuditInput, now = Date.now()): NewEvent {
  return {
    id: crypto.randomUUID(),
    at: now,
    actor: who.actor,
    action: event.action,
    resource: event.resource ?? null,
    outcome: event.outcome ?? "success",
    status: event.status ?? 200,
    request_id: who.requestId,
    detail: event.detail === undefined ? null : JSON.stringify(event.detail),
  };
}

/**
 * The D1 copy of an intent, in the change's own batch: it exists exactly when the change committed.
 * One fixed statement, handed to drizzle's batch as an already built query (the shape its batch
 * takes from a builder's `_prepare()`): building it with drizzle's insert builder on every write
 * cost about as much CPU as the chain append (bench/RESULTS.md, A/B of 2026-12-01).
 */
export function copyInsert(db: Db, tenantId: string, event: NewEvent, placed: Placed) {
  const params = [
    tenantId,
    placed.chain ?? 0,
    placed.seq,
    event.id,
    event.at,
    event.actor,
    event.action,
    event.resource,
    event.outcome,
    event.status,
    event.request_id,
    event.detail,
    placed.hash,
  ];
  const client = clientOf(db);
  const built = { sql: COPY_SQL, params };
  return { _prepare: () => ({ getQuery: () => built, stmt: client.prepare(COPY_SQL), mapResult: (result: unknown) => result }) } as unknown as ReturnType<
    typeof copyBuilder
  >;
}

/** The statement `copyInsert` binds: the columns of `auditCopies`, in order (no `n`: see below). */
const COPY_SQL =
  'insert into "audit_events" ("tenant_id", "chain", "seq", "id", "at", "actor", "action", "resource", "outcome", "status", "request_id", "detail", "hash") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const copyBuilder = (db: Db) => db.insert(auditCopies).values({} as typeof auditCopies.$inferInsert);

/**
 * audit_events as its copies are inserted: without `n`. drizzle binds an explicit NULL for every
 * declared column, and an explicit NULL rowid costs SQLite a row read; left out, the insert reads
 * nothing. `detail` is the chain's exact JSON text. (The full table is in db/schema.ts.)
 */
const auditCopies = sqliteTable("audit_events", {
  tenantId: text("tenant_id").notNull(),
  chain: integer("chain").notNull(),
  seq: integer("seq").notNull(),
  id: text("id").notNull(),
  at: integer("at").notNull(),
  actor: text("actor").notNull(),
  action: text("action").notNull(),
  resource: text("resource"),
  outcome: text("outcome").notNull(),
  status: integer("status").notNull(),
  requestId: text("request_id").notNull(),
  detail: text("detail"),
  hash: text("hash").notNull(),
});

const PENDING = Symbol("audit event");
type Pending = { [PENDING]: { who: AuditActor; event: AuditInput; now: number } };

/**
 * An audit event to put among a change's statements (the approval guard hands these back with
 * its statements). It is not a statement: `recordChange` takes it out and records it as one of
 * the change's intents, so it is chained before the batch and copied into it.
 */
export function auditInsert(_db: Db, who: AuditActor, event: AuditInput, now = Date.now()) {
  return { [PENDING]: { who, event, now } } as unknown as ReturnType<typeof copyInsert>;
}

/** The events hidden among statements by `auditInsert`, and the statements without them. */
export function takeAuditInserts<T>(statements: readonly T[]): { statements: T[]; events: Pending[typeof PENDING][] } {
  const events: Pending[typeof PENDING][] = [];
  const rest: T[] = [];
  for (const s of statements) {
    if (s && typeof s === "object" && PENDING in (s as object)) events.push((s as unknown as Pending)[PENDING]);
    else rest.push(s);
  }
  return { statements: rest, events };
}

export function actorOf(c: Context<AppEnv>): AuditActor {
  const principal = c.get("principal");
  return { tenantId: principal.tenantId, actor: principal.subject, requestId: c.get("requestId") };
}

/** Kept for callers of the old sealer: events are chained as they are written, nothing is left to seal. */
export function kickSealer(_env: Env, _ctx: { waitUntil(p: Promise<unknown>): void }, _tenantId: string): void {}

/**
 * Writes one event on its own (reads and denials that change nothing else): appended to the
 * tenant's chain object, durable before this resolves; no D1 write. Throws if it cannot be.
 */
export async function audit(c: Context<AppEnv>, event: AuditInput, who: AuditActor = actorOf(c)): Promise<void> {
  await appendEvents(c.env, who.tenantId, [newEvent(who, event)], "event");
}

/** An event's place: its chain (0 unless the tenant has several), seq and hash there. */
export interface Placed {
  seq: number;
  hash: string;
  chain?: number;
}

/**
 * Appends to one of the tenant's chains: the one `chainOf` picks for the request (all of one
 * request's events go to the same chain). The append also carries this isolate's committed intents
 * of that chain not yet settled (see `settleCommitted`): under load a change costs no settle call of its own.
 */
export async function appendEvents(env: Env, tenantId: string, events: NewEvent[], kind: "event" | "intent", chain?: number): Promise<Placed[]> {
  const picked = chain ?? chainOf(env, tenantId, events[0]?.request_id ?? "");
  const k = typeof picked === "number" ? picked : await picked;
  const name = chainName(tenantId, k);
  const committed = unsettled.get(name);
  if (committed) unsettled.delete(name);
  const placed = await auditChain(env, tenantId, k).append(tenantId, events, kind, committed, k);
  if (k !== 0) for (const p of placed) (p as Placed).chain = k;
  return placed;
}

/**
 * The chain a request's events go to: FNV-1a of its request id, mod the tenant's chain count
 * (src/db/directory.ts `auditChainCount`, cached briefly). One tenant with one chain pays nothing.
 */
export function chainOf(env: Env, tenantId: string, requestId: string): number | Promise<number> {
  const count = auditChainCount(env, tenantId);
  // If the directory cannot be read, chain 0: a lower chain is always safe (listed and verified like any).
  return typeof count === "number"
    ? pick(requestId, count)
    : count.then(
        (n) => pick(requestId, n),
        () => 0,
      );
}

function pick(requestId: string, n: number): number {
  if (n <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < requestId.length; i++) h = Math.imul(h ^ requestId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % n;
}

/** The name of chain `chain` of a tenant: the tenant id for chain 0 (so a tenant's first chain keeps its history), `<tenant>#<k>` otherwise. */
export const chainName = (tenantId: string, chain = 0) => (chain === 0 ? tenantId : `${tenantId}#${chain}`);

/** Per isolate: chain name -> intents whose D1 batch committed, not yet told to that chain. */
const unsettled = new Map<string, number[]>();
/** Chains with a fallback settle call scheduled in this isolate (at most one each). */
const scheduled = new Set<string>();
/**
 * How long committed intents wait for an append to carry their settle before one call of their own
 * settles them all. Long enough that under any load worth measuring the next append carries them
 * (25 ms cost a DO call per write on a loaded machine, bench/RESULTS.md); short beside the alarm's
 * PENDING_MS, which does it for settles lost with the isolate.
 */
export const SETTLE_DELAY_MS = 250;

/**
 * Settles committed intents off the request's path: the next append to the tenant's chain from
 * this isolate carries them, or after SETTLE_DELAY_MS one call settles all that are left (in the
 * waitUntil of the request that scheduled it). A settle lost with the isolate is done by the
 * chain's alarm from the D1 copy.
 */
export function settleCommitted(env: Env, tenantId: string, seqs: readonly number[], ctx: { waitUntil(p: Promise<unknown>): void }, chain = 0): void {
  const name = chainName(tenantId, chain);
  const queued = unsettled.get(name);
  if (queued) queued.push(...seqs);
  else unsettled.set(name, [...seqs]);
  if (scheduled.has(name)) return;
  scheduled.add(name);
  ctx.waitUntil(
    new Promise((resolve) => setTimeout(resolve, SETTLE_DELAY_MS)).then(async () => {
      scheduled.delete(name);
      const left = unsettled.get(name);
      if (!left) return;
      unsettled.delete(name);
      await auditChain(env, tenantId, chain)
        .settle(tenantId, left, undefined, chain)
        .catch(() => undefined);
    }),
  );
}

/** Chain `chain` of the tenant (an AuditChain object): the single writer of that hash chain. */
export const auditChain = (env: Env, tenantId: string, chain = 0) => env.AUDIT_CHAIN.get(chainId(env, chainName(tenantId, chain)));

/** Object ids are plain values (unlike stubs, which belong to one request): computed once per tenant per isolate. */
const ids = new Map<string, DurableObjectId>();
function chainId(env: Env, name: string): DurableObjectId {
  let id = ids.get(name);
  if (!id) {
    if (ids.size >= 10_000) ids.clear();
    ids.set(name, (id = env.AUDIT_CHAIN.idFromName(name)));
  }
  return id;
}
