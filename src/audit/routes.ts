import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, ne, type SQL } from "drizzle-orm";
import { authorize } from "../auth/access";
import { auditChain } from "./log";
import { auditEvents } from "../db/schema";
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
    // Number and hash what is pending first, so every listed event has its seq.
    await auditChain(c.env, tenantId).seal(tenantId);
    const where: (SQL | undefined)[] = [eq(auditEvents.tenantId, tenantId)];
    if (query.path) where.push(eq(auditEvents.resource, `secret:${SecretPath.safeParse(query.path).data ?? query.path}`));
    if (query.resource) where.push(eq(auditEvents.resource, query.resource));
    if (query.action) where.push(eq(auditEvents.action, query.action));
    if (query.actor) where.push(eq(auditEvents.actor, query.actor));
    if (query.failed_only === "true") where.push(ne(auditEvents.outcome, "success"));
    if (query.cursor) where.push(lt(auditEvents.n, query.cursor));
    const rows = await c
      .get("db")
      .select()
      .from(auditEvents)
      .where(and(...where))
      .orderBy(desc(auditEvents.n))
      .limit(query.limit + 1)
      .all();
    const page = rows.slice(0, query.limit);
    return c.json(
      {
        items: page.map((row) => ({
          seq: row.seq!,
          id: row.id,
          at: new Date(row.at).toISOString(),
          actor: row.actor,
          action: row.action,
          resource: row.resource,
          outcome: row.outcome,
          status: row.status,
          request_id: row.requestId,
          detail: row.detail,
          hash: row.hash,
        })),
        next_cursor: rows.length > query.limit ? page[page.length - 1]!.n : null,
      },
      200,
    );
  })
  .openapi(verifyRoute, async (c) => {
    await authorize(c, "audit:read", "audit.verify");
    const tenantId = c.get("principal").tenantId;
    return c.json(await auditChain(c.env, tenantId).verify(tenantId), 200);
  });
