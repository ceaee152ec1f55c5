import type { BatchItem, Db } from "../db/client";
import { auditInsert, kickSealer, type AuditActor, type AuditInput } from "./log";

type WaitUntil = { waitUntil(p: Promise<unknown>): void };

/**
 * The one audited unit of work: a change's statements and the audit events that record
 * it, in one D1 batch (a D1 transaction): all of it lands or none of it does, and an event
 * that cannot be written fails the change. Requests go through `commit` (http/commit.ts),
 * which adds the idempotency record; system jobs, queue consumers and Durable Objects call
 * this directly. Returns the batch's results, statements first, in order.
 *
 * @example
 * await recordChange(db, systemActor, [markRevoked], { action: "lease.revoked", resource }, { kick: { env, ctx } });
 */
export async function recordChange(
  db: Db,
  who: AuditActor,
  statements: readonly BatchItem[],
  events: AuditInput | readonly AuditInput[],
  options: { now?: number; /** Run after the events, in the same batch (the idempotency record). */ after?: readonly BatchItem[]; kick?: { env: Env; ctx?: WaitUntil } } = {},
) {
  const now = options.now ?? Date.now();
  const list = (Array.isArray(events) ? events : [events]) as readonly AuditInput[];
  const items: BatchItem[] = [...statements, ...list.map((event) => auditInsert(db, who, event, now)), ...(options.after ?? [])];
  const results = await db.batch(items as [BatchItem, ...BatchItem[]]);
  if (options.kick?.ctx && list.length) kickSealer(options.kick.env, options.kick.ctx, who.tenantId);
  return results;
}
