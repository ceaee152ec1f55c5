import { and, eq, inArray } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { authorize, onSecret } from "../auth/access";
import { bearerFrom, resolveToken, signIn, throttleFailedAuth } from "../auth/tokens";
import { loadKeyring } from "../crypto/envelope";
import type { BatchItem } from "../db/client";
import { secrets, secretVersions, vaultConfig } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { loggable, problemOf } from "../http/errors";
import { idempotency } from "../http/idempotency";
import { apiHeaders, limitBody } from "../http/middleware";
import { checkValueSize, isWellFormedJson, newSecretRow } from "../secrets/input";
import { guardDelete, guardDestroy, guardMaxVersions, guardNewVersion } from "../secrets/dual-control";
import { secretResource } from "../secrets/read";
import { listable, readRefusal, refuse, releaseValue } from "../secrets/read-rule";
import { SecretPath } from "../secrets/schemas";
import { destroyVersions, findSecret, findSecretVersion, insertVersion, listSecrets, nextVersionStatements, sealVersion } from "../secrets/store";
import {
  allVersions,
  childKeys,
  customMetadataProblem,
  dataFromValue,
  goDuration,
  parseDuration,
  secretMetadata,
  setVersionsDeleted,
  subkeys,
  versionMetadata,
} from "./kv";
import { envelope, jsonBody, noContent, vaultError } from "./common";
import { vaultAuthApp } from "./auth";
import { sysApp } from "./sys";
import { respond, wrappingApp, wrapTtl } from "./wrapping";
import type { SecretRow } from "../secrets/store";

/**
 * A subset of Vault's HTTP API (KV v2 mounted at `secret/`), so existing Vault
 * clients and scripts keep working: Vault's envelopes and status codes, Vault's
 * `{"errors": [...]}` bodies. It reads and writes the same sealed, versioned store
 * as the native API. Not in /openapi.json: its wire format is Vault's, not ours.
 */
export const vaultApp = new Hono<AppEnv>();

vaultApp.onError((err, c) => {
  let status: ContentfulStatusCode = 500;
  let errors: string[] = ["internal error"];
  let headers: Record<string, string> = {};
  const problem = problemOf(err);
  if (problem) {
    status = problem.status;
    errors = (problem.extras.errors as string[] | undefined)?.filter((e) => typeof e === "string") ?? [problem.detail ?? problem.title];
    if (status === 401) status = 403; // Vault answers "permission denied" for a bad token
    headers = problem.headers; // e.g. Retry-After on a 429, X-Hush-Wrapping-State on a spent token
  } else if (err instanceof HTTPException) {
    status = err.status as ContentfulStatusCode;
    errors = [err.message || "bad request"];
  } else {
    console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), ...loggable(err) }));
  }
  return c.json({ errors }, status, headers);
});

vaultApp.use("*", apiHeaders, limitBody(1024 * 1024));

/** Routes Vault serves without a token: health, login, and the wrapping token's own routes. */
const PUBLIC = [/^\/v1\/sys\/(?:health|seal-status)\/?$/, /^\/v1\/auth\/(?:jwt|kubernetes)\/login\/?$/, /^\/v1\/sys\/wrapping\/(?:unwrap|lookup|rewrap)\/?$/];

/** Responses that `X-Vault-Wrap-TTL` may wrap; anywhere else the header is refused, never ignored. */
const WRAPPABLE = [
  /^\/v1\/secret\/(?:data|metadata|subkeys)\//,
  /^\/v1\/auth\/token\/(?:create|lookup-self)\/?$/,
  /^\/v1\/sys\/wrapping\/wrap\/?$/,
  /^\/v1\/auth\/(?:jwt|kubernetes)\/login\/?$/, // refused there with its own message
];

// X-Vault-Token (what Vault clients send) or Authorization: Bearer, both Hush tokens.
vaultApp.use("*", async (c, next) => {
  if (c.req.header("x-vault-wrap-ttl") && !WRAPPABLE.some((re) => re.test(c.req.path))) {
    throw vaultError(400, "Hush wraps only KV reads and writes, auth/token/create, lookup-self and sys/wrapping/wrap");
  }
  if (PUBLIC.some((re) => re.test(c.req.path))) return next();
  const token = c.req.header("x-vault-token") || bearerFrom(c.req.header("authorization"));
  const result = token ? await resolveToken(c.env, token) : undefined;
  if (!result || "rejected" in result) {
    await throttleFailedAuth(c.env, c.req.header("cf-connecting-ip"), token);
    throw vaultError(403, "permission denied");
  }
  signIn(c, result.principal);
  await next();
});
vaultApp.use("*", idempotency);

vaultApp.route("/", sysApp);
vaultApp.route("/", vaultAuthApp);
vaultApp.route("/", wrappingApp);

/** The mount's configuration (`secret/config`): a missing row is Vault's defaults. */
async function mountConfig(c: Context<AppEnv>) {
  const row = await c
    .get("db")
    .select()
    .from(vaultConfig)
    .where(eq(vaultConfig.tenantId, c.get("principal").tenantId))
    .get();
  return { casRequired: row?.casRequired ?? false };
}

function vaultPath(raw: string): string {
  const parsed = SecretPath.safeParse(raw);
  if (!parsed.success) throw vaultError(400, `invalid path: ${parsed.error.issues[0]?.message ?? "not a Hush path"}`);
  return parsed.data;
}

function versionList(body: Record<string, unknown>): number[] {
  const versions = body.versions;
  if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => Number.isInteger(v) && v > 0)) {
    throw vaultError(400, "no versions provided");
  }
  return [...new Set(versions as number[])];
}

/** Reads one version by the read rule; a refusal answers in Vault's shape (404 with metadata for deleted/destroyed). */
async function readVersion(c: Context<AppEnv>, path: string, version: number | undefined, wrapping: boolean) {
  const principal = c.get("principal");
  loadKeyring(c.env.MASTER_KEYS);
  // The native read rule decides; only the answer's shape is Vault's.
  const found = await findSecretVersion(c.get("db"), principal.tenantId, path, version);
  const refusal = readRefusal(principal, "vault", path, found);
  if (refusal) {
    const problem = await refuse(c, refusal, path, "vault", version);
    if ((refusal.reason === "version-deleted" || refusal.reason === "version-destroyed") && found?.version) {
      // Vault answers a deleted or destroyed version with 404 and its metadata.
      return { refused: c.json(envelope(c, { data: null, metadata: versionMetadata(found.secret, found.version) }), 404) };
    }
    if (problem.status === 404) return { refused: c.json({ errors: [] }, 404) };
    throw problem.status === 403 ? vaultError(403, `permission denied: ${problem.detail}`) : vaultError(problem.status, problem.detail ?? problem.title);
  }
  // A wrapped read hands the value to whoever holds the wrapping token: it leaves as a share,
  // by the same rule and approval as a native share of a stored secret.
  if (wrapping) await authorize(c, "secrets:write", "share.create");
  return { released: await releaseValue(c, path, wrapping ? "share" : "vault", { version, found }) };
}

function versionQuery(c: Context<AppEnv>): number | undefined {
  const versionParam = c.req.query("version");
  const version = versionParam && versionParam !== "0" ? Number(versionParam) : undefined;
  if (version !== undefined && !(Number.isInteger(version) && version > 0)) throw vaultError(400, "invalid version");
  return version;
}

vaultApp.get("/secret/data/:path{.+}", async (c) => {
  const path = vaultPath(c.req.param("path"));
  const version = versionQuery(c);
  const wrapping = wrapTtl(c) !== undefined;
  const read = await readVersion(c, path, version, wrapping);
  if (read.refused) return read.refused;
  const { secret, version: row, value, approval } = read.released;
  return respond(c, envelope(c, { data: dataFromValue(value), metadata: versionMetadata(secret, row) }), {
    statements: approval,
    events: [{ action: "secret.read", resource: secretResource(path), detail: { version: row.version, via: "vault", ...(wrapping && { wrapped: true }) } }],
    oneTime: ["data.data"],
  });
});

// Vault's subkeys: the data's keys with every value null (a read of the value, by the read rule).
vaultApp.get("/secret/subkeys/:path{.+}", async (c) => {
  const path = vaultPath(c.req.param("path"));
  const version = versionQuery(c);
  const depthParam = c.req.query("depth") ?? "0";
  const depth = Number(depthParam);
  if (!/^\d{1,4}$/.test(depthParam)) throw vaultError(400, "invalid depth");
  const read = await readVersion(c, path, version, wrapTtl(c) !== undefined);
  if (read.refused) return read.refused;
  const { secret, version: row, value, approval } = read.released;
  return respond(c, envelope(c, { subkeys: subkeys(dataFromValue(value), depth), metadata: versionMetadata(secret, row) }), {
    statements: approval,
    events: [{ action: "secret.read", resource: secretResource(path), detail: { version: row.version, via: "vault", subkeys: true } }],
  });
});

/** Writes `data` as the next version (create when absent); `cas` as in Vault, required when the key or the mount says so. */
async function writeData(
  c: Context<AppEnv>,
  path: string,
  data: Record<string, unknown>,
  cas: number | undefined,
  action: string,
  casGiven = cas !== undefined,
) {
  const principal = c.get("principal");
  const db = c.get("db");
  const keyring = loadKeyring(c.env.MASTER_KEYS);
  // JSON.stringify escapes a lone surrogate, so check the strings themselves.
  if (!isWellFormedJson(data)) throw vaultError(400, "data must be valid Unicode (no lone surrogates)");
  const value = JSON.stringify(data);
  checkValueSize(value, path);
  const existing = await findSecret(db, principal.tenantId, path);
  if (!casGiven && (existing?.casRequired || (await mountConfig(c)).casRequired)) {
    throw vaultError(400, "check-and-set parameter required for this call");
  }
  const current = existing?.currentVersion ?? 0;
  if (cas !== undefined && cas !== current) throw vaultError(400, "check-and-set parameter did not match the current version");
  const version = current + 1;
  // Metadata written before any data makes a secret with no version yet: its first write is a creation.
  const hasData = existing !== undefined && existing.currentVersion > 0;
  // The same dual control as the native API: a new version of an existing secret is a rotation.
  const approval = await guardNewVersion(c, path, hasData ? existing : undefined);
  const now = Date.now();
  const sealed = await sealVersion(keyring, principal.tenantId, path, version, value);
  let statements: BatchItem[];
  let row: SecretRow;
  if (existing) {
    ({ statements, updated: row } = nextVersionStatements(db, existing, { version, sealed, now, actor: principal.subject }));
  } else {
    row = newSecretRow(principal.tenantId, path, principal.subject, now, {}, undefined);
    statements = [
      db.insert(secrets).values(row),
      insertVersion(db, { tenantId: principal.tenantId, path, version, createdAt: now, createdBy: principal.subject }, sealed),
    ];
  }
  // delete_version_after: the version carries its deletion time from the start, as in Vault;
  // the read rule refuses it once that time has passed.
  const deleteAt = row.deleteVersionAfter ? now + row.deleteVersionAfter * 1000 : null;
  if (deleteAt !== null) {
    statements.push(
      db
        .update(secretVersions)
        .set({ deletedAt: deleteAt })
        .where(and(eq(secretVersions.tenantId, principal.tenantId), eq(secretVersions.path, path), eq(secretVersions.version, version))),
    );
  }
  const body = envelope(c, {
    created_time: new Date(now).toISOString(),
    custom_metadata: row.customMetadata ?? null,
    deletion_time: deleteAt === null ? "" : new Date(deleteAt).toISOString(),
    destroyed: false,
    version,
  });
  return respond(c, body, {
    statements: [...statements, ...approval],
    events: [{ action: hasData ? action : "secret.create", resource: secretResource(path), detail: { version, via: "vault" } }],
  });
}

function dataAndCas(body: Record<string, unknown>) {
  const data = body.data;
  if (!data || typeof data !== "object" || Array.isArray(data)) throw vaultError(400, "no data provided");
  const options = (body.options ?? {}) as { cas?: unknown };
  if (typeof options !== "object" || options === null || (options.cas !== undefined && !(Number.isInteger(options.cas) && (options.cas as number) >= 0))) {
    throw vaultError(400, "invalid options: cas must be a non-negative integer");
  }
  return { data: data as Record<string, unknown>, cas: options.cas as number | undefined };
}

for (const method of ["post", "put"] as const) {
  vaultApp[method]("/secret/data/:path{.+}", async (c) => {
    const path = vaultPath(c.req.param("path"));
    await authorize(c, "secrets:write", "secret.write", path);
    const { data, cas } = dataAndCas(await jsonBody(c));
    return writeData(c, path, data, cas, "secret.write");
  });
}

// JSON merge patch (RFC 7396) of the current version's data into a new version.
vaultApp.patch("/secret/data/:path{.+}", async (c) => {
  const path = vaultPath(c.req.param("path"));
  await authorize(c, "secrets:write", "secret.write", path);
  const { data: patch, cas } = dataAndCas(await jsonBody(c));
  // A patch merges into the current value, so it reads it: by the read rule, like any read.
  const found = await findSecretVersion(c.get("db"), c.get("principal").tenantId, path);
  const refusal = readRefusal(c.get("principal"), "vault", path, found);
  if (refusal) {
    const problem = await refuse(c, refusal, path, "vault");
    if (problem.status === 404 || problem.status === 410) return c.json({ errors: [] }, 404);
    throw vaultError(problem.status, `permission denied: ${problem.detail}`);
  }
  const { value, secret } = await releaseValue(c, path, "vault", { found });
  const merged = mergePatch(dataFromValue(value), patch) as Record<string, unknown>;
  // Without a cas the patch still applies to the version it read (a concurrent write fails it),
  // but cas_required asks for the caller's own.
  return writeData(c, path, merged, cas ?? secret.currentVersion, "secret.write", cas !== undefined);
});

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === "object" && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** Loads the secret for a version operation, or answers Vault's 404. */
async function secretFor(c: Context<AppEnv>, path: string) {
  const secret = await findSecret(c.get("db"), c.get("principal").tenantId, path);
  return secret && secret.deletedAt === null ? secret : undefined;
}

vaultApp.delete("/secret/data/:path{.+}", async (c) => {
  const path = vaultPath(c.req.param("path"));
  await authorize(c, "secrets:delete", "secret.delete_versions", path);
  const secret = await secretFor(c, path);
  if (!secret || secret.currentVersion === 0) return noContent(c); // Vault: deleting nothing succeeds
  const db = c.get("db");
  const approval = await guardDelete(c, path);
  await commit(c, [setVersionsDeleted(db, secret.tenantId, path, [secret.currentVersion], Date.now()), ...approval], {
    audit: { action: "secret.delete_versions", resource: secretResource(path), detail: { versions: [secret.currentVersion], via: "vault" } },
    response: { status: 204, body: "" },
  });
  return noContent(c);
});

const versionOps = {
  delete: { scope: "secrets:delete", action: "secret.delete_versions" },
  undelete: { scope: "secrets:write", action: "secret.undelete_versions" },
  destroy: { scope: "secrets:delete", action: "secret.destroy" },
} as const;

for (const [op, { scope, action }] of Object.entries(versionOps) as [keyof typeof versionOps, (typeof versionOps)[keyof typeof versionOps]][]) {
  for (const method of ["post", "put"] as const) {
    vaultApp[method](`/secret/${op}/:path{.+}`, async (c) => {
      const path = vaultPath(c.req.param("path"));
      await authorize(c, scope, action, path);
      const versions = versionList(await jsonBody(c));
      const secret = await secretFor(c, path);
      if (!secret) return noContent(c);
      const db = c.get("db");
      const now = Date.now();
      const statement =
        op === "destroy"
          ? destroyVersions(db, secret.tenantId, path, now, inArray(secretVersions.version, versions))
          : setVersionsDeleted(db, secret.tenantId, path, versions, op === "delete" ? now : null);
      // Undelete brings old values back to reading, as recover does: the rotate approval.
      const approval = await (op === "destroy" ? guardDestroy(c, path) : op === "delete" ? guardDelete(c, path) : guardNewVersion(c, path, secret));
      await commit(c, [statement, ...approval], {
        audit: { action, resource: secretResource(path), detail: { versions, via: "vault" } },
        response: { status: 204, body: "" },
      });
      return noContent(c);
    });
  }
}

async function listFolder(c: Context<AppEnv>, rawFolder: string) {
  const folder = rawFolder.replace(/\/+$/, "");
  if (folder) vaultPath(folder);
  await authorize(c, "secrets:read", "secret.list");
  const prefix = folder ? `${folder}/` : "";
  const principal = c.get("principal");
  const paths: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < 20; page++) {
    const rows = await listSecrets(c.get("db"), principal.tenantId, { prefix: prefix || undefined, includeDeleted: false, after, limit: 1000 });
    paths.push(...rows.slice(0, 1000).map((r) => r.path));
    if (rows.length <= 1000) break;
    after = rows[999]!.path;
  }
  const keys = childKeys(
    prefix,
    paths.filter((p) => listable(principal, p)),
  );
  if (keys.length === 0) return c.json({ errors: [] }, 404);
  return c.json(envelope(c, { keys }));
}

const wantsList = (c: Context<AppEnv>) => ["true", "1"].includes(c.req.query("list") ?? "");

vaultApp.get("/secret/metadata", (c) => (wantsList(c) ? listFolder(c, "") : c.json({ errors: ["missing path"] }, 400)));
vaultApp.get("/secret/metadata/", (c) => (wantsList(c) ? listFolder(c, "") : c.json({ errors: ["missing path"] }, 400)));
vaultApp.get("/secret/metadata/:path{.+}", async (c) => {
  if (wantsList(c)) return listFolder(c, c.req.param("path"));
  const path = vaultPath(c.req.param("path"));
  await authorize(c, "secrets:read", "secret.metadata", path);
  const secret = await secretFor(c, path);
  if (!secret) return c.json({ errors: [] }, 404);
  return respond(c, envelope(c, secretMetadata(secret, await allVersions(c.get("db"), secret.tenantId, path))));
});

type MetadataChanges = Partial<Pick<SecretRow, "maxVersions" | "customMetadata" | "casRequired" | "deleteVersionAfter">>;

/** Vault's metadata fields, checked; `merge` (PATCH) merges custom_metadata key by key into `current`. */
function metadataChanges(body: Record<string, unknown>, current: SecretRow | undefined, merge: boolean): MetadataChanges {
  const changes: MetadataChanges = {};
  if (body.max_versions !== undefined && body.max_versions !== null) {
    if (!Number.isInteger(body.max_versions) || (body.max_versions as number) < 0) throw vaultError(400, "max_versions must be a non-negative integer");
    changes.maxVersions = body.max_versions as number;
  }
  if (body.cas_required !== undefined && body.cas_required !== null) {
    if (typeof body.cas_required !== "boolean") throw vaultError(400, "cas_required must be a boolean");
    changes.casRequired = body.cas_required;
  }
  if (body.delete_version_after !== undefined && body.delete_version_after !== null) {
    const seconds = parseDuration(body.delete_version_after);
    if (seconds === undefined) throw vaultError(400, `invalid delete_version_after: a duration such as "3h" or "0s"`);
    changes.deleteVersionAfter = seconds === 0 ? null : seconds;
  }
  if (body.custom_metadata !== undefined) {
    let custom = body.custom_metadata as Record<string, unknown> | null;
    if (merge && custom && typeof custom === "object" && !Array.isArray(custom)) {
      const next: Record<string, unknown> = { ...(current?.customMetadata ?? {}) };
      for (const [k, v] of Object.entries(custom)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      custom = next;
    }
    const problem = customMetadataProblem(custom);
    if (problem) throw vaultError(400, problem);
    changes.customMetadata = custom && Object.keys(custom).length ? (custom as Record<string, string>) : null;
  }
  return changes;
}

/**
 * Writes metadata (POST/PUT replace the fields given, PATCH merges), before any data if need be:
 * Vault allows it, and the first data write then creates version 1. Lowering max_versions is a
 * destroy and a new delete_version_after a scheduled delete, each with its own guard.
 */
async function writeMetadata(c: Context<AppEnv>, merge: boolean) {
  const path = vaultPath(c.req.param("path")!);
  await authorize(c, "secrets:write", "secret.metadata", path);
  const body = await jsonBody(c);
  const principal = c.get("principal");
  const db = c.get("db");
  const secret = await secretFor(c, path);
  if (merge && !secret) return c.json({ errors: [] }, 404); // Vault: PATCH needs existing metadata
  const changes = metadataChanges(body, secret, merge);
  const approval = [
    // A lower max_versions destroys history, as natively.
    ...(await guardMaxVersions(c, secret, changes.maxVersions, secret?.currentVersion ?? 0)),
    // Scheduling deletions is deleting: the capability and approval of a delete.
    ...(changes.deleteVersionAfter ? await guardScheduledDelete(c, path) : []),
  ];
  const now = Date.now();
  const statements: BatchItem[] = secret
    ? [
        db
          .update(secrets)
          .set({ ...changes, updatedAt: now, updatedBy: principal.subject })
          .where(and(eq(secrets.tenantId, principal.tenantId), eq(secrets.path, path))),
      ]
    : [db.insert(secrets).values(newSecretRow(principal.tenantId, path, principal.subject, now, { ...changes, currentVersion: 0 }, undefined))];
  await commit(c, [...statements, ...approval], {
    audit: { action: secret ? "secret.metadata" : "secret.create", resource: secretResource(path), detail: { via: "vault", metadata_only: !secret } },
    response: { status: 204, body: "" },
  });
  return noContent(c);
}

async function guardScheduledDelete(c: Context<AppEnv>, path: string) {
  await authorize(c, "secrets:delete", "secret.delete_versions", path);
  return guardDelete(c, path);
}

for (const method of ["post", "put"] as const) vaultApp[method]("/secret/metadata/:path{.+}", (c) => writeMetadata(c, false));
vaultApp.patch("/secret/metadata/:path{.+}", (c) => writeMetadata(c, true));

// Vault's metadata delete removes every version and the metadata for good.
vaultApp.delete("/secret/metadata/:path{.+}", async (c) => {
  const path = vaultPath(c.req.param("path"));
  await authorize(c, "secrets:delete", "secret.purge", path);
  const principal = c.get("principal");
  const db = c.get("db");
  const secret = await findSecret(db, principal.tenantId, path);
  if (!secret) return noContent(c);
  // Every version goes for good: the destroy approval, as a native destroy.
  const approval = await guardDestroy(c, path);
  await commit(
    c,
    [
      ...approval,
      db.delete(secretVersions).where(and(eq(secretVersions.tenantId, principal.tenantId), eq(secretVersions.path, path))),
      db.delete(secrets).where(and(eq(secrets.tenantId, principal.tenantId), eq(secrets.path, path))),
    ],
    { audit: { action: "secret.purge", resource: secretResource(path), detail: { via: "vault" } }, response: { status: 204, body: "" } },
  );
  return noContent(c);
});

// ---- the mount's configuration ----

vaultApp.get("/secret/config", async (c) => {
  await authorize(c, "secrets:read", "vault.config.read");
  const config = await mountConfig(c);
  return c.json(envelope(c, { cas_required: config.casRequired, delete_version_after: goDuration(0), max_versions: 0 }));
});

for (const method of ["post", "put"] as const) {
  vaultApp[method]("/secret/config", async (c) => {
    // cas_required for the whole mount: a write over every path.
    await authorize(c, "secrets:write", "vault.config.write", onSecret("*"));
    const body = await jsonBody(c);
    // Mount-wide pruning or scheduled deletion would delete across every path at once, past
    // each path's own delete guard and approval policy: set them per key (secret/metadata).
    if (body.max_versions !== undefined && body.max_versions !== 0)
      throw vaultError(400, "max_versions is set per key in Hush (secret/metadata/<path>); the mount keeps every version");
    if (body.delete_version_after !== undefined && parseDuration(body.delete_version_after) !== 0) {
      throw vaultError(400, "delete_version_after is set per key in Hush (secret/metadata/<path>)");
    }
    if (body.cas_required !== undefined && typeof body.cas_required !== "boolean") throw vaultError(400, "cas_required must be a boolean");
    const principal = c.get("principal");
    const now = Date.now();
    const casRequired = body.cas_required === undefined ? (await mountConfig(c)).casRequired : (body.cas_required as boolean);
    await commit(
      c,
      [
        c
          .get("db")
          .insert(vaultConfig)
          .values({ tenantId: principal.tenantId, casRequired, updatedAt: now, updatedBy: principal.subject })
          .onConflictDoUpdate({ target: vaultConfig.tenantId, set: { casRequired, updatedAt: now, updatedBy: principal.subject } }),
      ],
      { audit: { action: "vault.config", resource: "vault:secret/config", detail: { cas_required: casRequired } }, response: { status: 204, body: "" } },
    );
    return noContent(c);
  });
}

vaultApp.all("*", (c) => c.json({ errors: [`no handler for route "${c.req.path.replace(/^\/v1\//, "")}"`] }, 404));
