import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { AuditActor } from "../audit/log";
import { recordChange } from "../audit/unit-of-work";
import { decide, matchesGlob, onSecret } from "../auth/access";
import { principalFromRow, rootPrincipalOf } from "../auth/tokens";
import { loadKeyring } from "../crypto/envelope";
import { database, type BatchItem, type Db } from "../db/client";
import { messageEnv } from "../db/directory";
import { apiTokens, approvalPolicies, syncBindings, syncOutbox, syncs } from "../db/schema";
import { afterCommit } from "../http/commit";
import type { Principal } from "../http/context";
import { consumeEach, kickTenants, retryDelaySeconds, type Outcome } from "../leases/revocations";
import { readRefusal } from "../secrets/read-rule";
import { findSecretVersion, openVersion } from "../secrets/store";
import { pusherFor, REMOTE_KEY, SyncError } from "./pushers";
import { PageBody, runPage, type PageMessage } from "./run";
import { resolveTarget, type ResolvedTarget } from "./targets";

export type SyncRow = typeof syncs.$inferSelect;
export type SyncOutboxRow = typeof syncOutbox.$inferSelect;

/** A queue message: ids only, never a value. */
export interface SyncMessage {
  outbox_id: string;
  sync_id: string;
  tenant_id: string;
}

const MessageBody = z.strictObject({
  outbox_id: z.string().min(1).max(600),
  sync_id: z.string().regex(/^sync_[0-9a-f]{24}$/),
  tenant_id: z.string().min(1).max(64),
});

const CLAIM_MS = 60_000;
export const syncResource = (id: string) => `sync:${id}`;

/**
 * The remote name of `path` under `sync`: a path source's `remote_key`; for a prefix, the
 * `remote_prefix` plus the rest of the path, mapped to what the platform accepts
 * (GitHub and Cloudflare: upper case, `[^A-Z0-9_]` to `_`; Kubernetes: `[^-._a-zA-Z0-9]` to `_`).
 */
export function remoteKeyOf(
  sync: Pick<SyncRow, "sourcePath" | "sourcePrefix" | "remoteKey" | "remotePrefix">,
  kind: ResolvedTarget["kind"],
  path: string,
): string | null {
  let key: string;
  if (sync.sourcePath !== null) key = sync.remoteKey ?? "";
  else {
    const raw = `${sync.remotePrefix ?? ""}${path.slice((sync.sourcePrefix ?? "").length)}`;
    key =
      kind === "github" || kind === "cloudflare"
        ? raw.toUpperCase().replace(/[^A-Z0-9_]/g, "_")
        : kind === "kubernetes"
          ? raw.replace(/[^-._a-zA-Z0-9]/g, "_")
          : raw;
  }
  return REMOTE_KEY[kind].test(key) ? key : null;
}

export const covers = (sync: Pick<SyncRow, "sourcePath" | "sourcePrefix">, path: string) =>
  sync.sourcePath !== null ? sync.sourcePath === path : path.startsWith(sync.sourcePrefix ?? "\u0000");

/**
 * Who a delivery acts as: the creator's token, re-read now. A revoked or expired token (or one
 * whose ancestor was revoked: revocation walks the children) pushes nothing more.
 */
export async function creatorPrincipal(db: Db, sync: SyncRow, now = Date.now()): Promise<{ principal: Principal } | { refused: string }> {
  // Root acts in the sync's tenant (it may administer any; src/http/middleware.ts enterTenant).
  if (sync.createdByToken === "root") return { principal: { ...rootPrincipalOf(), tenantId: sync.tenantId } };
  const row = await db.select().from(apiTokens).where(eq(apiTokens.id, sync.createdByToken)).get();
  if (!row || row.tenantId !== sync.tenantId) return { refused: "creator-token-missing" };
  if (row.revokedAt !== null) return { refused: "creator-token-revoked" };
  if (row.expiresAt !== null && row.expiresAt <= now) return { refused: "creator-token-expired" };
  return { principal: await principalFromRow(db, row) };
}

/** Whether an approval policy guards `export` on `path` (the same match as approvals/guard.ts). */
export async function exportGuarded(db: Db, tenantId: string, path: string): Promise<boolean> {
  const rows = await db.select().from(approvalPolicies).where(eq(approvalPolicies.tenantId, tenantId)).all();
  return rows.some((p) => p.actions.includes("export") && p.paths.some((glob) => matchesGlob(glob, path)));
}

export async function consumeSync(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  await consumeEach(batch, env, ctx, "sync", async (message) => {
    // The tenant's own database; a message naming no known tenant has nothing to deliver. A run
    // page names its tenant inside `page`.
    const page = PageBody.safeParse(message.body);
    const tenantEnv = await messageEnv(env, page.success ? page.data.page : message.body);
    return tenantEnv ? deliverOne(tenantEnv, database(tenantEnv.DB), message) : { ack: true };
  });
}

function bindingUpsert(db: Db, row: SyncOutboxRow, remoteKey: string, set: Partial<typeof syncBindings.$inferInsert>) {
  return db
    .insert(syncBindings)
    .values({ syncId: row.syncId, path: row.path, tenantId: row.tenantId, remoteKey, ...set })
    .onConflictDoUpdate({ target: [syncBindings.syncId, syncBindings.path], set: { remoteKey, ...set } });
}

const finish = (db: Db, row: SyncOutboxRow, outcome: string, now: number) =>
  db.update(syncOutbox).set({ deliveredAt: now, claimedUntil: null, outcome }).where(eq(syncOutbox.id, row.id));

async function deliverOne(env: Env, db: Db, message: Message<unknown>): Promise<Outcome> {
  const page = PageBody.safeParse(message.body);
  if (page.success) {
    await runPage(env, db, page.data.page, message.id);
    return { ack: true };
  }
  const parsed = MessageBody.safeParse(message.body);
  if (!parsed.success) {
    console.error("sync: dropping a malformed message", message.id);
    return { ack: true };
  }
  const body = parsed.data;
  const now = Date.now();
  const row = await db.select().from(syncOutbox).where(eq(syncOutbox.id, body.outbox_id)).get();
  if (!row || row.deliveredAt !== null || row.deadAt !== null || row.syncId !== body.sync_id || row.tenantId !== body.tenant_id) return { ack: true };
  const claimed = await db
    .update(syncOutbox)
    .set({ claimedUntil: now + CLAIM_MS })
    .where(and(eq(syncOutbox.id, row.id), isNull(syncOutbox.deliveredAt), or(isNull(syncOutbox.claimedUntil), lt(syncOutbox.claimedUntil, now))))
    .run();
  if (!claimed.meta.changes) return { retry: Math.ceil(CLAIM_MS / 1000) };

  const sync = await db
    .select()
    .from(syncs)
    .where(and(eq(syncs.id, row.syncId), eq(syncs.tenantId, row.tenantId)))
    .get();
  if (!sync) {
    await finish(db, row, "skipped", now).run();
    return { ack: true };
  }
  const who: AuditActor = { tenantId: row.tenantId, actor: "system:sync", requestId: `queue:${message.id}` };
  const target = await resolveTarget(env, db, row.tenantId, sync.target);
  const remoteKey = target ? remoteKeyOf(sync, target.kind, row.path) : null;
  const detail = {
    target: sync.target,
    kind: target?.kind ?? null,
    path: row.path,
    remote_key: remoteKey,
    op: row.op,
    attempts: message.attempts,
    created_by: sync.createdBy,
  };

  /** A final refusal: nothing is pushed, the binding says why, the event says who was refused. */
  const refuse = async (reason: string, version: number | null = null) => {
    await recordChange(
      db,
      who,
      [finish(db, row, "refused", now), bindingUpsert(db, row, remoteKey ?? "-", { lastError: `Refused: ${reason}`, lastErrorAt: now })],
      {
        action: "sync.deliver",
        resource: syncResource(sync.id),
        outcome: "denied",
        status: 403,
        detail: { ...detail, version, reason },
      },
      { now },
    );
    return { ack: true } as const;
  };
  if (!target) return refuse("target-missing");
  if (!remoteKey) return refuse("remote-key-invalid");
  const authority = await creatorPrincipal(db, sync, now);
  if ("refused" in authority) return refuse(authority.refused);
  const principal = authority.principal;

  let version: number | null = null;
  try {
    const pusher = pusherFor(target);
    if (row.op === "put") {
      const found = await findSecretVersion(db, row.tenantId, row.path);
      const binding = await db
        .select()
        .from(syncBindings)
        .where(and(eq(syncBindings.syncId, sync.id), eq(syncBindings.path, row.path)))
        .get();
      // Always the current version: an older row delivered late never rolls a copy back.
      version = found?.version?.version ?? null;
      if (!row.force && version !== null && binding && !binding.deleted && binding.lastVersion !== null && binding.lastVersion >= version) {
        await finish(db, row, "skipped", now).run();
        return { ack: true };
      }
      const refusal = readRefusal(principal, "read", row.path, found, {}, now);
      if (refusal) return refuse(refusal.reason === "access" ? `access (${refusal.decision.reason})` : refusal.reason, version);
      if (!sync.exportApproved && (await exportGuarded(db, row.tenantId, row.path))) return refuse("approval-required", version);
      const value = await openVersion(loadKeyring(env.MASTER_KEYS), found!.version!);
      await pusher.put(remoteKey, value, row.id);
    } else {
      // Removing a copy releases no value, but it still acts for the creator: read on the path.
      if (!decide(principal, "secrets:read", "secret.read", onSecret(row.path)).allow) return refuse("access (path)");
      await pusher.remove(remoteKey, row.id);
    }
  } catch (err) {
    const retryable = !(err instanceof SyncError) || err.retryable;
    const lastError = err instanceof SyncError ? err.message : "The delivery failed";
    console.error("sync: delivery failed", row.id.split(":")[0], (err as Error)?.name, retryable ? "retry" : "final");
    if (retryable) {
      await db.batch([
        db.update(syncOutbox).set({ claimedUntil: null }).where(eq(syncOutbox.id, row.id)),
        bindingUpsert(db, row, remoteKey, { lastError, lastErrorAt: now }),
      ]);
      return { retry: retryDelaySeconds(message.attempts) };
    }
    await recordChange(
      db,
      who,
      [
        db.update(syncOutbox).set({ deadAt: now, claimedUntil: null, outcome: "failed" }).where(eq(syncOutbox.id, row.id)),
        bindingUpsert(db, row, remoteKey, { lastError, lastErrorAt: now }),
      ],
      { action: "sync.delivery_failed", resource: syncResource(sync.id), outcome: "failure", status: 502, detail: { ...detail, version, error: lastError } },
      { now },
    );
    return { ack: true };
  }
  const at = Date.now();
  const statements: BatchItem[] = [
    finish(db, row, "delivered", at),
    bindingUpsert(
      db,
      row,
      remoteKey,
      row.op === "put"
        ? { lastVersion: version, lastSyncedAt: at, lastError: null, lastErrorAt: null, deleted: false }
        : { lastSyncedAt: at, lastError: null, lastErrorAt: null, deleted: true },
    ),
  ];
  await recordChange(
    db,
    who,
    statements,
    { action: row.op === "put" ? "sync.delivered" : "sync.deleted", resource: syncResource(sync.id), detail: { ...detail, version } },
    { now: at },
  );
  return { ack: true };
}

/** Retries exhausted: the row is dead, the binding says so, and the failure is audited. */
export async function consumeSyncDeadLetters(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    try {
      const parsed = MessageBody.safeParse(message.body);
      const tenantEnv = parsed.success ? await messageEnv(env, parsed.data) : null;
      if (parsed.success && tenantEnv) await markDead(database(tenantEnv.DB), parsed.data, message.id);
      else if (PageBody.safeParse(message.body).success)
        console.error("sync-dlq: a run page was dead-lettered; run the sync again", (message.body as PageMessage).page.sync_id);
      message.ack();
    } catch (err) {
      console.error("sync-dlq: failure", message.id, (err as Error)?.name);
      message.retry({ delaySeconds: 30 });
    }
  }
  kickTenants(env, ctx, batch);
}

async function markDead(db: Db, body: SyncMessage, messageId: string): Promise<void> {
  const row = await db.select().from(syncOutbox).where(eq(syncOutbox.id, body.outbox_id)).get();
  if (!row || row.deliveredAt !== null || row.deadAt !== null) return;
  const now = Date.now();
  const binding = await db
    .select()
    .from(syncBindings)
    .where(and(eq(syncBindings.syncId, row.syncId), eq(syncBindings.path, row.path)))
    .get();
  const lastError = `Retries exhausted: ${binding?.lastError ?? "unknown error"}`.slice(0, 300);
  await recordChange(
    db,
    { tenantId: row.tenantId, actor: "system:sync-dlq", requestId: `queue:${messageId}` },
    [
      db
        .update(syncOutbox)
        .set({ deadAt: now, claimedUntil: null, outcome: "failed" })
        .where(and(eq(syncOutbox.id, row.id), isNull(syncOutbox.deadAt))),
      bindingUpsert(db, row, binding?.remoteKey ?? "-", { lastError, lastErrorAt: now }),
    ],
    {
      action: "sync.delivery_failed",
      resource: syncResource(row.syncId),
      outcome: "failure",
      status: 502,
      detail: { path: row.path, op: row.op, error: lastError },
    },
    { now },
  );
}

/** Sends the queue message of an outbox row once (claimed on last_sent_at). A failed send is left to the sweeper. */
export async function sendSync(env: Env, db: Db, row: Pick<SyncOutboxRow, "id" | "syncId" | "tenantId" | "lastSentAt">, now = Date.now()): Promise<boolean> {
  const claimed = await db
    .update(syncOutbox)
    .set({ lastSentAt: now, sends: sql`${syncOutbox.sends} + 1` })
    .where(and(eq(syncOutbox.id, row.id), row.lastSentAt === null ? isNull(syncOutbox.lastSentAt) : eq(syncOutbox.lastSentAt, row.lastSentAt)))
    .run();
  if (!claimed.meta.changes) return false;
  const message: SyncMessage = { outbox_id: row.id, sync_id: row.syncId, tenant_id: row.tenantId };
  try {
    await env.SYNC_QUEUE.send(message, { contentType: "json" });
    return true;
  } catch (err) {
    console.error("sync: send failed; the sweeper will re-send", row.id.split(":")[0], (err as Error)?.name);
    return false;
  }
}

/** Statements that write a version or change a secret row: the ones the sync triggers follow. */
const touchesSecrets = (statement: BatchItem) => {
  const text = (statement as { toSQL?: () => { sql: string } }).toSQL?.().sql ?? "";
  return /^(insert into "secret_versions"|update "secrets")/.test(text);
};

// A committed new version (or soft deletion) may have written deliveries: send them now rather
// than at the next sweep.
afterCommit((c, statements, tenantId) => {
  // This request's token lookup found that the tenant has no sync (auth/tokens.ts `Prefetch`): its triggers wrote nothing.
  const has = c.get("tenantHas");
  if (has && has.tenantId === tenantId && !has.syncs) return;
  if (statements.some(touchesSecrets)) c.executionCtx.waitUntil(dispatchUnsent(c.env, c.get("db"), tenantId).catch(() => 0));
});

/** Sends the messages of a tenant's rows the triggers wrote and nobody sent yet (after a write commits). */
export async function dispatchUnsent(env: Env, db: Db, tenantId: string): Promise<number> {
  const rows = await db
    .select({ id: syncOutbox.id, syncId: syncOutbox.syncId, tenantId: syncOutbox.tenantId, lastSentAt: syncOutbox.lastSentAt })
    .from(syncOutbox)
    .where(and(eq(syncOutbox.tenantId, tenantId), isNull(syncOutbox.lastSentAt), isNull(syncOutbox.deliveredAt), isNull(syncOutbox.deadAt)))
    .orderBy(asc(syncOutbox.createdAt))
    .limit(100)
    .all();
  let sent = 0;
  for (const row of rows) if (await sendSync(env, db, row)) sent++;
  return sent;
}

export const RESEND_AFTER_MS = 3 * 60_000;

/**
 * The sweeper's step: rows never sent (a write by a system job, or a request whose kick was
 * lost) and rows whose last send is older than RESEND_AFTER_MS and still undelivered.
 */
export async function sweepSyncOutbox(env: Env, now = Date.now()): Promise<number> {
  const db = database(env.DB);
  const rows = await db
    .select({ id: syncOutbox.id, syncId: syncOutbox.syncId, tenantId: syncOutbox.tenantId, lastSentAt: syncOutbox.lastSentAt })
    .from(syncOutbox)
    .where(and(isNull(syncOutbox.deliveredAt), isNull(syncOutbox.deadAt), or(isNull(syncOutbox.lastSentAt), lt(syncOutbox.lastSentAt, now - RESEND_AFTER_MS))))
    .limit(500)
    .all();
  let sent = 0;
  for (const row of rows) if (await sendSync(env, db, row, now)) sent++;
  return sent;
}
