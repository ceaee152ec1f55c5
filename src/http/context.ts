import type { Db } from "../db/client";
import type { StartedIntents } from "../audit/unit-of-work";
import type { apiTokens, secrets, secretVersions } from "../db/schema";

export interface Principal {
  /** `root` for the operator token, otherwise the api_tokens row id. */
  tokenId: string;
  tenantId: string;
  /** The index of the D1 database that holds the tenant's rows (src/db/directory.ts); 0 when absent. */
  database?: number;
  /**
   * Who this is: nested under its creator's subject (`dev/alice` from `dev`), so only
   * root and login roles name top-level subjects (see docs/security.md).
   */
  subject: string;
  /**
   * The root-issued or login-issued identity behind the token, shared by every token
   * it minted. Dual control counts entities, not subjects.
   */
  entity: string;
  /** The service a `service:<name>` subject (or one nested under it) is bound to. */
  service: string | null;
  scopes: ReadonlySet<string>;
  /** Path globs the token is limited to; null means the whole tree. */
  paths: readonly string[] | null;
  isRoot: boolean;
  expiresAt: number | null;
  /** Names of the access policies the token carries (identity, issue 6). */
  policies?: readonly string[];
  /** Their rules, resolved once when the token is authenticated; tagged with the policy name. */
  rules?: readonly ResolvedRule[];
}

export interface ResolvedRule {
  policy: string;
  paths: readonly string[];
  capabilities: readonly string[];
  effect: "allow" | "deny";
}

export interface IdempotencyClaim {
  key: string;
  fingerprint: string;
  /** Where the claim row lives: the caller's tenant and database when the request began (root may enter another tenant later). */
  tenantId: string;
  db: Db;
  /** Set once the handler's batch stored the response. */
  stored: boolean;
}

type SecretRow = typeof secrets.$inferSelect;
type VersionRow = typeof secretVersions.$inferSelect;
export type TokenRow = typeof apiTokens.$inferSelect;

/**
 * Rows read by the token lookup's own statement for the route it authenticates (src/auth/tokens.ts
 * `Prefetch`): read at the primary, in this request, never shared with another request.
 */
export type Prefetched =
  | { kind: "read"; tenantId: string; path: string; found: { secret: SecretRow; version: VersionRow | null } | undefined }
  | { kind: "write"; tenantId: string; path: string; secret: SecretRow | undefined; approvalPolicies: boolean; syncs: boolean };

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    db: Db;
    principal: Principal;
    idempotency?: IdempotencyClaim;
    /** Intents appended ahead of their change (http/commit.ts `beginChange`). */
    startedIntents?: StartedIntents[];
    /** What the token lookup read for this route (src/auth/tokens.ts `takePrefetched`). */
    prefetched?: Prefetched;
    /**
     * Read at the primary by this request's token lookup (a write's `Prefetch`): whether the
     * caller's tenant has any approval policy and any sync. Never carried to another request.
     */
    tenantHas?: { tenantId: string; approvalPolicies: boolean; syncs: boolean };
  };
};
