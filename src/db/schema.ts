import { sql } from "drizzle-orm";
import { customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Binary column as Uint8Array (D1 hands blobs back as ArrayBuffer or number[]). */
export const bytes = customType<{ data: Uint8Array; driverData: ArrayBuffer | number[] | Uint8Array }>({
  dataType: () => "blob",
  fromDriver: (value) => (value instanceof Uint8Array ? value : Array.isArray(value) ? Uint8Array.from(value) : new Uint8Array(value)),
  toDriver: (value) => value,
});

const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();
/** Milliseconds since the epoch. */
const time = (name: string) => integer(name);

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: time("created_at").notNull(),
  /**
   * The tenant directory (docs/decisions.md): the index of the D1 database (`DB`, `DB_1`, ...)
   * that holds the tenant's rows. Authoritative only in the home database (`DB`).
   */
  database: integer("database").notNull().default(0),
  /**
   * How many audit chains the tenant's events spread over (docs/decisions.md, "Several audit
   * chains per tenant"): chain 0 is the AuditChain object named after the tenant, chain k the one
   * named `<tenant>#k`. Only grows (1..64). Authoritative only in the home database.
   */
  auditChains: integer("audit_chains").notNull().default(1),
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
    /** identity (issue 6): names of access policies this token carries, resolved per request. */
    policies: json<string[]>("policies"),
    /** trust (issue 12): the root- or login-issued identity behind the token (docs/security.md). */
    entity: text("entity").notNull().default(""),
    /** The token that created this one; NULL for root- and login-issued tokens. Revoked with it. */
    parentId: text("parent_id"),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.tokenHash), index("api_tokens_tenant").on(t.tenantId, t.subject), index("api_tokens_parent").on(t.parentId)],
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
    /** identity (issue 6): services (`service:<name>` subjects) that may read it; NULL: none. */
    allowedServices: json<string[]>("allowed_services"),
    // Full secret store (issue 3)
    /** How to make a new value ({length, charset}) for secrets created with `generate`; the sweeper uses it. */
    generator: json<{ length: number; charset: string }>("generator"),
    // Vault KV v2 (issue 15): writes need `cas`; versions are deleted this many seconds after their write (NULL: never).
    casRequired: integer("cas_required", { mode: "boolean" }).notNull().default(false),
    deleteVersionAfter: integer("delete_version_after"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.path] }),
    // Full secret store (issue 3): /rotation/pending, /expiring and the sweeper walk these.
    index("secrets_next_rotation").on(t.tenantId, t.nextRotationAt),
    index("secrets_expires").on(t.tenantId, t.expiresAt),
    // Only what the sweeper may rotate, across tenants: overdue MANUAL secrets never slow it down.
    index("secrets_automatic_rotation").on(t.nextRotationAt).where(sql`rotation_policy = 'AUTOMATIC' AND generator IS NOT NULL AND deleted_at IS NULL`),
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
    state: text("state", { enum: ["live", "deleted", "destroyed"] })
      .notNull()
      .default("live"),
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
    // Secret scanning (issue 19, docs/scanning.md)
    /** HMAC-SHA-256 of SHA-256(value) under the tenant's scan key; NULL once destroyed or not yet backfilled. */
    valueMac: bytes("value_mac"),
    /** The master key id the scan key was derived from (the MAC is recomputed when it is no longer active). */
    valueMacKeyId: text("value_mac_key_id"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.path, t.version] }),
    index("secret_versions_value_mac").on(t.tenantId, t.valueMac),
    index("secret_versions_mac_pending").on(t.valueMacKeyId).where(sql`state <> 'destroyed'`),
  ],
);

export const auditEvents = sqliteTable(
  "audit_events",
  {
    /**
     * The D1 copy of a change's audit event (an intent of the tenant's AuditChain object, which holds
     * the whole log), written in the change's own batch. Reads and denials have no copy here.
     * `n`: commit order across tenants (the rowid), taken without reading a row.
     */
    n: integer("n").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    /** Which of the tenant's audit chains holds the event (0 unless it has several: tenants.audit_chains). */
    chain: integer("chain").notNull().default(0),
    /** The event's place in that chain (given by the AuditChain object before the batch). */
    seq: integer("seq"),
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
    /** The chain hash the AuditChain object gave the event (its MAC stays in the object). */
    hash: text("hash"),
  },
  // Only (tenant, chain, seq) is looked up here (the chain object's resolve and verify); listing and
  // filters read the chain object, so the copies carry no other index (2 rows written, not 4).
  (t) => [uniqueIndex("audit_events_seq").on(t.tenantId, t.chain, t.seq)],
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

// ---- identity (issue 6): policies, JWT auth roles, dual-control approvals ----

/** A rule of an access policy: capabilities on path globs; `deny` rules win over any allow. */
export interface PolicyRule {
  paths: string[];
  capabilities: string[];
  effect?: "allow" | "deny";
}

export const policies = sqliteTable(
  "policies",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    rules: json<PolicyRule[]>("rules").notNull(),
    createdAt: time("created_at").notNull(),
    updatedAt: time("updated_at").notNull(),
    updatedBy: text("updated_by").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

export const authRoles = sqliteTable(
  "auth_roles",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    issuer: text("issuer").notNull(),
    audience: json<string[]>("audience").notNull(),
    /** Inline public JWKS (public keys only); or `jwks_url`. */
    jwks: json<{ keys: Record<string, unknown>[] }>("jwks"),
    jwksUrl: text("jwks_url"),
    boundClaims: json<Record<string, string | string[]>>("bound_claims").notNull(),
    /** Subject of the issued token; NULL: `jwt:<role>:<sub claim>`. */
    tokenSubject: text("token_subject"),
    tokenTtlSeconds: integer("token_ttl_seconds").notNull(),
    maxTtlSeconds: integer("max_ttl_seconds").notNull(),
    policies: json<string[]>("policies").notNull(),
    createdAt: time("created_at").notNull(),
    updatedAt: time("updated_at").notNull(),
    updatedBy: text("updated_by").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

export const approvalPolicies = sqliteTable(
  "approval_policies",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    paths: json<string[]>("paths").notNull(),
    actions: json<string[]>("actions").notNull(),
    approvalsRequired: integer("approvals_required").notNull(),
    approverSubjects: json<string[]>("approver_subjects").notNull(),
    approverPolicies: json<string[]>("approver_policies").notNull(),
    requestTtlSeconds: integer("request_ttl_seconds").notNull(),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

export const approvalRequests = sqliteTable(
  "approval_requests",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    policyId: text("policy_id").notNull(),
    action: text("action").notNull(),
    path: text("path").notNull(),
    requester: text("requester").notNull(),
    /** trust (issue 12): the requester's entity; it can never approve its own request. */
    requesterEntity: text("requester_entity").notNull().default(""),
    required: integer("required").notNull(),
    received: integer("received").notNull().default(0),
    /** pending -> approved -> consumed; expiry is read from `expires_at`. */
    state: text("state", { enum: ["pending", "approved", "consumed", "denied"] }).notNull(),
    createdAt: time("created_at").notNull(),
    expiresAt: time("expires_at").notNull(),
    consumedAt: time("consumed_at"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), index("approval_requests_open").on(t.tenantId, t.requester, t.action, t.path, t.state)],
);

export const approvalVotes = sqliteTable(
  "approval_votes",
  {
    tenantId: text("tenant_id").notNull(),
    requestId: text("request_id").notNull(),
    approver: text("approver").notNull(),
    /** trust (issue 12): votes count once per entity, however many tokens it minted. */
    approverEntity: text("approver_entity").notNull().default(""),
    at: time("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.requestId, t.approver] })],
);

/** One row per consumed approval: a second consumption breaks the primary key, so its batch fails. */
export const approvalConsumptions = sqliteTable(
  "approval_consumptions",
  {
    tenantId: text("tenant_id").notNull(),
    requestId: text("request_id").notNull(),
    at: time("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.requestId] })],
);

// --- shares (issue 4): metadata for the creator; the payload lives only in the ShareObject ---

export const shareIndex = sqliteTable(
  "share_index",
  {
    /** Random 22-character id; also the ShareObject's name. */
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    /** e2e: the client encrypted (key in the link fragment); sealed: envelope-sealed by the API, redeemed by token. */
    mode: text("mode", { enum: ["e2e", "sealed"] }).notNull(),
    createdAt: time("created_at").notNull(),
    /** Subject of the creating token, or "anonymous". */
    createdBy: text("created_by").notNull(),
    expiresAt: time("expires_at").notNull(),
    maxViews: integer("max_views").notNull(),
    viewsLeft: integer("views_left").notNull(),
    state: text("state", { enum: ["active", "viewed", "expired", "revoked", "destroyed"] }).notNull(),
    passphraseRequired: integer("passphrase_required", { mode: "boolean" }).notNull(),
    /** Time of the latest successful view. */
    viewedAt: time("viewed_at"),
    /** When the share left the active state (viewed out, expired, revoked, destroyed). */
    endedAt: time("ended_at"),
    /**
     * Server-sealed shares: the master key id the payload's data key is wrapped under (the payload
     * itself is in the ShareObject), so the master-key re-wrap job can find and count them; NULL for
     * e2e shares and once the payload is gone.
     */
    keyId: text("key_id"),
  },
  (t) => [index("share_index_tenant").on(t.tenantId, t.createdAt)],
);

// --- Dynamic secrets (issue 5): providers, leases, the revocation outbox ---

export const LEASE_STATES = ["issued", "revoking", "revoked", "expired", "failed"] as const;
export type LeaseState = (typeof LEASE_STATES)[number];

export const leaseProviders = sqliteTable(
  "lease_providers",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["hush-api-key", "postgresql", "mysql", "redis", "webhook"] }).notNull(),
    /** The whole kind-specific config (connection string, signing key...), sealed; never returned. */
    config: bytes("config").notNull(),
    /** Role name -> {max_ttl_seconds, scopes | grants}: plain, it holds no credential. */
    roles: json<Record<string, ProviderRole>>("roles").notNull(),
    createdAt: time("created_at").notNull(),
    updatedAt: time("updated_at").notNull(),
    healthStatus: text("health_status", { enum: ["ok", "error"] }),
    /** A short message we wrote, never a provider's raw error (it may echo a connection string). */
    healthError: text("health_error"),
    healthCheckedAt: time("health_checked_at"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

export interface ProviderRole {
  max_ttl_seconds: number;
  /** hush-api-key: the scopes (and path globs) of the issued token. */
  scopes?: string[];
  paths?: string[];
  /** postgresql: roles granted to the created login role. */
  grants?: string[];
  /** mysql: privileges granted to the created account. */
  mysql_grants?: { privileges: string[]; on: string }[];
  /** redis: ACL command rules and key patterns of the created user. */
  commands?: string[];
  key_patterns?: string[];
}

export const leases = sqliteTable(
  "leases",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    provider: text("provider").notNull(),
    kind: text("kind").notNull(),
    role: text("role").notNull(),
    state: text("state", { enum: LEASE_STATES }).notNull(),
    /** What the provider calls the credential (login role name, token id); an identifier, not a secret. */
    externalId: text("external_id"),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    expiresAt: time("expires_at").notNull(),
    /** created_at + the role's max TTL: renewals stop here. */
    maxExpiresAt: time("max_expires_at").notNull(),
    /** Bumped by each revocation start; the outbox row of a revocation carries it. */
    generation: integer("generation").notNull().default(0),
    revokeReason: text("revoke_reason", { enum: ["revoked", "expired", "issue-failed"] }),
    revokeRequestedAt: time("revoke_requested_at"),
    revokedAt: time("revoked_at"),
    failedAt: time("failed_at"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
  },
  (t) => [
    index("leases_tenant_state").on(t.tenantId, t.state, t.createdAt),
    index("leases_tenant_provider").on(t.tenantId, t.provider, t.role),
    index("leases_issued_expiry").on(t.expiresAt).where(sql`state = 'issued'`),
  ],
);

export const outbox = sqliteTable(
  "outbox",
  {
    /** `${lease_id}:${generation}`: a second start of the same revocation collides here. */
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    leaseId: text("lease_id").notNull(),
    generation: integer("generation").notNull(),
    createdAt: time("created_at").notNull(),
    lastSentAt: time("last_sent_at").notNull(),
    sends: integer("sends").notNull().default(1),
    /** A consumer working on it holds it until then, so two deliveries never revoke twice. */
    claimedUntil: time("claimed_until"),
    deliveredAt: time("delivered_at"),
    /** Set by the dead-letter consumer: retries exhausted, an operator must look. */
    deadAt: time("dead_at"),
  },
  (t) => [index("outbox_pending").on(t.lastSentAt).where(sql`delivered_at IS NULL AND dead_at IS NULL`)],
);

// --- transit (issue 8): named encryption keys; the material of every version is sealed like a secret ---

export const transitKeys = sqliteTable(
  "transit_keys",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    type: text("type", { enum: ["aes256-gcm", "hmac", "ed25519", "ecdsa-p256"] }).notNull(),
    latestVersion: integer("latest_version").notNull(),
    /** Ciphertexts, HMACs and signatures of older versions are refused. */
    minDecryptionVersion: integer("min_decryption_version").notNull().default(1),
    deletionAllowed: integer("deletion_allowed", { mode: "boolean" }).notNull().default(false),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    updatedAt: time("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

export const transitKeyVersions = sqliteTable(
  "transit_key_versions",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    version: integer("version").notNull(),
    /** The key material (raw AES/HMAC key or PKCS#8 private key), sealed at ["transit", name, version]. */
    ciphertext: bytes("ciphertext").notNull(),
    iv: bytes("iv").notNull(),
    wrappedKey: bytes("wrapped_key").notNull(),
    keyId: text("key_id").notNull(),
    /** Public half of a signing key (SPKI, base64); NULL for symmetric keys. Not secret. */
    publicKey: text("public_key"),
    createdAt: time("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name, t.version] })],
);

// --- master key rotation (issue 8): the one re-wrap job (a single row, id 1) ---

export const rewrapJob = sqliteTable("rewrap_job", {
  id: integer("id").primaryKey(),
  /** Changes on every start; queue messages carry it, so a message of an older job is ignored. */
  jobId: text("job_id").notNull(),
  state: text("state", { enum: ["running", "done"] }).notNull(),
  /** The active master key id when the job started: every data key is re-wrapped under it. */
  targetKeyId: text("target_key_id").notNull(),
  /** Position: index into SEALED_TABLES, the last primary key done there (JSON), and a step counter. */
  tableIndex: integer("table_index").notNull(),
  cursor: json<(string | number)[]>("cursor"),
  step: integer("step").notNull(),
  total: integer("total").notNull(),
  done: integer("done").notNull(),
  /** Rows that could not be re-wrapped (master key removed, or failed integrity); they stay as they were. */
  failed: integer("failed").notNull(),
  startedAt: time("started_at").notNull(),
  startedBy: text("started_by").notNull(),
  updatedAt: time("updated_at").notNull(),
  finishedAt: time("finished_at"),
});

// --- static database credential rotation (issue 20) ---

/**
 * Which database logins a secret path holds, bound by a provider administrator: a rotation
 * only ever changes the passwords of these names, never one a caller supplies. Plain: no
 * credential (the connection lives in the provider's sealed config).
 */
export const staticRoles = sqliteTable(
  "static_roles",
  {
    tenantId: text("tenant_id").notNull(),
    /** The secret path that holds the credential ({username, password, ...} as JSON). */
    key: text("key").notNull(),
    provider: text("provider").notNull(),
    strategy: text("strategy", { enum: ["single", "alternate"] }).notNull(),
    /** One name (single) or two (alternate: a, b). */
    usernames: json<string[]>("usernames").notNull(),
    /** Alternate: how long the old login keeps working after cutover. */
    graceSeconds: integer("grace_seconds").notNull().default(0),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    updatedAt: time("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] })],
);

export const ROTATION_PHASES = ["stage", "cutover", "verify", "retire", "rollback"] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

/**
 * One static rotation, and its own outbox: the phase still to run. A run that stops (a crash,
 * a lost request) is picked up by the sweeper once its claim lapses, and resumes or rolls back.
 */
export const staticRotations = sqliteTable(
  "static_rotations",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    key: text("key").notNull(),
    provider: text("provider").notNull(),
    strategy: text("strategy", { enum: ["single", "alternate"] }).notNull(),
    state: text("state", { enum: ["running", "completed", "rolled_back", "failed"] }).notNull(),
    /** The phase to run next (the last one when the run is over). */
    phase: text("phase", { enum: ROTATION_PHASES }).notNull(),
    failedPhase: text("failed_phase", { enum: ROTATION_PHASES }),
    oldVersion: integer("old_version").notNull(),
    oldUsername: text("old_username").notNull(),
    newUsername: text("new_username").notNull(),
    /** The version the cutover published; the version the rollback republished. */
    newVersion: integer("new_version"),
    republishedVersion: integer("republished_version"),
    /** pack(seal({new, old})) of the passwords, at ["static-rotation", id]; NULL once the run is over. */
    staged: bytes("staged"),
    retireAt: time("retire_at"),
    claimedUntil: time("claimed_until"),
    attempts: integer("attempts").notNull().default(0),
    /** A message we wrote, never a driver's (it may echo a statement with a password). */
    lastError: text("last_error"),
    trigger: text("trigger", { enum: ["api", "schedule"] }).notNull(),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    updatedAt: time("updated_at").notNull(),
    finishedAt: time("finished_at"),
  },
  (t) => [
    uniqueIndex("static_rotations_one_running").on(t.tenantId, t.key).where(sql`state = 'running'`),
    index("static_rotations_running").on(t.updatedAt).where(sql`state = 'running'`),
    index("static_rotations_by_key").on(t.tenantId, t.key, t.createdAt),
  ],
);
/** Vault KV v2 mount configuration (`/v1/secret/config`), one row per tenant (issue 15). */
export const vaultConfig = sqliteTable("vault_config", {
  tenantId: text("tenant_id").primaryKey(),
  casRequired: integer("cas_required", { mode: "boolean" }).notNull().default(false),
  updatedAt: time("updated_at").notNull(),
  updatedBy: text("updated_by").notNull(),
});
// --- secret scanning (issue 19): runs and their findings, metadata only (docs/scanning.md) ---

export const scanRuns = sqliteTable(
  "scan_runs",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    /** What was scanned, as the client named it ("working-tree", "git"); never a path on the client's disk. */
    source: text("source").notNull(),
    rulesActive: json<string[]>("rules_active").notNull(),
    findingCount: integer("finding_count").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), index("scan_runs_created").on(t.tenantId, t.createdAt)],
);

export const scanFindings = sqliteTable(
  "scan_findings",
  {
    tenantId: text("tenant_id").notNull(),
    runId: text("run_id").notNull(),
    seq: integer("seq").notNull(),
    rule: text("rule").notNull(),
    file: text("file").notNull(),
    line: integer("line").notNull(),
    column: integer("column"),
    commit: text("commit"),
    /** SHA-256 of (rule, file, line, commit): names the place, derives nothing from the match. */
    fingerprint: text("fingerprint").notNull(),
    /** The match redacted by the client and checked again by the server (at most 4 characters of it). */
    preview: text("preview").notNull(),
    /** The stored versions it matched, recorded only where the scanner may read them; listings re-decide per reader. */
    matches: json<{ path: string; version: number; current: boolean }[]>("matches"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.runId, t.seq] })],
);

// --- PKI (issue 17): per-tenant issuers, roles, and the certificates issued under leases ---

export const pkiIssuers = sqliteTable(
  "pki_issuers",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    kind: text("kind", { enum: ["root", "intermediate", "imported"] }).notNull(),
    /** `pending`: an intermediate whose CSR waits for an external CA's signature. */
    state: text("state", { enum: ["pending", "active"] }).notNull(),
    commonName: text("common_name").notNull(),
    keyType: text("key_type", { enum: ["ec", "ed25519", "rsa"] }).notNull(),
    keyBits: integer("key_bits").notNull(),
    /** The issuer's own certificate (PEM); public. NULL while pending. */
    certificate: text("certificate"),
    /** PEM certificates above it, nearest first (empty for a root); public. */
    chain: json<string[]>("chain").notNull(),
    /** The CSR of a pending intermediate (PEM); public. */
    csr: text("csr"),
    notAfter: time("not_after"),
    isDefault: integer("is_default", { mode: "boolean" }).notNull().default(false),
    /** The CA private key (PKCS#8), sealed at ["pki-issuer", id]. */
    ciphertext: bytes("ciphertext").notNull(),
    iv: bytes("iv").notNull(),
    wrappedKey: bytes("wrapped_key").notNull(),
    keyId: text("key_id").notNull(),
    /** The current CRL (DER), its number and its nextUpdate; public. */
    crl: bytes("crl"),
    crlNumber: integer("crl_number").notNull().default(0),
    crlNextUpdate: time("crl_next_update"),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    updatedAt: time("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), uniqueIndex("pki_issuers_default").on(t.tenantId).where(sql`is_default = 1`)],
);

export const pkiRoles = sqliteTable(
  "pki_roles",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    /** Name rules, key type, TTLs and usages (src/pki/roles.ts); plain, it holds no key. */
    config: json<Record<string, unknown>>("config").notNull(),
    createdAt: time("created_at").notNull(),
    updatedAt: time("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

export const pkiCertificates = sqliteTable(
  "pki_certificates",
  {
    tenantId: text("tenant_id").notNull(),
    /** Lower-case hex, derived from the lease id (src/pki/issue.ts). */
    serial: text("serial").notNull(),
    issuerId: text("issuer_id").notNull(),
    role: text("role").notNull(),
    leaseId: text("lease_id").notNull(),
    commonName: text("common_name").notNull(),
    /** The certificate itself (PEM): public, kept so an operator can see what was issued. Never the key. */
    certificate: text("certificate").notNull(),
    notAfter: time("not_after").notNull(),
    createdAt: time("created_at").notNull(),
    revokedAt: time("revoked_at"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.serial] }),
    index("pki_certificates_revoked").on(t.tenantId, t.issuerId, t.notAfter).where(sql`revoked_at IS NOT NULL`),
  ],
);

// --- Outbound secret sync (issue 18, docs/sync.md) ---

export const SYNC_TARGET_KINDS = ["webhook", "github", "aws", "kubernetes", "cloudflare"] as const;

/** A platform Hush pushes copies to. Configured by a tenant administrator; credentials sealed. */
export const syncTargets = sqliteTable(
  "sync_targets",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    kind: text("kind", { enum: SYNC_TARGET_KINDS }).notNull(),
    /** The whole kind-specific config (token, keys, URL), pack(seal()) at ["sync-target", name]; never returned. */
    config: bytes("config").notNull(),
    /** Non-secret summary shown in listings (repository, region, namespace...). */
    summary: json<Record<string, string>>("summary").notNull(),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    updatedAt: time("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

/**
 * A sync: a source (one path, or every path under a prefix) bound to a target. Deliveries
 * decide with the creator's token (`created_by_token`), re-resolved at delivery time.
 */
export const syncs = sqliteTable(
  "syncs",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    target: text("target").notNull(),
    sourcePath: text("source_path"),
    sourcePrefix: text("source_prefix"),
    /** The remote name of a path source. */
    remoteKey: text("remote_key"),
    /** Prefix sources: remote name = remote_prefix + the rest of the path, mapped (docs/sync.md). */
    remotePrefix: text("remote_prefix"),
    propagateDeletes: integer("propagate_deletes", { mode: "boolean" }).notNull().default(false),
    /** An export approval was consumed when the sync was created (a standing export). */
    exportApproved: integer("export_approved", { mode: "boolean" }).notNull().default(false),
    createdAt: time("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    /** The api_tokens id of the creator (`root` for the operator): deliveries act with it. */
    createdByToken: text("created_by_token").notNull(),
    createdByEntity: text("created_by_entity").notNull(),
  },
  (t) => [index("syncs_tenant").on(t.tenantId, t.createdAt)],
);

/** Status per (sync, path): what the copy holds. */
export const syncBindings = sqliteTable(
  "sync_bindings",
  {
    syncId: text("sync_id").notNull(),
    path: text("path").notNull(),
    tenantId: text("tenant_id").notNull(),
    remoteKey: text("remote_key").notNull(),
    lastVersion: integer("last_version"),
    lastSyncedAt: time("last_synced_at"),
    /** A short message Hush wrote (never a remote's body, which may quote the request). */
    lastError: text("last_error"),
    lastErrorAt: time("last_error_at"),
    deleted: integer("deleted", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.syncId, t.path] })],
);

/**
 * One delivery to do. Rows of new versions (and deletions) are written by SQLite triggers in
 * the same transaction as the version (migration `sync`), so every writer is covered.
 * `last_sent_at` NULL: no queue message sent yet (the request's kick or the sweeper sends it).
 */
export const syncOutbox = sqliteTable(
  "sync_outbox",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    syncId: text("sync_id").notNull(),
    path: text("path").notNull(),
    version: integer("version"),
    op: text("op", { enum: ["put", "delete"] }).notNull(),
    /** A run: deliver even if the binding already holds this version. */
    force: integer("force", { mode: "boolean" }).notNull().default(false),
    createdAt: time("created_at").notNull(),
    lastSentAt: time("last_sent_at"),
    sends: integer("sends").notNull().default(0),
    claimedUntil: time("claimed_until"),
    deliveredAt: time("delivered_at"),
    deadAt: time("dead_at"),
    /** delivered | skipped (superseded) | refused (read rule) | failed */
    outcome: text("outcome"),
  },
  (t) => [
    index("sync_outbox_unsent").on(t.tenantId, t.createdAt).where(sql`last_sent_at IS NULL AND delivered_at IS NULL AND dead_at IS NULL`),
    index("sync_outbox_pending").on(t.lastSentAt).where(sql`delivered_at IS NULL AND dead_at IS NULL`),
  ],
);
