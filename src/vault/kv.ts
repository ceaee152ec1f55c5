import { and, eq, inArray, isNotNull, or } from "drizzle-orm";
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

export const rfc3339 = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

/**
 * A version's `deletion_time` as Vault shows it: when it was (or is scheduled to be) deleted.
 * Destroying a version that was never deleted leaves it "", as in Vault.
 */
const deletionTime = (version: VersionRow) => rfc3339(version.deletedAt);

/** Vault's per-version metadata block. */
export function versionMetadata(secret: SecretRow, version: VersionRow) {
  return {
    created_time: rfc3339(version.createdAt),
    custom_metadata: secret.customMetadata ?? null,
    deletion_time: deletionTime(version),
    destroyed: version.state === "destroyed",
    version: version.version,
  };
}

/**
 * The versions Vault still shows: with `max_versions` set, the ones pruned past it are gone
 * (Vault removes them from `versions` and moves `oldest_version`); explicitly destroyed ones
 * inside the window stay, marked destroyed.
 */
export function keptVersions(secret: SecretRow, versions: VersionRow[]): VersionRow[] {
  if (secret.maxVersions <= 0) return versions;
  const floor = secret.currentVersion - secret.maxVersions;
  return versions.filter((v) => v.version > floor);
}

/** Vault's metadata document for a whole secret. */
export function secretMetadata(secret: SecretRow, all: VersionRow[]) {
  const versions = keptVersions(secret, all);
  return {
    cas_required: secret.casRequired,
    created_time: rfc3339(secret.createdAt),
    current_version: secret.currentVersion,
    custom_metadata: secret.customMetadata ?? null,
    delete_version_after: goDuration(secret.deleteVersionAfter ?? 0),
    max_versions: secret.maxVersions,
    oldest_version: versions.length ? Math.min(...versions.map((v) => v.version)) : 0,
    updated_time: rfc3339(secret.updatedAt),
    versions: Object.fromEntries(
      versions.map((v) => [String(v.version), { created_time: rfc3339(v.createdAt), deletion_time: deletionTime(v), destroyed: v.state === "destroyed" }]),
    ),
  };
}

/** Seconds as Go's time.Duration prints them (what Vault answers): 0s, 1m30s, 1h0m0s. */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A Vault duration: an integer number of seconds (number or digits), or Go-style units
 * (`90s`, `1h30m`, `7d`). Whole seconds, rounded down; undefined when it is not one.
 */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === "number") return Number.isInteger(input) && input >= 0 && input <= 1e10 ? input : undefined;
  if (typeof input !== "string" || input.length > 64) return undefined;
  const text = input.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) total += Number(n) * UNIT_SECONDS[unit!]!;
  return total <= 1e10 ? Math.floor(total) : undefined;
}

/** Vault's limits on custom_metadata: 64 keys, keys up to 128 bytes, values up to 512 bytes. */
export function customMetadataProblem(custom: unknown): string | undefined {
  if (custom === null) return undefined;
  if (typeof custom !== "object" || Array.isArray(custom)) return "custom_metadata must be a map of strings to strings";
  const entries = Object.entries(custom as Record<string, unknown>);
  if (entries.length > 64) return `custom_metadata may have at most 64 keys (got ${entries.length})`;
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  for (const [key, value] of entries) {
    if (typeof value !== "string") return `custom_metadata value for key "${key.slice(0, 128)}" must be a string`;
    if (key.length === 0) return "custom_metadata keys may not be empty";
    if (bytes(key) > 128) return `custom_metadata key "${key.slice(0, 32)}..." is longer than 128 bytes`;
    if (bytes(value) > 512) return `custom_metadata value for key "${key}" is longer than 512 bytes`;
  }
  return undefined;
}

/** Vault's `subkeys`: the data's structure with every leaf replaced by null, down to `depth` (0: all). */
export function subkeys(data: unknown, depth: number, level = 1): unknown {
  if (!data || typeof data !== "object" || Array.isArray(data)) return null;
  if (depth > 0 && level > depth) return null;
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [
      k,
      v && typeof v === "object" && !Array.isArray(v) && (depth === 0 || level < depth) ? subkeys(v, depth, level + 1) : null,
    ]),
  );
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
        deletedAt === null
          ? or(eq(secretVersions.state, "deleted"), and(eq(secretVersions.state, "live"), isNotNull(secretVersions.deletedAt)))
          : eq(secretVersions.state, "live"),
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
