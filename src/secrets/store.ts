import { and, asc, eq, gt, gte, isNull, lt, lte, ne, sql, type SQL } from "drizzle-orm";
import { fromUtf8, randomString, utf8, wipe } from "../crypto/encoding";
import { IntegrityError, open, seal, type Keyring } from "../crypto/envelope";
import { valueMac } from "../scanning/mac";
import { prepared, rawStatement, type BatchItem, type Db } from "../db/client";
import { secrets, secretVersions } from "../db/schema";
import type { CHARSETS, GenerateSpec, ROTATION_POLICIES, SECRET_TYPES } from "./schemas";
import { iso } from "../http/openapi";

export type SecretRow = typeof secrets.$inferSelect;
export type VersionRow = typeof secretVersions.$inferSelect;

export function metadataView(row: SecretRow) {
  return {
    path: row.path,
    current_version: row.currentVersion,
    type: row.type as (typeof SECRET_TYPES)[number],
    environment: row.environment,
    description: row.description,
    tags: row.tags,
    expires_at: iso(row.expiresAt),
    created_at: iso(row.createdAt)!,
    created_by: row.createdBy,
    updated_at: iso(row.updatedAt)!,
    updated_by: row.updatedBy,
    deleted_at: iso(row.deletedAt),
    allowed_services: row.allowedServices ?? null,
    rotation_policy: row.rotationPolicy as (typeof ROTATION_POLICIES)[number],
    rotation_days: row.rotationDays,
    next_rotation_at: iso(row.nextRotationAt),
    max_versions: row.maxVersions,
    custom_metadata: row.customMetadata,
    generated: row.generator as { length: number; charset: (typeof CHARSETS)[number] } | null,
  };
}

export const DAY_MS = 86_400_000;

/** When a version written at `now` is due for rotation; null without rotation_days. */
export const nextRotationAt = (rotationDays: number | null, now: number) => (rotationDays === null ? null : now + rotationDays * DAY_MS);

const ALPHABETS: Record<(typeof CHARSETS)[number], string> = {
  alnum: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  hex: "0123456789abcdef",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  // Printable ASCII without the space.
  ascii: Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)).join(""),
};

/** A fresh random value for `generate: {length, charset}` (unbiased; see randomString). */
export const generateValue = (spec: GenerateSpec) => randomString(spec.length, ALPHABETS[spec.charset]);

/**
 * Crypto-shreds versions: ciphertext, IV and wrapped data key become NULL, so the
 * value is gone for good; number, times and authors stay, marked destroyed.
 */
export function destroyVersions(db: Db, tenantId: string, path: string, now: number, which: SQL | undefined) {
  return db
    .update(secretVersions)
    .set({ ciphertext: null, iv: null, wrappedKey: null, valueMac: null, valueMacKeyId: null, state: "destroyed", destroyedAt: now })
    .where(and(eq(secretVersions.tenantId, tenantId), eq(secretVersions.path, path), ne(secretVersions.state, "destroyed"), which));
}

/** Destroys what falls outside `max_versions` once `newest` is written (0 keeps everything). */
export function pruneBeyondMaxVersions(db: Db, tenantId: string, path: string, maxVersions: number, newest: number, now: number) {
  if (maxVersions <= 0 || newest <= maxVersions) return [];
  return [destroyVersions(db, tenantId, path, now, lte(secretVersions.version, newest - maxVersions))];
}

/**
 * The statements that publish the next version of an existing secret: the sealed
 * version, the secret row (guarded on the version it was read at, so a concurrent
 * writer makes the batch fail instead of forking history), the new next_rotation_at
 * and the max_versions pruning. Run them in one batch with the audit event.
 */
export function nextVersionStatements(
  db: Db,
  existing: SecretRow,
  next: { version: number; sealed: Awaited<ReturnType<typeof sealVersion>>; now: number; actor: string; sourceVersion?: number },
  changes: Partial<SecretRow> = {},
) {
  const updated: SecretRow = { ...existing, ...changes };
  updated.currentVersion = next.version;
  updated.updatedAt = next.now;
  updated.updatedBy = next.actor;
  updated.deletedAt = null;
  updated.nextRotationAt = nextRotationAt(updated.rotationDays, next.now);
  const { tenantId, path } = existing;
  const statements: BatchItem[] = [
    insertVersion(
      db,
      { tenantId, path, version: next.version, createdAt: next.now, createdBy: next.actor, sourceVersion: next.sourceVersion ?? null },
      next.sealed,
    ),
    Object.keys(changes).length === 1 && "generator" in changes
      ? rawStatement(db, NEXT_VERSION_SQL, [
          next.version,
          next.now,
          next.actor,
          updated.nextRotationAt,
          changes.generator === null || changes.generator === undefined ? null : JSON.stringify(changes.generator),
          tenantId,
          path,
          existing.currentVersion,
        ])
      : db
          .update(secrets)
          .set({
            ...changes,
            currentVersion: next.version,
            updatedAt: next.now,
            updatedBy: next.actor,
            deletedAt: null,
            nextRotationAt: updated.nextRotationAt,
          })
          .where(and(eq(secrets.tenantId, tenantId), eq(secrets.path, path), eq(secrets.currentVersion, existing.currentVersion))),
    ...pruneBeyondMaxVersions(db, tenantId, path, updated.maxVersions, next.version, next.now),
  ];
  return { statements, updated };
}

/** A version row by number (any state), for history, recover and destroy. */
export function findVersion(db: Db, tenantId: string, path: string, version: number) {
  return db
    .select()
    .from(secretVersions)
    .where(and(eq(secretVersions.tenantId, tenantId), eq(secretVersions.path, path), eq(secretVersions.version, version)))
    .get();
}

/** The place a version's ciphertext is bound to (see crypto/envelope.ts). */
export const versionPlace = (path: string, version: number) => ["secret", path, version] as const;

/** The secret row joined to one version: the current one, or the one numbered `version`. */
const secretVersionQuery = (db: Db, byNumber: boolean) =>
  db
    .select({ secret: secrets, version: secretVersions })
    .from(secrets)
    .leftJoin(
      secretVersions,
      and(
        eq(secretVersions.tenantId, secrets.tenantId),
        eq(secretVersions.path, secrets.path),
        eq(secretVersions.version, byNumber ? sql.placeholder("version") : secrets.currentVersion),
      ),
    )
    .where(and(eq(secrets.tenantId, sql.placeholder("tenantId")), eq(secrets.path, sql.placeholder("path"))))
    .prepare();

/** One secret with one of its versions (the current one by default): one indexed lookup. */
export async function findSecretVersion(db: Db, tenantId: string, path: string, version?: number) {
  const row =
    version === undefined
      ? await prepared(db, "secret-current-version", (db) => secretVersionQuery(db, false)).get({ tenantId, path })
      : await prepared(db, "secret-numbered-version", (db) => secretVersionQuery(db, true)).get({ tenantId, path, version });
  return row ?? undefined;
}

export function findSecret(db: Db, tenantId: string, path: string) {
  return db
    .select()
    .from(secrets)
    .where(and(eq(secrets.tenantId, tenantId), eq(secrets.path, path)))
    .get();
}

/**
 * Seals a version's value and computes its scan MAC (docs/scanning.md): the one place every
 * writer (native, Vault, import, recover, rotate, the sweeper) gets both, so `insertVersion`
 * stores them side by side.
 */
export async function sealVersion(keyring: Keyring, tenantId: string, path: string, version: number, value: string) {
  const plaintext = utf8(value);
  try {
    const sealed = await seal(keyring, tenantId, versionPlace(path, version), plaintext);
    return { ...sealed, ...(await valueMac(keyring, tenantId, plaintext)) };
  } finally {
    wipe(plaintext);
  }
}

export async function openVersion(keyring: Keyring, version: VersionRow): Promise<string> {
  if (!version.ciphertext || !version.iv || !version.wrappedKey || !version.keyId) throw new IntegrityError();
  const plaintext = await open(keyring, version.tenantId, versionPlace(version.path, version.version), {
    ciphertext: version.ciphertext,
    iv: version.iv,
    wrappedKey: version.wrappedKey,
    keyId: version.keyId,
  });
  try {
    return fromUtf8(plaintext);
  } catch {
    throw new IntegrityError();
  } finally {
    wipe(plaintext);
  }
}

const INSERT_VERSION_SQL =
  'insert into "secret_versions" ("tenant_id", "path", "version", "ciphertext", "iv", "wrapped_key", "key_id", "state", "created_at", "created_by", "source_version", "value_mac", "value_mac_key_id") values (?, ?, ?, ?, ?, ?, ?, \'live\', ?, ?, ?, ?, ?)';

/** A new live version (one fixed statement: built once, not by drizzle's builder on every write). */
export function insertVersion(
  db: Db,
  row: { tenantId: string; path: string; version: number; createdAt: number; createdBy: string; sourceVersion?: number | null },
  sealed: Awaited<ReturnType<typeof sealVersion>>,
): BatchItem {
  return rawStatement(db, INSERT_VERSION_SQL, [
    row.tenantId,
    row.path,
    row.version,
    sealed.ciphertext,
    sealed.iv,
    sealed.wrappedKey,
    sealed.keyId,
    row.createdAt,
    row.createdBy,
    row.sourceVersion ?? null,
    sealed.valueMac,
    sealed.valueMacKeyId,
  ]);
}

/** The secret row's update for its next version when nothing but `generator` changes (the common PUT): one fixed statement. */
const NEXT_VERSION_SQL =
  'update "secrets" set "current_version" = ?, "updated_at" = ?, "updated_by" = ?, "deleted_at" = null, "next_rotation_at" = ?, "generator" = ? where ("secrets"."tenant_id" = ? and "secrets"."path" = ? and "secrets"."current_version" = ?)';

export interface ListFilter {
  prefix?: string;
  pattern?: string;
  tag?: string;
  type?: string;
  environment?: string;
  includeDeleted: boolean;
  after?: string;
  limit: number;
}

/** Metadata only, ordered by path, walking the primary key from the cursor. */
export function listSecrets(db: Db, tenantId: string, filter: ListFilter) {
  const where: (SQL | undefined)[] = [eq(secrets.tenantId, tenantId)];
  if (filter.after) where.push(gt(secrets.path, filter.after));
  if (filter.prefix) {
    // Path characters are all below DEL, so [prefix, prefix + DEL) is exactly the prefix range.
    where.push(gte(secrets.path, filter.prefix), lt(secrets.path, `${filter.prefix}\x7f`));
  }
  if (filter.pattern) where.push(sql`${secrets.path} GLOB ${filter.pattern}`);
  if (filter.tag) where.push(sql`EXISTS (SELECT 1 FROM json_each(${secrets.tags}) WHERE value = ${filter.tag})`);
  if (filter.type) where.push(eq(secrets.type, filter.type));
  if (filter.environment) where.push(eq(secrets.environment, filter.environment));
  if (!filter.includeDeleted) where.push(isNull(secrets.deletedAt));
  return db
    .select()
    .from(secrets)
    .where(and(...where))
    .orderBy(asc(secrets.path))
    .limit(filter.limit + 1)
    .all();
}
