import { and, asc, eq, gt, inArray } from "drizzle-orm";
import type { Context } from "hono";
import { actorOf, auditInsert } from "../audit/log";
import { matchesGlob } from "../auth/access";
import { randomBytes, toHex } from "../crypto/encoding";
import type { BatchItem } from "../db/client";
import { approvalConsumptions, approvalPolicies, approvalRequests } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv, Principal } from "../http/context";
import { Problem } from "../http/problem";

/** Actions an approval policy can guard. */
export const GUARDED_ACTIONS = ["rotate", "delete", "destroy", "export", "share"] as const;
export type GuardedAction = (typeof GUARDED_ACTIONS)[number];

export const DEFAULT_REQUEST_TTL_SECONDS = 24 * 3600;

type ApprovalPolicyRow = typeof approvalPolicies.$inferSelect;
export type ApprovalRequestRow = typeof approvalRequests.$inferSelect;

/** The strictest approval policy guarding `action` on `path`, if any. */
async function guardingPolicy(c: Context<AppEnv>, action: GuardedAction, path: string): Promise<ApprovalPolicyRow | undefined> {
  // This request's token lookup found that the tenant has no approval policy at all (auth/tokens.ts `Prefetch`).
  const has = c.get("tenantHas");
  if (has && has.tenantId === c.get("principal").tenantId && !has.approvalPolicies) return undefined;
  const rows = await c
    .get("db")
    .select()
    .from(approvalPolicies)
    .where(eq(approvalPolicies.tenantId, c.get("principal").tenantId))
    .orderBy(asc(approvalPolicies.createdAt))
    .all();
  return rows
    .filter((p) => p.actions.includes(action) && p.paths.some((glob) => matchesGlob(glob, path)))
    .reduce<ApprovalPolicyRow | undefined>((best, p) => (!best || p.approvalsRequired > best.approvalsRequired ? p : best), undefined);
}

/**
 * Whether `principal` may approve under `policy`: a listed subject or a token it minted (a
 * subject under it, like its console session `lead/console-1a2b3c4d`), or a holder of a listed
 * policy. Subjects cannot be forged (auth/identity.ts: only the subject itself or root mints
 * under it), and votes count once per entity.
 */
export function mayApprove(principal: Principal, policy: Pick<ApprovalPolicyRow, "approverSubjects" | "approverPolicies">): boolean {
  return (
    policy.approverSubjects.some((s) => principal.subject === s || principal.subject.startsWith(`${s}/`)) ||
    policy.approverPolicies.some((name) => principal.policies?.includes(name) ?? false)
  );
}

export function requestState(row: ApprovalRequestRow, now = Date.now()): "pending" | "approved" | "consumed" | "denied" | "expired" {
  if (row.state === "consumed" || row.state === "denied") return row.state;
  return row.expiresAt <= now ? "expired" : row.state;
}

/**
 * Dual control. Call it in a route after `authorize` and input checks, before the
 * change, and put the returned statements in the change's `commit` batch:
 *
 * - no approval policy guards (action, path): returns [] and the action runs;
 * - the caller holds an approved, unexpired request for it: returns the statements
 *   that consume it (a second consumption breaks a primary key, so exactly one
 *   retry succeeds even under concurrency, and a failed change consumes nothing);
 * - otherwise opens (or reuses) a pending request and throws 403
 *   `{approval_request_id, required, received}`.
 *
 * @example
 * const approval = await requireApproval(c, "rotate", path);
 * await commit(c, [...statements, ...approval], { audit, response });
 */
export async function requireApproval(c: Context<AppEnv>, action: GuardedAction, path: string): Promise<BatchItem[]> {
  const policy = await guardingPolicy(c, action, path);
  if (!policy) return [];
  const principal = c.get("principal");
  const db = c.get("db");
  const now = Date.now();
  const open = await db
    .select()
    .from(approvalRequests)
    .where(
      and(
        eq(approvalRequests.tenantId, principal.tenantId),
        eq(approvalRequests.requester, principal.subject),
        eq(approvalRequests.action, action),
        eq(approvalRequests.path, path),
        inArray(approvalRequests.state, ["pending", "approved"]),
        gt(approvalRequests.expiresAt, now),
      ),
    )
    .orderBy(asc(approvalRequests.createdAt))
    .all();
  const approved = open.find((r) => r.state === "approved");
  if (approved) {
    const where = and(eq(approvalRequests.tenantId, principal.tenantId), eq(approvalRequests.id, approved.id));
    return [
      db.insert(approvalConsumptions).values({ tenantId: principal.tenantId, requestId: approved.id, at: now }),
      db.update(approvalRequests).set({ state: "consumed", consumedAt: now }).where(where),
      auditInsert(db, actorOf(c), { action: "approval.consume", resource: `approval:${approved.id}`, detail: { action, path } }, now),
    ];
  }
  let request = open[0];
  if (!request) {
    request = {
      tenantId: principal.tenantId,
      id: `apr_${toHex(randomBytes(12))}`,
      policyId: policy.id,
      action,
      path,
      requester: principal.subject,
      requesterEntity: principal.entity,
      required: policy.approvalsRequired,
      received: 0,
      state: "pending",
      createdAt: now,
      expiresAt: now + policy.requestTtlSeconds * 1000,
      consumedAt: null,
    };
    await commit(c, [db.insert(approvalRequests).values(request)], {
      audit: {
        action: "approval.request",
        resource: `approval:${request.id}`,
        outcome: "denied",
        status: 403,
        detail: { action, path, policy: policy.id, required: request.required },
      },
    });
  }
  throw new Problem(
    403,
    "approval-required",
    `${action} of ${path} needs ${request.required} approval(s); ask an approver to POST /api/v1/secrets/approvals/${request.id}/approve, then retry`,
    { approval_request_id: request.id, required: request.required, received: request.received, expires_at: new Date(request.expiresAt).toISOString() },
  );
}
