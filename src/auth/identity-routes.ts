import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import type { Context } from "hono";
import { audit, type AuditActor, type AuditInput } from "../audit/log";
import { randomBytes, toHex } from "../crypto/encoding";
import { apiTokens, authRoles, policies } from "../db/schema";
import { databaseOf, HOME } from "../db/directory";
import { commit } from "../http/commit";
import { enterTenant } from "../http/middleware";
import type { AppEnv } from "../http/context";
import { errorResponses, featureApp, iso, json } from "../http/openapi";
import { badRequest, notFound, Problem } from "../http/problem";
import { Glob, Subject, TenantId } from "../http/rules";
import { authorize } from "./access";
import { checkTopLevelSubject } from "./identity";
import { checkPublicJwks, verifyRoleJwt, type VerifyResult } from "./jwt";
import { PolicyName, PolicyRuleSchema, unknownPolicies } from "./policies";
import { auditRefusal, hashToken, newToken, pastLimit, tooManyFailures, unauthorized } from "./tokens";

// ---- policies ----

const PolicyBody = z
  .strictObject({
    description: z.string().max(1024).optional(),
    rules: z.array(PolicyRuleSchema).min(1).max(64),
  })
  .openapi("PolicyBody");

const PolicyView = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    rules: z.array(PolicyRuleSchema),
    created_at: z.string(),
    updated_at: z.string(),
    updated_by: z.string(),
  })
  .openapi("Policy");

const policyView = (row: typeof policies.$inferSelect) => ({
  name: row.name,
  description: row.description,
  rules: row.rules.map((r) => ({ ...r, effect: r.effect ?? "allow" })) as z.infer<typeof PolicyRuleSchema>[],
  created_at: iso(row.createdAt),
  updated_at: iso(row.updatedAt),
  updated_by: row.updatedBy,
});

const policyParams = z.object({ name: PolicyName.openapi({ param: { name: "name", in: "path" } }) });

const putPolicyRoute = createRoute({
  method: "put",
  path: "/policies/{name}",
  summary: "Create or replace an access policy (auth:admin)",
  tags: ["policies"],
  request: { params: policyParams, body: { required: true, ...json(PolicyBody) } },
  responses: { 200: { description: "Stored", ...json(PolicyView) }, ...errorResponses(400, 401, 403, 415) },
});
const listPoliciesRoute = createRoute({
  method: "get",
  path: "/policies",
  summary: "List access policies (auth:admin)",
  tags: ["policies"],
  responses: { 200: { description: "Policies", ...json(z.object({ items: z.array(PolicyView) })) }, ...errorResponses(401, 403) },
});
const getPolicyRoute = createRoute({
  method: "get",
  path: "/policies/{name}",
  summary: "Read an access policy (auth:admin)",
  tags: ["policies"],
  request: { params: policyParams },
  responses: { 200: { description: "The policy", ...json(PolicyView) }, ...errorResponses(401, 403, 404) },
});
const deletePolicyRoute = createRoute({
  method: "delete",
  path: "/policies/{name}",
  summary: "Delete an access policy; tokens and roles naming it lose its grants at once (auth:admin)",
  tags: ["policies"],
  request: { params: policyParams },
  responses: { 200: { description: "Deleted", ...json(z.object({ name: z.string(), deleted: z.literal(true) })) }, ...errorResponses(401, 403, 404) },
});

// ---- auth roles ----

const RoleName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "1-64 characters of a-z 0-9 _ -");
const ClaimName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, "Printable ASCII");
const ClaimValue = Glob(512);
const Jwk = z.looseObject({ kty: z.enum(["RSA", "EC", "OKP"]), kid: z.string().max(256).optional() });

/** https only, except loopback (local development and tests). */
const JwksUrl = z
  .url()
  .max(2048)
  .refine((u) => {
    const url = new URL(u);
    return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
  }, "jwks_url must be https (http only for localhost)");

const TTL = z
  .number()
  .int()
  .min(60)
  .max(7 * 24 * 3600);

const RoleBody = z
  .strictObject({
    name: RoleName,
    issuer: z.string().min(1).max(512),
    audience: z.union([z.string().min(1).max(512), z.array(z.string().min(1).max(512)).min(1).max(16)]),
    jwks: z
      .strictObject({ keys: z.array(Jwk).min(1).max(32) })
      .optional()
      .openapi({ description: "Inline public JWKS" }),
    jwks_url: JwksUrl.optional().openapi({ description: "Fetched and cached; refetched on an unknown kid (key rotation)" }),
    bound_claims: z
      .record(ClaimName, z.union([ClaimValue, z.array(ClaimValue).min(1).max(64)]))
      .refine((r) => Object.keys(r).length >= 1 && Object.keys(r).length <= 32, "Bind 1-32 claims (without them any token of the issuer would log in)")
      .openapi({ description: "claim (or /json/pointer) -> exact value, list of values, or glob with *" }),
    token_subject: Subject.optional().openapi({
      description: "Subject of issued tokens, e.g. service:ai-service. Default jwt:<role>:<sub>",
    }),
    token_ttl_seconds: TTL.default(3600),
    max_ttl: TTL.optional().openapi({ description: "Seconds; caps ttl_seconds asked at login. Default token_ttl_seconds" }),
    policies: z.array(PolicyName).min(1).max(16),
  })
  .refine((r) => (r.jwks === undefined) !== (r.jwks_url === undefined), { message: "Give exactly one of jwks and jwks_url", path: ["jwks"] })
  .refine((r) => r.max_ttl === undefined || r.max_ttl >= r.token_ttl_seconds, { message: "max_ttl must be at least token_ttl_seconds", path: ["max_ttl"] })
  .openapi("AuthRoleBody");

const RoleView = z
  .object({
    name: z.string(),
    issuer: z.string(),
    audience: z.array(z.string()),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).nullable(),
    jwks_url: z.string().nullable(),
    bound_claims: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
    token_subject: z.string().nullable(),
    token_ttl_seconds: z.number().int(),
    max_ttl: z.number().int(),
    policies: z.array(z.string()),
    created_at: z.string(),
    updated_by: z.string(),
  })
  .openapi("AuthRole");

const roleView = (row: typeof authRoles.$inferSelect) => ({
  name: row.name,
  issuer: row.issuer,
  audience: row.audience,
  jwks: row.jwks,
  jwks_url: row.jwksUrl,
  bound_claims: row.boundClaims,
  token_subject: row.tokenSubject,
  token_ttl_seconds: row.tokenTtlSeconds,
  max_ttl: row.maxTtlSeconds,
  policies: row.policies,
  created_at: iso(row.createdAt),
  updated_by: row.updatedBy,
});

const roleParams = z.object({ name: RoleName.openapi({ param: { name: "name", in: "path" } }) });

const createRoleRoute = createRoute({
  method: "post",
  path: "/roles",
  summary: "Create a JWT/OIDC login role (auth:admin)",
  tags: ["auth"],
  request: { body: { required: true, ...json(RoleBody) } },
  responses: { 201: { description: "Created", ...json(RoleView) }, ...errorResponses(400, 401, 403, 409, 415) },
});
const listRolesRoute = createRoute({
  method: "get",
  path: "/roles",
  summary: "List login roles (auth:admin)",
  tags: ["auth"],
  responses: { 200: { description: "Roles", ...json(z.object({ items: z.array(RoleView) })) }, ...errorResponses(401, 403) },
});
const getRoleRoute = createRoute({
  method: "get",
  path: "/roles/{name}",
  summary: "Read a login role (auth:admin)",
  tags: ["auth"],
  request: { params: roleParams },
  responses: { 200: { description: "The role", ...json(RoleView) }, ...errorResponses(401, 403, 404) },
});
const deleteRoleRoute = createRoute({
  method: "delete",
  path: "/roles/{name}",
  summary: "Delete a login role; tokens it issued stay valid until they expire or are revoked (auth:admin)",
  tags: ["auth"],
  request: { params: roleParams },
  responses: { 200: { description: "Deleted", ...json(z.object({ name: z.string(), deleted: z.literal(true) })) }, ...errorResponses(401, 403, 404) },
});

const LoginBody = z
  .strictObject({
    role: RoleName,
    jwt: z
      .string()
      .min(1)
      .max(16 * 1024),
    tenant: TenantId.optional().openapi({ description: "Tenant of the role; default `default`" }),
    ttl_seconds: TTL.optional().openapi({ description: "At most the role's max_ttl" }),
  })
  .openapi("Login");

const LoginResponse = z
  .object({
    token: z.string(),
    token_id: z.string(),
    tenant: z.string(),
    subject: z.string(),
    policies: z.array(z.string()),
    expires_at: z.string(),
    ttl_seconds: z.number().int(),
  })
  .openapi("LoginResponse");

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  summary: "Exchange a signed JWT (CI OIDC token, Kubernetes service account token) for a short-lived Hush token",
  description:
    "No bearer token. Any verification failure is 401 with one generic message; the reason is audited. Failures are rate-limited per client IP and per role: past the limit the answer is 429 with Retry-After.",
  tags: ["auth"],
  security: [],
  request: { body: { required: true, ...json(LoginBody) } },
  responses: { 200: { description: "A Hush token, shown once", ...json(LoginResponse) }, ...errorResponses(400, 401, 415, 429) },
});

const LOGIN_FAILED = "Login failed: the token was not accepted for this role";

async function findRole(c: Context<AppEnv>, tenantId: string, name: string) {
  return c
    .get("db")
    .select()
    .from(authRoles)
    .where(and(eq(authRoles.tenantId, tenantId), eq(authRoles.name, name)))
    .get();
}

async function requireKnownPolicies(c: Context<AppEnv>, names: string[]) {
  const unknown = await unknownPolicies(c.get("db"), c.get("principal").tenantId, names);
  if (unknown.length) throw badRequest(`No such policies: ${unknown.join(", ")}; create them with PUT /api/v1/auth/policies/{name}`);
}

/** Subject of a login token: the role's fixed subject, or one derived from the JWT's `sub`. */
function loginSubject(role: typeof authRoles.$inferSelect, sub: unknown): string {
  if (role.tokenSubject) return role.tokenSubject;
  const clean = typeof sub === "string" ? sub.replace(/[^\x21-\x7e]/g, "").slice(0, 200) : "";
  return `jwt:${role.name}:${clean || "unknown"}`;
}

/**
 * A JWT login to one of a tenant's roles, shared by every door (the native `POST /auth/login`
 * and the Vault `auth/jwt/login`, `auth/kubernetes/login`): jose verification against the
 * role, the per-IP and per-role failure limits and the bounded audit of failures. A failure
 * throws the one generic 401 (or 429); a success returns the new token's row, its insert and
 * its audit event, for the caller to commit in its own batch (so a Vault login can be wrapped).
 */
export async function loginWithRole(c: Context<AppEnv>, input: { tenantId: string; role: string; jwt: string; ttlSeconds?: number; via?: string }) {
  const tenantId = input.tenantId;
  // No token yet: the tenant named in the body leads to its own database (an unknown one
  // stays in the home database, where no role of it exists).
  const tenantKnown = await enterTenant(c, tenantId);
  const index = (await databaseOf(c.env, tenantId)) ?? HOME;
  const db = c.get("db");
  const who: AuditActor = { tenantId, actor: `role:${input.role}`, requestId: c.get("requestId") };
  const role = await findRole(c, tenantId, input.role);
  const result: VerifyResult = role ? await verifyRoleJwt(input.jwt, role) : { ok: false, reason: "unknown-role" };
  if (!result.ok) {
    // Failures count per client IP (with other failed authentication) and per role name asked
    // for (known or not, so a 429 says nothing about which roles exist). Past either limit the
    // answer is 429 and only the first refusal of the window is audited.
    const [ipLimited, roleLimited] = await Promise.all([
      pastLimit(c.env.AUTH_FAILURE_LIMITER, [`ip:${c.req.header("cf-connecting-ip") ?? "unknown"}`]),
      pastLimit(c.env.LOGIN_FAILURE_LIMITER, [`role:${tenantId}/${input.role}`]),
    ]);
    const limited = ipLimited || roleLimited;
    // The reason is for the operator's audit log only; the caller learns nothing about which check failed.
    if (tenantKnown) {
      // At most LOGIN_AUDIT_LIMITER failures a minute per tenant are audited (many IPs and role
      // names cannot flood the log either), then one event saying the rest were not.
      const budget = !limited && !(await pastLimit(c.env.LOGIN_AUDIT_LIMITER, [`tenant:${tenantId}`]));
      if (budget || (await auditRefusal(c.env, `login:${tenantId}`))) {
        const unaudited = budget ? undefined : ipLimited ? "ip-limit" : roleLimited ? "role-limit" : "audit-limit";
        const detail = {
          reason: result.reason,
          ...(result.claim && { claim: result.claim }),
          ...(unaudited && { rate_limited: unaudited }),
          ...(input.via && { via: input.via }),
        };
        await audit(c, { action: "auth.login", resource: `auth_role:${input.role}`, outcome: "denied", status: limited ? 429 : 401, detail }, who);
      }
    }
    if (limited) throw tooManyFailures();
    throw unauthorized(LOGIN_FAILED);
  }
  const r = role!;
  const ttl = Math.min(input.ttlSeconds ?? r.tokenTtlSeconds, r.maxTtlSeconds);
  const token = newToken(index);
  const now = Date.now();
  const row = {
    id: `tok_${toHex(randomBytes(12))}`,
    tenantId,
    tokenHash: await hashToken(token),
    prefix: token.slice(0, 9),
    subject: loginSubject(r, result.claims.sub),
    scopes: [],
    paths: null,
    policies: r.policies,
    createdAt: now,
    createdBy: `role:${r.name}`,
    expiresAt: now + ttl * 1000,
    revokedAt: null,
    // One entity per person (role and JWT subject), whatever subject the role gives the token.
    entity: `login:${r.name}:${String(result.claims.sub ?? "unknown").slice(0, 200)}`,
    parentId: null,
  };
  const event: AuditInput = {
    action: "auth.login",
    resource: `auth_role:${r.name}`,
    detail: { token_id: row.id, subject: row.subject, policies: row.policies, ttl_seconds: ttl, ...(input.via && { via: input.via }) },
  };
  return { token, row, ttl, role: r, statement: db.insert(apiTokens).values(row), event, actor: who };
}

export const identityApp = featureApp()
  .openapi(putPolicyRoute, async (c) => {
    await authorize(c, "auth:admin", "policy.write");
    const { name } = c.req.valid("param");
    const input = c.req.valid("json");
    const principal = c.get("principal");
    const db = c.get("db");
    const now = Date.now();
    const existing = await db
      .select()
      .from(policies)
      .where(and(eq(policies.tenantId, principal.tenantId), eq(policies.name, name)))
      .get();
    const row = {
      tenantId: principal.tenantId,
      name,
      description: input.description ?? null,
      rules: input.rules,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      updatedBy: principal.subject,
    };
    const response = policyView(row);
    await commit(
      c,
      [
        db
          .insert(policies)
          .values(row)
          .onConflictDoUpdate({
            target: [policies.tenantId, policies.name],
            set: { description: row.description, rules: row.rules, updatedAt: now, updatedBy: row.updatedBy },
          }),
      ],
      {
        audit: { action: existing ? "policy.update" : "policy.create", resource: `policy:${name}`, detail: { rules: input.rules.length } },
        response: { status: 200, body: response },
      },
    );
    return c.json(response, 200);
  })
  .openapi(listPoliciesRoute, async (c) => {
    await authorize(c, "auth:admin", "policy.list");
    const rows = await c
      .get("db")
      .select()
      .from(policies)
      .where(eq(policies.tenantId, c.get("principal").tenantId))
      .orderBy(asc(policies.name))
      .all();
    return c.json({ items: rows.map(policyView) }, 200);
  })
  .openapi(getPolicyRoute, async (c) => {
    await authorize(c, "auth:admin", "policy.read");
    const { name } = c.req.valid("param");
    const row = await c
      .get("db")
      .select()
      .from(policies)
      .where(and(eq(policies.tenantId, c.get("principal").tenantId), eq(policies.name, name)))
      .get();
    if (!row) throw notFound("policy");
    return c.json(policyView(row), 200);
  })
  .openapi(deletePolicyRoute, async (c) => {
    await authorize(c, "auth:admin", "policy.delete");
    const { name } = c.req.valid("param");
    const tenantId = c.get("principal").tenantId;
    const db = c.get("db");
    const where = and(eq(policies.tenantId, tenantId), eq(policies.name, name));
    if (!(await db.select({ name: policies.name }).from(policies).where(where).get())) throw notFound("policy");
    const response = { name, deleted: true as const };
    await commit(c, [db.delete(policies).where(where)], {
      audit: { action: "policy.delete", resource: `policy:${name}` },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  })
  .openapi(createRoleRoute, async (c) => {
    await authorize(c, "auth:admin", "auth_role.create");
    const input = c.req.valid("json");
    const principal = c.get("principal");
    if (input.jwks) {
      const problem = await checkPublicJwks(input.jwks);
      if (problem) throw badRequest(`jwks: ${problem}`);
    }
    await requireKnownPolicies(c, input.policies);
    if (input.token_subject) checkTopLevelSubject(input.token_subject, "token_subject");
    if (await findRole(c, principal.tenantId, input.name)) {
      throw new Problem(409, "role-exists", `Role ${input.name} already exists; delete it first to replace it`);
    }
    const now = Date.now();
    const row = {
      tenantId: principal.tenantId,
      name: input.name,
      issuer: input.issuer,
      audience: Array.isArray(input.audience) ? input.audience : [input.audience],
      jwks: input.jwks ?? null,
      jwksUrl: input.jwks_url ?? null,
      boundClaims: input.bound_claims,
      tokenSubject: input.token_subject ?? null,
      tokenTtlSeconds: input.token_ttl_seconds,
      maxTtlSeconds: input.max_ttl ?? input.token_ttl_seconds,
      policies: input.policies,
      createdAt: now,
      updatedAt: now,
      updatedBy: principal.subject,
    };
    const response = roleView(row);
    await commit(c, [c.get("db").insert(authRoles).values(row)], {
      audit: { action: "auth_role.create", resource: `auth_role:${row.name}`, status: 201, detail: { issuer: row.issuer, policies: row.policies } },
      response: { status: 201, body: response },
    });
    return c.json(response, 201);
  })
  .openapi(listRolesRoute, async (c) => {
    await authorize(c, "auth:admin", "auth_role.list");
    const rows = await c
      .get("db")
      .select()
      .from(authRoles)
      .where(eq(authRoles.tenantId, c.get("principal").tenantId))
      .orderBy(asc(authRoles.name))
      .all();
    return c.json({ items: rows.map(roleView) }, 200);
  })
  .openapi(getRoleRoute, async (c) => {
    await authorize(c, "auth:admin", "auth_role.read");
    const row = await findRole(c, c.get("principal").tenantId, c.req.valid("param").name);
    if (!row) throw notFound("role");
    return c.json(roleView(row), 200);
  })
  .openapi(deleteRoleRoute, async (c) => {
    await authorize(c, "auth:admin", "auth_role.delete");
    const { name } = c.req.valid("param");
    const tenantId = c.get("principal").tenantId;
    if (!(await findRole(c, tenantId, name))) throw notFound("role");
    const response = { name, deleted: true as const };
    await commit(
      c,
      [
        c
          .get("db")
          .delete(authRoles)
          .where(and(eq(authRoles.tenantId, tenantId), eq(authRoles.name, name))),
      ],
      {
        audit: { action: "auth_role.delete", resource: `auth_role:${name}` },
        response: { status: 200, body: response },
      },
    );
    return c.json(response, 200);
  })
  .openapi(loginRoute, async (c) => {
    const input = c.req.valid("json");
    const { token, row, ttl, statement, event, actor } = await loginWithRole(c, {
      tenantId: input.tenant ?? "default",
      role: input.role,
      jwt: input.jwt,
      ttlSeconds: input.ttl_seconds,
    });
    const tenantId = row.tenantId;
    await commit(c, [statement], { audit: event, actor });
    return c.json(
      { token, token_id: row.id, tenant: tenantId, subject: row.subject, policies: row.policies, expires_at: iso(row.expiresAt), ttl_seconds: ttl },
      200,
    );
  });
