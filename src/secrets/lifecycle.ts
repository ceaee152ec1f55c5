import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, isNotNull, lt, lte, sql } from "drizzle-orm";
import { authorize } from "../auth/access";
import { loadKeyring } from "../crypto/envelope";
import type { BatchItem } from "../db/client";
import { secrets, secretVersions } from "../db/schema";
import { commit } from "../http/commit";
import { errorResponses, featureApp, iso } from "../http/openapi";
import { notFound, Problem } from "../http/problem";
import { guardDestroy, guardMaxVersions, guardNewVersion } from "./dual-control";
import { body, json, metadataChanges, requireRotationPeriod, valueFrom } from "./input";
import { openAudited, readValue, secretResource } from "./read";
import {
  DestroyBody,
  HistoryQuery,
  PatchMetadataBody,
  PathParams,
  RecoverBody,
  RotateBody,
  SecretMetadata,
  SecretValue,
  VersionList,
  VersionsQuery,
} from "./schemas";
import {
  destroyVersions,
  findSecret,
  findSecretVersion,
  metadataView,
  nextRotationAt,
  nextVersionStatements,
  pruneBeyondMaxVersions,
  sealVersion,
} from "./store";

const WrittenVersion = SecretMetadata.extend({ version: z.number().int() });

/*
 * Routes under /store/ that are more specific than /store/{path}: they are
 * registered before the generic ones (see routes.ts), and secret paths may neither
 * start with history/recover/undelete/destroy/import nor end with
 * versions/metadata/rotate, so no secret can shadow them.
 */

const historyRoute = createRoute({
  method: "get",
  path: "/store/history/{path{.+}}",
  summary: "Read one historical version's value (audited)",
  tags: ["secrets"],
  request: { params: PathParams, query: HistoryQuery },
  responses: { 200: { description: "The value", ...json(SecretValue) }, ...errorResponses(400, 401, 403, 404, 409, 410, 422, 500, 503) },
});

const recoverRoute = createRoute({
  method: "post",
  path: "/store/recover/{path{.+}}",
  summary: "Republish the version that was current at `at` as the next version (also brings back a deleted path)",
  tags: ["secrets"],
  request: { params: PathParams, ...body(RecoverBody) },
  responses: {
    200: { description: "Recovered", ...json(WrittenVersion.extend({ recovered_from: z.number().int() })) },
    ...errorResponses(400, 401, 403, 404, 409, 410, 500, 503),
  },
});

const undeleteRoute = createRoute({
  method: "post",
  path: "/store/undelete/{path{.+}}",
  summary: "Restore a soft-deleted secret",
  tags: ["secrets"],
  request: { params: PathParams },
  responses: { 200: { description: "Restored", ...json(SecretMetadata) }, ...errorResponses(401, 403, 404, 409) },
});

const destroyRoute = createRoute({
  method: "post",
  path: "/store/destroy/{path{.+}}",
  summary: "Destroy versions for good (crypto-shredding); their metadata stays, marked destroyed",
  tags: ["secrets"],
  request: { params: PathParams, ...body(DestroyBody) },
  responses: {
    200: {
      description: "Destroyed",
      ...json(z.object({ path: z.string(), destroyed: z.array(z.number().int()), already_destroyed: z.array(z.number().int()) })),
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const versionsRoute = createRoute({
  method: "get",
  path: "/store/{path{.+}}/versions",
  summary: "List a secret's versions, newest first (metadata only, never values)",
  tags: ["secrets"],
  request: { params: PathParams, query: VersionsQuery },
  responses: { 200: { description: "Versions", ...json(VersionList) }, ...errorResponses(400, 401, 403, 404) },
});

const metadataRoute = createRoute({
  method: "patch",
  path: "/store/{path{.+}}/metadata",
  summary: "Change metadata without writing a version",
  tags: ["secrets"],
  request: { params: PathParams, ...body(PatchMetadataBody) },
  responses: { 200: { description: "Updated", ...json(SecretMetadata) }, ...errorResponses(400, 401, 403, 404, 409, 422) },
});

const rotateRoute = createRoute({
  method: "post",
  path: "/store/{path{.+}}/rotate",
  summary: "Write the next version; with expire_old_after_seconds the previous one stops reading by number after the grace period",
  tags: ["secrets"],
  request: { params: PathParams, ...body(RotateBody) },
  responses: {
    200: { description: "Rotated", ...json(WrittenVersion.extend({ previous_readable_until: z.string().nullable() })) },
    ...errorResponses(400, 401, 403, 404, 409, 413, 503),
  },
});

/** The secret row, or 404; a soft-deleted one counts as missing unless `deletedToo`. */
async function existingSecret(c: Parameters<typeof authorize>[0], path: string, deletedToo = false) {
  const found = await findSecret(c.get("db"), c.get("principal").tenantId, path);
  if (!found || (!deletedToo && found.deletedAt !== null)) throw notFound("secret");
  return found;
}

export const lifecycleApp = featureApp()
  .openapi(historyRoute, async (c) => {
    const { path } = c.req.valid("param");
    return c.json(await readValue(c, path, c.req.valid("query"), "history"), 200);
  })
  .openapi(recoverRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.recover", path);
    const at = Date.parse(c.req.valid("json").at);
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const existing = await existingSecret(c, path, true);
    // Versions are written in time order, so the newest one created by `at` was current then.
    const source = await db
      .select()
      .from(secretVersions)
      .where(and(eq(secretVersions.tenantId, principal.tenantId), eq(secretVersions.path, path), lte(secretVersions.createdAt, at)))
      .orderBy(desc(secretVersions.version))
      .limit(1)
      .get();
    if (!source) throw new Problem(404, "not-found", `${path} had no version at ${new Date(at).toISOString()}`);
    if (source.state === "destroyed") {
      throw new Problem(410, "version-destroyed", `Version ${source.version}, current at that time, was destroyed`);
    }
    // Republishing an old value is a rotation: dual control may guard it.
    const approval = await guardNewVersion(c, path, existing);
    const value = await openAudited(c, source);
    const now = Date.now();
    const version = existing.currentVersion + 1;
    const sealed = await sealVersion(keyring, principal.tenantId, path, version, value);
    const { statements, updated } = nextVersionStatements(db, existing, {
      version,
      sealed,
      now,
      actor: principal.subject,
      sourceVersion: source.version,
    });
    const response = { ...metadataView(updated), version, recovered_from: source.version };
    await commit(c, [...statements, ...approval], {
      audit: { action: "secret.recover", resource: secretResource(path), detail: { version, from_version: source.version, at } },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  })
  .openapi(undeleteRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.undelete", path);
    const principal = c.get("principal");
    const db = c.get("db");
    const existing = await existingSecret(c, path, true);
    if (existing.deletedAt === null) throw new Problem(409, "not-deleted", `${path} is not deleted`);
    const now = Date.now();
    const updated = { ...existing, deletedAt: null, updatedAt: now, updatedBy: principal.subject };
    const response = metadataView(updated);
    await commit(
      c,
      [
        db
          .update(secrets)
          .set({ deletedAt: null, updatedAt: now, updatedBy: principal.subject })
          .where(and(eq(secrets.tenantId, principal.tenantId), eq(secrets.path, path), isNotNull(secrets.deletedAt))),
      ],
      { audit: { action: "secret.undelete", resource: secretResource(path) }, response: { status: 200, body: response } },
    );
    return c.json(response, 200);
  })
  .openapi(destroyRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:delete", "secret.destroy", path);
    const principal = c.get("principal");
    const db = c.get("db");
    await existingSecret(c, path, true);
    const asked = [...new Set(c.req.valid("json").versions)].sort((a, b) => a - b);
    // One bound parameter for the whole list (D1 allows 100 per statement).
    const inAsked = sql`${secretVersions.version} IN (SELECT value FROM json_each(${JSON.stringify(asked)}))`;
    const rows = await db
      .select({ version: secretVersions.version, state: secretVersions.state })
      .from(secretVersions)
      .where(and(eq(secretVersions.tenantId, principal.tenantId), eq(secretVersions.path, path), inAsked))
      .all();
    const known = new Map(rows.map((r) => [r.version, r.state]));
    const missing = asked.filter((v) => !known.has(v));
    if (missing.length) throw new Problem(404, "version-not-found", `No such versions of ${path}: ${missing.join(", ")}`, { versions: missing });
    const approval = await guardDestroy(c, path);
    const destroyed = asked.filter((v) => known.get(v) !== "destroyed");
    const response = { path, destroyed, already_destroyed: asked.filter((v) => known.get(v) === "destroyed") };
    await commit(c, [destroyVersions(db, principal.tenantId, path, Date.now(), inAsked), ...approval], {
      audit: { action: "secret.destroy", resource: secretResource(path), detail: { versions: destroyed } },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  })
  .openapi(versionsRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:read", "secret.versions", path);
    const principal = c.get("principal");
    const query = c.req.valid("query");
    const secret = await existingSecret(c, path, true);
    const rows = await c
      .get("db")
      .select()
      .from(secretVersions)
      .where(
        and(
          eq(secretVersions.tenantId, principal.tenantId),
          eq(secretVersions.path, path),
          query.cursor === undefined ? undefined : lt(secretVersions.version, query.cursor),
        ),
      )
      .orderBy(desc(secretVersions.version))
      .limit(query.limit + 1)
      .all();
    const page = rows.slice(0, query.limit);
    return c.json(
      {
        path,
        current_version: secret.currentVersion,
        deleted_at: iso(secret.deletedAt),
        items: page.map((v) => ({
          version: v.version,
          state: v.state,
          created_at: iso(v.createdAt)!,
          created_by: v.createdBy,
          readable_until: iso(v.readableUntil),
          destroyed_at: iso(v.destroyedAt),
          source_version: v.sourceVersion,
        })),
        next_cursor: rows.length > query.limit ? page[page.length - 1]!.version : null,
      },
      200,
    );
  })
  .openapi(metadataRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.metadata", path);
    const input = c.req.valid("json");
    const principal = c.get("principal");
    const db = c.get("db");
    const found = await findSecretVersion(db, principal.tenantId, path);
    if (!found || found.secret.deletedAt !== null) throw notFound("secret");
    const { secret } = found;
    requireRotationPeriod({ ...secret, ...metadataChanges(input) });
    // A lower max_versions destroys history: it needs what destroying needs.
    const approval = await guardMaxVersions(c, secret, input.max_versions, secret.currentVersion);
    const now = Date.now();
    const changes = { ...metadataChanges(input), updatedAt: now, updatedBy: principal.subject };
    const updated = { ...secret, ...changes };
    // The rotation clock runs from the current version's creation.
    if (input.rotation_days !== undefined)
      changes.nextRotationAt = updated.nextRotationAt = nextRotationAt(updated.rotationDays, found.version?.createdAt ?? now);
    const statements: BatchItem[] = [
      db
        .update(secrets)
        .set(changes)
        .where(and(eq(secrets.tenantId, principal.tenantId), eq(secrets.path, path), eq(secrets.currentVersion, secret.currentVersion))),
      ...pruneBeyondMaxVersions(db, principal.tenantId, path, updated.maxVersions, secret.currentVersion, now),
      ...approval,
    ];
    const response = metadataView(updated);
    await commit(c, statements, {
      audit: { action: "secret.metadata", resource: secretResource(path), detail: { fields: Object.keys(input) } },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  })
  .openapi(rotateRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.rotate", path);
    const input = c.req.valid("json");
    const { value, generator } = valueFrom(input);
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const existing = await existingSecret(c, path);
    const approval = await guardNewVersion(c, path, existing);
    const now = Date.now();
    const previous = existing.currentVersion;
    const version = previous + 1;
    const sealed = await sealVersion(keyring, principal.tenantId, path, version, value);
    const { statements, updated } = nextVersionStatements(db, existing, { version, sealed, now, actor: principal.subject }, { generator: generator ?? null });
    const readableUntil = input.expire_old_after_seconds === undefined ? null : now + input.expire_old_after_seconds * 1000;
    if (readableUntil !== null) {
      statements.push(
        db
          .update(secretVersions)
          .set({ readableUntil })
          .where(and(eq(secretVersions.tenantId, principal.tenantId), eq(secretVersions.path, path), eq(secretVersions.version, previous))),
      );
    }
    const response = { ...metadataView(updated), version, previous_readable_until: iso(readableUntil) };
    await commit(c, [...statements, ...approval], {
      audit: {
        action: "secret.rotate",
        resource: secretResource(path),
        detail: { version, previous_version: previous, previous_readable_until: readableUntil },
      },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  });
