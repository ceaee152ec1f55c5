import type { Db } from "../db/client";

export interface Principal {
  /** `root` for the operator token, otherwise the api_tokens row id. */
  tokenId: string;
  tenantId: string;
  subject: string;
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
  /** Set once the handler's batch stored the response. */
  stored: boolean;
}

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    db: Db;
    principal: Principal;
    idempotency?: IdempotencyClaim;
  };
};
