import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import { kickSealer } from "../audit/log";
import { recordChange } from "../audit/unit-of-work";
import { database, type Db } from "../db/client";
import { messageEnv } from "../db/directory";
import { leases, outbox } from "../db/schema";
import { resolveProvider } from "./providers";
import { safeMessage } from "./providers/types";
import { findLease, leaseResource, systemActor, type RevocationMessage } from "./store";

const MessageBody = z.strictObject({
  outbox_id: z.string().min(1).max(200),
  lease_id: z.string().regex(/^lease_[0-9a-f]{24}$/),
  tenant_id: z.string().min(1).max(64),
});

/** How long one consumer holds an outbox row while it calls the provider. */
const CLAIM_MS = 60_000;

/** 2, 4, 8, 16, 32... seconds, at most five minutes. */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));

export type Outcome = { ack: true } | { retry: number };

/**
 * The `revocations` consumer: provider revoke, then lease revoked/expired and outbox
 * delivered in one batch. Each message is acked or retried on its own. A delivered (or
 * claimed) row is not revoked again, so a duplicate message never reaches the provider twice.
 */
export async function consumeRevocations(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  await consumeEach(batch, env, ctx, "revocations", async (message) => {
    // The tenant's own database; a message naming no known tenant has nothing to revoke.
    const tenantEnv = await messageEnv(env, message.body);
    return tenantEnv ? revokeOne(tenantEnv, database(tenantEnv.DB), message) : { ack: true };
  });
}

/**
 * The loop of an outbox consumer (revocations, sync): each message handled on its own, acked or
 * retried with backoff, an unexpected failure logged without its details and retried; then the
 * tenants' audit sealers kicked.
 */
export async function consumeEach(
  batch: MessageBatch<unknown>,
  env: Env,
  ctx: ExecutionContext,
  label: string,
  handle: (message: Message<unknown>) => Promise<Outcome>,
): Promise<void> {
  for (const message of batch.messages) {
    let outcome: Outcome;
    try {
      outcome = await handle(message);
    } catch (err) {
      console.error(`${label}: unexpected failure`, message.id, (err as Error)?.name);
      outcome = { retry: retryDelaySeconds(message.attempts) };
    }
    if ("ack" in outcome) message.ack();
    else message.retry({ delaySeconds: outcome.retry });
  }
  kickTenants(env, ctx, batch);
}

async function revokeOne(env: Env, db: Db, message: Message<unknown>): Promise<Outcome> {
  const parsed = MessageBody.safeParse(message.body);
  if (!parsed.success) {
    console.error("revocations: dropping a malformed message", message.id);
    return { ack: true };
  }
  const body: RevocationMessage = parsed.data;
  const now = Date.now();
  const row = await db.select().from(outbox).where(eq(outbox.id, body.outbox_id)).get();
  if (!row || row.deliveredAt !== null || row.deadAt !== null || row.leaseId !== body.lease_id || row.tenantId !== body.tenant_id) {
    return { ack: true };
  }
  const claimed = await db
    .update(outbox)
    .set({ claimedUntil: now + CLAIM_MS })
    .where(and(eq(outbox.id, row.id), isNull(outbox.deliveredAt), or(isNull(outbox.claimedUntil), lt(outbox.claimedUntil, now))))
    .run();
  // Another delivery of the same revocation is at work: look again later.
  if (!claimed.meta.changes) return { retry: Math.ceil(CLAIM_MS / 1000) };

  const { lease } = await findLease(db, row.tenantId, row.leaseId);
  if (!lease || lease.generation !== row.generation || lease.state !== "revoking") {
    // A newer revocation superseded this row, or the lease is already done.
    await db.update(outbox).set({ deliveredAt: now, claimedUntil: null }).where(eq(outbox.id, row.id)).run();
    return { ack: true };
  }
  const who = systemActor(lease.tenantId, "system:revocations", `queue:${message.id}`);
  try {
    const resolved = await resolveProvider(env, db, lease.tenantId, lease.provider);
    if (!resolved) throw new Error("provider-missing");
    await resolved.provider.revoke(
      { id: lease.id, tenantId: lease.tenantId, role: lease.role, externalId: lease.externalId, expiresAt: lease.expiresAt },
      { db, now },
    );
  } catch (err) {
    console.error("revocations: provider revoke failed", lease.id, (err as Error)?.name);
    const lastError = (err as Error)?.message === "provider-missing" ? `Provider ${lease.provider} is no longer configured` : safeMessage(err);
    await db.batch([
      db.update(outbox).set({ claimedUntil: null }).where(eq(outbox.id, row.id)),
      db
        .update(leases)
        .set({ attempts: sql`${leases.attempts} + 1`, lastError })
        .where(and(eq(leases.id, lease.id), eq(leases.generation, row.generation))),
    ]);
    return { retry: retryDelaySeconds(message.attempts) };
  }
  const done = Date.now();
  await recordChange(
    db,
    who,
    [
      db
        .update(leases)
        .set({
          state: lease.revokeReason === "expired" ? "expired" : "revoked",
          revokedAt: done,
          attempts: sql`${leases.attempts} + 1`,
          lastError: null,
        })
        .where(and(eq(leases.id, lease.id), eq(leases.generation, row.generation), eq(leases.state, "revoking"))),
      db.update(outbox).set({ deliveredAt: done, claimedUntil: null }).where(eq(outbox.id, row.id)),
    ],
    {
      action: "lease.revoked",
      resource: leaseResource(lease.id),
      detail: { provider: lease.provider, role: lease.role, reason: lease.revokeReason, attempts: message.attempts },
    },
    { now: done },
  );
  return { ack: true };
}

/**
 * The dead-letter consumer: retries are exhausted. The lease is marked failed and
 * audited; it stays listed (state=failed) until an operator revokes it again.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    try {
      const tenantEnv = await messageEnv(env, message.body);
      if (tenantEnv) await markFailed(database(tenantEnv.DB), message);
      message.ack();
    } catch (err) {
      console.error("revocations-dlq: failure", message.id, (err as Error)?.name);
      message.retry({ delaySeconds: 30 });
    }
  }
  kickTenants(env, ctx, batch);
}

async function markFailed(db: Db, message: Message<unknown>): Promise<void> {
  const parsed = MessageBody.safeParse(message.body);
  if (!parsed.success) return;
  const body = parsed.data;
  const row = await db.select().from(outbox).where(eq(outbox.id, body.outbox_id)).get();
  if (!row || row.deliveredAt !== null || row.deadAt !== null) return;
  const { lease } = await findLease(db, row.tenantId, row.leaseId);
  const now = Date.now();
  const current = lease && lease.generation === row.generation && lease.state === "revoking";
  const markDead = db
    .update(outbox)
    .set({ deadAt: now, claimedUntil: null })
    .where(and(eq(outbox.id, row.id), isNull(outbox.deadAt)));
  if (!current) {
    await markDead.run();
    return;
  }
  await recordChange(
    db,
    systemActor(lease.tenantId, "system:revocations-dlq", `queue:${message.id}`),
    [
      markDead,
      db
        .update(leases)
        .set({ state: "failed", failedAt: now })
        .where(and(eq(leases.id, lease.id), eq(leases.generation, row.generation), eq(leases.state, "revoking"))),
    ],
    {
      action: "lease.revoke_failed",
      resource: leaseResource(lease.id),
      outcome: "failure",
      status: 502,
      detail: { provider: lease.provider, role: lease.role, attempts: lease.attempts, last_error: lease.lastError },
    },
    { now },
  );
}

/** Kicks the audit sealer of every tenant a batch of messages names. */
export function kickTenants(env: Env, ctx: ExecutionContext, batch: MessageBatch<unknown>): void {
  const tenants = new Set<string>();
  for (const m of batch.messages) {
    const tenant = (m.body as { tenant_id?: unknown } | null)?.tenant_id;
    if (typeof tenant === "string") tenants.add(tenant);
  }
  for (const tenant of tenants) kickSealer(env, ctx, tenant);
}
