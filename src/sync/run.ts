import { and, asc, eq, gt, gte, isNull, lt } from "drizzle-orm";
import { z } from "zod";
import { recordChange } from "../audit/unit-of-work";
import type { BatchItem, Db } from "../db/client";
import { secrets, syncOutbox, syncs, syncTargets } from "../db/schema";
import type { Principal } from "../http/context";
import { readRefusal, type Refusal } from "../secrets/read-rule";
import { findSecretVersion } from "../secrets/store";
import { creatorPrincipal, dispatchUnsent, remoteKeyOf, syncResource, type SyncRow } from "./deliver";
import type { ResolvedTarget } from "./targets";

/**
 * Paths one run page decides and queues: the request does the first page, each further page is one
 * queue message (bounded work: at most this many path reads and outbox rows per invocation).
 */
export const RUN_PAGE_SIZE = 100;

/** A run continues past its first page: ids and a cursor only, never a value. */
export const PageBody = z.strictObject({
  page: z.strictObject({
    sync_id: z.string().regex(/^sync_[0-9a-f]{24}$/),
    tenant_id: z.string().min(1).max(64),
    /** The last path the previous page looked at. */
    after: z.string().min(1).max(1024),
    /** Who asked for the run (token id, or "root"): every page decides for them, re-read each time. */
    token: z.string().min(1).max(64),
    force: z.boolean(),
    /** `<ms>-<hex>`: rows of one run share it, so a repeated page writes no second row. */
    run: z.string().regex(/^\d{1,16}-[0-9a-f]{8}$/),
  }),
});
export type PageMessage = z.infer<typeof PageBody>;

export interface Planned {
  statements: BatchItem[];
  skipped: { path: string; reason: string; refusal?: Refusal }[];
  /** The cursor for the next page, if this page was full. */
  next: string | null;
}

/**
 * One page of a run: each covered path decided by the read rule for `principal` (a refused path is
 * skipped and named), then one outbox row per allowed path. Deliveries decide again, for the creator.
 */
export async function planRunPage(
  db: Db,
  principal: Principal,
  sync: SyncRow,
  kind: ResolvedTarget["kind"],
  options: { force: boolean; run: string; after?: string },
): Promise<Planned> {
  let paths: string[];
  let next: string | null = null;
  if (sync.sourcePath !== null) paths = options.after ? [] : [sync.sourcePath];
  else {
    const rows = await db
      .select({ path: secrets.path })
      .from(secrets)
      .where(
        and(
          eq(secrets.tenantId, sync.tenantId),
          options.after ? gt(secrets.path, options.after) : gte(secrets.path, sync.sourcePrefix!),
          lt(secrets.path, `${sync.sourcePrefix}\x7f`),
          isNull(secrets.deletedAt),
        ),
      )
      .orderBy(asc(secrets.path))
      .limit(RUN_PAGE_SIZE + 1)
      .all();
    paths = rows.slice(0, RUN_PAGE_SIZE).map((r) => r.path);
    if (rows.length > RUN_PAGE_SIZE) next = paths.at(-1)!;
  }
  const statements: BatchItem[] = [];
  const skipped: Planned["skipped"] = [];
  const createdAt = Number(options.run.split("-")[0]);
  for (const path of paths) {
    const found = await findSecretVersion(db, sync.tenantId, path);
    if (!found && sync.sourcePath !== null) {
      skipped.push({ path, reason: "not-found" });
      continue;
    }
    const refusal = readRefusal(principal, "read", path, found);
    if (refusal) {
      skipped.push({ path, reason: refusal.reason, refusal });
      continue;
    }
    if (!remoteKeyOf(sync, kind, path)) {
      skipped.push({ path, reason: "remote-key-invalid" });
      continue;
    }
    const version = found!.version!.version;
    statements.push(
      db
        .insert(syncOutbox)
        .values({
          id: `${sync.id}:${path}:${version}:run-${options.run}`,
          tenantId: sync.tenantId,
          syncId: sync.id,
          path,
          version,
          op: "put",
          force: options.force,
          createdAt,
          sends: 0,
        })
        .onConflictDoNothing(),
    );
  }
  return { statements, skipped, next };
}

/** Queues the page after `after`; a failed send is logged (the run's status shows what was queued). */
export async function sendNextPage(env: Env, page: PageMessage["page"]): Promise<boolean> {
  try {
    await env.SYNC_QUEUE.send({ page } satisfies PageMessage, { contentType: "json" });
    return true;
  } catch (err) {
    console.error("sync: could not queue the next run page", page.sync_id, (err as Error)?.name);
    return false;
  }
}

/**
 * A queued run page: re-reads the caller's token (revoked or expired: the run stops), plans the
 * page, writes its rows and an audit event in one batch, queues the next page, sends the rows.
 */
export async function runPage(env: Env, db: Db, body: PageMessage["page"], messageId: string): Promise<void> {
  const sync = await db
    .select()
    .from(syncs)
    .where(and(eq(syncs.id, body.sync_id), eq(syncs.tenantId, body.tenant_id)))
    .get();
  if (!sync) return;
  const target = await db
    .select({ kind: syncTargets.kind })
    .from(syncTargets)
    .where(and(eq(syncTargets.tenantId, sync.tenantId), eq(syncTargets.name, sync.target)))
    .get();
  const who = { tenantId: sync.tenantId, actor: "system:sync", requestId: `queue:${messageId}` };
  const caller = await creatorPrincipal(db, { ...sync, createdByToken: body.token });
  if (!target || "refused" in caller) {
    const reason = !target ? "target-missing" : (caller as { refused: string }).refused;
    await recordChange(db, who, [], {
      action: "sync.run_page",
      resource: syncResource(sync.id),
      outcome: "denied",
      status: 403,
      detail: { after: body.after, reason },
    });
    return;
  }
  const plan = await planRunPage(db, caller.principal, sync, target.kind, { force: body.force, run: body.run, after: body.after });
  await recordChange(db, who, plan.statements, {
    action: "sync.run_page",
    resource: syncResource(sync.id),
    detail: {
      after: body.after,
      queued: plan.statements.length,
      skipped: plan.skipped.map(({ path, reason }) => ({ path, reason })),
      more: plan.next !== null,
    },
  });
  if (plan.next) await sendNextPage(env, { ...body, after: plan.next });
  await dispatchUnsent(env, db, sync.tenantId);
}
