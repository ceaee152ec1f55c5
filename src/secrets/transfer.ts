import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, getTableColumns, is, SQL, sql } from "drizzle-orm";
import { toHex } from "../crypto/encoding";
import { authorize, onSecret } from "../auth/access";
import type { AuditInput } from "../audit/log";
import { loadKeyring } from "../crypto/envelope";
import type { BatchItem, Db } from "../db/client";
import { secrets, secretVersions } from "../db/schema";
import { commit } from "../http/commit";
import { errorResponses, featureApp } from "../http/openapi";
import { badRequest, Problem } from "../http/problem";
import { afterCursor, json, metadataChanges, newSecretRow, pathCursor, requireRotationPeriod, valueFrom } from "./input";
import { secretResource } from "./read";
import { listable, readRefusal, releaseValue } from "./read-rule";
import { ExportQuery, ImportBody, MAX_IMPORT_ENTRIES, SecretMetadata, SecretPath } from "./schemas";
import { findSecretVersion, listSecrets, metadataView, sealVersion, type SecretRow } from "./store";

/**
 * Rows go to D1 as one JSON array per statement (`INSERT ... SELECT FROM json_each(?)`),
 * so 1,000 entries take a handful of statements instead of one per few rows (D1 binds
 * at most 100 parameters per statement). Each array stays under D1's 2 MB limit for one
 * bound value; blobs travel as hex and come back with unhex().
 */
const MAX_JSON_PARAM_CHARS = 1_500_000;

function jsonChunks(rows: object[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const row of rows) {
    const text = JSON.stringify(row);
    if (current.length && size + text.length + 1 > MAX_JSON_PARAM_CHARS) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(text);
    size += text.length + 1;
  }
  if (current.length) chunks.push(`[${current.join(",")}]`);
  return chunks;
}

function insertImported(db: Db, rows: { secret: SecretRow; sealed: Awaited<ReturnType<typeof sealVersion>> }[]): BatchItem[] {
  const first = rows[0]!.secret;
  const { tenantId, createdAt: now, createdBy: actor } = first;
  const secretRows = rows.map(({ secret: r }) => ({
    p: r.path,
    t: r.type,
    e: r.environment,
    d: r.description,
    g: r.tags,
    x: r.expiresAt,
    rp: r.rotationPolicy,
    rd: r.rotationDays,
    n: r.nextRotationAt,
    m: r.maxVersions,
    cm: r.customMetadata,
    gen: r.generator,
    al: r.allowedServices,
  }));
  const versionRows = rows.map(({ secret, sealed }) => ({
    p: secret.path,
    c: toHex(sealed.ciphertext),
    i: toHex(sealed.iv),
    w: toHex(sealed.wrappedKey),
    k: sealed.keyId,
    vm: toHex(sealed.valueMac),
    vk: sealed.valueMacKeyId,
  }));
  const field = (name: string) => sql.raw(`json_extract(value, '$.${name}')`);
  const secretColumns: Record<string, SQL> = {
    tenant_id: sql`${tenantId}`,
    path: field("p"),
    current_version: sql`1`,
    type: field("t"),
    environment: field("e"),
    description: field("d"),
    tags: field("g"),
    expires_at: field("x"),
    rotation_policy: field("rp"),
    rotation_days: field("rd"),
    next_rotation_at: field("n"),
    max_versions: field("m"),
    custom_metadata: field("cm"),
    created_at: sql`${now}`,
    created_by: sql`${actor}`,
    updated_at: sql`${now}`,
    updated_by: sql`${actor}`,
    generator: field("gen"),
    allowed_services: field("al"),
  };
  const versionColumns: Record<string, SQL> = {
    tenant_id: sql`${tenantId}`,
    path: field("p"),
    version: sql`1`,
    ciphertext: sql`unhex(${field("c")})`,
    iv: sql`unhex(${field("i")})`,
    wrapped_key: sql`unhex(${field("w")})`,
    key_id: field("k"),
    value_mac: sql`unhex(${field("vm")})`,
    value_mac_key_id: field("vk"),
    state: sql`'live'`,
    created_at: sql`${now}`,
    created_by: sql`${actor}`,
  };
  return [
    ...jsonChunks(secretRows).map((chunk) => db.insert(secrets).select(selectFromJson(secrets, secretColumns, chunk))),
    ...jsonChunks(versionRows).map((chunk) => db.insert(secretVersions).select(selectFromJson(secretVersions, versionColumns, chunk))),
  ];
}

/**
 * `SELECT <one expression per column, in the table's order> FROM json_each(?)`: drizzle's
 * INSERT ... SELECT names every column of the table, so a column another feature adds
 * lines up: with its declared default (a NOT NULL column has one), or NULL, until it is mapped here.
 */
function selectFromJson(table: typeof secrets | typeof secretVersions, columns: Record<string, SQL>, json: string): SQL {
  const list = Object.values(getTableColumns(table)).map(
    (column) =>
      columns[column.name] ??
      (column.default !== undefined && !is(column.default, SQL) ? sql`${column.mapToDriverValue(column.default)}` : (column.default ?? sql`NULL`)),
  );
  return sql`SELECT ${sql.join(list, sql`, `)} FROM json_each(${json})`;
}

const importRoute = createRoute({
  method: "post",
  path: "/store/import",
  summary: "Import a tree of secrets at once: all or nothing, each as version 1; 409 if any path exists",
  tags: ["secrets"],
  request: { body: { required: true, content: { "application/json": { schema: ImportBody } } } },
  responses: {
    201: { description: "Imported (metadata only)", ...json(z.object({ imported: z.array(SecretMetadata.extend({ version: z.number().int() })) })) },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503),
  },
});

const exportRoute = createRoute({
  method: "get",
  path: "/export",
  summary: "Export metadata (and with include_values=true and secrets:export, values) in the import format",
  tags: ["secrets"],
  request: { query: ExportQuery },
  responses: {
    200: {
      description: "A body POST /store/import accepts. More pages: Hush-Next-Cursor header; unreadable values: Hush-Export-Skipped",
      ...json(z.object({ values: z.record(z.string(), z.record(z.string(), z.unknown())) })),
    },
    ...errorResponses(400, 401, 403, 503),
  },
});

export const transferApp = featureApp()
  .openapi(importRoute, async (c) => {
    await authorize(c, "secrets:write", "secret.import");
    const input = c.req.valid("json");
    const entries = Object.entries(input.values);
    if (entries.length > MAX_IMPORT_ENTRIES) {
      throw new Problem(413, "too-many-entries", `An import holds at most ${MAX_IMPORT_ENTRIES} entries; split it`, { max_entries: MAX_IMPORT_ENTRIES });
    }
    if (entries.length === 0) throw badRequest("values is empty: nothing to import");
    const prefix = (input.prefix ?? "").replace(/\/+$/, "");
    const items = entries.map(([key, entry]) => ({
      key,
      path: prefix ? `${prefix}/${key}` : key,
      entry: typeof entry === "string" ? { value: entry } : entry,
    }));
    const errors = items.flatMap(({ key, path }) => {
      const parsed = SecretPath.safeParse(path);
      return parsed.success ? [] : [{ field: `values.${key}`, code: "invalid_path", message: `${path}: ${parsed.error.issues[0]!.message}` }];
    });
    if (errors.length) throw new Problem(400, "validation-failed", "Some import paths are not valid; see `errors`", { errors });
    // Values in need `write` on each path (deny rules included), decided per item.
    for (const { path } of items) await authorize(c, "secrets:write", "secret.import", onSecret(path));
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const paths = items.map((i) => i.path);
    // One bound parameter for all paths; soft-deleted paths exist too.
    const taken = await db
      .select({ path: secrets.path })
      .from(secrets)
      .where(and(eq(secrets.tenantId, principal.tenantId), sql`${secrets.path} IN (SELECT value FROM json_each(${JSON.stringify(paths)}))`))
      .all();
    if (taken.length) {
      const conflicts = taken.map((t) => t.path).sort();
      throw new Problem(409, "secrets-exist", `${conflicts.length} of the paths already exist; nothing was imported`, { conflicts });
    }
    const now = Date.now();
    const rows: { secret: SecretRow; sealed: Awaited<ReturnType<typeof sealVersion>> }[] = [];
    for (const { path, entry } of items) {
      const { value, generator } = valueFrom(entry, path);
      const sealed = await sealVersion(keyring, principal.tenantId, path, 1, value);
      const secret = newSecretRow(principal.tenantId, path, principal.subject, now, metadataChanges(entry), generator);
      requireRotationPeriod(secret, path);
      rows.push({ secret, sealed });
    }
    const response = { imported: rows.map(({ secret }) => ({ ...metadataView(secret), version: 1 })) };
    await commit(c, insertImported(db, rows), {
      // One event for the whole import; it names every path (paths are not secret).
      audit: { action: "secret.import", resource: prefix ? secretResource(prefix) : null, status: 201, detail: { count: paths.length, paths } },
      response: { status: 201, body: response },
    });
    return c.json(response, 201);
  })
  .openapi(exportRoute, async (c) => {
    await authorize(c, "secrets:read", "secret.export");
    const query = c.req.valid("query");
    const withValues = query.include_values === "true";
    if (withValues) await authorize(c, "secrets:export", "secret.export");
    const principal = c.get("principal");
    const db = c.get("db");
    if (withValues) loadKeyring(c.env.MASTER_KEYS);
    const after = afterCursor(query.cursor);
    const rows = await listSecrets(db, principal.tenantId, { prefix: query.prefix, includeDeleted: false, after, limit: query.limit });
    const page = rows.slice(0, query.limit);
    const values: Record<string, Record<string, unknown>> = {};
    const skipped: string[] = [];
    const events: AuditInput[] = [];
    const approvals: BatchItem[] = [];
    const now = Date.now();
    const options = { includeExpired: query.include_expired === "true" };
    for (const row of page.filter((r) => listable(principal, r.path))) {
      const entry = importableMetadata(row);
      if (withValues) {
        // Values out follow the read rule per item (access with `read`, allowed_services,
        // expiry, grace, state); a value it refuses is skipped, never sent.
        const found = await findSecretVersion(db, principal.tenantId, row.path);
        if (readRefusal(principal, "export", row.path, found, options, now)) {
          skipped.push(row.path);
          continue;
        }
        const { value, version, approval } = await releaseValue(c, row.path, "export", { ...options, found });
        approvals.push(...approval);
        entry.value = value;
        events.push({ action: "secret.export", resource: secretResource(row.path), detail: { version: version.version } });
      }
      values[row.path] = entry;
    }
    if (events.length) await commit(c, approvals, { audit: events });
    if (rows.length > query.limit) c.header("Hush-Next-Cursor", pathCursor(page[page.length - 1]!.path));
    if (skipped.length) c.header("Hush-Export-Skipped", skipped.join(","));
    return c.json({ values }, 200);
  });

/** Metadata in the shape an import entry takes (absent rather than null, so it re-imports). */
function importableMetadata(row: SecretRow): Record<string, unknown> {
  const entry: Record<string, unknown> = { type: row.type, tags: row.tags, rotation_policy: row.rotationPolicy, max_versions: row.maxVersions };
  if (row.environment !== null) entry.environment = row.environment;
  if (row.description !== null) entry.description = row.description;
  if (row.expiresAt !== null) entry.expires_at = new Date(row.expiresAt).toISOString();
  if (row.rotationDays !== null) entry.rotation_days = row.rotationDays;
  if (row.customMetadata !== null) entry.custom_metadata = row.customMetadata;
  if (row.allowedServices !== null) entry.allowed_services = row.allowedServices;
  return entry;
}
