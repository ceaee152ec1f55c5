import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../http/context";
import { Problem } from "../http/problem";
import { TenantId } from "../http/rules";

/** What every Vault door shares: the envelope, the error body, JSON input and the namespace. */

export type VaultContext = Context<AppEnv>;

export const envelope = (c: VaultContext, data: unknown, extra: Record<string, unknown> = {}) => ({
  request_id: c.get("requestId"),
  lease_id: "",
  renewable: false,
  lease_duration: 0,
  data,
  wrap_info: null,
  warnings: null,
  auth: null,
  ...extra,
});

/** A problem that the Vault app's error handler answers as `{"errors": [...]}` with this status. */
export const vaultError = (status: ContentfulStatusCode, ...errors: string[]) => new Problem(status, "vault", errors[0], { errors });

export async function jsonBody(c: VaultContext): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw vaultError(400, "failed to parse JSON input");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw vaultError(400, "request body must be a JSON object");
  return parsed as Record<string, unknown>;
}

/**
 * The tenant a public Vault route (login) works in: Vault's namespace header names it
 * (`X-Vault-Namespace`, `VAULT_NAMESPACE` in the Go client), `default` without one.
 */
export function namespaceTenant(c: VaultContext): string {
  const raw = c.req.header("x-vault-namespace")?.replace(/^\/+|\/+$/g, "");
  if (!raw) return "default";
  const parsed = TenantId.safeParse(raw);
  if (!parsed.success) throw vaultError(400, "invalid namespace: it names a Hush tenant (2-63 characters of a-z 0-9 -)");
  return parsed.data;
}

export const noContent = (c: VaultContext) => c.body(null, 204);
