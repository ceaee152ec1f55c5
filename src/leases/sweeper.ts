import { and, asc, eq, isNull, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { leases, outbox } from "../db/schema";
import { expireLease, sendRevocation } from "./store";

/** An outbox row not delivered this long after its last send is sent again. */
export const RESEND_AFTER_MS = 3 * 60_000;
/** A lease this far past expiry with no revocation lost its alarm. */
export const MISSED_EXPIRY_MS = 60_000;
const PAGE = 200;

/** Sweeper step: re-send revocations whose queue send (or message) was lost. */
export async function resendStaleRevocations(env: Env, db: Db, now: number): Promise<number> {
  const stale = await db
    .select()
    .from(outbox)
    .where(and(isNull(outbox.deliveredAt), isNull(outbox.deadAt), lt(outbox.lastSentAt, now - RESEND_AFTER_MS)))
    .orderBy(asc(outbox.lastSentAt))
    .limit(PAGE)
    .all();
  let sent = 0;
  for (const row of stale) {
    // Claim the re-send first, so overlapping sweeps send it once.
    const claimed = await db
      .update(outbox)
      .set({ lastSentAt: now, sends: row.sends + 1 })
      .where(and(eq(outbox.id, row.id), eq(outbox.lastSentAt, row.lastSentAt)))
      .run();
    if (claimed.meta.changes && (await sendRevocation(env, row))) sent++;
  }
  return sent;
}

/** Sweeper step: expire leases whose alarm never fired (the same path the alarm takes). */
export async function expireMissedLeases(env: Env, db: Db, now: number): Promise<number> {
  const missed = await db
    .select({ id: leases.id, tenantId: leases.tenantId })
    .from(leases)
    .where(and(eq(leases.state, "issued"), lt(leases.expiresAt, now - MISSED_EXPIRY_MS)))
    .orderBy(asc(leases.expiresAt))
    .limit(PAGE)
    .all();
  for (const lease of missed) await expireLease(env, db, lease.tenantId, lease.id, now, "system:sweeper");
  return missed.length;
}
