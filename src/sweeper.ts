import { sql } from "drizzle-orm";
import { database } from "./db/client";
import { purgeIdempotencyKeys } from "./http/idempotency";
import { expireMissedLeases, resendStaleRevocations } from "./leases/sweeper";
import { resumeStalledRewrap } from "./rotation/job";
import { rotateDueSecrets } from "./secrets/rotation";

/**
 * The cron sweeper: work that must happen even if no request comes. Each step is
 * idempotent, so an overlapping or repeated run changes nothing.
 */
export async function sweep(env: Env, now = Date.now()): Promise<void> {
  const db = database(env.DB);
  await purgeIdempotencyKeys(db, now).run();
  // Leases: a lost queue send or a lost alarm only delays a revocation.
  await resendStaleRevocations(env, db, now);
  await expireMissedLeases(env, db, now);
  await resumeStalledRewrap(env, now);
  // Before sealing, so the rotations' audit events are sealed in this same run.
  await rotateDueSecrets(env, now);
  // Seal audit events whose request could not kick the sealer.
  const pending = await db.all<{ tenant_id: string }>(sql`SELECT DISTINCT tenant_id FROM audit_events WHERE seq IS NULL`);
  for (const { tenant_id } of pending) {
    await env.AUDIT_CHAIN.get(env.AUDIT_CHAIN.idFromName(tenant_id)).seal(tenant_id);
  }
}
