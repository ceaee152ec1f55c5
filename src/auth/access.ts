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

/**
 * What an operation acts on. Policy rules match `pathOf(resource)`: a secret's path,
 * a lease role as `provider/role`, a transit key's name. A token's own `paths` limit
 * the secret tree only. `tenant` is a check without an item: a listing before its rows
 * are decided one by one, or a tenant-wide administrative action. `deployment` is an action
 * across tenants (create or list tenants, act in another tenant, re-wrap every database under
 * a new master key): no scope or policy grants it, only the operator's root token.
 */
export type Resource =
  | { kind: "secret"; path: string }
  | { kind: "lease-role"; provider: string; role: string }
  | { kind: "transit-key"; name: string }
  | { kind: "pki-role"; name: string }
  | { kind: "tenant" }
  | { kind: "deployment" };

export const onSecret = (path: string): Resource => ({ kind: "secret", path });
export const onLeaseRole = (provider: string, role: string): Resource => ({ kind: "lease-role", provider, role });
export const onTransitKey = (name: string): Resource => ({ kind: "transit-key", name });
/** A PKI role: policies match `pki/<role>`, the same name its certificates' leases carry. */
export const onPkiRole = (name: string): Resource => ({ kind: "pki-role", name });
export const TENANT: Resource = Object.freeze({ kind: "tenant" });
export const DEPLOYMENT: Resource = Object.freeze({ kind: "deployment" });

export function pathOf(resource: Resource): string | undefined {
  switch (resource.kind) {
    case "secret":
      return resource.path;
    case "lease-role":
      return `${resource.provider}/${resource.role}`;
    case "transit-key":
      return resource.name;
    case "pki-role":
      return `pki/${resource.name}`;
    case "tenant":
    case "deployment":
      return undefined;
  }
}

/** How a resource is named in audit events. */
export function auditName(resource: Resource): string | null {
  switch (resource.kind) {
    case "secret":
      return `secret:${resource.path}`;
    case "lease-role":
      return `lease_role:${resource.provider}/${resource.role}`;
    case "transit-key":
      return `transit_key:${resource.name}`;
    case "pki-role":
      return `pki_role:${resource.name}`;
    case "tenant":
    case "deployment":
      return null;
  }
}

function ruleCovers(rule: ResolvedRule, capability: Capability, path: string | undefined): boolean {
  if (!rule.capabilities.includes(capability)) return false;
  if (path !== undefined) return rule.paths.some((glob) => matchesGlob(glob, path));
  // A check without an item (a listing, an admin route): an allow rule for a path capability
  // lets the route run and its rows are decided one by one later; admin rules and deny rules
  // count only when they name the whole tree.
  if (rule.effect === "allow" && !TENANT_WIDE.has(capability)) return true;
  return rule.paths.includes("*");
}

/** The policy whose deny rule refuses `capability` on `path`, if any (deny always wins). */
function deniedBy(principal: Principal, capability: Capability, path?: string): string | undefined {
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

const tokenPathsAllow = (principal: Principal, path: string) => principal.paths === null || principal.paths.some((glob) => matchesGlob(glob, path));

/** Whether every path `inner` matches is also matched by `outer` (conservative). */
export function globCovers(outer: string, inner: string): boolean {
  if (!outer.includes("*")) return outer === inner;
  const outerPrefix = outer.slice(0, outer.indexOf("*"));
  const innerPrefix = inner.includes("*") ? inner.slice(0, inner.indexOf("*")) : inner;
  return outer === `${outerPrefix}*` ? innerPrefix.startsWith(outerPrefix) : outer === inner;
}

export type Denial = { reason: "scope" | "path" | "policy-deny" | "root-only"; policy?: string; message: string };
export type Decision = { allow: true } | ({ allow: false } & Denial);
const ALLOW: Decision = Object.freeze({ allow: true });

/**
 * The one access decision. May `principal` do `action` (under `scope`) on `resource`?
 * A scope stands for a capability (`capabilityOf`); the token passes if it holds the
 * scope (within its `paths`, for secrets) or one of its policies allows the capability
 * on the resource, and no deny rule of its policies covers it. Deny wins. Pure: no I/O,
 * so operations over many items call it once per item.
 *
 * Tenant isolation is not decided here: queries filter by tenant, so another tenant's
 * resource is simply not found (404).
 *
 * @example
 * decide(principal, "secrets:read", "secret.export", onSecret("app/db")).allow
 */
export function decide(principal: Principal, scope: Scope, action: string, resource: Resource = TENANT): Decision {
  if (principal.isRoot) return ALLOW;
  if (resource.kind === "deployment")
    return { allow: false, reason: "root-only", message: `Only the operator's root token may act across tenants (${action})` };
  const capability = capabilityOf(scope, action);
  const path = pathOf(resource);
  const deny = deniedBy(principal, capability, path);
  if (deny) return { allow: false, reason: "policy-deny", policy: deny, message: `Policy ${deny} denies ${capability}${path ? ` on ${path}` : ""}` };
  const held = principal.scopes.has(scope);
  if (held && (resource.kind !== "secret" || tokenPathsAllow(principal, resource.path))) return ALLOW;
  if (policyAllows(principal, capability, path)) return ALLOW;
  if (held || policyAllows(principal, capability)) return { allow: false, reason: "path", message: `This token may not ${capability} ${path}` };
  return { allow: false, reason: "scope", message: `This token lacks the ${scope} scope (capability ${capability})` };
}

/** `decide(...).allow`, for filters over many items. */
export const allows = (principal: Principal, scope: Scope, action: string, resource?: Resource) => decide(principal, scope, action, resource).allow;

/**
 * Whether `decide` allows `action` on every secret path that starts with `prefix` ("" for the whole
 * tree), so a filter over them may skip deciding each one (the folder counts). Conservative: false
 * only means "decide each path". Root; otherwise no deny rule for the capability anywhere, and the
 * scope held with token paths covering all of `prefix*`, or an allow rule covering it.
 */
export function allowsEveryPathUnder(principal: Principal, scope: Scope, action: string, prefix: string): boolean {
  if (principal.isRoot) return true;
  const capability = capabilityOf(scope, action);
  if (principal.rules?.some((rule) => rule.effect === "deny" && rule.capabilities.includes(capability))) return false;
  const everything = `${prefix}*`;
  if (principal.scopes.has(scope) && (principal.paths === null || principal.paths.some((glob) => globCovers(glob, everything)))) return true;
  return (
    principal.rules?.some(
      (rule) => rule.effect === "allow" && rule.capabilities.includes(capability) && rule.paths.some((glob) => globCovers(glob, everything)),
    ) ?? false
  );
}

/**
 * `decide` for the current request: a denial is audited, then 403.
 *
 * @example
 * await authorize(c, "secrets:write", "secret.write", onSecret(path));
 */
export async function authorize(c: Context<AppEnv>, scope: Scope, action: string, resource: Resource | string = TENANT): Promise<void> {
  const target = typeof resource === "string" ? onSecret(resource) : resource;
  const decision = decide(c.get("principal"), scope, action, target);
  if (decision.allow) return;
  // A root-only action names no scope: none would be enough (it is not tokens:admin's to grant).
  const needed = decision.reason === "root-only" ? {} : { scope, capability: capabilityOf(scope, action) };
  await audit(c, {
    action,
    resource: auditName(target),
    outcome: "denied",
    status: 403,
    detail: { reason: decision.reason, ...needed, ...(decision.policy && { policy: decision.policy }) },
  });
  throw forbidden(decision.message, needed.scope ? { required_scope: needed.scope, required_capability: needed.capability } : { required: "root token" });
}
