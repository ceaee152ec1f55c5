import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { secretVersions } from "../db/schema";
import type { SecretRow, VersionRow } from "../secrets/store";

/**
 * How a Vault KV v2 secret maps onto the native store: one Hush path per Vault
 * path, its value the JSON of the `data` object. A native value that is not a JSON
 * object reads through Vault as {"value": "<the string>"}.
 */
export function dataFromValue(value: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // not JSON: fall through
  }
  return { value };
}

const rfc3339 = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

/** Vault's per-version metadata block. */
export function versionMetadata(secret: SecretRow, version: VersionRow) {
  return {
    created_time: rfc3339(version.createdAt),
    custom_metadata: secret.customMetadata ?? null,
    deletion_time: rfc3339(version.state === "destroyed" ? version.destroyedAt : version.deletedAt),
    destroyed: version.state === "destroyed",
    version: version.version,
  };
}

/** Vault's metadata document for a whole secret. */
export function secretMetadata(secret: SecretRow, versions: VersionRow[]) {
  return {
    cas_required: false,
    created_time: rfc3339(secret.createdAt),
    current_version: secret.currentVersion,
    custom_metadata: secret.customMetadata ?? null,
    delete_version_after: "0s",
    max_versions: secret.maxVersions,
    oldest_version: versions.length ? Math.min(...versions.map((v) => v.version)) : 0,
    updated_time: rfc3339(secret.updatedAt),
    versions: Object.fromEntries(
      versions.map((v) => [
        String(v.version),
        {
          created_time: rfc3339(v.createdAt),
          deletion_time: rfc3339(v.state === "destroyed" ? v.destroyedAt : v.deletedAt),
          destroyed: v.state === "destroyed",
        },
      ]),
    ),
  };
}

export function allVersions(db: Db, tenantId: string, path: string) {
  return db
    .select()
    .from(secretVersions)
    .where(and(eq(secretVersions.tenantId, tenantId), eq(secretVersions.path, path)))
    .orderBy(secretVersions.version)
    .all();
}

/** Vault `delete`/`undelete` of versions: only live <-> deleted; destroyed stays destroyed. */
export function setVersionsDeleted(db: Db, tenantId: string, path: string, versions: number[], deletedAt: number | null) {
  return db
    .update(secretVersions)
    .set({ state: deletedAt === null ? "live" : "deleted", deletedAt })
    .where(
      and(
        eq(secretVersions.tenantId, tenantId),
        eq(secretVersions.path, path),
        inArray(secretVersions.version, versions),
        eq(secretVersions.state, deletedAt === null ? "deleted" : "live"),
      ),
    );
}

/** The immediate children of `folder` among `paths`: names, with "/" for sub-folders. */
export function childKeys(folder: string, paths: string[]): string[] {
  const keys = new Set<string>();
  for (const path of paths) {
    const rest = path.slice(folder.length);
    const slash = rest.indexOf("/");
    keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...keys].sort();
}
