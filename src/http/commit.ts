import type { Context } from "hono";
import { actorOf, auditInsert, kickSealer, type AuditInput } from "../audit/log";
import type { BatchItem } from "../db/client";
import type { AppEnv } from "./context";
import { storeResponse } from "./idempotency";
import { Problem } from "./problem";

/**
 * Commits a change, its audit events and (under an Idempotency-Key) the response
 * in one D1 batch: all of it lands or none of it does.
 *
 * @example
 * await commit(c, [insertVersion], { audit: { action: "secret.write", resource }, response: { status: 201, body } });
 */
export async function commit(
  c: Context<AppEnv>,
  statements: BatchItem[],
  options: { audit: AuditInput | AuditInput[]; response?: { status: number; body: unknown } },
): Promise<void> {
  const db = c.get("db");
  const who = actorOf(c);
  const now = Date.now();
  const events = Array.isArray(options.audit) ? options.audit : [options.audit];
  const items: BatchItem[] = [...statements, ...events.map((event) => auditInsert(db, who, event, now))];
  const claim = c.get("idempotency");
  if (claim && options.response) {
    items.push((await storeResponse(c, claim, options.response.status, JSON.stringify(options.response.body))).statement);
  }
  try {
    await db.batch(items as [BatchItem, ...BatchItem[]]);
  } catch (err) {
    if (isConstraintError(err)) {
      throw new Problem(409, "conflict", "The resource changed while this request ran; read it again and retry");
    }
    throw err;
  }
  if (claim && options.response) claim.stored = true;
  kickSealer(c.env, c.executionCtx, who.tenantId);
}

export function isConstraintError(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}` : "";
  return /UNIQUE constraint failed|PRIMARY KEY constraint failed/i.test(text);
}
