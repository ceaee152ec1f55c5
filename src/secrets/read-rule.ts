import type { Context } from "hono";
import { requireApproval } from "../approvals/guard";
import { allows, allowsEveryPathUnder, auditName, capabilityOf, decide, onSecret, type Decision, type Scope } from "../auth/access";
import { audit } from "../audit/log";
import { loadKeyring } from "../crypto/envelope";
import type { BatchItem } from "../db/client";
import type { AppEnv, Principal } from "../http/context";
import { forbidden, notFound, Problem } from "../http/problem";
import { openAudited } from "./read";
import { findSecretVersion, type SecretRow, type VersionRow } from "./store";

/**
 * The one read rule: whether a version's value may leave, through any front door.
 * Native read and history, the Vault read, export, the service map, references and
 * shares of stored secrets all ask it (docs/security.md). Each purpose names the scope
 * the caller needs on the path and, for export and share, the dual-control action.
 */
export const PURPOSES = {
  read: { scope: "secrets:read", action: "secret.read" },
  history: { scope: "secrets:read", action: "secret.history" },
  reference: { scope: "secrets:read", action: "secret.read" },
  service: { scope: "secrets:read", action: "secret.read" },
  vault: { scope: "secrets:read", action: "secret.read" },
  export: { scope: "secrets:export", action: "secret.export", guard: "export" },
  share: { scope: "secrets:read", action: "secret.share", guard: "share" },
  /** Whether two values are equal (GET /secrets/compare): nothing leaves, but equality is about the value. */
  compare: { scope: "secrets:read", action: "secret.compare" },
} as const satisfies Record<string, { scope: Scope; action: string; guard?: "export" | "share" }>;
export type ReadPurpose = keyof typeof PURPOSES;

/** Whether a path shows in a listing (metadata only): `list` on that path. */
export const listable = (principal: Principal, path: string) => allows(principal, "secrets:read", "secret.list", onSecret(path));
/** `listable` for every path under `prefix` (conservative: false means "ask `listable` per path"). */
export const listableUnder = (principal: Principal, prefix: string) => allowsEveryPathUnder(principal, "secrets:read", "secret.list", prefix);

export type Refusal =
  | { reason: "access"; decision: Exclude<Decision, { allow: true }> }
  | { reason: "not-found" }
  | { reason: "service-not-allowed"; service: string }
  | { reason: "version-not-found" }
  | { reason: "version-deleted"; version: number }
  | { reason: "version-destroyed"; version: number }
  | { reason: "version-expired"; version: number }
  | { reason: "secret-expired" };

export interface Found {
  secret: SecretRow;
  version: VersionRow | null;
}

export interface ReadOptions {
  /** include_expired=true was asked (it only counts for a token with write access to the path). */
  includeExpired?: boolean;
}

/**
 * Why the value of `found` may not leave to `principal` for `purpose`, or undefined
 * if it may. Pure: access (deny wins), allowed_services, soft deletion, version state,
 * grace period and expiry. Approvals are the one async part (see `releaseValue`).
 */
export function readRefusal(
  principal: Principal,
  purpose: ReadPurpose,
  path: string,
  found: Found | undefined,
  options: ReadOptions = {},
  now = Date.now(),
): Refusal | undefined {
  const { scope, action } = PURPOSES[purpose];
  const decision = decide(principal, scope, action, onSecret(path));
  if (!decision.allow) return { reason: "access", decision };
  if (!found || found.secret.deletedAt !== null) return { reason: "not-found" };
  const { secret, version } = found;
  if (principal.service !== null && !(secret.allowedServices?.includes(principal.service) ?? false)) {
    return { reason: "service-not-allowed", service: principal.service };
  }
  if (!version) return { reason: "version-not-found" };
  // A live version with a deletion time is scheduled for deletion (Vault's delete_version_after).
  if (version.state === "deleted" || (version.deletedAt !== null && version.deletedAt <= now)) return { reason: "version-deleted", version: version.version };
  if (version.state === "destroyed") return { reason: "version-destroyed", version: version.version };
  if (version.readableUntil !== null && version.readableUntil <= now) return { reason: "version-expired", version: version.version };
  if (secret.expiresAt !== null && secret.expiresAt <= now) {
    const mayReadExpired = options.includeExpired === true && decide(principal, "secrets:write", "secret.read_expired", onSecret(path)).allow;
    if (!mayReadExpired) return { reason: "secret-expired" };
  }
  return undefined;
}

/** The problem a refusal answers with (the same at every front door). */
export function refusalProblem(refusal: Refusal, principal: Principal, path: string, purpose: ReadPurpose): Problem {
  switch (refusal.reason) {
    case "access":
      return forbidden(refusal.decision.message, {
        required_scope: PURPOSES[purpose].scope,
        required_capability: capabilityOf(PURPOSES[purpose].scope, PURPOSES[purpose].action),
      });
    case "not-found":
      return notFound("secret");
    case "service-not-allowed":
      return new Problem(403, "service-not-allowed", `${principal.subject} is not in this secret's allowed_services`, { path });
    case "version-not-found":
    case "version-deleted":
      return notFound("version");
    case "version-destroyed":
      return new Problem(410, "version-destroyed", `Version ${refusal.version} was destroyed`);
    case "version-expired":
      return new Problem(410, "version-expired", `Version ${refusal.version} is past its grace period`);
    case "secret-expired":
      return new Problem(410, "secret-expired", "The secret has expired; a token that may write it may read it with include_expired=true");
  }
}

/** Audits a refusal in the caller's log (never the value) and returns its problem. */
export async function refuse(c: Context<AppEnv>, refusal: Refusal, path: string, purpose: ReadPurpose, version?: number): Promise<Problem> {
  const principal = c.get("principal");
  const problem = refusalProblem(refusal, principal, path, purpose);
  const { scope, action } = PURPOSES[purpose];
  await audit(c, {
    action,
    resource: auditName(onSecret(path)),
    outcome: refusal.reason === "access" || refusal.reason === "service-not-allowed" ? "denied" : "failure",
    status: problem.status,
    detail:
      refusal.reason === "access"
        ? { reason: refusal.decision.reason, scope, ...(refusal.decision.policy && { policy: refusal.decision.policy }) }
        : { reason: refusal.reason, version: version ?? null },
  });
  return problem;
}

export interface Released {
  secret: SecretRow;
  version: VersionRow;
  value: string;
  /** Statements that consume an approval (export, share): run them in the read's batch. */
  approval: BatchItem[];
}

/**
 * Loads one value and lets it leave if the read rule allows: a refusal is audited and
 * thrown; a guarded purpose (export, share) needs its approval. The successful read is
 * left for the caller to audit, so a read with references commits all its events at once.
 *
 * @example
 * const { value, approval } = await releaseValue(c, "app/db", "export");
 */
export async function releaseValue(
  c: Context<AppEnv>,
  path: string,
  purpose: ReadPurpose,
  options: ReadOptions & {
    version?: number /** Already loaded (a bulk read, the token lookup): not loaded again, even if undefined. */;
    found?: Found | undefined;
  } = {},
): Promise<Released> {
  const principal = c.get("principal");
  // Access is decided before anything is loaded: a denied caller learns nothing of the path.
  const access = decide(principal, PURPOSES[purpose].scope, PURPOSES[purpose].action, onSecret(path));
  if (!access.allow) throw await refuse(c, { reason: "access", decision: access }, path, purpose, options.version);
  loadKeyring(c.env.MASTER_KEYS); // fail closed (503) before touching the store
  // `found` given (a bulk read, or the token lookup's own statement read it): not loaded again.
  const found = "found" in options ? options.found : await findSecretVersion(c.get("db"), principal.tenantId, path, options.version);
  const refusal = readRefusal(principal, purpose, path, found, options);
  if (refusal) throw await refuse(c, refusal, path, purpose, options.version);
  const { secret, version } = found as { secret: SecretRow; version: VersionRow };
  const guard = "guard" in PURPOSES[purpose] ? (PURPOSES[purpose] as { guard: "export" | "share" }).guard : undefined;
  const approval = guard ? await requireApproval(c, guard, path) : [];
  return { secret, version, value: await openAudited(c, version), approval };
}
