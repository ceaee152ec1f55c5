import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, inArray } from "drizzle-orm";
import type { Context } from "hono";
import { allows, authorize, onLeaseRole } from "../auth/access";
import { checkGrant } from "../auth/identity";
import { actorOf } from "../audit/log";
import type { BatchItem } from "../db/client";
import { leaseProviders, leases, LEASE_STATES } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { body, errorResponses, featureApp, iso, json } from "../http/openapi";
import { notFound, Problem } from "../http/problem";
import { leaseObject } from "../../durable-objects/lease";
import { issueLease } from "./issue";
import { EPHEMERAL_PROVIDER, ProviderBody, resolveProvider, RoleName, sealConfig } from "./providers";
import { safeMessage } from "./providers/types";
import { beginRevocation, findLease, leaseResource, leaseView, revocationStatements, sendRevocation, type Lease } from "./store";

const LeaseId = z.string().regex(/^lease_[0-9a-f]{24}$/, "Not a lease id");
const ProviderRef = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "A provider name");

const LeaseMetadata = z
  .object({
    lease_id: z.string(),
    provider: z.string(),
    role: z.string(),
    state: z.enum(LEASE_STATES),
    external_id: z.string().nullable(),
    created_at: z.string(),
    created_by: z.string(),
    expires_at: z.string(),
    max_expires_at: z.string(),
    renewable: z.boolean(),
    revoke_reason: z.string().nullable(),
    revoke_requested_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    failed_at: z.string().nullable(),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
  })
  .openapi("LeaseMetadata");

const IssueBody = z
  .strictObject({
    provider: ProviderRef,
    role: RoleName,
    ttl_seconds: z
      .number()
      .int()
      .min(1)
      .max(366 * 24 * 3600),
  })
  .openapi("IssueLease");

const ProviderMetadata = z
  .object({
    name: z.string(),
    kind: z.string(),
    roles: z.record(z.string(), z.record(z.string(), z.unknown())),
    created_at: z.string(),
    updated_at: z.string(),
    health: z.object({ status: z.enum(["ok", "error"]).nullable(), error: z.string().nullable(), checked_at: z.string().nullable() }),
  })
  .openapi("ProviderMetadata");

const providerView = (row: typeof leaseProviders.$inferSelect) => ({
  name: row.name,
  kind: row.kind,
  roles: row.roles as unknown as Record<string, Record<string, unknown>>,
  created_at: iso(row.createdAt)!,
  updated_at: iso(row.updatedAt)!,
  health: { status: row.healthStatus, error: row.healthError, checked_at: iso(row.healthCheckedAt) },
});

/** The lease, after `lease` was decided on its own provider/role; 404 for another tenant's. */
async function authorizedLease(c: Context<AppEnv>, scope: "leases:read" | "leases:write", action: string, id: string): Promise<{ lease: Lease }> {
  await authorize(c, scope, action);
  const { lease } = await findLease(c.get("db"), c.get("principal").tenantId, id);
  if (!lease) throw notFound("lease");
  await authorize(c, scope, action, onLeaseRole(lease.provider, lease.role));
  return { lease };
}

/** Clears the lease's alarm; if this fails the alarm fires, finds the lease revoked and does nothing. */
function cancelAlarm(c: Context<AppEnv>, leaseId: string): void {
  c.executionCtx.waitUntil(
    leaseObject(c.env, leaseId)
      .cancel(leaseId)
      .catch(() => undefined),
  );
}

const issueRoute = createRoute({
  method: "post",
  path: "/leases",
  summary: "Issue a credential from a provider under a lease; the credential is returned once",
  tags: ["leases"],
  request: body(IssueBody),
  responses: {
    201: { description: "Issued", ...json(LeaseMetadata.extend({ credential: z.record(z.string(), z.unknown()) })) },
    ...errorResponses(400, 401, 403, 404, 502, 503),
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/leases",
  summary: "List leases (metadata only)",
  tags: ["leases"],
  request: {
    query: z.object({
      provider: ProviderRef.optional(),
      role: RoleName.optional(),
      state: z.enum(LEASE_STATES).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(100),
    }),
  },
  responses: { 200: { description: "Leases, newest first", ...json(z.object({ items: z.array(LeaseMetadata) })) }, ...errorResponses(400, 401, 403) },
});

const getRoute = createRoute({
  method: "get",
  path: "/leases/{id}",
  summary: "One lease's metadata (never the credential)",
  tags: ["leases"],
  request: { params: z.object({ id: LeaseId }) },
  responses: { 200: { description: "The lease", ...json(LeaseMetadata) }, ...errorResponses(400, 401, 403, 404) },
});

const renewRoute = createRoute({
  method: "post",
  path: "/leases/{id}/renew",
  summary: "Extend a lease, up to its role's max TTL (400 beyond)",
  tags: ["leases"],
  request: {
    params: z.object({ id: LeaseId }),
    ...body(
      z.strictObject({
        extend_seconds: z
          .number()
          .int()
          .min(1)
          .max(366 * 24 * 3600),
      }),
    ),
  },
  responses: { 200: { description: "Renewed", ...json(LeaseMetadata) }, ...errorResponses(400, 401, 403, 404, 409, 502) },
});

const revokeRoute = createRoute({
  method: "post",
  path: "/leases/{id}/revoke",
  summary: "Revoke now (also retries a failed revocation); the provider revoke runs from the outbox",
  tags: ["leases"],
  request: { params: z.object({ id: LeaseId }) },
  responses: {
    200: { description: "Already revoked or expired", ...json(LeaseMetadata) },
    202: { description: "Revocation under way", ...json(LeaseMetadata) },
    ...errorResponses(401, 403, 404, 409),
  },
});

const revokePrefixRoute = createRoute({
  method: "post",
  path: "/leases/revoke-prefix",
  summary: "Revoke every live (or failed) lease of a provider, or of one of its roles",
  tags: ["leases"],
  request: body(z.strictObject({ provider: ProviderRef, role: RoleName.optional() })),
  responses: {
    202: {
      description: "Revocations started",
      ...json(z.object({ provider: z.string(), role: z.string().nullable(), count: z.number().int(), lease_ids: z.array(z.string()) })),
    },
    ...errorResponses(400, 401, 403),
  },
});

const configureProviderRoute = createRoute({
  method: "post",
  path: "/providers",
  summary: "Create or replace a provider (operator only); its config is sealed and never returned",
  tags: ["leases"],
  request: body(ProviderBody),
  responses: {
    200: { description: "Replaced", ...json(ProviderMetadata) },
    201: { description: "Created", ...json(ProviderMetadata) },
    ...errorResponses(400, 401, 403, 503),
  },
});

const listProvidersRoute = createRoute({
  method: "get",
  path: "/providers",
  summary: "List providers (names, kinds, roles; never their config)",
  tags: ["leases"],
  responses: { 200: { description: "Providers", ...json(z.object({ items: z.array(ProviderMetadata) })) }, ...errorResponses(401, 403) },
});

const healthRoute = createRoute({
  method: "get",
  path: "/providers/health",
  summary: "Check every provider now: ok or error, and when",
  tags: ["leases"],
  responses: {
    200: {
      description: "Each provider's status",
      ...json(
        z.object({
          items: z.array(
            z.object({ name: z.string(), kind: z.string(), status: z.enum(["ok", "error"]), error: z.string().nullable(), checked_at: z.string() }),
          ),
        }),
      ),
    },
    ...errorResponses(401, 403),
  },
});

const HEALTH_TIMEOUT_MS = 10_000;

export const leasesApp = featureApp()
  .openapi(issueRoute, async (c) => {
    const input = c.req.valid("json");
    await authorize(c, "leases:write", "lease.issue", onLeaseRole(input.provider, input.role));
    if (input.provider === EPHEMERAL_PROVIDER) {
      throw new Problem(400, "use-ephemeral-endpoint", "Ephemeral API keys are issued by POST /api/v1/ephemeral/api-keys");
    }
    const resolved = await resolveProvider(c.env, c.get("db"), c.get("principal").tenantId, input.provider);
    if (!resolved) throw notFound("provider");
    const role = resolved.roles[input.role];
    if (!role) throw new Problem(404, "not-found", `Provider ${input.provider} has no role ${input.role}`);
    // A Hush token from a lease never holds more than the caller does.
    if (resolved.kind === "hush-api-key") checkGrant(c.get("principal"), { scopes: role.scopes ?? [], paths: role.paths ?? null });
    const response = await issueLease(c, {
      providerName: resolved.name,
      kind: resolved.kind,
      provider: resolved.provider,
      roleName: input.role,
      role,
      ttlSeconds: input.ttl_seconds,
    });
    return c.json(response, 201);
  })
  .openapi(listRoute, async (c) => {
    await authorize(c, "leases:read", "lease.list");
    const query = c.req.valid("query");
    const rows = await c
      .get("db")
      .select()
      .from(leases)
      .where(
        and(
          eq(leases.tenantId, c.get("principal").tenantId),
          query.provider ? eq(leases.provider, query.provider) : undefined,
          query.role ? eq(leases.role, query.role) : undefined,
          query.state ? eq(leases.state, query.state) : undefined,
        ),
      )
      .orderBy(desc(leases.createdAt))
      .limit(query.limit)
      .all();
    const principal = c.get("principal");
    return c.json({ items: rows.filter((l) => allows(principal, "leases:read", "lease.list", onLeaseRole(l.provider, l.role))).map(leaseView) }, 200);
  })
  .openapi(revokePrefixRoute, async (c) => {
    await authorize(c, "leases:write", "lease.revoke_prefix");
    const input = c.req.valid("json");
    const db = c.get("db");
    const tenantId = c.get("principal").tenantId;
    const matching = await db
      .select()
      .from(leases)
      .where(
        and(
          eq(leases.tenantId, tenantId),
          eq(leases.provider, input.provider),
          input.role ? eq(leases.role, input.role) : undefined,
          inArray(leases.state, ["issued", "failed"]),
        ),
      )
      .orderBy(asc(leases.createdAt))
      .limit(1000)
      .all();
    const who = actorOf(c);
    const principal = c.get("principal");
    const started: string[] = [];
    // One batch per lease: each revocation lands whole, and a large prefix cannot exceed a batch limit.
    // Each lease is decided on its own provider/role: a prefix never reaches past what the caller may revoke.
    for (const lease of matching.filter((l) => allows(principal, "leases:write", "lease.revoke", onLeaseRole(l.provider, l.role)))) {
      const row = await beginRevocation(db, lease, "revoked", who);
      if (!row) continue;
      started.push(lease.id);
      await sendRevocation(c.env, row);
      cancelAlarm(c, lease.id);
    }
    const response = { provider: input.provider, role: input.role ?? null, count: started.length, lease_ids: started };
    await commit(c, [], {
      audit: {
        action: "lease.revoke_prefix",
        resource: `provider:${input.provider}`,
        status: 202,
        detail: { role: input.role ?? null, count: started.length },
      },
      response: { status: 202, body: response },
    });
    return c.json(response, 202);
  })
  .openapi(getRoute, async (c) => {
    const { lease } = await authorizedLease(c, "leases:read", "lease.read", c.req.valid("param").id);
    return c.json(leaseView(lease), 200);
  })
  .openapi(renewRoute, async (c) => {
    const { lease } = await authorizedLease(c, "leases:write", "lease.renew", c.req.valid("param").id);
    const { extend_seconds } = c.req.valid("json");
    const now = Date.now();
    if (lease.state !== "issued" || lease.expiresAt <= now) {
      throw new Problem(409, "lease-not-active", `The lease is ${lease.state === "issued" ? "expired" : lease.state}; issue a new one`);
    }
    const expiresAt = lease.expiresAt + extend_seconds * 1000;
    if (expiresAt > lease.maxExpiresAt) {
      throw new Problem(
        400,
        "beyond-max-ttl",
        `The role's max TTL ends at ${new Date(lease.maxExpiresAt).toISOString()}; extend by at most ${Math.floor((lease.maxExpiresAt - lease.expiresAt) / 1000)} seconds`,
        {
          max_expires_at: new Date(lease.maxExpiresAt).toISOString(),
        },
      );
    }
    const db = c.get("db");
    const resolved = await resolveProvider(c.env, db, lease.tenantId, lease.provider);
    if (!resolved) throw new Problem(409, "provider-missing", `Provider ${lease.provider} is no longer configured`);
    const ref = { id: lease.id, tenantId: lease.tenantId, role: lease.role, externalId: lease.externalId, expiresAt };
    let providerStatements;
    try {
      providerStatements = (await resolved.provider.renew?.(ref, { db, now })) ?? [];
    } catch (err) {
      throw new Problem(502, "provider-failed", `Provider ${lease.provider} could not renew: ${safeMessage(err)}`);
    }
    const renewed = { ...lease, expiresAt };
    // Move the alarm first: an alarm later than the row is harmless (the sweeper covers it), an earlier one re-arms itself.
    await leaseObject(c.env, lease.id).schedule(lease.tenantId, lease.id, expiresAt);
    await commit(
      c,
      [
        db
          .update(leases)
          .set({ expiresAt })
          .where(and(eq(leases.id, lease.id), eq(leases.state, "issued"), eq(leases.expiresAt, lease.expiresAt))),
        ...providerStatements,
      ],
      {
        audit: { action: "lease.renew", resource: leaseResource(lease.id), detail: { extend_seconds, expires_at: new Date(expiresAt).toISOString() } },
        response: { status: 200, body: leaseView(renewed) },
      },
    );
    return c.json(leaseView(renewed), 200);
  })
  .openapi(revokeRoute, async (c) => {
    const { lease } = await authorizedLease(c, "leases:write", "lease.revoke", c.req.valid("param").id);
    const db = c.get("db");
    const change = revocationStatements(db, lease, "revoked");
    if (!change) {
      // Already under way or done: say where it is, change nothing.
      const status = lease.state === "revoking" ? 202 : 200;
      return c.json(leaseView(lease), status);
    }
    const view = leaseView({
      ...lease,
      state: "revoking",
      generation: change.row.generation,
      revokeReason: "revoked",
      revokeRequestedAt: change.row.createdAt,
      failedAt: null,
    });
    await commit(c, change.statements, { audit: change.audit, response: { status: 202, body: view } });
    await sendRevocation(c.env, change.row);
    cancelAlarm(c, lease.id);
    return c.json(view, 202);
  })
  .openapi(configureProviderRoute, async (c) => {
    await authorize(c, "providers:admin", "provider.configure");
    const input = c.req.valid("json");
    // A role that issues Hush tokens can only carry grants its configurer holds.
    if (input.kind === "hush-api-key") {
      for (const role of Object.values(input.roles)) checkGrant(c.get("principal"), { scopes: role.scopes, paths: role.paths ?? null });
    }
    const tenantId = c.get("principal").tenantId;
    const db = c.get("db");
    const where = and(eq(leaseProviders.tenantId, tenantId), eq(leaseProviders.name, input.name));
    const existing = await db.select({ createdAt: leaseProviders.createdAt }).from(leaseProviders).where(where).get();
    const now = Date.now();
    const row = {
      tenantId,
      name: input.name,
      kind: input.kind,
      config: await sealConfig(c.env, tenantId, input.name, input.config),
      roles: input.roles,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      healthStatus: null,
      healthError: null,
      healthCheckedAt: null,
    };
    const status = existing ? 200 : 201;
    const response = providerView(row);
    await commit(
      c,
      [
        db
          .insert(leaseProviders)
          .values(row)
          .onConflictDoUpdate({
            target: [leaseProviders.tenantId, leaseProviders.name],
            set: { kind: row.kind, config: row.config, roles: row.roles, updatedAt: now, healthStatus: null, healthError: null, healthCheckedAt: null },
          }),
      ],
      {
        audit: {
          action: existing ? "provider.update" : "provider.create",
          resource: `provider:${input.name}`,
          status,
          detail: { kind: input.kind, roles: Object.keys(input.roles) },
        },
        response: { status, body: response },
      },
    );
    return c.json(response, status);
  })
  .openapi(listProvidersRoute, async (c) => {
    await authorize(c, "providers:admin", "provider.list");
    const rows = await c
      .get("db")
      .select()
      .from(leaseProviders)
      .where(eq(leaseProviders.tenantId, c.get("principal").tenantId))
      .orderBy(asc(leaseProviders.name))
      .all();
    return c.json({ items: rows.map(providerView) }, 200);
  })
  .openapi(healthRoute, async (c) => {
    await authorize(c, "providers:admin", "provider.health");
    const db = c.get("db");
    const tenantId = c.get("principal").tenantId;
    const rows = await db
      .select({ name: leaseProviders.name })
      .from(leaseProviders)
      .where(eq(leaseProviders.tenantId, tenantId))
      .orderBy(asc(leaseProviders.name))
      .all();
    const names = [EPHEMERAL_PROVIDER, ...rows.map((r) => r.name)];
    const items = await Promise.all(
      names.map(async (name) => {
        let kind = "hush-api-key";
        let error: string | null = null;
        try {
          const resolved = await resolveProvider(c.env, db, tenantId, name);
          if (!resolved) throw new Error("gone");
          kind = resolved.kind;
          await Promise.race([resolved.provider.health({ db }), new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), HEALTH_TIMEOUT_MS))]);
        } catch (err) {
          error = (err as Error)?.message === "timeout" ? `No answer within ${HEALTH_TIMEOUT_MS / 1000} seconds` : safeMessage(err);
        }
        return { name, kind, status: error ? ("error" as const) : ("ok" as const), error, checked_at: new Date().toISOString() };
      }),
    );
    const updates: BatchItem[] = items
      .filter((item) => item.name !== EPHEMERAL_PROVIDER)
      .map((item) =>
        db
          .update(leaseProviders)
          .set({ healthStatus: item.status, healthError: item.error, healthCheckedAt: Date.parse(item.checked_at) })
          .where(and(eq(leaseProviders.tenantId, tenantId), eq(leaseProviders.name, item.name))),
      );
    if (updates.length) await db.batch(updates as [BatchItem, ...BatchItem[]]);
    return c.json({ items }, 200);
  });
