import type { Context } from "hono";
import { audit } from "../audit/log";
import type { AppEnv, Principal, ResolvedRule } from "../http/context";
import { forbidden } from "../http/problem";

export const SCOPES = [
  "secrets:read",
  "secrets:write",
  "secrets:delete",
  "secrets:export",
  "audit:read",
  "tokens:admin",
  "auth:admin",
  "leases:read",
  "leases:write",
  "providers:admin",
  "transit:encrypt",
  "transit:decrypt",
  "transit:admin",
] as const;
export type Scope = (typeof SCOPES)[number];

/** What a policy rule can grant on a path (like Vault ACL capabilities). */
export const CAPABILITIES = ["read", "write", "delete", "list", "share", "lease", "admin"] as const;
export type Capability = (typeof CAPABILITIES)[number];

/**
 * The capability a scope check stands for, so tokens with scopes and tokens with
 * policies pass the same `authorize` calls. Listing is its own capability; scopes
 * other features add map by their prefix; anything else needs `admin`.
 */
export function capabilityOf(scope: string, action: string): Capability {
  if (scope === "secrets:read" || scope === "secrets:export") return /\.list$/.test(action) ? "list" : "read";
  if (scope === "secrets:write") return "write";
  if (scope === "secrets:delete") return "delete";
  if (scope.startsWith("shares:")) return "share";
  if (scope.startsWith("leases:")) return "lease";
  return "admin";
}

/** Capabilities that only make sense tenant-wide: a policy grants them with the path `*`. */
const TENANT_WIDE = new Set<Capability>(["admin"]);

function ruleCovers(rule: ResolvedRule, capability: Capability, path: string | undefined): boolean {
  if (!rule.capabilities.includes(capability)) return false;
  if (path !== undefined) return rule.paths.some((glob) => matchesGlob(glob, path));
  // A check without a path (a listing, an admin route): an allow rule for a path capability
  // lets the route run and its rows are filtered by path later; admin rules and deny rules
  // count only when they name the whole tree.
  if (rule.effect === "allow" && !TENANT_WIDE.has(capability)) return true;
  return rule.paths.includes("*");
}

/** The policy whose deny rule refuses `capability` on `path`, if any (deny always wins). */
export function deniedBy(principal: Principal, capability: Capability, path?: string): string | undefined {
  return principal.rules?.find((rule) => rule.effect === "deny" && ruleCovers(rule, capability, path))?.policy;
}

const policyAllows = (principal: Principal, capability: Capability, path?: string) =>
  principal.rules?.some((rule) => rule.effect === "allow" && ruleCovers(rule, capability, path)) ?? false;

/**
 * Whether `path` matches `glob`, where `*` matches any run of characters, `/` included:
 * `app/*` is everything under `app/`; every other character matches itself.
 * Greedy two-pointer match: on a mismatch only the last `*` is retried one character
 * further, so the cost is O(glob x path) at worst, never exponential (no regex, no backtracking).
 * Every glob in Hush (token paths, policies, bound claims, approval policies) goes through here.
 */
export function matchesGlob(glob: string, path: string): boolean {
  let g = 0;
  let p = 0;
  let star = -1; // position of the last `*` seen in the glob
  let resume = 0; // where in the path that `*` would next end
  while (p < path.length) {
    if (g < glob.length && glob[g] === "*") {
      star = g++;
      resume = p;
    } else if (g < glob.length && glob[g] === path[p]) {
      g++;
      p++;
    } else if (star >= 0) {
      g = star + 1;
      p = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

const tokenPathsAllow = (principal: Principal, path: string) =>
  principal.paths === null || principal.paths.some((glob) => matchesGlob(glob, path));

/**
 * Whether the principal may see `path` with `capability` (default: in a listing).
 * Used to filter rows after the route's `authorize` passed.
 */
export function pathAllowed(principal: Principal, path: string, capability: Capability = "list"): boolean {
  if (principal.isRoot) return true;
  if (deniedBy(principal, capability, path)) return false;
  const hasScopes = principal.scopes.size > 0;
  return (hasScopes && tokenPathsAllow(principal, path)) || policyAllows(principal, capability, path);
}

/**
 * Whether a `service:<name>` subject may read this secret: only if the secret lists
 * the service in `allowed_services`. Other subjects are not affected.
 */
export function serviceMayRead(principal: Principal, secret: { allowedServices: string[] | null }): boolean {
  if (!principal.subject.startsWith("service:")) return true;
  return secret.allowedServices?.includes(principal.subject.slice("service:".length)) ?? false;
}

/** Whether every path `inner` matches is also matched by `outer` (conservative). */
export function globCovers(outer: string, inner: string): boolean {
  if (!outer.includes("*")) return outer === inner;
  const outerPrefix = outer.slice(0, outer.indexOf("*"));
  const innerPrefix = inner.includes("*") ? inner.slice(0, inner.indexOf("*")) : inner;
  return outer === `${outerPrefix}*` ? innerPrefix.startsWith(outerPrefix) : outer === inner;
}

type Denial = { reason: "scope" | "path" | "policy-deny"; policy?: string; message: string };

/** Why the principal may not do `action` (under `scope`) on `path`, or undefined if it may. */
export function denialOf(principal: Principal, scope: string, action: string, path?: string): Denial | undefined {
  if (principal.isRoot) return undefined;
  const capability = capabilityOf(scope, action);
  const deny = deniedBy(principal, capability, path);
  if (deny) return { reason: "policy-deny", policy: deny, message: `Policy ${deny} denies ${capability}${path ? ` on ${path}` : ""}` };
  if (principal.scopes.has(scope) && (path === undefined || tokenPathsAllow(principal, path))) return undefined;
  if (policyAllows(principal, capability, path)) return undefined;
  if (principal.scopes.has(scope) || policyAllows(principal, capability)) {
    return { reason: "path", message: `This token may not ${capability} ${path}` };
  }
  return { reason: "scope", message: `This token lacks the ${scope} scope (capability ${capability})` };
}

/**
 * Checks scope (or the capability it maps to in the token's policies) and path for
 * the current principal; a denial is audited, then 403. Deny rules win.
 * Tenant isolation is not decided here: queries filter by tenant, so another
 * tenant's resource is simply not found (404).
 *
 * @example
 * await authorize(c, "secrets:write", "secret.write", path); // capability `write` on `path`
 */
export async function authorize(c: Context<AppEnv>, scope: Scope, action: string, path?: string): Promise<void> {
  const principal = c.get("principal");
  const denial = denialOf(principal, scope, action, path);
  if (!denial) return;
  await audit(c, {
    action,
    resource: path === undefined ? null : `secret:${path}`,
    outcome: "denied",
    status: 403,
    detail: { reason: denial.reason, scope, capability: capabilityOf(scope, action), ...(denial.policy && { policy: denial.policy }) },
  });
  throw forbidden(denial.message, { required_scope: scope, required_capability: capabilityOf(scope, action) });
}
