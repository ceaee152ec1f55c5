import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq } from "drizzle-orm";
import type { Context } from "hono";
import { authorize, onSecret } from "../auth/access";
import { actorOf } from "../audit/log";
import { loadKeyring } from "../crypto/envelope";
import { leaseProviders, staticRoles, staticRotations } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { body, errorResponses, featureApp, iso, json } from "../http/openapi";
import { notFound, Problem } from "../http/problem";
import { MysqlIdentifier, PgIdentifier } from "../leases/providers";
import { ProviderError } from "../leases/providers/types";
import { guardNewVersion } from "../secrets/dual-control";
import { SecretPath } from "../secrets/schemas";
import { findSecretVersion, openVersion } from "../secrets/store";
import { advance, createRun, refOf, type Binding, type Run } from "./engine";

const ProviderRef = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "A provider name");
const Ref = z.string().min(1).max(300);

const BindBody = z
  .strictObject({
    key: SecretPath,
    provider: ProviderRef,
    strategy: z.enum(["single", "alternate"]),
    /** single: [name]; alternate: [a, b]. */
    usernames: z.array(z.string().min(1).max(63)).min(1).max(2),
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(0),
  })
  .refine((b) => (b.strategy === "single" ? b.usernames.length === 1 : b.usernames.length === 2 && b.usernames[0] !== b.usernames[1]), {
    message: "single takes one username, alternate two different ones",
    path: ["usernames"],
  })
  .openapi("StaticRoleBinding");

const BindingView = z
  .object({
    key: z.string(),
    provider: z.string(),
    strategy: z.string(),
    usernames: z.array(z.string()),
    grace_seconds: z.number().int(),
    created_at: z.string(),
    created_by: z.string(),
    updated_at: z.string(),
  })
  .openapi("StaticRole");

const RotateBody = z
  .strictObject({
    provider: ProviderRef,
    key: SecretPath,
    /** The reference the caller believes is current (`<key>@<version>`); a stale one is 409. */
    old_ref: Ref.optional(),
  })
  .openapi("StaticRotationRequest");

const RotationView = z
  .object({
    rotation_id: z.string(),
    key: z.string(),
    provider: z.string(),
    strategy: z.string(),
    state: z.enum(["running", "completed", "rolled_back", "failed"]),
    phase: z.string(),
    old_ref: z.string(),
    new_ref: z.string().nullable(),
    current_ref: z.string().nullable(),
    completed: z.boolean(),
    rolled_back: z.boolean(),
    failed_phase: z.string().nullable(),
    retire_at: z.string().nullable(),
    error: z.string().nullable(),
    created_at: z.string(),
    created_by: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi("StaticRotation");

/**
 * What the API shows of a run: references and state, never a credential. `completed` means the
 * consumer holds the new, verified login (the old one may still be in its grace period until
 * `retire_at`); `rolled_back` that the previous login is published and working again.
 */
export function rotationView(run: Run) {
  const cutOver = run.newVersion !== null && run.republishedVersion === null && run.state !== "rolled_back";
  return {
    rotation_id: run.id,
    key: run.key,
    provider: run.provider,
    strategy: run.strategy,
    state: run.state,
    phase: run.phase,
    old_ref: refOf(run.key, run.oldVersion)!,
    new_ref: refOf(run.key, run.newVersion),
    current_ref: refOf(run.key, run.republishedVersion ?? (cutOver ? run.newVersion : run.oldVersion)),
    completed: run.state === "completed" || (run.state === "running" && run.phase === "retire"),
    rolled_back: run.state === "rolled_back",
    failed_phase: run.failedPhase,
    retire_at: run.state === "running" || run.state === "completed" ? iso(run.retireAt) : null,
    error: run.lastError,
    created_at: iso(run.createdAt)!,
    created_by: run.createdBy,
    finished_at: iso(run.finishedAt),
  };
}

const bindingView = (row: typeof staticRoles.$inferSelect) => ({
  key: row.key,
  provider: row.provider,
  strategy: row.strategy,
  usernames: row.usernames,
  grace_seconds: row.graceSeconds,
  created_at: iso(row.createdAt)!,
  created_by: row.createdBy,
  updated_at: iso(row.updatedAt)!,
});

const bindRoute = createRoute({
  method: "put",
  path: "/rotations/static-roles",
  summary: "Bind a secret path to database logins that static rotation may change (provider administrators)",
  tags: ["rotations"],
  request: body(BindBody),
  responses: { 200: { description: "Bound", ...json(BindingView) }, ...errorResponses(400, 401, 403, 404, 422) },
});

const listBindingsRoute = createRoute({
  method: "get",
  path: "/rotations/static-roles",
  summary: "List the static-role bindings",
  tags: ["rotations"],
  responses: { 200: { description: "Bindings", ...json(z.object({ items: z.array(BindingView) })) }, ...errorResponses(401, 403) },
});

const rotateRoute = createRoute({
  method: "post",
  path: "/rotations",
  summary: "Rotate a database credential now: stage, cut over, verify, retire; rolls back on failure",
  description:
    "Needs `write` on `key` (and the `rotate` approval where an approval policy asks for one). The response carries references, never the credential: 200 when the new login is published and verified, 502 (a problem document with the same fields) when a phase failed and the previous login was restored, 202 while a step is still being retried.",
  tags: ["rotations"],
  request: body(RotateBody),
  responses: {
    200: { description: "Cut over and verified", ...json(RotationView) },
    202: { description: "Still running (the sweeper finishes it)", ...json(RotationView) },
    ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/rotations/{id}",
  summary: "One static rotation (never the credential)",
  tags: ["rotations"],
  request: { params: z.object({ id: z.string().regex(/^rot_[0-9a-f]{24}$/, "Not a rotation id") }) },
  responses: { 200: { description: "The rotation", ...json(RotationView) }, ...errorResponses(400, 401, 403, 404) },
});

const listRoute = createRoute({
  method: "get",
  path: "/rotations",
  summary: "The static rotations of one key, newest first",
  tags: ["rotations"],
  request: { query: z.object({ key: SecretPath, limit: z.coerce.number().int().min(1).max(100).default(20) }) },
  responses: { 200: { description: "Rotations", ...json(z.object({ items: z.array(RotationView) })) }, ...errorResponses(400, 401, 403) },
});

async function databaseProvider(c: Context<AppEnv>, name: string) {
  const row = await c
    .get("db")
    .select({ kind: leaseProviders.kind })
    .from(leaseProviders)
    .where(and(eq(leaseProviders.tenantId, c.get("principal").tenantId), eq(leaseProviders.name, name)))
    .get();
  if (!row) throw notFound("provider");
  if (row.kind !== "postgresql" && row.kind !== "mysql") {
    throw new Problem(422, "not-a-database-provider", `Provider ${name} is a ${row.kind} provider; static rotation needs postgresql or mysql`);
  }
  return row.kind;
}

export const rotationsApp = featureApp()
  .openapi(bindRoute, async (c) => {
    const input = c.req.valid("json");
    // Binding decides which logins a writer of `key` may reset: a provider administrator's call,
    // who must also be allowed to write the key.
    await authorize(c, "providers:admin", "rotation.bind");
    await authorize(c, "secrets:write", "rotation.bind", onSecret(input.key));
    const kind = await databaseProvider(c, input.provider);
    const names = (kind === "postgresql" ? PgIdentifier : MysqlIdentifier).array().safeParse(input.usernames);
    if (!names.success)
      throw new Problem(
        422,
        "invalid-username",
        `Usernames must be ${kind === "postgresql" ? "lower-case PostgreSQL role names" : "MySQL user names of a-z 0-9 _"}`,
      );
    const db = c.get("db");
    const principal = c.get("principal");
    const now = Date.now();
    const row = {
      tenantId: principal.tenantId,
      key: input.key,
      provider: input.provider,
      strategy: input.strategy,
      usernames: input.usernames,
      graceSeconds: input.strategy === "alternate" ? input.grace_seconds : 0,
      createdAt: now,
      createdBy: principal.subject,
      updatedAt: now,
    };
    const view = bindingView(row);
    await commit(
      c,
      [
        db
          .insert(staticRoles)
          .values(row)
          .onConflictDoUpdate({
            target: [staticRoles.tenantId, staticRoles.key],
            set: { provider: row.provider, strategy: row.strategy, usernames: row.usernames, graceSeconds: row.graceSeconds, updatedAt: now },
          }),
      ],
      {
        audit: {
          action: "rotation.bind",
          resource: `secret:${input.key}`,
          detail: { provider: input.provider, strategy: input.strategy, usernames: input.usernames, grace_seconds: row.graceSeconds },
        },
        response: { status: 200, body: view },
      },
    );
    return c.json(view, 200);
  })
  .openapi(listBindingsRoute, async (c) => {
    await authorize(c, "providers:admin", "rotation.list_bindings");
    const rows = await c
      .get("db")
      .select()
      .from(staticRoles)
      .where(eq(staticRoles.tenantId, c.get("principal").tenantId))
      .orderBy(asc(staticRoles.key))
      .all();
    return c.json({ items: rows.map(bindingView) }, 200);
  })
  .openapi(rotateRoute, async (c) => {
    const input = c.req.valid("json");
    // A new version of `key` is a write, and a rotation under dual control.
    await authorize(c, "secrets:write", "secret.rotate", onSecret(input.key));
    const db = c.get("db");
    const principal = c.get("principal");
    const binding = await db
      .select()
      .from(staticRoles)
      .where(and(eq(staticRoles.tenantId, principal.tenantId), eq(staticRoles.key, input.key)))
      .get();
    if (!binding) throw new Problem(404, "not-bound", `No database logins are bound to ${input.key} (PUT /api/v1/secrets/rotations/static-roles)`);
    // The binding names the provider and the logins; the request can only confirm them.
    if (binding.provider !== input.provider) throw new Problem(409, "provider-mismatch", `${input.key} is bound to provider ${binding.provider}`);
    const found = await findSecretVersion(db, principal.tenantId, input.key);
    if (!found || found.secret.deletedAt !== null || !found.version) throw notFound("secret");
    const currentRef = refOf(input.key, found.secret.currentVersion)!;
    if (input.old_ref !== undefined && input.old_ref !== currentRef) {
      throw new Problem(409, "stale-ref", `old_ref is not the current reference of ${input.key}`, { current_ref: currentRef });
    }
    const approvals = await guardNewVersion(c, input.key, found.secret);
    let run: Run | null;
    try {
      const value = await openVersion(loadKeyring(c.env.MASTER_KEYS), found.version);
      const spec: Binding = {
        key: binding.key,
        provider: binding.provider,
        strategy: binding.strategy,
        usernames: binding.usernames,
        graceSeconds: binding.graceSeconds,
      };
      run = await createRun(c.env, db, actorOf(c), spec, { secret: found.secret, value }, "api", { statements: approvals });
    } catch (err) {
      if (err instanceof ProviderError) throw new Problem(422, "not-rotatable", err.message);
      throw err;
    }
    if (!run) throw new Problem(409, "rotation-in-progress", `A rotation of ${input.key} is already running`);
    const done = await advance(c.env, db, run.id, { claimed: true, who: actorOf(c) });
    const view = rotationView(done);
    if (done.state === "rolled_back" || done.state === "failed") {
      throw new Problem(502, "rotation-rolled-back", `The ${done.failedPhase ?? done.phase} phase failed: ${done.lastError ?? "see the audit log"}`, view);
    }
    return c.json(view, done.state === "completed" || done.phase === "retire" ? 200 : 202);
  })
  .openapi(getRoute, async (c) => {
    const db = c.get("db");
    const run = await db
      .select()
      .from(staticRotations)
      .where(and(eq(staticRotations.tenantId, c.get("principal").tenantId), eq(staticRotations.id, c.req.valid("param").id)))
      .get();
    if (!run) {
      await authorize(c, "secrets:write", "rotation.read");
      throw notFound("rotation");
    }
    await authorize(c, "secrets:write", "rotation.read", onSecret(run.key));
    return c.json(rotationView(run), 200);
  })
  .openapi(listRoute, async (c) => {
    const { key, limit } = c.req.valid("query");
    await authorize(c, "secrets:write", "rotation.list", onSecret(key));
    const rows = await c
      .get("db")
      .select()
      .from(staticRotations)
      .where(and(eq(staticRotations.tenantId, c.get("principal").tenantId), eq(staticRotations.key, key)))
      .orderBy(desc(staticRotations.createdAt))
      .limit(limit)
      .all();
    return c.json({ items: rows.map(rotationView) }, 200);
  });
