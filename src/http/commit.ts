import type { Context } from "hono";
import { actorOf, auditInsert, kickSealer, type AuditActor, type AuditInput } from "../audit/log";
import type { BatchItem } from "../db/client";
import type { AppEnv } from "./context";
import { storeResponse, storedBody } from "./idempotency";
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
  options: {
    audit: AuditInput | AuditInput[];
    /**
     * The response to store under an Idempotency-Key. `oneTime` names the fields that carry a
     * one-time credential (a new token, a lease credential, decrypted plaintext, a share token):
     * they are left out of the stored record, which says `credential_already_issued: true`
     * instead, so a replay returns the metadata and never the credential (see `storedBody`).
     */
    response?: { status: number; body: unknown; oneTime?: readonly string[] };
    /** Who to record when the request has no principal (public routes such as share reveals). */
    actor?: AuditActor;
  },
): Promise<void> {
  const db = c.get("db");
  const who = options.actor ?? actorOf(c);
  const now = Date.now();
  const events = Array.isArray(options.audit) ? options.audit : [options.audit];
  const items: BatchItem[] = [...statements, ...events.map((event) => auditInsert(db, who, event, now))];
  const claim = c.get("idempotency");
  if (claim && options.response) {
    const { status, body, oneTime } = options.response;
    items.push((await storeResponse(c, claim, status, JSON.stringify(storedBody(body, oneTime)))).statement);
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
