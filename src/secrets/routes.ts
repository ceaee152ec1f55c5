import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, eq, isNull } from "drizzle-orm";
import { requireApproval } from "../approvals/guard";
import { authorize, pathAllowed, serviceMayRead } from "../auth/access";
import { audit } from "../audit/log";
import { fromBase64, fromUtf8, toBase64Url, utf8 } from "../crypto/encoding";
import { IntegrityError, loadKeyring } from "../crypto/envelope";
import type { BatchItem } from "../db/client";
import { secrets } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { errorResponses } from "../http/openapi";
import { featureApp } from "../http/openapi";
import { badRequest, notFound, Problem } from "../http/problem";
import {
  CreateSecretBody,
  ListQuery,
  MAX_VALUE_BYTES,
  PathParams,
  ReadQuery,
  SecretList,
  SecretMetadata,
  SecretPath,
  SecretValue,
  WriteSecretBody,
} from "./schemas";
import { findSecret, findSecretVersion, insertVersion, listSecrets, metadataView, openVersion, sealVersion } from "./store";

const resource = (path: string) => `secret:${path}`;
const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, ...json(schema) } });

function checkValueSize(value: string): void {
  if (utf8(value).length > MAX_VALUE_BYTES) {
    throw new Problem(413, "value-too-large", `Secret values are limited to ${MAX_VALUE_BYTES} bytes of UTF-8`);
  }
}

const toMillis = (iso: string | null | undefined) => (iso === undefined ? undefined : iso === null ? null : Date.parse(iso));

/** Reads one value: audited before it leaves, and never another value on tampering. */
async function readValue(c: Context<AppEnv>, path: string, query: z.infer<typeof ReadQuery>) {
  const principal = c.get("principal");
  const db = c.get("db");
  const keyring = loadKeyring(c.env.MASTER_KEYS);
  const found = await findSecretVersion(db, principal.tenantId, path, query.version);
  const now = Date.now();
  const fail = async (problem: Problem, outcome: "failure" | "denied" = "failure") => {
    await audit(c, { action: "secret.read", resource: resource(path), outcome, status: problem.status, detail: { version: query.version ?? null } });
    return problem;
  };
  if (!found || found.secret.deletedAt !== null) throw await fail(notFound("secret"));
  const { secret, version } = found;
  if (!serviceMayRead(principal, secret)) {
    throw await fail(new Problem(403, "service-not-allowed", `${principal.subject} is not in this secret's allowed_services`), "denied");
  }
  if (!version || version.state === "deleted") throw await fail(notFound("version"));
  if (version.state === "destroyed") throw await fail(new Problem(410, "version-destroyed", `Version ${version.version} was destroyed`));
  if (version.readableUntil !== null && version.readableUntil <= now) {
    throw await fail(new Problem(410, "version-expired", `Version ${version.version} is past its grace period`));
  }
  if (secret.expiresAt !== null && secret.expiresAt <= now) {
    const allowed = query.include_expired === "true" && principal.scopes.has("secrets:write");
    if (!allowed) {
      throw await fail(
        new Problem(410, "secret-expired", "The secret has expired; a token with secrets:write may read it with include_expired=true"),
      );
    }
  }
  let value: string;
  try {
    value = await openVersion(keyring, version);
  } catch (err) {
    if (err instanceof IntegrityError) {
      await audit(c, { action: "integrity_failure", resource: resource(path), outcome: "failure", status: 500, detail: { version: version.version } });
    }
    throw err;
  }
  await commit(c, [], { audit: { action: "secret.read", resource: resource(path), detail: { version: version.version } } });
  return {
    ...metadataView(secret),
    version: version.version,
    value,
    version_created_at: new Date(version.createdAt).toISOString(),
    version_created_by: version.createdBy,
  };
}

const listRoute = createRoute({
  method: "get",
  path: "/store",
  summary: "List secrets (metadata only, never values)",
  tags: ["secrets"],
  request: { query: ListQuery },
  responses: { 200: { description: "A page of secrets", ...json(SecretList) }, ...errorResponses(400, 401, 403) },
});

const createSecretRoute = createRoute({
  method: "post",
  path: "/store/{path{.+}}",
  summary: "Create a secret (version 1); 409 if the path exists",
  tags: ["secrets"],
  request: { params: PathParams, ...body(CreateSecretBody) },
  responses: {
    201: { description: "Created", ...json(SecretMetadata.extend({ version: z.number().int() })) },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503),
  },
});

const writeSecretRoute = createRoute({
  method: "put",
  path: "/store/{path{.+}}",
  summary: "Write the next version (rotation); creates the path if absent. `cas` guards the current version",
  tags: ["secrets"],
  request: { params: PathParams, ...body(WriteSecretBody) },
  responses: {
    200: { description: "Written", ...json(SecretMetadata.extend({ version: z.number().int() })) },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503),
  },
});

const readSecretRoute = createRoute({
  method: "get",
  path: "/store/{path{.+}}",
  summary: "Read the latest live version (or ?version=N) with its metadata",
  tags: ["secrets"],
  request: { params: PathParams, query: ReadQuery },
  responses: { 200: { description: "The value", ...json(SecretValue) }, ...errorResponses(400, 401, 403, 404, 410, 500, 503) },
});

const deleteSecretRoute = createRoute({
  method: "delete",
  path: "/store/{path{.+}}",
  summary: "Soft-delete a secret: it reads 404, its versions are kept for recovery",
  tags: ["secrets"],
  request: { params: PathParams },
  responses: {
    200: { description: "Deleted", ...json(z.object({ path: z.string(), deleted_at: z.string() })) },
    ...errorResponses(401, 403, 404),
  },
});

export const secretsApp = featureApp()
  .openapi(listRoute, async (c) => {
    const principal = c.get("principal");
    await authorize(c, "secrets:read", "secret.list");
    const query = c.req.valid("query");
    let after: string | undefined;
    if (query.cursor) {
      try {
        after = SecretPath.parse(fromUtf8(fromBase64(query.cursor)));
      } catch {
        throw badRequest("The cursor is not one this API returned");
      }
    }
    const rows = await listSecrets(c.get("db"), principal.tenantId, {
      ...query,
      includeDeleted: query.include_deleted === "true",
      after,
    });
    const page = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    return c.json(
      {
        items: page.filter((row) => pathAllowed(principal, row.path)).map(metadataView),
        next_cursor: more ? toBase64Url(utf8(page[page.length - 1]!.path)) : null,
      },
      200,
    );
  })
  .openapi(createSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.create", path);
    const input = c.req.valid("json");
    checkValueSize(input.value);
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    if (await findSecret(db, principal.tenantId, path)) {
      throw new Problem(409, "secret-exists", `${path} already exists; PUT writes its next version`);
    }
    const now = Date.now();
    const sealed = await sealVersion(keyring, principal.tenantId, path, 1, input.value);
    const row = {
      tenantId: principal.tenantId,
      path,
      currentVersion: 1,
      type: input.type ?? "CUSTOM",
      environment: input.environment ?? null,
      description: input.description ?? null,
      tags: input.tags ?? [],
      expiresAt: toMillis(input.expires_at) ?? null,
      allowedServices: input.allowed_services ?? null,
      createdAt: now,
      createdBy: principal.subject,
      updatedAt: now,
      updatedBy: principal.subject,
    };
    const response = { ...metadataView({ ...row, ...defaults, deletedAt: null }), version: 1 };
    await commit(c, [db.insert(secrets).values(row), insertVersion(db, { tenantId: principal.tenantId, path, version: 1, createdAt: now, createdBy: principal.subject }, sealed)], {
      audit: { action: "secret.create", resource: resource(path), status: 201, detail: { version: 1 } },
      response: { status: 201, body: response },
    });
    return c.json(response, 201);
  })
  .openapi(writeSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.write", path);
    const input = c.req.valid("json");
    checkValueSize(input.value);
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const existing = await findSecret(db, principal.tenantId, path);
    const current = existing?.currentVersion ?? 0;
    if (input.cas !== undefined && input.cas !== current) {
      throw new Problem(409, "version-conflict", `Expected version ${input.cas} but the current version is ${current}`, {
        current_version: current,
      });
    }
    // Writing a new version of an existing secret is a rotation: dual control may guard it.
    const approval = existing ? await requireApproval(c, "rotate", path) : [];
    const version = current + 1;
    const now = Date.now();
    const sealed = await sealVersion(keyring, principal.tenantId, path, version, input.value);
    const changes = {
      currentVersion: version,
      ...(input.type !== undefined && { type: input.type }),
      ...(input.environment !== undefined && { environment: input.environment }),
      ...(input.description !== undefined && { description: input.description }),
      ...(input.tags !== undefined && { tags: input.tags }),
      ...(input.expires_at !== undefined && { expiresAt: toMillis(input.expires_at) }),
      ...(input.allowed_services !== undefined && { allowedServices: input.allowed_services }),
      updatedAt: now,
      updatedBy: principal.subject,
      deletedAt: null,
    };
    const statements: BatchItem[] = [
      insertVersion(db, { tenantId: principal.tenantId, path, version, createdAt: now, createdBy: principal.subject }, sealed),
    ];
    let updated: typeof secrets.$inferSelect;
    if (existing) {
      statements.push(
        db
          .update(secrets)
          .set(changes)
          .where(and(eq(secrets.tenantId, principal.tenantId), eq(secrets.path, path), eq(secrets.currentVersion, current))),
      );
      updated = { ...existing, ...changes } as typeof existing;
    } else {
      updated = {
        ...defaults,
        tenantId: principal.tenantId,
        path,
        type: "CUSTOM",
        environment: null,
        description: null,
        tags: [],
        expiresAt: null,
        allowedServices: null,
        createdAt: now,
        createdBy: principal.subject,
        ...changes,
      } as typeof secrets.$inferSelect;
      statements.push(db.insert(secrets).values(updated));
    }
    const response = { ...metadataView(updated), version };
    await commit(c, [...statements, ...approval], {
      audit: { action: existing ? "secret.write" : "secret.create", resource: resource(path), detail: { version } },
      response: { status: 200, body: response },
    });
    return c.json(response, 200);
  })
  .openapi(readSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:read", "secret.read", path);
    return c.json(await readValue(c, path, c.req.valid("query")), 200);
  })
  .openapi(deleteSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:delete", "secret.delete", path);
    const principal = c.get("principal");
    const db = c.get("db");
    const existing = await findSecret(db, principal.tenantId, path);
    if (!existing || existing.deletedAt !== null) throw notFound("secret");
    const approval = await requireApproval(c, "delete", path);
    const now = Date.now();
    const response = { path, deleted_at: new Date(now).toISOString() };
    await commit(
      c,
      [
        db
          .update(secrets)
          .set({ deletedAt: now, updatedAt: now, updatedBy: principal.subject })
          .where(and(eq(secrets.tenantId, principal.tenantId), eq(secrets.path, path), isNull(secrets.deletedAt))),
        ...approval,
      ],
      { audit: { action: "secret.delete", resource: resource(path) }, response: { status: 200, body: response } },
    );
    return c.json(response, 200);
  });

const defaults = {
  rotationPolicy: "MANUAL",
  rotationDays: null,
  nextRotationAt: null,
  maxVersions: 0,
  customMetadata: null,
  deletedAt: null,
} as const;
