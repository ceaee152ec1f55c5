import { and, eq, inArray } from "drizzle-orm";
import type { AuditActor, AuditInput } from "../audit/log";
import { recordChange } from "../audit/unit-of-work";
import { isConstraintError } from "../http/commit";
import type { BatchItem, Db } from "../db/client";
import { leases, outbox } from "../db/schema";
import { iso } from "../http/openapi";

export type Lease = typeof leases.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;
export type RevokeReason = "revoked" | "expired" | "issue-failed";

/** The body of a `revocations` message: ids only, never a credential. */
export interface RevocationMessage {
  outbox_id: string;
  lease_id: string;
  tenant_id: string;
}

/** What the API shows of a lease: metadata only; the credential was returned once, at issue. */
export const leaseView = (row: Lease) => ({
  lease_id: row.id,
  provider: row.provider,
  role: row.role,
  state: row.state,
  external_id: row.externalId,
  created_at: iso(row.createdAt)!,
  created_by: row.createdBy,
  expires_at: iso(row.expiresAt)!,
  max_expires_at: iso(row.maxExpiresAt)!,
  renewable: row.state === "issued" && row.expiresAt < row.maxExpiresAt,
  revoke_reason: row.revokeReason,
  revoke_requested_at: iso(row.revokeRequestedAt),
  revoked_at: iso(row.revokedAt),
  failed_at: iso(row.failedAt),
  attempts: row.attempts,
  last_error: row.lastError,
});

export const leaseResource = (id: string) => `lease:${id}`;

export async function findLease(db: Db, tenantId: string, id: string): Promise<{ lease: Lease | undefined }> {
  return {
    lease: await db
      .select()
      .from(leases)
      .where(and(eq(leases.tenantId, tenantId), eq(leases.id, id)))
      .get(),
  };
}

/** States from which a revocation may start (a failed one is retried by a manual revoke). */
const REVOCABLE = ["issued", "failed"] as const;

/**
 * Step one of a revocation: the lease state, an outbox row (and the caller's audit
 * event) in one D1 batch. The outbox id is `${lease}:${generation}`, so two callers
 * starting the same revocation collide on it and only one batch lands. Null if the
 * lease is not revocable.
 */
export function revocationStatements(db: Db, lease: Lease, reason: RevokeReason, now = Date.now()) {
  if (!(REVOCABLE as readonly string[]).includes(lease.state)) return null;
  const generation = lease.generation + 1;
  const row: OutboxRow = {
    id: `${lease.id}:${generation}`,
    tenantId: lease.tenantId,
    leaseId: lease.id,
    generation,
    createdAt: now,
    lastSentAt: now,
    sends: 1,
    claimedUntil: null,
    deliveredAt: null,
    deadAt: null,
  };
  const statements: [BatchItem, BatchItem] = [
    db
      .update(leases)
      .set({ state: "revoking", generation, revokeReason: reason, revokeRequestedAt: now, failedAt: null })
      .where(and(eq(leases.id, lease.id), eq(leases.generation, lease.generation), inArray(leases.state, REVOCABLE))),
    db.insert(outbox).values(row),
  ];
  const audit: AuditInput = {
    action: reason === "expired" ? "lease.expire" : "lease.revoke",
    resource: leaseResource(lease.id),
    status: 202,
    detail: { provider: lease.provider, role: lease.role, reason, generation },
  };
  return { row, statements, audit };
}

/** `revocationStatements` for callers without a request (alarm, sweeper, revoke-prefix). */
export async function beginRevocation(db: Db, lease: Lease, reason: RevokeReason, who: AuditActor, now = Date.now()) {
  const change = revocationStatements(db, lease, reason, now);
  if (!change) return null;
  try {
    await recordChange(db, who, change.statements, change.audit, { now });
  } catch (err) {
    if (isConstraintError(err)) return null;
    throw err;
  }
  return change.row;
}

/**
 * Step two: the queue message. A failed send is logged, not thrown: the row is in the
 * outbox and the sweeper re-sends it, so the revocation is late but never lost.
 */
export async function sendRevocation(env: Env, row: Pick<OutboxRow, "id" | "leaseId" | "tenantId">): Promise<boolean> {
  const message: RevocationMessage = { outbox_id: row.id, lease_id: row.leaseId, tenant_id: row.tenantId };
  try {
    await env.REVOCATIONS.send(message, { contentType: "json" });
    return true;
  } catch (err) {
    console.error("revocations: send failed; the sweeper will re-send", row.id, (err as Error)?.name);
    return false;
  }
}

export const systemActor = (tenantId: string, actor: string, requestId: string): AuditActor => ({ tenantId, actor, requestId });

/**
 * The alarm's (and the sweeper's) expiry: D1 is the truth, the alarm only a reminder.
 * Returns the time to look again if the lease was renewed past `now`.
 */
export async function expireLease(env: Env, db: Db, tenantId: string, leaseId: string, now: number, actor: string) {
  const { lease } = await findLease(db, tenantId, leaseId);
  if (lease?.state !== "issued") return { again: null };
  if (lease.expiresAt > now) return { again: lease.expiresAt };
  const row = await beginRevocation(db, lease, "expired", systemActor(tenantId, actor, `${actor}:${leaseId}`), now);
  if (row) await sendRevocation(env, row);
  return { again: null };
}
