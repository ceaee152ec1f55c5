import { database } from "./db/client";
import { everyDatabase } from "./db/directory";
import { loggable } from "./http/errors";
import { purgeIdempotencyKeys } from "./http/idempotency";
import { expireMissedLeases, resendStaleRevocations } from "./leases/sweeper";
import { resumeStalledRewrap } from "./rotation/job";
import { advanceRotations } from "./rotations/sweeper";
import { backfillValueMacs } from "./scanning/backfill";
import { rotateDueSecrets } from "./secrets/rotation";
import { sweepSyncOutbox } from "./sync/deliver";

/**
 * The cron sweeper: work that must happen even if no request comes. Each step is
 * idempotent, so an overlapping or repeated run changes nothing, and each runs even
 * when an earlier one fails (a failure is logged; the next run tries again). It runs
 * once per D1 database (src/db/directory.ts), each pass seeing only that database's tenants.
 */
export async function sweep(env: Env, now = Date.now()): Promise<void> {
  const views = everyDatabase(env);
  for (let index = 0; index < views.length; index++) await sweepDatabase(views[index]!, index, now);
}

async function sweepDatabase(env: Env, index: number, now: number): Promise<void> {
  const db = database(env.DB);
  const steps: [string, () => Promise<unknown>][] = [
    ["purge idempotency keys", () => purgeIdempotencyKeys(db, now).run()],
    // Leases: a lost queue send or a lost alarm only delays a revocation.
    ["resend stale revocations", () => resendStaleRevocations(env, db, now)],
    ["expire missed leases", () => expireMissedLeases(env, db, now)],
    ["resume stalled rewrap", () => resumeStalledRewrap(env, now, index)],
    ["rotate due secrets", () => rotateDueSecrets(env, now)],
    // Static database rotations: resume interrupted runs, retire after grace, start scheduled ones.
    ["advance static rotations", () => advanceRotations(env, now)],
    // Sync deliveries the writers' triggers queued (system writers send nothing themselves) or whose send was lost.
    ["send sync deliveries", () => sweepSyncOutbox(env, now)],
    ["backfill scan MACs", () => backfillValueMacs(env, 200, now)],
  ];
  for (const [step, run] of steps) {
    try {
      await run();
    } catch (err) {
      console.error(JSON.stringify({ level: "error", sweeper_step: step, database: index, ...loggable(err as Error) }));
    }
  }
}
