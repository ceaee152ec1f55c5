import { Hono } from "hono";
import { authorize, SCOPES } from "../auth/access";
import { mintToken, revokeWithDescendants, type TokenRow } from "../auth/identity";
import { loginWithRole } from "../auth/identity-routes";
import { unknownPolicies } from "../auth/policies";
import { resolveToken } from "../auth/tokens";
import { apiTokens } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv, Principal } from "../http/context";
import { problemOf } from "../http/errors";
import { Subject } from "../http/rules";
import { envelope, jsonBody, namespaceTenant, noContent, vaultError, type VaultContext } from "./common";
import { parseDuration } from "./kv";
import { respond } from "./wrapping";

/**
 * Vault's token and login endpoints on Hush identities (docs/security.md): a Vault login is a
 * Hush login role (the same verification, rate limits and audit, `loginWithRole`), and
 * `auth/token/create` mints a child through `mintToken`, so it nests, holds a subset of the
 * caller's grants, expires no later and is revoked with it. Vault "policies" are Hush scopes
 * (`secrets:read`) and Hush policy names.
 */
export const vaultAuthApp = new Hono<AppEnv>();

const DEFAULT_TTL_SECONDS = 30 * 24 * 3600;
const MAX_TTL_SECONDS = 366 * 24 * 3600;
const SCOPE_SET = new Set<string>(SCOPES);

const ttlLeft = (expiresAt: number | null) => (expiresAt === null ? 0 : Math.max(0, Math.floor((expiresAt - Date.now()) / 1000)));
const policiesOf = (scopes: Iterable<string>, policies: readonly string[] | null | undefined) => [...new Set([...scopes, ...(policies ?? [])])].sort();

/** Vault's `auth` block for a token just issued. */
function authBlock(row: TokenRow, token: string, metadata: Record<string, string>) {
  const policies = policiesOf(row.scopes, row.policies);
  return {
    client_token: token,
    accessor: row.id,
    policies,
    token_policies: policies,
    identity_policies: [],
    metadata,
    lease_duration: ttlLeft(row.expiresAt),
    renewable: false,
    entity_id: row.entity,
    token_type: "service",
    orphan: row.parentId === null,
    mfa_requirement: null,
    num_uses: 0,
  };
}

/** Vault's token lookup data, for a principal (never the bearer token: `id` is the accessor). */
function lookupData(p: Principal) {
  const ttl = ttlLeft(p.expiresAt);
  return {
    accessor: p.tokenId,
    creation_ttl: ttl,
    display_name: p.subject,
    entity_id: p.entity,
    expire_time: p.expiresAt === null ? null : new Date(p.expiresAt).toISOString(),
    explicit_max_ttl: 0,
    id: p.tokenId,
    meta: { tenant: p.tenantId },
    num_uses: 0,
    orphan: p.isRoot,
    path: "auth/token/create",
    policies: policiesOf(p.scopes, p.policies),
    renewable: false,
    ttl,
    type: "service",
  };
}

// ---- login: auth/jwt/login and auth/kubernetes/login ----

// The Go client (`vault login`, `vault write`) sends PUT; most libraries POST.
for (const [method, verb] of [
  ["jwt", "post"],
  ["jwt", "put"],
  ["kubernetes", "post"],
  ["kubernetes", "put"],
] as const) {
  vaultAuthApp[verb](`/auth/${method}/login`, async (c) => {
    if (c.req.header("x-vault-wrap-ttl")) throw vaultError(400, "Hush does not wrap login responses; log in, then wrap what you read");
    const body = await jsonBody(c);
    if (typeof body.role !== "string" || !body.role) throw vaultError(400, "missing role");
    if (typeof body.jwt !== "string" || !body.jwt || body.jwt.length > 16 * 1024) throw vaultError(400, "missing jwt");
    const tenantId = namespaceTenant(c);
    let login;
    try {
      login = await loginWithRole(c, { tenantId, role: body.role, jwt: body.jwt, via: `vault:${method}` });
    } catch (err) {
      // The one generic failure, in Vault's words (the reason is in the audit log).
      if (problemOf(err)?.status === 401) throw vaultError(400, "error validating token: the token was not accepted for this role");
      throw err;
    }
    const { token, row, statement, event, actor } = login;
    const response = envelope(c, null, { auth: authBlock(row, token, { role: body.role, tenant: tenantId }) });
    await commit(c, [statement], { audit: event, actor, response: { status: 200, body: response, oneTime: ["auth.client_token"] } });
    return c.json(response);
  });
}

// ---- tokens ----

/** Vault's create body onto a Hush grant: scopes and policies, the caller's own when none are named. */
async function grantFor(c: VaultContext, body: Record<string, unknown>) {
  const principal = c.get("principal");
  if (body.policies !== undefined && (!Array.isArray(body.policies) || !body.policies.every((p) => typeof p === "string"))) {
    throw vaultError(400, "policies must be a list of strings");
  }
  const asked = ((body.policies as string[] | undefined) ?? []).filter((p) => p !== "default");
  if (!asked.length) {
    return { scopes: [...principal.scopes], paths: principal.paths, policies: principal.policies ?? [] };
  }
  const scopes = asked.filter((p) => SCOPE_SET.has(p));
  const policies = asked.filter((p) => !SCOPE_SET.has(p));
  const unknown = await unknownPolicies(c.get("db"), principal.tenantId, policies);
  if (unknown.length) throw vaultError(400, `no such policies: ${unknown.join(", ")} (a Vault policy is a Hush scope or a Hush policy name)`);
  return { scopes, paths: principal.paths, policies };
}

const unsupported = (body: Record<string, unknown>) => {
  if (body.num_uses !== undefined && body.num_uses !== 0) return "num_uses is not supported: Hush tokens are not use-limited";
  if (body.period !== undefined && body.period !== "" && body.period !== 0) return "periodic tokens are not supported";
  if (body.type !== undefined && body.type !== "service") return "only service tokens are supported";
  if (body.id !== undefined && body.id !== "") return "a token's value cannot be chosen: Hush generates every token";
  // renewable: true (Vault's default, and what many clients send) is accepted: the token is issued
  // with a fixed expiry and says renewable: false, as renew-self then does.
  return undefined;
};

vaultAuthApp.on(["POST", "PUT"], "/auth/token/create", async (c) => {
  // The same capability as the native POST /api/v1/tokens.
  await authorize(c, "tokens:admin", "token.create");
  const principal = c.get("principal");
  const body = await jsonBody(c);
  const problem = unsupported(body);
  if (problem) throw vaultError(400, problem);
  if (body.no_parent === true && !principal.isRoot) throw vaultError(403, "permission denied: only root may create orphan tokens");
  const ttl = body.ttl === undefined || body.ttl === "" ? DEFAULT_TTL_SECONDS : parseDuration(body.ttl);
  const explicitMax = body.explicit_max_ttl === undefined || body.explicit_max_ttl === "" ? undefined : parseDuration(body.explicit_max_ttl);
  if (ttl === undefined || ttl < 60 || ttl > MAX_TTL_SECONDS) throw vaultError(400, `invalid ttl: a duration between 60s and ${MAX_TTL_SECONDS / 86400}d`);
  if (explicitMax === undefined && body.explicit_max_ttl !== undefined && body.explicit_max_ttl !== "") throw vaultError(400, "invalid explicit_max_ttl");
  const name = body.display_name === undefined || body.display_name === "" ? "vault-token" : body.display_name;
  const subject = Subject.safeParse(name);
  if (!subject.success) throw vaultError(400, "display_name must be printable ASCII without spaces, at most 256 characters");
  if (body.meta !== undefined && (typeof body.meta !== "object" || body.meta === null || !Object.values(body.meta).every((v) => typeof v === "string"))) {
    throw vaultError(400, "meta must map strings to strings");
  }
  const grant = await grantFor(c, body);
  if (!grant.scopes.length && !grant.policies.length) throw vaultError(400, "the token would hold nothing: name scopes or policies");
  const now = Date.now();
  const seconds = Math.min(ttl, explicitMax ?? ttl);
  let minted;
  try {
    // Nested subject, grants within the caller's, expiry no later than the caller's.
    minted = await mintToken(principal, { tenantId: principal.tenantId, subject: subject.data, ...grant, expiresAt: now + seconds * 1000 }, now);
  } catch (err) {
    const p = problemOf(err);
    if (p && (p.status === 400 || p.status === 403)) throw vaultError(p.status, p.status === 403 ? `permission denied: ${p.detail}` : (p.detail ?? p.title));
    throw err;
  }
  const { row, token } = minted;
  const response = envelope(c, null, { auth: authBlock(row, token, (body.meta as Record<string, string> | undefined) ?? {}) });
  return respond(c, response, {
    statements: [c.get("db").insert(apiTokens).values(row)],
    events: [
      {
        action: "token.create",
        resource: `token:${row.id}`,
        status: 201,
        detail: { subject: row.subject, scopes: row.scopes, tenant: row.tenantId, parent: row.parentId, via: "vault" },
      },
    ],
    oneTime: ["auth.client_token"],
  });
});

vaultAuthApp.get("/auth/token/lookup-self", (c) => respond(c, envelope(c, lookupData(c.get("principal")))));

// Another token's metadata: what the native token listing shows, so the same capability.
const lookupOther = async (c: VaultContext) => {
  await authorize(c, "tokens:admin", "token.list");
  const body = c.req.method === "GET" ? {} : await jsonBody(c);
  const token = typeof body.token === "string" ? body.token : c.req.query("token");
  if (!token) throw vaultError(400, "missing token");
  const result = await resolveToken(c.env, token);
  // Revoked, expired, unknown and another tenant's token all look the same.
  if ("rejected" in result || result.principal.tenantId !== c.get("principal").tenantId) throw vaultError(403, "bad token");
  return c.json(envelope(c, lookupData(result.principal)));
};
vaultAuthApp.on(["POST", "PUT"], "/auth/token/lookup", lookupOther);
vaultAuthApp.get("/auth/token/lookup", lookupOther);

// Hush tokens have a fixed expiry: renew answers the time left and says so (Vault clients renew in a loop).
vaultAuthApp.on(["POST", "PUT"], "/auth/token/renew-self", (c) => {
  const p = c.get("principal");
  const policies = policiesOf(p.scopes, p.policies);
  return c.json(
    envelope(c, null, {
      warnings: ["Hush tokens are not renewable: the TTL is unchanged"],
      auth: {
        client_token: "",
        accessor: p.tokenId,
        policies,
        token_policies: policies,
        metadata: null,
        lease_duration: ttlLeft(p.expiresAt),
        renewable: false,
        entity_id: p.entity,
        token_type: "service",
        orphan: p.isRoot,
      },
    }),
  );
});

// Revoking itself is always allowed (as natively): with every token minted under it.
vaultAuthApp.on(["POST", "PUT"], "/auth/token/revoke-self", async (c) => {
  const p = c.get("principal");
  if (p.isRoot) throw vaultError(400, "the operator's ROOT_TOKEN cannot be revoked through the API");
  await commit(c, [revokeWithDescendants(c.get("db"), p.tenantId, p.tokenId, Date.now())], {
    audit: { action: "token.revoke", resource: `token:${p.tokenId}`, detail: { via: "vault" } },
    response: { status: 204, body: "" },
  });
  return noContent(c);
});
