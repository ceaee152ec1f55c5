import type { Context } from "hono";
import { actorOf, type AuditActor, type AuditInput } from "../audit/log";
import { recordChange, StartedIntents } from "../audit/unit-of-work";
import type { BatchItem } from "../db/client";
import type { AppEnv } from "./context";
import { storeResponse, storedBody } from "./idempotency";
import { Problem } from "./problem";

/**
 * Commits a change, its audit events and (under an Idempotency-Key) the response
 * in one D1 batch: all of it lands or none of it does (the request's `recordChange`).
 *
 * @example
 * await commit(c, [insertVersion], { audit: { action: "secret.write", resource }, response: { status: 201, body } });
 */
export async function commit(
  c: Context<AppEnv>,
  statements: BatchItem[],
  options: {
    /** The change's events, or intents begun ahead of it with `beginChange`. */
    audit: AuditInput | AuditInput[] | StartedIntents;
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
  const who = options.actor ?? actorOf(c);
  const claim = c.get("idempotency");
  const after: BatchItem[] = [];
  // Root acting in a tenant of another database: the claim lives in the home database, so its
  // response is stored just after the change's batch instead of inside it (src/db/directory.ts).
  let storeAfter: BatchItem | undefined;
  if (claim && options.response) {
    const { status, body, oneTime } = options.response;
    const { statement } = await storeResponse(c, claim, status, JSON.stringify(storedBody(body, oneTime)));
    if (claim.db === c.get("db")) after.push(statement);
    else storeAfter = statement;
  }
  try {
    await recordChange(c.get("db"), who, statements, options.audit, { after, kick: { env: c.env, ctx: c.executionCtx } });
    if (storeAfter) await claim!.db.batch([storeAfter]);
  } catch (err) {
    if (isConstraintError(err)) {
      throw new Problem(409, "conflict", "The resource changed while this request ran; read it again and retry");
    }
    throw err;
  }
  if (claim && options.response) claim.stored = true;
  for (const hook of committedHooks) hook(c, statements, who.tenantId);
}

/**
 * Appends a change's audit events to the tenant's chain now, while the handler does its remaining
 * reads (dual-control check, encryption), and hands them to `commit` later: the append's round
 * trip then costs the request nothing (docs/decisions.md, "The audit chain"). Call it once the
 * events are known and hand the result to `commit` as `audit`. If the request ends without that
 * commit (a refusal, an error), each event is recorded as a failure with the answer's status.
 *
 * @example
 * const audit = beginChange(c, { action: "secret.write", resource, detail: { version } });
 * const approval = await guardNewVersion(c, path, existing);
 * await commit(c, [...statements, ...approval], { audit, response });
 */
export function beginChange(c: Context<AppEnv>, audit: AuditInput | AuditInput[]): StartedIntents {
  const started = StartedIntents.start(c.env, actorOf(c), audit);
  c.set("startedIntents", [...(c.get("startedIntents") ?? []), started]);
  return started;
}

/** After the response: intents begun by `beginChange` that no commit took are settled as failures. */
export function abandonUnusedIntents(c: Context<AppEnv>): void {
  const unused = (c.get("startedIntents") ?? []).filter((s) => !s.used);
  if (unused.length) c.executionCtx.waitUntil(Promise.all(unused.map((s) => s.abandon(c.res.status))).catch(() => undefined));
}

type CommittedHook = (c: Context<AppEnv>, statements: readonly BatchItem[], tenantId: string) => void;
const committedHooks: CommittedHook[] = [];

/**
 * Runs `hook` after every committed request change, so a feature can follow up (sync sends the
 * deliveries its triggers wrote) without this shared machinery knowing the feature. Hooks must
 * not throw and do slow work only through `waitUntil`.
 */
export function afterCommit(hook: CommittedHook): void {
  committedHooks.push(hook);
}

export function isConstraintError(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}` : "";
  return /UNIQUE constraint failed|PRIMARY KEY constraint failed/i.test(text);
}
