import { and, eq, inArray } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { authorize } from "../auth/access";
import { bearerFrom, resolveToken, throttleFailedAuth } from "../auth/tokens";
import { loadKeyring } from "../crypto/envelope";
import type { BatchItem } from "../db/client";
import { secrets, secretVersions } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { loggable, problemOf } from "../http/errors";
import { idempotency } from "../http/idempotency";
import { apiHeaders, limitBody } from "../http/middleware";
import { Problem } from "../http/problem";
import { checkValueSize, isWellFormedJson, newSecretRow } from "../secrets/input";
import { guardDelete, guardDestroy, guardMaxVersions, guardNewVersion } from "../secrets/dual-control";
import { secretResource } from "../secrets/read";
import { listable, readRefusal, refuse, releaseValue } from "../secrets/read-rule";
import { SecretPath } from "../secrets/schemas";
import { destroyVersions, findSecret, findSecretVersion, insertVersion, listSecrets, nextVersionStatements, sealVersion } from "../secrets/store";
import { allVersions, childKeys, dataFromValue, secretMetadata, setVersionsDeleted, versionMetadata } from "./kv";

/**
 * A subset of Vault's HTTP API (KV v2 mounted at `secret/`), so existing Vault
 * clients and scripts keep working: Vault's envelopes and status codes, Vault's
 * `{"errors": [...]}` bodies. It reads and writes the same sealed, versioned store
 * as the native API. Not in /openapi.json: its wire format is Vault's, not ours.
 */
export const vaultApp = new Hono<AppEnv>();

const envelope = (c: Context<AppEnv>, data: unknown) => ({
  request_id: c.get("requestId"),
  lease_id: "",
  renewable: false,
  lease_duration: 0,
  data,
  wrap_info: null,
  warnings: null,
  auth: null,
});

const vaultError = (status: ContentfulStatusCode, ...errors: string[]) => new Problem(status, "vault", errors[0], { errors });

vaultApp.onError((err, c) => {
  let status: ContentfulStatusCode = 500;
  let errors: string[] = ["internal error"];
  const problem = problemOf(err);
  if (problem) {
    status = problem.status;
    errors = (problem.extras.errors as string[] | undefined)?.filter((e) => typeof e === "string") ?? [problem.detail ?? problem.title];
    if (status === 401) status = 403; // Vault answers "permission denied" for a bad token
  } else if (err instanceof HTTPException) {
    status = err.status as ContentfulStatusCode;
    errors = [err.message || "bad request"];
  } else {
    console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), ...loggable(err) }));
  }
  return c.json({ errors }, status);
});

vaultApp.use("*", apiHeaders, limitBody(1024 * 1024));

// X-Vault-Token (what Vault clients send) or Authorization: Bearer, both Hush tokens.
vaultApp.use("*", async (c, next) => {
  const token = c.req.header("x-vault-token") || bearerFrom(c.req.header("authorization"));
  const result = token ? await resolveToken(c.env, c.get("db"), token) : undefined;
  if (!result || "rejected" in result) {
    await throttleFailedAuth(c.env, c.req.header("cf-connecting-ip"), token);
    throw vaultError(403, "permission denied");
  }
  c.set("principal", result.principal);
  await next();
});
vaultApp.use("*", idempotency);

function vaultPath(raw: string): string {
  const parsed = SecretPath.safeParse(raw);
  if (!parsed.success) throw vaultError(400, `invalid path: ${parsed.error.issues[0]?.message ?? "not a Hush path"}`);
  return parsed.data;
}

async function jsonBody(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw vaultError(400, "failed to parse JSON input");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw vaultError(400, "request body must be a JSON object");
  return parsed as Record<string, unknown>;
}

function versionList(body: Record<string, unknown>): number[] {
  const versions = body.versions;
  if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => Number.isInteger(v) && v > 0)) {
    throw vaultError(400, "no versions provided");
  }
  return [...new Set(versions as number[])];
}

const noContent = (c: Context<AppEnv>) => c.body(null, 204);

vaultApp.get("/auth/token/lookup-self", (c) => {
  const p = c.get("principal");
  const ttl = p.expiresAt === null ? 0 : Math.max(0, Math.floor((p.expiresAt - Date.now()) / 1000));
  return c.json(
    envelope(c, {
      accessor: p.tokenId,
      creation_ttl: ttl,
      display_name: p.subject,
      entity_id: "",
      expire_time: p.expiresAt === null ? null : new Date(p.expiresAt).toISOString(),
      explicit_max_ttl: 0,
      id: p.tokenId, // never echo the bearer token itself
      meta: { tenant: p.tenantId },
      num_uses: 0,
      orphan: true,
      path: "auth/token/create",
      policies: [...p.scopes],
      renewable: false,
      ttl,
      type: "service",
    }),
  );
});

// The stock vault CLI asks this first to learn the mount's KV version.
const mountInfo = (c: Context<AppEnv>) =>
  c.json(
    envelope(c, {
      accessor: "kv_hush",
      config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
      description: "Hush secret store (KV v2 compatible)",
      external_entropy_access: false,
      local: false,
      options: { version: "2" },
      path: "secret/",
      seal_wrap: false,
      type: "kv",
      uuid: "",
    }),
  );
vaultApp.get("/sys/internal/ui/mounts/secret", mountInfo);
vaultApp.get("/sys/internal/ui/mounts/secret/*", mountInfo);

vaultApp.get("/secret/data/:path{.+}", async (c) => {
  const path = vaultPath(c.req.param("path"));
  const versionParam = c.req.query("version");
  const version = versionParam && versionParam !== "0" ? Number(versionParam) : undefined;
  if (version !== undefined && !(Number.isInteger(version) && version > 0)) throw vaultError(400, "invalid version");
  const principal = c.get("principal");
  loadKeyring(c.env.MASTER_KEYS);
  // The native read rule decides; only the answer's shape is Vault's.
  const found = await findSecretVersion(c.get("db"), principal.tenantId, path, version);
  const refusal = readRefusal(principal, "vault", path, found);
  if (refusal) {
    const problem = await refuse(c, refusal, path, "vault", version);
    if ((refusal.reason === "version-deleted" || refusal.reason === "version-destroyed") && found?.version) {
      // Vault answers a deleted or destroyed version with 404 and its metadata.
      return c.json(envelope(c, { data: null, metadata: versionMetadata(found.secret, found.version) }), 404);
    }
    if (problem.status === 404) return c.json({ errors: [] }, 404);
    throw problem.status === 403 ? vaultError(403, `permission denied: ${problem.detail}`) : vaultError(problem.status, problem.detail ?? problem.title);
  }
  const { secret, version: row, value } = await releaseValue(c, path, "vault", { version, found });
  await commit(c, [], { audit: { action: "secret.read", resource: secretResource(path), detail: { version: row.version, via: "vault" } } });
  return c.json(envelope(c, { data: dataFromValue(value), metadata: versionMetadata(secret, row) }));
});

/** Writes `data` as the next version (create when absent); `cas` as in Vault. */
async function writeData(c: Context<AppEnv>, path: string, data: Record<string, unknown>, cas: number | undefined, action: string) {
  const principal = c.get("principal");
  const db = c.get("db");
  const keyring = loadKeyring(c.env.MASTER_KEYS);
  // JSON.stringify escapes a lone surrogate, so check the strings themselves.
  if (!isWellFormedJson(data)) throw vaultError(400, "data must be valid Unicode (no lone surrogates)");
  const value = JSON.stringify(data);
  checkValueSize(value, path);
  const existing = await findSecret(db, principal.tenantId, path);
  const current = existing && existing.deletedAt === null ? existing.currentVersion : existing?.currentVersion ?? 0;
  if (cas !== undefined && cas !== current) throw vaultError(400, "check-and-set parameter did not match the current version");
  const version = current + 1;
  // The same dual control as the native API: a new version of an existing secret is a rotation.
  const approval = await guardNewVersion(c, path, existing);
  const now = Date.now();
  const sealed = await sealVersion(keyring, principal.tenantId, path, version, value);
  let statements: BatchItem[];
  let row;
  if (existing) {
    ({ statements, updated: row } = nextVersionStatements(db, existing, { version, sealed, now, actor: principal.subject }));
  } else {
    row = newSecretRow(principal.tenantId, path, principal.subject, now, {}, undefined);
    statements = [db.insert(secrets).values(row), insertVersion(db, { tenantId: principal.tenantId, path, version, createdAt: now, createdBy: principal.subject }, sealed)];
  }
  const body = envelope(c, {
    created_time: new Date(now).toISOString(),
    custom_metadata: row.customMetadata ?? null,
    deletion_time: "",
    destroyed: false,
    version,
  });
  await commit(c, [...statements, ...approval], {
    audit: { action: existing ? action : "secret.create", resource: secretResource(path), detail: { version, via: "vault" } },
    response: { status: 200, body },
  });
  return c.json(body);
}

function dataAndCas(body: Record<string, unknown>) {
  const data = body.data;
  if (!data || typeof data !== "object" || Array.isArray(data)) throw vaultError(400, "no data provided");
  const options = (body.options ?? {}) as { cas?: unknown };
  if (typeof options !== "object" || (options.cas !== undefined && !(Number.isInteger(options.cas) && (options.cas as number) >= 0))) {
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
  return writeData(c, path, merged, cas ?? secret.currentVersion, "secret.write");
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
  if (!secret) return noContent(c); // Vault: deleting nothing succeeds
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
  const keys = childKeys(prefix, paths.filter((p) => listable(principal, p)));
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
  return c.json(envelope(c, secretMetadata(secret, await allVersions(c.get("db"), secret.tenantId, path))));
});

for (const method of ["post", "put"] as const) {
  vaultApp[method]("/secret/metadata/:path{.+}", async (c) => {
    const path = vaultPath(c.req.param("path"));
    await authorize(c, "secrets:write", "secret.metadata", path);
    const body = await jsonBody(c);
    const changes: { maxVersions?: number; customMetadata?: Record<string, string> | null } = {};
    if (body.max_versions !== undefined) {
      if (!Number.isInteger(body.max_versions) || (body.max_versions as number) < 0) throw vaultError(400, "max_versions must be a non-negative integer");
      changes.maxVersions = body.max_versions as number;
    }
    if (body.custom_metadata !== undefined) {
      const custom = body.custom_metadata;
      if (custom !== null && (typeof custom !== "object" || Array.isArray(custom) || !Object.values(custom).every((v) => typeof v === "string"))) {
        throw vaultError(400, "custom_metadata must map strings to strings");
      }
      changes.customMetadata = custom as Record<string, string> | null;
    }
    const principal = c.get("principal");
    const db = c.get("db");
    const secret = await secretFor(c, path);
    if (!secret) throw vaultError(404, "no secret at this path; write data first");
    // A lower max_versions destroys history, as natively.
    const approval = await guardMaxVersions(c, secret, changes.maxVersions, secret.currentVersion);
    const now = Date.now();
    await commit(
      c,
      [db.update(secrets).set({ ...changes, updatedAt: now, updatedBy: principal.subject }).where(and(eq(secrets.tenantId, principal.tenantId), eq(secrets.path, path))), ...approval],
      { audit: { action: "secret.metadata", resource: secretResource(path), detail: { via: "vault" } }, response: { status: 204, body: "" } },
    );
    return noContent(c);
  });
}

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

vaultApp.all("*", (c) => c.json({ errors: [`no handler for route "${c.req.path.replace(/^\/v1\//, "")}"`] }, 404));
