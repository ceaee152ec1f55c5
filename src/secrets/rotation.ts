import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, isNotNull, isNull, lte, sql } from "drizzle-orm";
import { authorize } from "../auth/access";
import { listable } from "./read-rule";
import { recordChange } from "../audit/unit-of-work";
import { loadKeyring } from "../crypto/envelope";
import { database } from "../db/client";
import { secrets, secretVersions } from "../db/schema";
import { isConstraintError } from "../http/commit";
import { loggable } from "../http/errors";
import { errorResponses, featureApp } from "../http/openapi";
import { json } from "./input";
import { secretResource } from "./read";
import { SECRET_TYPES, SecretMetadata, WithinDaysQuery, type GenerateSpec } from "./schemas";
import { DAY_MS, generateValue, metadataView, nextVersionStatements, sealVersion } from "./store";

/** Listings of due or expiring secrets are capped; the oldest come first. */
const MAX_LISTED = 1000;

const pendingRoute = createRoute({
  method: "get",
  path: "/rotation/pending",
  summary: "Secrets past their next_rotation_at, most overdue first",
  tags: ["secrets"],
  responses: { 200: { description: "Due secrets", ...json(z.object({ items: z.array(SecretMetadata) })) }, ...errorResponses(401, 403) },
});

const expiringRoute = createRoute({
  method: "get",
  path: "/expiring",
  summary: "Secrets that expire within `within_days` days (and those already expired, flagged)",
  tags: ["secrets"],
  request: { query: WithinDaysQuery },
  responses: {
    200: { description: "Expiring secrets", ...json(z.object({ items: z.array(SecretMetadata.extend({ expired: z.boolean() })) })) },
    ...errorResponses(400, 401, 403),
  },
});

const Stats = z
  .object({
    secrets: z.number().int(),
    by_type: z.record(z.string(), z.number().int()),
    by_environment: z.record(z.string(), z.number().int()),
    pending_rotation: z.number().int(),
    expiring_30_days: z.number().int(),
    expired: z.number().int(),
    deleted: z.number().int(),
    total_versions: z.number().int(),
  })
  .openapi("SecretStats");

const statsRoute = createRoute({
  method: "get",
  path: "/stats",
  summary: "Counts by type and environment, pending rotations, expiring in 30 days, total versions",
  tags: ["secrets"],
  responses: { 200: { description: "Counts (of the paths this token may read)", ...json(Stats) }, ...errorResponses(401, 403) },
});

const live = (tenantId: string) => and(eq(secrets.tenantId, tenantId), isNull(secrets.deletedAt));

export const rotationApp = featureApp()
  .openapi(pendingRoute, async (c) => {
    await authorize(c, "secrets:read", "secret.list");
    const principal = c.get("principal");
    const rows = await c
      .get("db")
      .select()
      .from(secrets)
      .where(and(live(principal.tenantId), lte(secrets.nextRotationAt, Date.now())))
      .orderBy(asc(secrets.nextRotationAt))
      .limit(MAX_LISTED)
      .all();
    return c.json({ items: rows.filter((r) => listable(principal, r.path)).map(metadataView) }, 200);
  })
  .openapi(expiringRoute, async (c) => {
    await authorize(c, "secrets:read", "secret.list");
    const principal = c.get("principal");
    const now = Date.now();
    const rows = await c
      .get("db")
      .select()
      .from(secrets)
      .where(and(live(principal.tenantId), isNotNull(secrets.expiresAt), lte(secrets.expiresAt, now + c.req.valid("query").within_days * DAY_MS)))
      .orderBy(asc(secrets.expiresAt))
      .limit(MAX_LISTED)
      .all();
    return c.json({ items: rows.filter((r) => listable(principal, r.path)).map((r) => ({ ...metadataView(r), expired: r.expiresAt! <= now })) }, 200);
  })
  .openapi(statsRoute, async (c) => {
    await authorize(c, "secrets:read", "secret.list");
    const principal = c.get("principal");
    const db = c.get("db");
    const now = Date.now();
    // Aggregated here, not in SQL, so a token limited to some paths counts only those.
    const [rows, versionCounts] = await Promise.all([
      db
        .select({
          path: secrets.path,
          type: secrets.type,
          environment: secrets.environment,
          nextRotationAt: secrets.nextRotationAt,
          expiresAt: secrets.expiresAt,
          deletedAt: secrets.deletedAt,
        })
        .from(secrets)
        .where(eq(secrets.tenantId, principal.tenantId))
        .all(),
      db
        .select({ path: secretVersions.path, count: sql<number>`count(*)` })
        .from(secretVersions)
        .where(eq(secretVersions.tenantId, principal.tenantId))
        .groupBy(secretVersions.path)
        .all(),
    ]);
    const stats = {
      secrets: 0,
      by_type: Object.fromEntries(SECRET_TYPES.map((t) => [t, 0])) as Record<string, number>,
      by_environment: {} as Record<string, number>,
      pending_rotation: 0,
      expiring_30_days: 0,
      expired: 0,
      deleted: 0,
      total_versions: 0,
    };
    const counted = new Set<string>();
    for (const row of rows) {
      if (!listable(principal, row.path)) continue;
      counted.add(row.path);
      if (row.deletedAt !== null) {
        stats.deleted++;
        continue;
      }
      stats.secrets++;
      stats.by_type[row.type] = (stats.by_type[row.type] ?? 0) + 1;
      const env = row.environment ?? "(none)";
      stats.by_environment[env] = (stats.by_environment[env] ?? 0) + 1;
      if (row.nextRotationAt !== null && row.nextRotationAt <= now) stats.pending_rotation++;
      if (row.expiresAt !== null && row.expiresAt <= now) stats.expired++;
      else if (row.expiresAt !== null && row.expiresAt <= now + 30 * DAY_MS) stats.expiring_30_days++;
    }
    for (const { path, count } of versionCounts) if (counted.has(path)) stats.total_versions += count;
    return c.json(stats, 200);
  });

/** How many due secrets one sweep rotates; the rest wait for the next run. */
const ROTATIONS_PER_SWEEP = 100;

/**
 * Rotates AUTOMATIC secrets with a generated value whose next_rotation_at has
 * passed: a fresh value as the next version, audited as `secret.rotate` by `system`.
 * Idempotent: the new version moves next_rotation_at past `now`, and a concurrent
 * run that picked the same row fails on the version's primary key and is skipped.
 */
export async function rotateDueSecrets(env: Env, now: number): Promise<number> {
  const db = database(env.DB);
  const due = await db
    .select()
    .from(secrets)
    // Matches the partial index secrets_automatic_rotation.
    .where(and(sql`rotation_policy = 'AUTOMATIC' AND generator IS NOT NULL AND deleted_at IS NULL`, lte(secrets.nextRotationAt, now)))
    .orderBy(asc(secrets.nextRotationAt))
    .limit(ROTATIONS_PER_SWEEP)
    .all();
  if (due.length === 0) return 0;
  let keyring: ReturnType<typeof loadKeyring>;
  try {
    keyring = loadKeyring(env.MASTER_KEYS);
  } catch {
    // Fail closed without stopping the rest of the sweep (audit sealing, purges).
    console.error(JSON.stringify({ level: "error", event: "automatic_rotation_skipped", reason: "master key unavailable", due: due.length }));
    return 0;
  }
  let rotated = 0;
  for (const secret of due) {
    const version = secret.currentVersion + 1;
    const sealed = await sealVersion(keyring, secret.tenantId, secret.path, version, generateValue(secret.generator as GenerateSpec));
    const { statements } = nextVersionStatements(db, secret, { version, sealed, now, actor: "system" });
    try {
      await recordChange(
        db,
        { tenantId: secret.tenantId, actor: "system", requestId: `cron_${now}` },
        statements,
        { action: "secret.rotate", resource: secretResource(secret.path), detail: { version, previous_version: secret.currentVersion, automatic: true } },
        { now },
      );
      rotated++;
    } catch (err) {
      // A constraint error means another sweep wrote this version first; anything else
      // is logged (path only) and retried next run, without stopping the other rotations.
      if (!isConstraintError(err)) {
        const reason = err instanceof Error ? loggable(err) : { error: String(err) };
        console.error(JSON.stringify({ level: "error", event: "automatic_rotation_failed", tenant: secret.tenantId, path: secret.path, ...reason }));
      }
    }
  }
  return rotated;
}
