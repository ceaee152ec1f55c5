import { fromBase64, fromUtf8, toBase64Url, utf8 } from "../crypto/encoding";
import { badRequest, Problem } from "../http/problem";
import { MAX_VALUE_BYTES, SecretPath, type GenerateSpec, type MetadataInput } from "./schemas";
import { generateValue, nextRotationAt, type SecretRow } from "./store";

export function checkValueSize(value: string, path?: string): void {
  if (utf8(value).length > MAX_VALUE_BYTES) {
    throw new Problem(
      413,
      "value-too-large",
      `Secret values are limited to ${MAX_VALUE_BYTES} bytes of UTF-8${path ? ` (${path})` : ""}`,
      path ? { path } : {},
    );
  }
}

/** True when every string (and key) inside a JSON value is well-formed Unicode. */
export function isWellFormedJson(data: unknown): boolean {
  if (typeof data === "string") return data.isWellFormed();
  if (Array.isArray(data)) return data.every(isWellFormedJson);
  if (data !== null && typeof data === "object") return Object.entries(data).every(([key, item]) => key.isWellFormed() && isWellFormedJson(item));
  return true;
}

/** The value to seal: the one sent, or a fresh random one for `generate` (remembered for automatic rotation). */
export function valueFrom(input: { value?: string; generate?: GenerateSpec }, path?: string) {
  if (input.generate) return { value: generateValue(input.generate), generator: input.generate };
  checkValueSize(input.value!, path);
  return { value: input.value!, generator: undefined };
}

/**
 * AUTOMATIC rotation needs a period: without `rotation_days` no next_rotation_at is ever set and
 * nothing would rotate, so the write is refused instead of accepted and silently ignored.
 *
 * @example
 * requireRotationPeriod({ rotationPolicy: "AUTOMATIC", rotationDays: null }); // throws a 422 problem
 */
export function requireRotationPeriod(row: Pick<SecretRow, "rotationPolicy" | "rotationDays">, path?: string): void {
  if (row.rotationPolicy === "AUTOMATIC" && row.rotationDays === null) {
    throw new Problem(
      422,
      "rotation-period-required",
      `rotation_policy AUTOMATIC needs rotation_days (1-3650), sent with it or already set${path ? ` (${path})` : ""}`,
      path ? { path } : {},
    );
  }
}

const toMillis = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/** Column changes for the metadata fields that were sent (absent fields stay as they are). */
export function metadataChanges(input: MetadataInput): Partial<SecretRow> {
  const changes: Partial<SecretRow> = {};
  if (input.type !== undefined) changes.type = input.type;
  if (input.environment !== undefined) changes.environment = input.environment;
  if (input.description !== undefined) changes.description = input.description;
  if (input.tags !== undefined) changes.tags = input.tags;
  if (input.expires_at !== undefined) changes.expiresAt = toMillis(input.expires_at);
  if (input.rotation_policy !== undefined) changes.rotationPolicy = input.rotation_policy;
  if (input.rotation_days !== undefined) changes.rotationDays = input.rotation_days;
  if (input.max_versions !== undefined) changes.maxVersions = input.max_versions;
  if (input.custom_metadata !== undefined) changes.customMetadata = input.custom_metadata;
  if (input.allowed_services !== undefined) changes.allowedServices = input.allowed_services;
  return changes;
}

/** A new secret row at version 1 with defaults for everything not sent. */
export function newSecretRow(
  tenantId: string,
  path: string,
  actor: string,
  now: number,
  changes: Partial<SecretRow>,
  generator: GenerateSpec | undefined,
): SecretRow {
  const row: SecretRow = {
    tenantId,
    path,
    currentVersion: 1,
    type: "CUSTOM",
    environment: null,
    description: null,
    tags: [],
    expiresAt: null,
    rotationPolicy: "MANUAL",
    rotationDays: null,
    nextRotationAt: null,
    maxVersions: 0,
    customMetadata: null,
    createdAt: now,
    createdBy: actor,
    updatedAt: now,
    updatedBy: actor,
    deletedAt: null,
    allowedServices: null,
    generator: generator ?? null,
    casRequired: false,
    deleteVersionAfter: null,
    ...changes,
  };
  row.nextRotationAt = nextRotationAt(row.rotationDays, now);
  return row;
}

/** OpenAPI snippets for route definitions. */
export { body, json } from "../http/openapi";

/** Listings page by path: the cursor is the last path of the previous page, base64url. */
export const pathCursor = (path: string) => toBase64Url(utf8(path));

export function afterCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  try {
    return SecretPath.parse(fromUtf8(fromBase64(cursor)));
  } catch {
    throw badRequest("The cursor is not one this API returned");
  }
}
