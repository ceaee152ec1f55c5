import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Context } from "hono";
import type { Db } from "../db/client";
import type { AppEnv } from "../http/context";

export type AuditOutcome = "success" | "denied" | "failure";

export interface AuditInput {
  action: string;
  resource?: string | null;
  outcome?: AuditOutcome;
  status?: number;
  /** Non-secret context only: never a value, a bearer token or key material. */
  detail?: Record<string, unknown>;
}

export interface AuditActor {
  tenantId: string;
  actor: string;
  requestId: string;
}

/**
 * The insert of one audit event, to run in the same D1 batch as the change it
 * records: a rolled-back batch leaves no event behind. Its per-tenant sequence
 * number and hash are given moments later by the tenant's AuditChain sealer, so the
 * insert reads nothing (see docs/decisions.md).
 */
export function auditInsert(db: Db, who: AuditActor, event: AuditInput, now = Date.now()) {
  return db.insert(newAuditEvents).values({
    tenantId: who.tenantId,
    id: crypto.randomUUID(),
    at: now,
    actor: who.actor,
    action: event.action,
    resource: event.resource ?? null,
    outcome: event.outcome ?? "success",
    status: event.status ?? 200,
    requestId: who.requestId,
    detail: event.detail ?? null,
  });
}

/**
 * audit_events as seen by an insert: without `n`, `seq` and `hash`. drizzle binds an
 * explicit NULL for every declared column, and an explicit NULL rowid costs SQLite a
 * row read; left out, the insert reads nothing. (The full table is in db/schema.ts.)
 */
const newAuditEvents = sqliteTable("audit_events", {
  tenantId: text("tenant_id").notNull(),
  id: text("id").notNull(),
  at: integer("at").notNull(),
  actor: text("actor").notNull(),
  action: text("action").notNull(),
  resource: text("resource"),
  outcome: text("outcome").notNull(),
  status: integer("status").notNull(),
  requestId: text("request_id").notNull(),
  detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>(),
});

export function actorOf(c: Context<AppEnv>): AuditActor {
  const principal = c.get("principal");
  return { tenantId: principal.tenantId, actor: principal.subject, requestId: c.get("requestId") };
}

const lastKick = new Map<string, number>();

/**
 * Asks the tenant's AuditChain object to hash the new events soon. Throttled per
 * isolate: the object seals everything pending in one pass, so one call a second is enough.
 */
export function kickSealer(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }, tenantId: string): void {
  const now = Date.now();
  if ((lastKick.get(tenantId) ?? 0) > now - 1000) return;
  lastKick.set(tenantId, now);
  const stub = auditChain(env, tenantId);
  ctx.waitUntil(stub.seal(tenantId).catch(() => lastKick.delete(tenantId)));
}

/** Writes one event on its own (for reads and denials that change nothing else). */
export async function audit(c: Context<AppEnv>, event: AuditInput, who: AuditActor = actorOf(c)): Promise<void> {
  await auditInsert(c.get("db"), who, event);
  kickSealer(c.env, c.executionCtx, who.tenantId);
}

/** The tenant's AuditChain object: the single writer of its hash chain. */
export const auditChain = (env: Env, tenantId: string) => env.AUDIT_CHAIN.get(env.AUDIT_CHAIN.idFromName(tenantId));
