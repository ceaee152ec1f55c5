import type { Context } from "hono";
import { audit } from "../audit/log";
import type { AppEnv, Principal } from "../http/context";
import { forbidden } from "../http/problem";

export const SCOPES = [
  "secrets:read",
  "secrets:write",
  "secrets:delete",
  "secrets:export",
  "audit:read",
  "tokens:admin",
  "transit:encrypt",
  "transit:decrypt",
  "transit:admin",
] as const;
export type Scope = (typeof SCOPES)[number];

const globCache = new Map<string, RegExp>();

/** `*` matches any run of characters, `/` included: `app/*` is everything under `app/`. */
export function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    re = new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    globCache.set(glob, re);
  }
  return re;
}

export const matchesGlob = (glob: string, path: string) => globToRegExp(glob).test(path);

export function pathAllowed(principal: Principal, path: string): boolean {
  return principal.paths === null || principal.paths.some((glob) => matchesGlob(glob, path));
}

/** Whether every path `inner` matches is also matched by `outer` (conservative). */
export function globCovers(outer: string, inner: string): boolean {
  if (!outer.includes("*")) return outer === inner;
  const outerPrefix = outer.slice(0, outer.indexOf("*"));
  const innerPrefix = inner.includes("*") ? inner.slice(0, inner.indexOf("*")) : inner;
  return outer === `${outerPrefix}*` ? innerPrefix.startsWith(outerPrefix) : outer === inner;
}

/**
 * Checks scope and path for the current principal; a denial is audited, then 403.
 * Tenant isolation is not decided here: queries filter by tenant, so another
 * tenant's resource is simply not found (404).
 */
export async function authorize(c: Context<AppEnv>, scope: Scope, action: string, path?: string): Promise<void> {
  const principal = c.get("principal");
  let reason: string | undefined;
  if (!principal.scopes.has(scope)) reason = `This token lacks the ${scope} scope`;
  else if (path !== undefined && !pathAllowed(principal, path)) reason = `This token may not access ${path}`;
  if (!reason) return;
  await audit(c, {
    action,
    resource: path === undefined ? null : `secret:${path}`,
    outcome: "denied",
    status: 403,
    detail: { reason: principal.scopes.has(scope) ? "path" : "scope", scope },
  });
  throw forbidden(reason, { required_scope: scope });
}
