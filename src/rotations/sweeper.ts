import { and, asc, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import { loadKeyring } from "../crypto/envelope";
import { database, type Db } from "../db/client";
import { staticRoles, staticRotations } from "../db/schema";
import { loggable } from "../http/errors";
import { ProviderError, safeMessage } from "../leases/providers/types";
import { findSecretVersion, openVersion } from "../secrets/store";
import { advance, createRun, type Faults } from "./engine";

/** Runs resumed, and scheduled rotations started, per sweep; the rest wait for the next one. */
const PER_SWEEP = 50;
/** A running run whose claim lapsed and that has not moved for this long belongs to a dead worker. */
export const STALE_MS = 30_000;

/**
 * The sweeper's part (alarms and queues are at least once; so is this): every running rotation
 * whose worker died (claim lapsed) is resumed where its phase says, including a retire whose
 * grace period has passed; then every AUTOMATIC secret with a static-role binding that is due
 * starts a rotation, as `system`. Idempotent: a run is claimed before it is advanced, and the
 * unique index on running runs makes a second start of the same key fail.
 */
export async function advanceRotations(env: Env, now: number, options: { faults?: Faults } = {}): Promise<{ resumed: number; started: number }> {
  const db = database(env.DB);
  const resumable = await db
    .select({ id: staticRotations.id })
    .from(staticRotations)
    .where(
      and(
        eq(staticRotations.state, "running"),
        or(isNull(staticRotations.claimedUntil), lt(staticRotations.claimedUntil, now)),
        or(and(eq(staticRotations.phase, "retire"), lte(staticRotations.retireAt, now)), lt(staticRotations.updatedAt, now - STALE_MS)),
      ),
    )
    .orderBy(asc(staticRotations.updatedAt))
    .limit(PER_SWEEP)
    .all();
  let resumed = 0;
  for (const { id } of resumable) {
    try {
      await advance(env, db, id, { now: () => now, faults: options.faults });
      resumed++;
    } catch (err) {
      console.error(JSON.stringify({ level: "error", event: "static_rotation_resume_failed", rotation: id, ...loggable(err as Error) }));
    }
  }
  return { resumed, started: await startScheduled(env, db, now, options.faults) };
}

/** AUTOMATIC secrets bound to database logins, due, without a running rotation. */
async function startScheduled(env: Env, db: Db, now: number, faults?: Faults): Promise<number> {
  const due = await db.all<{ tenant_id: string; key: string }>(sql`
    SELECT r.tenant_id, r.key FROM static_roles r
    JOIN secrets s ON s.tenant_id = r.tenant_id AND s.path = r.key
    WHERE s.rotation_policy = 'AUTOMATIC' AND s.deleted_at IS NULL AND s.next_rotation_at <= ${now}
      AND NOT EXISTS (SELECT 1 FROM static_rotations t WHERE t.tenant_id = r.tenant_id AND t.key = r.key AND t.state = 'running')
    ORDER BY s.next_rotation_at LIMIT ${PER_SWEEP}`);
  if (due.length === 0) return 0;
  const keyring = loadKeyring(env.MASTER_KEYS);
  let started = 0;
  for (const { tenant_id, key } of due) {
    try {
      const binding = await db
        .select()
        .from(staticRoles)
        .where(and(eq(staticRoles.tenantId, tenant_id), eq(staticRoles.key, key)))
        .get();
      const found = await findSecretVersion(db, tenant_id, key);
      if (!binding || !found?.version) continue;
      const value = await openVersion(keyring, found.version);
      // The policy itself is the approval (docs/security.md, dual control).
      const run = await createRun(
        env,
        db,
        { tenantId: tenant_id, actor: "system", requestId: `cron_${now}` },
        { ...binding },
        { secret: found.secret, value },
        "schedule",
        {},
        now,
      );
      if (!run) continue;
      started++;
      await advance(env, db, run.id, { claimed: true, now: () => now, faults });
    } catch (err) {
      const reason = err instanceof ProviderError ? { error: safeMessage(err) } : loggable(err as Error);
      console.error(JSON.stringify({ level: "error", event: "static_rotation_start_failed", tenant: tenant_id, key, ...reason }));
    }
  }
  return started;
}
