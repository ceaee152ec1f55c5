import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull, lte } from "drizzle-orm";
import type { Context } from "hono";
import { apiTokens, tenants } from "../db/schema";
import { database as drizzleOf } from "../db/client";
import { auditChain } from "../audit/log";
import { databaseCount, databaseOf, d1Databases, forgetAuditChainCount, MAX_AUDIT_CHAINS, placeNewTenant } from "../db/directory";
import { commit } from "../http/commit";
import { enterTenant } from "../http/middleware";
import type { AppEnv } from "../http/context";
import { errorResponses, featureApp, iso, json } from "../http/openapi";
import { badRequest, notFound, Problem } from "../http/problem";
import { PathGlob as Glob, Subject, TenantId } from "../http/rules";
import { authorize, DEPLOYMENT, SCOPES } from "./access";
import { mintToken, revokeWithDescendants } from "./identity";
import { PolicyName, unknownPolicies } from "./policies";

const DEFAULT_TTL_SECONDS = 30 * 24 * 3600;
const MAX_TTL_SECONDS = 366 * 24 * 3600;

const CreateTokenBody = z
  .strictObject({
    subject: Subject,
    scopes: z.array(z.enum(SCOPES)).default([]),
    paths: z.array(Glob).min(1).max(32).optional(),
    policies: z.array(PolicyName).max(16).optional().openapi({ description: "Access policies the token carries" }),
    ttl_seconds: z.number().int().min(60).max(MAX_TTL_SECONDS).optional().openapi({ description: "Default 30 days" }),
    tenant: TenantId.optional().openapi({ description: "Root token only: create the token in another tenant" }),
  })
  .refine((b) => b.scopes.length > 0 || (b.policies?.length ?? 0) > 0, { message: "Give at least one scope or policy", path: ["scopes"] })
  .openapi("CreateToken");

const TokenMetadata = z
  .object({
    id: z.string(),
    tenant: z.string(),
    subject: z.string(),
    prefix: z.string(),
    scopes: z.array(z.string()),
    paths: z.array(z.string()).nullable(),
    policies: z.array(z.string()),
    created_at: z.string(),
    created_by: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    entity: z.string().openapi({ description: "The root- or login-issued identity behind the token" }),
    parent_id: z.string().nullable().openapi({ description: "The token that minted this one; revoking it revokes this one" }),
  })
  .openapi("TokenMetadata");

const tokenView = (row: typeof apiTokens.$inferSelect) => ({
  id: row.id,
  tenant: row.tenantId,
  subject: row.subject,
  prefix: row.prefix,
  scopes: row.scopes,
  paths: row.paths,
  policies: row.policies ?? [],
  created_at: iso(row.createdAt)!,
  created_by: row.createdBy,
  expires_at: iso(row.expiresAt),
  revoked_at: iso(row.revokedAt),
  entity: row.entity,
  parent_id: row.parentId,
});

/**
 * Root names another tenant (`tenant` in the body or query): the rest of the request runs as
 * root in that tenant, in its database (docs/decisions.md). 404 for a tenant that does not exist.
 */
async function asRootIn(c: Context<AppEnv>, tenantId: string, action: string): Promise<void> {
  await authorize(c, "tokens:admin", action, DEPLOYMENT);
  if (!(await enterTenant(c, tenantId))) throw notFound("tenant");
}

const createTokenRoute = createRoute({
  method: "post",
  path: "/tokens",
  summary: "Create an API token; the token is returned once, only its SHA-256 is stored",
  tags: ["tokens"],
  request: { body: { required: true, ...json(CreateTokenBody) } },
  responses: {
    201: { description: "Created", ...json(TokenMetadata.extend({ token: z.string() })) },
    ...errorResponses(400, 401, 403, 404, 415),
  },
});

const listTokensRoute = createRoute({
  method: "get",
  path: "/tokens",
  summary: "List tokens (metadata only)",
  tags: ["tokens"],
  request: {
    query: z.object({
      subject: z.string().max(256).optional(),
      include_revoked: z.enum(["true", "false"]).optional(),
      tenant: TenantId.optional(),
    }),
  },
  responses: { 200: { description: "Tokens", ...json(z.object({ items: z.array(TokenMetadata) })) }, ...errorResponses(401, 403) },
});

const selfRoute = createRoute({
  method: "get",
  path: "/tokens/self",
  summary: "The calling token's own metadata",
  tags: ["tokens"],
  responses: { 200: { description: "This token", ...json(TokenMetadata.partial()) }, ...errorResponses(401) },
});

const revokeRoute = createRoute({
  method: "delete",
  path: "/tokens/{id}",
  summary: "Revoke a token; it gets 401 at once",
  tags: ["tokens"],
  request: { params: z.object({ id: z.string().regex(/^tok_[0-9a-f]{24}$/, "Not a token id") }) },
  responses: { 200: { description: "Revoked", ...json(TokenMetadata) }, ...errorResponses(401, 403, 404) },
});

const createTenantRoute = createRoute({
  method: "post",
  path: "/tenants",
  summary: "Create a tenant (root token only)",
  tags: ["tenants"],
  request: {
    body: {
      required: true,
      ...json(
        z.strictObject({
          id: TenantId,
          name: z.string().min(1).max(256).optional(),
          database: z.number().int().min(0).max(999).optional().openapi({
            description: "Index of the D1 database (DB, DB_1, ...) to place the tenant in; default: the one with the fewest tenants",
          }),
        }),
      ),
    },
  },
  responses: {
    201: { description: "Created", ...json(z.object({ id: z.string(), name: z.string(), created_at: z.string(), database: z.number().int() })) },
    ...errorResponses(400, 401, 403, 409),
  },
});

const listTenantsRoute = createRoute({
  method: "get",
  path: "/tenants",
  summary: "List tenants (root token only)",
  tags: ["tenants"],
  responses: {
    200: {
      description: "Tenants",
      ...json(
        z.object({
          items: z.array(z.object({ id: z.string(), name: z.string(), created_at: z.string(), database: z.number().int(), audit_chains: z.number().int() })),
        }),
      ),
    },
    ...errorResponses(401, 403),
  },
});

const TenantView = z.object({ id: z.string(), name: z.string(), created_at: z.string(), database: z.number().int(), audit_chains: z.number().int() });

const updateTenantRoute = createRoute({
  method: "patch",
  path: "/tenants/{id}",
  summary: "Change a tenant's settings (root token only): how many audit chains its events spread over",
  tags: ["tenants"],
  request: {
    params: z.object({ id: TenantId }),
    body: {
      required: true,
      ...json(
        z.strictObject({
          audit_chains: z.number().int().min(1).max(MAX_AUDIT_CHAINS).openapi({
            description:
              "How many audit chains (Durable Objects, about 1,000 events/s each) the tenant's events spread over. Only grows: a lower number is a 400.",
          }),
        }),
      ),
    },
  },
  responses: { 200: { description: "Updated", ...json(TenantView) }, ...errorResponses(400, 401, 403, 404, 415) },
});

export const authApp = featureApp()
  .openapi(createTokenRoute, async (c) => {
    await authorize(c, "tokens:admin", "token.create");
    const principal = c.get("principal");
    const input = c.req.valid("json");
    const tenantId = input.tenant ?? principal.tenantId;
    if (tenantId !== principal.tenantId) await asRootIn(c, tenantId, "token.create");
    const unknown = await unknownPolicies(c.get("db"), tenantId, input.policies ?? []);
    if (unknown.length) throw badRequest(`No such policies: ${unknown.join(", ")}`);
    const now = Date.now();
    // Nested subject, grants within the caller's, expiry no later than the caller's (identity.ts).
    const { row, token } = await mintToken(
      c.get("principal"),
      {
        tenantId,
        subject: input.subject,
        scopes: input.scopes,
        paths: input.paths,
        policies: input.policies,
        expiresAt: now + (input.ttl_seconds ?? DEFAULT_TTL_SECONDS) * 1000,
      },
      now,
    );
    const response = { ...tokenView(row), token };
    await commit(c, [c.get("db").insert(apiTokens).values(row)], {
      audit: {
        action: "token.create",
        resource: `token:${row.id}`,
        status: 201,
        detail: { subject: row.subject, scopes: row.scopes, tenant: tenantId, parent: row.parentId },
      },
      response: { status: 201, body: response, oneTime: ["token"] },
    });
    return c.json(response, 201);
  })
  .openapi(listTokensRoute, async (c) => {
    await authorize(c, "tokens:admin", "token.list");
    const principal = c.get("principal");
    const query = c.req.valid("query");
    const tenantId = query.tenant ?? principal.tenantId;
    if (tenantId !== principal.tenantId) await asRootIn(c, tenantId, "token.list");
    const rows = await c
      .get("db")
      .select()
      .from(apiTokens)
      .where(
        and(
          eq(apiTokens.tenantId, tenantId),
          query.subject ? eq(apiTokens.subject, query.subject) : undefined,
          query.include_revoked === "true" ? undefined : isNull(apiTokens.revokedAt),
        ),
      )
      .orderBy(asc(apiTokens.createdAt))
      .limit(1000)
      .all();
    return c.json({ items: rows.map(tokenView) }, 200);
  })
  .openapi(selfRoute, async (c) => {
    const p = c.get("principal");
    if (p.isRoot) {
      return c.json({ id: "root", tenant: p.tenantId, subject: p.subject, scopes: [...p.scopes], paths: null, policies: [], expires_at: null }, 200);
    }
    const row = await c.get("db").select().from(apiTokens).where(eq(apiTokens.id, p.tokenId)).get();
    if (!row) throw notFound("token");
    return c.json(tokenView(row), 200);
  })
  .openapi(revokeRoute, async (c) => {
    const { id } = c.req.valid("param");
    const principal = c.get("principal");
    // Revoking itself is always allowed: a leaked token can be killed with itself.
    if (id !== principal.tokenId) await authorize(c, "tokens:admin", "token.revoke");
    let row = await c.get("db").select().from(apiTokens).where(eq(apiTokens.id, id)).get();
    if (!row && principal.isRoot) {
      // Root administers every tenant: a token id alone may name one in another database.
      for (const d1 of d1Databases(c.env)) {
        row = await drizzleOf(d1).select().from(apiTokens).where(eq(apiTokens.id, id)).get();
        if (row) break;
      }
    }
    if (!row || (row.tenantId !== principal.tenantId && !principal.isRoot)) throw notFound("token");
    if (row.tenantId !== principal.tenantId) await asRootIn(c, row.tenantId, "token.revoke");
    const db = c.get("db");
    const now = row.revokedAt ?? Date.now();
    const response = tokenView({ ...row, revokedAt: now });
    // Every token minted under it goes with it.
    await commit(c, [revokeWithDescendants(db, row.tenantId, id, now)], {
      audit: { action: "token.revoke", resource: `token:${id}` },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  })
  .openapi(createTenantRoute, async (c) => {
    await authorize(c, "tokens:admin", "tenant.create", DEPLOYMENT);
    const input = c.req.valid("json");
    if ((await databaseOf(c.env, input.id)) !== null) throw new Problem(409, "tenant-exists", `Tenant ${input.id} already exists`);
    if (input.database !== undefined && input.database >= databaseCount(c.env)) {
      throw badRequest(`There is no database ${input.database}: this deployment has ${databaseCount(c.env)} (DB, DB_1, ...)`);
    }
    // The placement rule (src/db/directory.ts), unless the operator pins the tenant.
    const placed = input.database ?? (await placeNewTenant(c.env));
    const row = { id: input.id, name: input.name ?? input.id, createdAt: Date.now(), database: placed };
    const response = { id: row.id, name: row.name, created_at: new Date(row.createdAt).toISOString(), database: row.database };
    await commit(c, [c.get("db").insert(tenants).values(row)], {
      audit: { action: "tenant.create", resource: `tenant:${row.id}`, status: 201 },
      response: { status: 201, body: response },
    });
    return c.json(response, 201);
  })
  .openapi(updateTenantRoute, async (c) => {
    await authorize(c, "tokens:admin", "tenant.update", DEPLOYMENT);
    const { id } = c.req.valid("param");
    const { audit_chains: chains } = c.req.valid("json");
    const db = c.get("db");
    const read = () => db.select().from(tenants).where(eq(tenants.id, id)).get();
    const row = await read();
    if (!row) throw notFound("tenant");
    // Lowering would hide the higher chains' events from listing and verify (docs/decisions.md, "Several audit chains").
    if (chains < row.auditChains) throw badRequest(`audit_chains only grows: tenant ${id} has ${row.auditChains}`);
    if (chains > row.auditChains) {
      // Chain 0 learns the count first: listing and verify take the larger of it and the directory's,
      // so a failure between the two writes, or a directory row lowered later, hides no chain.
      await auditChain(c.env, id, 0).grow(chains);
      await commit(
        c,
        [
          db
            .update(tenants)
            .set({ auditChains: chains })
            .where(and(eq(tenants.id, id), lte(tenants.auditChains, chains))),
        ],
        {
          audit: { action: "tenant.update", resource: `tenant:${id}`, detail: { audit_chains: { from: row.auditChains, to: chains } } },
        },
      );
      forgetAuditChainCount(id);
    }
    const now = (await read())!;
    return c.json(
      { id: now.id, name: now.name, created_at: new Date(now.createdAt).toISOString(), database: now.database, audit_chains: now.auditChains },
      200,
    );
  })
  .openapi(listTenantsRoute, async (c) => {
    await authorize(c, "tokens:admin", "tenant.list", DEPLOYMENT);
    const rows = await c.get("db").select().from(tenants).orderBy(asc(tenants.id)).all();
    return c.json(
      {
        items: rows.map((r) => ({
          id: r.id,
          name: r.name,
          created_at: new Date(r.createdAt).toISOString(),
          database: r.database,
          audit_chains: r.auditChains,
        })),
      },
      200,
    );
  });
