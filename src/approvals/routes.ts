import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Context } from "hono";
import { allows, authorize } from "../auth/access";
import { PolicyName } from "../auth/policies";
import { randomBytes, toHex } from "../crypto/encoding";
import { approvalPolicies, approvalRequests, approvalVotes } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { errorResponses, featureApp, iso, json } from "../http/openapi";
import { forbidden, notFound, Problem } from "../http/problem";
import { PathGlob, Subject } from "../http/rules";
import { DEFAULT_REQUEST_TTL_SECONDS, GUARDED_ACTIONS, mayApprove, requestState, type ApprovalRequestRow } from "./guard";

const ApprovalPolicyBody = z
  .strictObject({
    paths: z.array(PathGlob).min(1).max(32),
    actions: z.array(z.enum(GUARDED_ACTIONS)).min(1),
    approvals_required: z.number().int().min(1).max(10),
    approvers: z
      .strictObject({ subjects: z.array(Subject).max(64).default([]), policies: z.array(PolicyName).max(16).default([]) })
      .refine((a) => a.subjects.length + a.policies.length > 0, "Name at least one approver subject or policy"),
    request_ttl_seconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .default(DEFAULT_REQUEST_TTL_SECONDS),
  })
  .openapi("ApprovalPolicyBody");

const ApprovalPolicyView = z
  .object({
    id: z.string(),
    paths: z.array(z.string()),
    actions: z.array(z.string()),
    approvals_required: z.number().int(),
    approvers: z.object({ subjects: z.array(z.string()), policies: z.array(z.string()) }),
    request_ttl_seconds: z.number().int(),
    created_at: z.string(),
    created_by: z.string(),
  })
  .openapi("ApprovalPolicy");

const policyView = (row: typeof approvalPolicies.$inferSelect) => ({
  id: row.id,
  paths: row.paths,
  actions: row.actions,
  approvals_required: row.approvalsRequired,
  approvers: { subjects: row.approverSubjects, policies: row.approverPolicies },
  request_ttl_seconds: row.requestTtlSeconds,
  created_at: iso(row.createdAt)!,
  created_by: row.createdBy,
});

const ApprovalRequestView = z
  .object({
    id: z.string(),
    action: z.string(),
    path: z.string(),
    requester: z.string(),
    state: z.enum(["pending", "approved", "consumed", "denied", "expired"]),
    required: z.number().int(),
    received: z.number().int(),
    approvers: z.array(z.object({ subject: z.string(), at: z.string() })),
    created_at: z.string(),
    expires_at: z.string(),
    consumed_at: z.string().nullable(),
  })
  .openapi("ApprovalRequest");

const PolicyIdParams = z.object({
  id: z
    .string()
    .regex(/^apol_[0-9a-f]{24}$/, "Not an approval policy id")
    .openapi({ param: { name: "id", in: "path" } }),
});
const RequestIdParams = z.object({
  request_id: z
    .string()
    .regex(/^apr_[0-9a-f]{24}$/, "Not an approval request id")
    .openapi({ param: { name: "request_id", in: "path" } }),
});

const createPolicyRoute = createRoute({
  method: "post",
  path: "/approvals/policies",
  summary: "Create an approval policy: guarded actions on path globs need N approvals (auth:admin)",
  tags: ["approvals"],
  request: { body: { required: true, ...json(ApprovalPolicyBody) } },
  responses: { 201: { description: "Created", ...json(ApprovalPolicyView) }, ...errorResponses(400, 401, 403, 415) },
});
const listPoliciesRoute = createRoute({
  method: "get",
  path: "/approvals/policies",
  summary: "List approval policies",
  tags: ["approvals"],
  responses: { 200: { description: "Policies", ...json(z.object({ items: z.array(ApprovalPolicyView) })) }, ...errorResponses(401, 403) },
});
const deletePolicyRoute = createRoute({
  method: "delete",
  path: "/approvals/policies/{id}",
  summary: "Delete an approval policy (auth:admin)",
  tags: ["approvals"],
  request: { params: PolicyIdParams },
  responses: { 200: { description: "Deleted", ...json(z.object({ id: z.string(), deleted: z.literal(true) })) }, ...errorResponses(401, 403, 404) },
});
const listRequestsRoute = createRoute({
  method: "get",
  path: "/approvals",
  summary: "Open approval requests the caller made or may approve (newest first)",
  tags: ["approvals"],
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }) },
  responses: {
    200: { description: "Requests", ...json(z.object({ items: z.array(ApprovalRequestView.omit({ approvers: true })) })) },
    ...errorResponses(400, 401),
  },
});

const getRequestRoute = createRoute({
  method: "get",
  path: "/approvals/{request_id}",
  summary: "State of an approval request (requester, eligible approvers, auth:admin)",
  tags: ["approvals"],
  request: { params: RequestIdParams },
  responses: { 200: { description: "The request", ...json(ApprovalRequestView) }, ...errorResponses(401, 403, 404) },
});
const approveRoute = createRoute({
  method: "post",
  path: "/approvals/{request_id}/approve",
  summary: "Approve a request; never the requester's own, each approver counts once",
  tags: ["approvals"],
  request: { params: RequestIdParams },
  responses: { 200: { description: "The request after this approval", ...json(ApprovalRequestView) }, ...errorResponses(401, 403, 404, 410) },
});

const denyRoute = createRoute({
  method: "post",
  path: "/approvals/{request_id}/deny",
  summary: "Deny a pending request (an approver, never the requester): it can no longer be approved or used; a retry opens a new one",
  tags: ["approvals"],
  request: { params: RequestIdParams },
  responses: { 200: { description: "The denied request", ...json(ApprovalRequestView) }, ...errorResponses(401, 403, 404, 410) },
});

async function loadRequest(c: Context<AppEnv>, id: string) {
  const tenantId = c.get("principal").tenantId;
  const db = c.get("db");
  const request = await db
    .select()
    .from(approvalRequests)
    .where(and(eq(approvalRequests.tenantId, tenantId), eq(approvalRequests.id, id)))
    .get();
  if (!request) throw notFound("approval request");
  const policy = await db
    .select()
    .from(approvalPolicies)
    .where(and(eq(approvalPolicies.tenantId, tenantId), eq(approvalPolicies.id, request.policyId)))
    .get();
  const votes = await db
    .select()
    .from(approvalVotes)
    .where(and(eq(approvalVotes.tenantId, tenantId), eq(approvalVotes.requestId, id)))
    .orderBy(asc(approvalVotes.at))
    .all();
  return { request, policy, votes };
}

function requestSummary(request: ApprovalRequestRow) {
  return {
    id: request.id,
    action: request.action,
    path: request.path,
    requester: request.requester,
    state: requestState(request),
    required: request.required,
    received: request.received,
    created_at: iso(request.createdAt)!,
    expires_at: iso(request.expiresAt)!,
    consumed_at: iso(request.consumedAt),
  };
}

const requestView = (request: ApprovalRequestRow, votes: { approver: string; at: number }[]) => ({
  ...requestSummary(request),
  approvers: votes.map((v) => ({ subject: v.approver, at: iso(v.at)! })),
});

/**
 * The request an approver may act on (approve or deny): never the requester's own (by entity, so
 * none of the requester's tokens), only an approver of its policy, only while it is open. Refusals
 * are audited under `action`.
 */
async function decidable(c: Context<AppEnv>, requestId: string, action: "approval.approve" | "approval.deny") {
  const principal = c.get("principal");
  const { request, policy, votes } = await loadRequest(c, requestId);
  const resource = `approval:${request.id}`;
  const verb = action === "approval.approve" ? "approve" : "deny";
  const refuse = async (problem: Problem, reason: string) => {
    await commit(c, [], { audit: { action, resource, outcome: "denied", status: problem.status, detail: { reason } } });
    return problem;
  };
  // By entity: a token the requester minted (or another login of the same person) is still the requester.
  if (request.requester === principal.subject || request.requesterEntity === principal.entity) {
    throw await refuse(forbidden(`The requester can never ${verb} their own request, with any of its tokens`), "self-approval");
  }
  if (!policy || !mayApprove(principal, policy)) throw await refuse(forbidden("This token is not an approver for this request"), "not-approver");
  const state = requestState(request);
  if (state === "expired") throw await refuse(new Problem(410, "approval-expired", "The request has expired; retry the action to open a new one"), "expired");
  if (state === "consumed") throw await refuse(new Problem(410, "approval-consumed", "The approval was already used"), "consumed");
  if (state === "denied") throw await refuse(new Problem(410, "approval-denied", "The request was denied; retry the action to open a new one"), "denied");
  return { request, votes, resource };
}

const isAuthAdmin = (c: Context<AppEnv>) => allows(c.get("principal"), "auth:admin", "approval.read");

export const approvalsApp = featureApp()
  .openapi(createPolicyRoute, async (c) => {
    await authorize(c, "auth:admin", "approval_policy.create");
    const input = c.req.valid("json");
    const principal = c.get("principal");
    const row = {
      tenantId: principal.tenantId,
      id: `apol_${toHex(randomBytes(12))}`,
      paths: input.paths,
      actions: [...new Set(input.actions)],
      approvalsRequired: input.approvals_required,
      approverSubjects: input.approvers.subjects,
      approverPolicies: input.approvers.policies,
      requestTtlSeconds: input.request_ttl_seconds,
      createdAt: Date.now(),
      createdBy: principal.subject,
    };
    const response = policyView(row);
    await commit(c, [c.get("db").insert(approvalPolicies).values(row)], {
      audit: {
        action: "approval_policy.create",
        resource: `approval_policy:${row.id}`,
        status: 201,
        detail: { paths: row.paths, actions: row.actions, required: row.approvalsRequired },
      },
      response: { status: 201, body: response },
    });
    return c.json(response, 201);
  })
  .openapi(listPoliciesRoute, async (c) => {
    await authorize(c, "auth:admin", "approval_policy.list");
    const rows = await c
      .get("db")
      .select()
      .from(approvalPolicies)
      .where(eq(approvalPolicies.tenantId, c.get("principal").tenantId))
      .orderBy(asc(approvalPolicies.createdAt))
      .all();
    return c.json({ items: rows.map(policyView) }, 200);
  })
  .openapi(deletePolicyRoute, async (c) => {
    await authorize(c, "auth:admin", "approval_policy.delete");
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const where = and(eq(approvalPolicies.tenantId, c.get("principal").tenantId), eq(approvalPolicies.id, id));
    if (!(await db.select({ id: approvalPolicies.id }).from(approvalPolicies).where(where).get())) throw notFound("approval policy");
    const response = { id, deleted: true as const };
    await commit(c, [db.delete(approvalPolicies).where(where)], {
      audit: { action: "approval_policy.delete", resource: `approval_policy:${id}` },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  })
  .openapi(listRequestsRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const now = Date.now();
    const [requests, policies] = await Promise.all([
      db
        .select()
        .from(approvalRequests)
        .where(
          and(eq(approvalRequests.tenantId, principal.tenantId), inArray(approvalRequests.state, ["pending", "approved"]), gt(approvalRequests.expiresAt, now)),
        )
        .orderBy(desc(approvalRequests.createdAt))
        .limit(1000)
        .all(),
      db.select().from(approvalPolicies).where(eq(approvalPolicies.tenantId, principal.tenantId)).all(),
    ]);
    const approverOf = new Set(policies.filter((p) => mayApprove(principal, p)).map((p) => p.id));
    const admin = isAuthAdmin(c);
    const mine = requests.filter((r) => admin || r.requester === principal.subject || approverOf.has(r.policyId)).slice(0, c.req.valid("query").limit);
    return c.json({ items: mine.map(requestSummary) }, 200);
  })
  .openapi(getRequestRoute, async (c) => {
    const { request_id } = c.req.valid("param");
    const principal = c.get("principal");
    const { request, policy, votes } = await loadRequest(c, request_id);
    const involved = request.requester === principal.subject || (policy && mayApprove(principal, policy)) || isAuthAdmin(c);
    if (!involved) throw forbidden("Only the requester, its approvers and auth admins may see this request");
    return c.json(requestView(request, votes), 200);
  })
  .openapi(approveRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const { request, votes, resource } = await decidable(c, c.req.valid("param").request_id, "approval.approve");
    const already = votes.some((v) => v.approverEntity === principal.entity);
    const now = Date.now();
    const where = and(eq(approvalRequests.tenantId, principal.tenantId), eq(approvalRequests.id, request.id));
    // Distinct entities: one person's many tokens are one approval.
    const count = sql`(SELECT COUNT(DISTINCT approver_entity) FROM approval_votes WHERE tenant_id = ${principal.tenantId} AND request_id = ${request.id})`;
    // The count is recomputed from the votes table inside the batch, so concurrent approvals cannot lose or double a vote.
    await commit(
      c,
      [
        db
          .insert(approvalVotes)
          .values({ tenantId: principal.tenantId, requestId: request.id, approver: principal.subject, approverEntity: principal.entity, at: now })
          .onConflictDoNothing(),
        db
          .update(approvalRequests)
          .set({ received: count, state: sql`CASE WHEN ${count} >= ${approvalRequests.required} THEN 'approved' ELSE ${approvalRequests.state} END` })
          .where(and(where, eq(approvalRequests.state, request.state))),
      ],
      { audit: { action: "approval.approve", resource, detail: { counted: !already, action: request.action, path: request.path } } },
    );
    const after = await loadRequest(c, request.id);
    return c.json(requestView(after.request, after.votes), 200);
  })
  .openapi(denyRoute, async (c) => {
    const principal = c.get("principal");
    const { request, resource } = await decidable(c, c.req.valid("param").request_id, "approval.deny");
    const where = and(eq(approvalRequests.tenantId, principal.tenantId), eq(approvalRequests.id, request.id), eq(approvalRequests.state, request.state));
    await commit(c, [c.get("db").update(approvalRequests).set({ state: "denied" }).where(where)], {
      audit: { action: "approval.deny", resource, detail: { action: request.action, path: request.path } },
    });
    const after = await loadRequest(c, request.id);
    return c.json(requestView(after.request, after.votes), 200);
  });
