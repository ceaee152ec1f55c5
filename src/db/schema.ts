import { sql } from "drizzle-orm";
import { customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Binary column as Uint8Array (D1 hands blobs back as ArrayBuffer or number[]). */
export const bytes = customType<{ data: Uint8Array; driverData: ArrayBuffer | number[] | Uint8Array }>({
  dataType: () => "blob",
  fromDriver: (value) =>
    value instanceof Uint8Array ? value : Array.isArray(value) ? Uint8Array.from(value) : new Uint8Array(value),
  toDriver: (value) => value,
});

const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();
/** Milliseconds since the epoch. */
const time = (name: string) => integer(name);

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: time("created_at").notNull(),
});

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    /** SHA-256 (hex) of the bearer token; the token itself is never stored. */
    tokenHash: text("token_hash").notNull(),
    /** First characters of the token, to recognise it in listings. */
    prefix: text("prefix").notNull(),
    subject: text("subject").notNull(),
    scopes: json<string[]>("scopes").notNull(),
    paths: json<string[]>("paths"),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    expiresAt: time("expires_at"),
    revokedAt: time("revoked_at"),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.tokenHash), index("api_tokens_tenant").on(t.tenantId, t.subject)],
);

export const secrets = sqliteTable(
  "secrets",
  {
    tenantId: text("tenant_id").notNull(),
    path: text("path").notNull(),
    currentVersion: integer("current_version").notNull(),
    type: text("type").notNull().default("CUSTOM"),
    environment: text("environment"),
    description: text("description"),
    tags: json<string[]>("tags").notNull().default(sql`'[]'`),
    expiresAt: time("expires_at"),
    rotationPolicy: text("rotation_policy").notNull().default("MANUAL"),
    rotationDays: integer("rotation_days"),
    nextRotationAt: time("next_rotation_at"),
    maxVersions: integer("max_versions").notNull().default(0),
    customMetadata: json<Record<string, string>>("custom_metadata"),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    updatedAt: time("updated_at").notNull(),
    updatedBy: text("updated_by").notNull(),
    deletedAt: time("deleted_at"),
    // Full secret store (issue 3)
    /** How to make a new value ({length, charset}) for secrets created with `generate`; the sweeper uses it. */
    generator: json<{ length: number; charset: string }>("generator"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.path] }),
    // Full secret store (issue 3): the sweeper and the pending/expiring listings walk these.
    index("secrets_next_rotation").on(t.nextRotationAt),
    index("secrets_expires").on(t.tenantId, t.expiresAt),
  ],
);

export const secretVersions = sqliteTable(
  "secret_versions",
  {
    tenantId: text("tenant_id").notNull(),
    path: text("path").notNull(),
    version: integer("version").notNull(),
    /** AES-256-GCM ciphertext of the value; NULL once destroyed (crypto-shredded). */
    ciphertext: bytes("ciphertext"),
    iv: bytes("iv"),
    /** Data key wrapped by the tenant KEK; NULL once destroyed. */
    wrappedKey: bytes("wrapped_key"),
    keyId: text("key_id"),
    state: text("state", { enum: ["live", "deleted", "destroyed"] }).notNull().default("live"),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    /** After this time the version no longer reads by number (rotation grace period). */
    readableUntil: time("readable_until"),
    destroyedAt: time("destroyed_at"),
    // Full secret store (issue 3)
    /** The version this one republishes (recover); NULL for a freshly written value. */
    sourceVersion: integer("source_version"),
    // Vault KV v2 subset (issue 8)
    /** When this one version was soft-deleted (Vault `delete`); it reads 404 until undeleted. */
    deletedAt: time("deleted_at"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.path, t.version] })],
);

export const auditEvents = sqliteTable(
  "audit_events",
  {
    tenantId: text("tenant_id").notNull(),
    /** Gapless per tenant; assigned inside the write's batch. */
    seq: integer("seq").notNull(),
    id: text("id").notNull(),
    at: time("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    resource: text("resource"),
    outcome: text("outcome", { enum: ["success", "denied", "failure"] }).notNull(),
    status: integer("status").notNull(),
    requestId: text("request_id").notNull(),
    /** Non-secret context (reason of a denial, version numbers); never a value or token. */
    detail: json<Record<string, unknown>>("detail"),
    /** SHA-256 over the previous event's hash and this event; set by the AuditChain sealer. */
    hash: text("hash"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.seq] }),
    index("audit_events_resource").on(t.tenantId, t.resource, t.seq),
    index("audit_events_unsealed").on(t.tenantId, t.seq).where(sql`hash IS NULL`),
  ],
);

export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tenantId: text("tenant_id").notNull(),
    key: text("key").notNull(),
    /** SHA-256 of method, route, principal and body: a reuse with another body is 422. */
    fingerprint: text("fingerprint").notNull(),
    state: text("state", { enum: ["in_flight", "done"] }).notNull(),
    status: integer("status"),
    /** The stored response, sealed like a secret (it may carry one, e.g. a new token). */
    response: bytes("response"),
    createdAt: time("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] }), index("idempotency_keys_created").on(t.createdAt)],
);
