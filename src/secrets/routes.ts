import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, isNull } from "drizzle-orm";
import { authorize } from "../auth/access";
import { takePrefetched } from "../auth/tokens";
import { listable } from "./read-rule";
import { loadKeyring } from "../crypto/envelope";
import type { BatchItem } from "../db/client";
import { secrets } from "../db/schema";
import { beginChange, commit } from "../http/commit";
import { errorResponses, featureApp } from "../http/openapi";
import { notFound, Problem } from "../http/problem";
import { guardDelete, guardMaxVersions, guardNewVersion } from "./dual-control";
import { compareApp } from "./compare";
import { foldersApp } from "./folders";
import { lifecycleApp } from "./lifecycle";
import { rotationApp } from "./rotation";
import { transferApp } from "./transfer";
import { afterCursor, body, json, metadataChanges, newSecretRow, pathCursor, requireRotationPeriod, valueFrom } from "./input";
import { readValue, secretResource } from "./read";
import { CreateSecretBody, ListQuery, PathParams, ReadQuery, SecretList, SecretMetadata, SecretValue, WriteSecretBody } from "./schemas";
import { findSecret, insertVersion, listSecrets, metadataView, nextVersionStatements, sealVersion, type SecretRow } from "./store";

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

/**
 * The specific /store/... routes (history, recover, undelete, destroy, import,
 * {path}/versions, {path}/metadata, {path}/rotate) come first so they win over the
 * generic /store/{path} ones below.
 */
export const secretsApp = featureApp()
  .route("/", lifecycleApp)
  .route("/", transferApp)
  .route("/", rotationApp)
  .route("/", compareApp)
  .route("/", foldersApp)
  .openapi(listRoute, async (c) => {
    const principal = c.get("principal");
    await authorize(c, "secrets:read", "secret.list");
    const query = c.req.valid("query");
    const after = afterCursor(query.cursor);
    const rows = await listSecrets(c.get("db"), principal.tenantId, {
      ...query,
      includeDeleted: query.include_deleted === "true",
      after,
    });
    const page = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    return c.json(
      {
        items: page.filter((row) => listable(principal, row.path)).map(metadataView),
        next_cursor: more ? pathCursor(page[page.length - 1]!.path) : null,
      },
      200,
    );
  })
  .openapi(createSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.create", path);
    const input = c.req.valid("json");
    const { value, generator } = valueFrom(input);
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    if (await findSecret(db, principal.tenantId, path)) {
      throw new Problem(409, "secret-exists", `${path} already exists; PUT writes its next version`);
    }
    const now = Date.now();
    const sealed = await sealVersion(keyring, principal.tenantId, path, 1, value);
    const row = newSecretRow(principal.tenantId, path, principal.subject, now, metadataChanges(input), generator);
    requireRotationPeriod(row);
    const response = { ...metadataView(row), version: 1 };
    await commit(
      c,
      [
        db.insert(secrets).values(row),
        insertVersion(db, { tenantId: principal.tenantId, path, version: 1, createdAt: now, createdBy: principal.subject }, sealed),
      ],
      {
        audit: { action: "secret.create", resource: secretResource(path), status: 201, detail: { version: 1 } },
        response: { status: 201, body: response },
      },
    );
    return c.json(response, 201);
  })
  .openapi(writeSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:write", "secret.write", path);
    const input = c.req.valid("json");
    const { value, generator } = valueFrom(input);
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    // The secret row came with the token lookup (src/auth/tokens.ts `Prefetch`), or is read now.
    const prefetched = takePrefetched(c, "write", path);
    const existing = prefetched ? prefetched.secret : await findSecret(db, principal.tenantId, path);
    const current = existing?.currentVersion ?? 0;
    if (input.cas !== undefined && input.cas !== current) {
      throw new Problem(409, "version-conflict", `Expected version ${input.cas} but the current version is ${current}`, {
        current_version: current,
      });
    }
    const version = current + 1;
    const changes = metadataChanges(input);
    requireRotationPeriod({ rotationPolicy: "MANUAL", rotationDays: null, ...existing, ...changes });
    // The audit append runs while the dual-control check reads and the value is sealed.
    const audit = beginChange(c, { action: existing ? "secret.write" : "secret.create", resource: secretResource(path), detail: { version } });
    // Writing a new version of an existing secret is a rotation; a lower max_versions destroys history.
    const approval = [...(await guardNewVersion(c, path, existing)), ...(await guardMaxVersions(c, existing, changes.maxVersions, version))];
    const now = Date.now();
    const sealed = await sealVersion(keyring, principal.tenantId, path, version, value);
    // A value sent by hand ends automatic generation; a generated one (re)starts it.
    changes.generator = generator ?? null;
    let statements: BatchItem[];
    let updated: SecretRow;
    if (existing) {
      ({ statements, updated } = nextVersionStatements(db, existing, { version, sealed, now, actor: principal.subject }, changes));
    } else {
      updated = newSecretRow(principal.tenantId, path, principal.subject, now, changes, generator);
      statements = [
        db.insert(secrets).values(updated),
        insertVersion(db, { tenantId: principal.tenantId, path, version, createdAt: now, createdBy: principal.subject }, sealed),
      ];
    }
    const response = { ...metadataView(updated), version };
    await commit(c, [...statements, ...approval], { audit, response: { status: 200, body: response } });
    return c.json(response, 200);
  })
  .openapi(readSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    // The read rule decides access too (read-rule.ts).
    return c.json(await readValue(c, path, c.req.valid("query")), 200);
  })
  .openapi(deleteSecretRoute, async (c) => {
    const { path } = c.req.valid("param");
    await authorize(c, "secrets:delete", "secret.delete", path);
    const principal = c.get("principal");
    const db = c.get("db");
    const existing = await findSecret(db, principal.tenantId, path);
    if (!existing || existing.deletedAt !== null) throw notFound("secret");
    const approval = await guardDelete(c, path);
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
      { audit: { action: "secret.delete", resource: secretResource(path) }, response: { status: 200, body: response } },
    );
    return c.json(response, 200);
  });
