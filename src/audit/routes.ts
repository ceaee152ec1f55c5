import { createRoute, z } from "@hono/zod-openapi";
import { authorize } from "../auth/access";
import { auditChain } from "./log";
import { errorResponses, featureApp } from "../http/openapi";
import { SecretPath } from "../secrets/schemas";

const AuditEvent = z
  .object({
    seq: z.number().int().openapi({ description: "Gapless per tenant; the position in the hash chain" }),
    id: z.string(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    resource: z.string().nullable(),
    outcome: z.enum(["success", "denied", "failure"]),
    status: z.number().int(),
    request_id: z.string(),
    detail: z.record(z.string(), z.unknown()).nullable(),
    hash: z.string().nullable(),
  })
  .openapi("AuditEvent");

const AuditQuery = z.object({
  path: z.string().max(256).optional(),
  resource: z.string().max(300).optional(),
  action: z.string().max(64).optional(),
  actor: z.string().max(256).optional(),
  failed_only: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.coerce.number().int().min(1).optional(),
});

const listRoute = createRoute({
  method: "get",
  path: "/",
  summary: "Audit events of the token's tenant, newest first",
  tags: ["audit"],
  request: { query: AuditQuery },
  responses: {
    200: {
      description: "A page of events",
      content: { "application/json": { schema: z.object({ items: z.array(AuditEvent), next_cursor: z.number().nullable() }) } },
    },
    ...errorResponses(400, 401, 403),
  },
});

const verifyRoute = createRoute({
  method: "get",
  path: "/verify",
  summary: "Recompute the tenant's hash chain and name the first bad event",
  tags: ["audit"],
  responses: {
    200: {
      description: "Verification result",
      content: {
        "application/json": {
          schema: z.object({
            ok: z.boolean(),
            checked: z.number().int(),
            first_bad_seq: z.number().int().optional(),
            reason: z.enum(["hash-mismatch", "missing-event", "truncated"]).optional(),
          }),
        },
      },
    },
    ...errorResponses(401, 403),
  },
});

export const auditApp = featureApp()
  .openapi(listRoute, async (c) => {
    await authorize(c, "audit:read", "audit.list");
    const query = c.req.valid("query");
    const tenantId = c.get("principal").tenantId;
    // The tenant's chain object holds the log: every event is numbered and hashed as it is written.
    const resource = query.path ? `secret:${SecretPath.safeParse(query.path).data ?? query.path}` : query.resource;
    if (query.path && query.resource && resource !== query.resource) return c.json({ items: [], next_cursor: null }, 200);
    const page = await auditChain(c.env, tenantId).list(tenantId, {
      resource,
      action: query.action,
      actor: query.actor,
      failedOnly: query.failed_only === "true",
      cursor: query.cursor,
      limit: query.limit,
    });
    return c.json(
      {
        items: page.items.map((row) => ({
          seq: row.seq,
          id: row.id,
          at: new Date(row.at).toISOString(),
          actor: row.actor,
          action: row.action,
          resource: row.resource,
          outcome: row.outcome as "success" | "denied" | "failure",
          status: row.status,
          request_id: row.request_id,
          detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
          hash: row.hash,
        })),
        next_cursor: page.next_cursor,
      },
      200,
    );
  })
  .openapi(verifyRoute, async (c) => {
    await authorize(c, "audit:read", "audit.verify");
    const tenantId = c.get("principal").tenantId;
    return c.json(await auditChain(c.env, tenantId).verify(tenantId), 200);
  });
