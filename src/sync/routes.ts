import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { requireApproval } from "../approvals/guard";
import { allows, authorize, onSecret } from "../auth/access";
import { randomBytes, toHex } from "../crypto/encoding";
import { loadKeyring } from "../crypto/envelope";
import { syncBindings, syncOutbox, syncs, syncTargets } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { body, errorResponses, featureApp, iso, json } from "../http/openapi";
import { notFound, Problem } from "../http/problem";
import { readRefusal, refuse } from "../secrets/read-rule";
import { SecretPath } from "../secrets/schemas";
import { findSecretVersion } from "../secrets/store";
import { dispatchUnsent, remoteKeyOf, syncResource, type SyncRow } from "./deliver";
import { planRunPage, sendNextPage, type PageMessage } from "./run";
import { importAppKey } from "./github-app";
import { TargetBody, TargetName, sealTarget, targetSummary } from "./targets";

const MAX_SYNCS_PER_TENANT = 200;

const Prefix = z
  .string()
  .min(2)
  .max(255)
  .regex(/^([A-Za-z0-9._-]+\/)+$/, "Segments of A-Z a-z 0-9 . _ - each followed by a slash, like app/prod/")
  .refine((p) => p.split("/").every((s) => s !== "." && s !== ".."), "Segments . and .. are not allowed");
const RemoteKey = z.string().min(1).max(512);
const SyncId = z.string().regex(/^sync_[0-9a-f]{24}$/);

const CreateBody = z
  .strictObject({
    target: TargetName,
    path: SecretPath.optional(),
    prefix: Prefix.optional(),
    /** The remote name of a `path` source. */
    remote_key: RemoteKey.optional(),
    /** Prefix sources: prepended to the rest of each path (then mapped to what the platform accepts). */
    remote_prefix: z.string().max(200).optional(),
    propagate_deletes: z.boolean().default(false),
    /** Queue the current values now (default); false waits for the next version. */
    run: z.boolean().default(true),
  })
  .refine((b) => (b.path === undefined) !== (b.prefix === undefined), { message: "Give exactly one of path and prefix", path: ["path"] })
  .refine((b) => b.prefix !== undefined || b.remote_key !== undefined, { message: "A path source needs remote_key", path: ["remote_key"] })
  .openapi("SyncCreate");

/** The product's one-shot body: `{name, target, remote_key}` (a path sync, created or reused, then run). */
const SeedRunBody = z.strictObject({ name: SecretPath, target: TargetName, remote_key: RemoteKey }).openapi("SyncRunOnce");

const TargetView = z
  .object({
    name: z.string(),
    kind: z.string(),
    summary: z.record(z.string(), z.string()),
    created_at: z.string(),
    created_by: z.string(),
    updated_at: z.string(),
  })
  .openapi("SyncTargetView");
const Skipped = z.object({ path: z.string(), reason: z.string() });
const BindingView = z
  .object({
    path: z.string(),
    remote_key: z.string(),
    last_synced_version: z.number().int().nullable(),
    last_synced_at: z.string().nullable(),
    deleted: z.boolean(),
    last_error: z.string().nullable(),
    last_error_at: z.string().nullable(),
  })
  .openapi("SyncBinding");
const SyncView = z
  .object({
    id: z.string(),
    target: z.string(),
    path: z.string().nullable(),
    prefix: z.string().nullable(),
    remote_key: z.string().nullable(),
    remote_prefix: z.string().nullable(),
    propagate_deletes: z.boolean(),
    created_at: z.string(),
    created_by: z.string(),
  })
  .openapi("Sync");
const RunView = SyncView.extend({
  /** Deliveries queued by this request (the first page of at most 100 paths). */
  queued: z.number().int(),
  skipped: z.array(Skipped),
  /** More paths under the prefix: they are decided and queued in pages by the queue consumer (audited as sync.run_page). */
  continued: z.boolean(),
}).openapi("SyncRun");
const StatusView = SyncView.extend({ bindings: z.array(BindingView), pending: z.number().int(), dead: z.number().int() }).openapi("SyncStatus");

const syncView = (row: SyncRow) => ({
  id: row.id,
  target: row.target,
  path: row.sourcePath,
  prefix: row.sourcePrefix,
  remote_key: row.remoteKey,
  remote_prefix: row.remotePrefix,
  propagate_deletes: row.propagateDeletes,
  created_at: iso(row.createdAt)!,
  created_by: row.createdBy,
});

const targetView = (row: typeof syncTargets.$inferSelect) => ({
  name: row.name,
  kind: row.kind,
  summary: row.summary,
  created_at: iso(row.createdAt)!,
  created_by: row.createdBy,
  updated_at: iso(row.updatedAt)!,
});

const IdParam = z.object({ id: SyncId });
const routes = {
  putTarget: createRoute({
    method: "post",
    path: "/sync-targets",
    summary: "Configure a sync target (tenant administrators); its credentials are sealed and never returned",
    tags: ["sync"],
    request: body(TargetBody),
    responses: { 200: { description: "Configured", ...json(TargetView) }, ...errorResponses(400, 401, 403, 422) },
  }),
  listTargets: createRoute({
    method: "get",
    path: "/sync-targets",
    summary: "Sync targets (no credentials)",
    tags: ["sync"],
    responses: { 200: { description: "Targets", ...json(z.object({ items: z.array(TargetView) })) }, ...errorResponses(401, 403) },
  }),
  deleteTarget: createRoute({
    method: "delete",
    path: "/sync-targets/{name}",
    summary: "Remove a sync target no sync uses",
    tags: ["sync"],
    request: { params: z.object({ name: TargetName }) },
    responses: { 204: { description: "Removed" }, ...errorResponses(401, 403, 404, 409) },
  }),
  create: createRoute({
    method: "post",
    path: "/syncs",
    summary: "Bind a path or a prefix to a target; needs read on every source path (values out need read)",
    tags: ["sync"],
    request: body(CreateBody),
    responses: {
      201: { description: "Created (metadata and delivery flags, never a value)", ...json(RunView) },
      ...errorResponses(400, 401, 403, 404, 409, 422),
    },
  }),
  seedRun: createRoute({
    method: "post",
    path: "/syncs/run",
    summary: "Push one secret to a target now (creates or reuses the path sync)",
    tags: ["sync"],
    request: body(SeedRunBody),
    responses: { 202: { description: "Queued", ...json(RunView) }, ...errorResponses(400, 401, 403, 404, 422) },
  }),
  list: createRoute({
    method: "get",
    path: "/syncs",
    summary: "Syncs whose source the caller may list",
    tags: ["sync"],
    responses: { 200: { description: "Syncs", ...json(z.object({ items: z.array(SyncView) })) }, ...errorResponses(401, 403) },
  }),
  status: createRoute({
    method: "get",
    path: "/syncs/{id}",
    summary: "A sync and its status per binding: last synced version, time, error",
    tags: ["sync"],
    request: { params: IdParam },
    responses: { 200: { description: "Status", ...json(StatusView) }, ...errorResponses(401, 403, 404) },
  }),
  run: createRoute({
    method: "post",
    path: "/syncs/{id}/run",
    summary: "Push the current values now (each path decided by the read rule for the caller, and again at delivery for the creator)",
    tags: ["sync"],
    request: { params: IdParam },
    responses: { 202: { description: "Queued", ...json(RunView) }, ...errorResponses(401, 403, 404) },
  }),
  remove: createRoute({
    method: "delete",
    path: "/syncs/{id}",
    summary: "Stop a sync (its creator's entity or a tenant administrator); remote copies stay",
    tags: ["sync"],
    request: { params: IdParam },
    responses: { 204: { description: "Removed" }, ...errorResponses(401, 403, 404) },
  }),
};

/** The source as one resource for the access decision: the path, or every path under the prefix. */
const sourceResource = (row: Pick<SyncRow, "sourcePath" | "sourcePrefix">) => onSecret(row.sourcePath ?? `${row.sourcePrefix}*`);

async function findSync(c: Context<AppEnv>, id: string): Promise<SyncRow> {
  const row = await c
    .get("db")
    .select()
    .from(syncs)
    .where(and(eq(syncs.id, id), eq(syncs.tenantId, c.get("principal").tenantId)))
    .get();
  if (!row) throw notFound("sync");
  return row;
}

async function targetKind(c: Context<AppEnv>, name: string) {
  const row = await c
    .get("db")
    .select({ kind: syncTargets.kind })
    .from(syncTargets)
    .where(and(eq(syncTargets.tenantId, c.get("principal").tenantId), eq(syncTargets.name, name)))
    .get();
  if (!row) throw notFound("sync target");
  return row.kind;
}

/**
 * The first page of a run, decided by the read rule for the caller (a refused path is skipped,
 * named and audited); a prefix with more paths continues in queued pages (src/sync/run.ts), each
 * deciding for the caller again. Deliveries decide again, for the creator, when they run.
 */
async function runStatements(c: Context<AppEnv>, sync: SyncRow, kind: Awaited<ReturnType<typeof targetKind>>, force: boolean) {
  const principal = c.get("principal");
  const run = `${Date.now()}-${toHex(randomBytes(4))}`;
  const plan = await planRunPage(c.get("db"), principal, sync, kind, { force, run });
  for (const s of plan.skipped) if (s.refusal) await refuse(c, s.refusal, s.path, "read");
  const next = plan.next === null ? null : { sync_id: sync.id, tenant_id: principal.tenantId, after: plan.next, token: principal.tokenId, force, run };
  return { statements: plan.statements, skipped: plan.skipped.map(({ path, reason }) => ({ path, reason })), next };
}

/** After the first page committed: queue the next one, if any. */
async function continueRun(c: Context<AppEnv>, next: PageMessage["page"] | null): Promise<boolean> {
  return next !== null && (await sendNextPage(c.env, next));
}

function dispatchLater(c: Context<AppEnv>) {
  c.executionCtx.waitUntil(dispatchUnsent(c.env, c.get("db"), c.get("principal").tenantId).catch(() => 0));
}

async function createSync(c: Context<AppEnv>, input: z.infer<typeof CreateBody>) {
  const db = c.get("db");
  const principal = c.get("principal");
  const kind = await targetKind(c, input.target);
  const source = { sourcePath: input.path ?? null, sourcePrefix: input.prefix ?? null };
  // Values out need read: on the path, or on every path under the prefix (the glob `prefix*`).
  await authorize(c, "secrets:read", "sync.create", sourceResource(source));
  if (input.path !== undefined) {
    const found = await findSecretVersion(db, principal.tenantId, input.path);
    const refusal = found ? readRefusal(principal, "read", input.path, found) : undefined;
    if (refusal) throw await refuse(c, refusal, input.path, "read");
  }
  const row: SyncRow = {
    id: `sync_${toHex(randomBytes(12))}`,
    tenantId: principal.tenantId,
    target: input.target,
    ...source,
    remoteKey: input.path !== undefined ? input.remote_key! : null,
    remotePrefix: input.prefix !== undefined ? (input.remote_prefix ?? "") : null,
    propagateDeletes: input.propagate_deletes,
    exportApproved: false,
    createdAt: Date.now(),
    createdBy: principal.subject,
    createdByToken: principal.tokenId,
    createdByEntity: principal.entity,
  };
  if (input.path !== undefined && !remoteKeyOf(row, kind, input.path))
    throw new Problem(422, "invalid-remote-key", `${input.remote_key} is not a valid ${kind} secret name`);
  const count = await db.$count(syncs, eq(syncs.tenantId, principal.tenantId));
  if (count >= MAX_SYNCS_PER_TENANT) throw new Problem(409, "too-many-syncs", `A tenant holds at most ${MAX_SYNCS_PER_TENANT} syncs`);
  // A sync is a standing export: where an approval policy guards export, creating it needs that approval.
  const approval = await requireApproval(c, "export", input.path ?? `${input.prefix}*`);
  row.exportApproved = approval.length > 0;
  const run = input.run ? await runStatements(c, row, kind, false) : { statements: [], skipped: [], next: null };
  const view = { ...syncView(row), queued: run.statements.length, skipped: run.skipped, continued: run.next !== null };
  await commit(c, [db.insert(syncs).values(row), ...approval, ...run.statements], {
    audit: {
      action: "sync.create",
      resource: syncResource(row.id),
      status: 201,
      detail: {
        target: row.target,
        kind,
        path: row.sourcePath,
        prefix: row.sourcePrefix,
        remote_key: row.remoteKey,
        queued: view.queued,
        continued: view.continued,
      },
    },
    response: { status: 201, body: view },
  });
  view.continued = await continueRun(c, run.next);
  if (view.queued) dispatchLater(c);
  return view;
}

export const syncApp = featureApp()
  .openapi(routes.putTarget, async (c) => {
    const input = c.req.valid("json");
    await authorize(c, "providers:admin", "sync.target_configure");
    loadKeyring(c.env.MASTER_KEYS);
    const db = c.get("db");
    const principal = c.get("principal");
    const now = Date.now();
    if (input.kind === "github" && input.config.private_key !== undefined) {
      // A key WebCrypto cannot use is refused now, not at the first delivery; the message never quotes it.
      await importAppKey(input.config.private_key).catch(() => {
        throw new Problem(422, "invalid-private-key", "private_key must be the GitHub App's RSA private key (PEM, PKCS#1 or PKCS#8, at least 2048 bits)");
      });
    }
    const sealed = await sealTarget(c.env, principal.tenantId, input.name, input.config);
    const existing = await db
      .select()
      .from(syncTargets)
      .where(and(eq(syncTargets.tenantId, principal.tenantId), eq(syncTargets.name, input.name)))
      .get();
    if (existing && existing.kind !== input.kind)
      throw new Problem(409, "kind-mismatch", `Target ${input.name} is a ${existing.kind} target; delete it to change its kind`);
    const row = {
      tenantId: principal.tenantId,
      name: input.name,
      kind: input.kind,
      config: sealed,
      summary: targetSummary(input),
      createdAt: existing?.createdAt ?? now,
      createdBy: existing?.createdBy ?? principal.subject,
      updatedAt: now,
    };
    const view = targetView(row);
    await commit(
      c,
      [
        db
          .insert(syncTargets)
          .values(row)
          .onConflictDoUpdate({ target: [syncTargets.tenantId, syncTargets.name], set: { config: sealed, summary: row.summary, updatedAt: now } }),
      ],
      {
        audit: { action: "sync.target_configure", resource: `sync_target:${input.name}`, detail: { kind: input.kind, ...row.summary } },
        response: { status: 200, body: view },
      },
    );
    return c.json(view, 200);
  })
  .openapi(routes.listTargets, async (c) => {
    await authorize(c, "providers:admin", "sync.target_list");
    const rows = await c
      .get("db")
      .select()
      .from(syncTargets)
      .where(eq(syncTargets.tenantId, c.get("principal").tenantId))
      .orderBy(asc(syncTargets.name))
      .all();
    return c.json({ items: rows.map(targetView) }, 200);
  })
  .openapi(routes.deleteTarget, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "providers:admin", "sync.target_delete");
    const db = c.get("db");
    const tenantId = c.get("principal").tenantId;
    await targetKind(c, name);
    const used = await db.$count(syncs, and(eq(syncs.tenantId, tenantId), eq(syncs.target, name)));
    if (used) throw new Problem(409, "target-in-use", `${used} sync(s) push to ${name}; delete them first`);
    await commit(c, [db.delete(syncTargets).where(and(eq(syncTargets.tenantId, tenantId), eq(syncTargets.name, name)))], {
      audit: { action: "sync.target_delete", resource: `sync_target:${name}`, status: 204 },
      response: { status: 204, body: null },
    });
    return c.body(null, 204);
  })
  .openapi(routes.create, async (c) => c.json(await createSync(c, c.req.valid("json")), 201))
  .openapi(routes.seedRun, async (c) => {
    const input = c.req.valid("json");
    const db = c.get("db");
    const principal = c.get("principal");
    const existing = await db
      .select()
      .from(syncs)
      .where(
        and(eq(syncs.tenantId, principal.tenantId), eq(syncs.target, input.target), eq(syncs.sourcePath, input.name), eq(syncs.remoteKey, input.remote_key)),
      )
      .get();
    if (!existing)
      return c.json(await createSync(c, { target: input.target, path: input.name, remote_key: input.remote_key, propagate_deletes: false, run: true }), 202);
    return c.json(await runSync(c, existing), 202);
  })
  .openapi(routes.list, async (c) => {
    const principal = c.get("principal");
    await authorize(c, "secrets:read", "sync.list");
    const rows = await c
      .get("db")
      .select()
      .from(syncs)
      .where(eq(syncs.tenantId, principal.tenantId))
      .orderBy(asc(syncs.createdAt))
      .limit(MAX_SYNCS_PER_TENANT)
      .all();
    const admin = allows(principal, "providers:admin", "sync.list");
    return c.json({ items: rows.filter((r) => admin || allows(principal, "secrets:read", "sync.list", sourceResource(r))).map(syncView) }, 200);
  })
  .openapi(routes.status, async (c) => {
    const sync = await findSync(c, c.req.valid("param").id);
    const principal = c.get("principal");
    if (!allows(principal, "providers:admin", "sync.status")) await authorize(c, "secrets:read", "sync.status", sourceResource(sync));
    const db = c.get("db");
    const bindings = await db.select().from(syncBindings).where(eq(syncBindings.syncId, sync.id)).orderBy(asc(syncBindings.path)).limit(1000).all();
    const pending = await db.$count(syncOutbox, and(eq(syncOutbox.syncId, sync.id), isNull(syncOutbox.deliveredAt), isNull(syncOutbox.deadAt)));
    const dead = await db.$count(syncOutbox, and(eq(syncOutbox.syncId, sync.id), eq(syncOutbox.outcome, "failed")));
    return c.json(
      {
        ...syncView(sync),
        pending,
        dead,
        bindings: bindings.map((b) => ({
          path: b.path,
          remote_key: b.remoteKey,
          last_synced_version: b.lastVersion,
          last_synced_at: iso(b.lastSyncedAt),
          deleted: b.deleted,
          last_error: b.lastError,
          last_error_at: iso(b.lastErrorAt),
        })),
      },
      200,
    );
  })
  .openapi(routes.run, async (c) => c.json(await runSync(c, await findSync(c, c.req.valid("param").id)), 202))
  .openapi(routes.remove, async (c) => {
    const sync = await findSync(c, c.req.valid("param").id);
    const principal = c.get("principal");
    if (principal.entity !== sync.createdByEntity) await authorize(c, "providers:admin", "sync.delete");
    const db = c.get("db");
    await commit(
      c,
      [
        db.delete(syncs).where(eq(syncs.id, sync.id)),
        db.delete(syncBindings).where(eq(syncBindings.syncId, sync.id)),
        db
          .update(syncOutbox)
          .set({ deliveredAt: Date.now(), outcome: "skipped" })
          .where(and(eq(syncOutbox.syncId, sync.id), isNull(syncOutbox.deliveredAt), isNull(syncOutbox.deadAt))),
      ],
      {
        audit: { action: "sync.delete", resource: syncResource(sync.id), status: 204, detail: { target: sync.target } },
        response: { status: 204, body: null },
      },
    );
    return c.body(null, 204);
  });

async function runSync(c: Context<AppEnv>, sync: SyncRow) {
  await authorize(c, "secrets:read", "sync.run", sourceResource(sync));
  const kind = await targetKind(c, sync.target);
  const run = await runStatements(c, sync, kind, true);
  const view = { ...syncView(sync), queued: run.statements.length, skipped: run.skipped, continued: run.next !== null };
  await commit(c, run.statements.length ? run.statements : [], {
    audit: {
      action: "sync.run",
      resource: syncResource(sync.id),
      status: 202,
      detail: { target: sync.target, queued: view.queued, skipped: run.skipped.length, continued: view.continued },
    },
    response: { status: 202, body: view },
  });
  view.continued = await continueRun(c, run.next);
  if (view.queued) dispatchLater(c);
  return view;
}
