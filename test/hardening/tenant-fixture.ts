import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { encryptForShare } from "../shares/share-helpers";
import { api, createTenant } from "../helpers";

export const ALL_SCOPES = [
  "secrets:read", "secrets:write", "secrets:delete", "secrets:export", "audit:read", "tokens:admin", "auth:admin",
  "leases:read", "leases:write", "providers:admin", "transit:encrypt", "transit:decrypt", "transit:admin",
];

/** A JSON Web Key Set with one public key, for OIDC roles. */
export async function publicJwks() {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { keys: [{ ...jwk, kid: "k1", alg: "ES256" }] };
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}`;

async function ok(res: Promise<{ status: number; text: string; body: any }>, status: number | number[]) {
  const r = await res;
  expect([status].flat(), `${r.status} ${r.text.slice(0, 300)}`).toContain(r.status);
  return r.body;
}

/** A fresh tenant and a token in it that holds every scope on every path. */
export async function tenantWithAdmin(prefix: string) {
  const tenant = unique(prefix);
  await createTenant(tenant);
  const admin = await ok(api("POST", "/api/v1/tokens", { body: { subject: `${tenant}-admin`, scopes: ALL_SCOPES, tenant } }), 201);
  return { tenant, token: admin.token as string, tokenId: admin.id as string };
}

/** One of every resource in a fresh tenant, and the names and ids to reach each of them. */
export async function populatedTenant() {
  const { tenant, token, tokenId } = await tenantWithAdmin("iso-a");
  const as = (method: string, path: string, body?: unknown) => api(method, path, { token, body });
  const base = unique("iso");
  const path = `${base}/db/password`;
  const service = unique("svc");
  await ok(as("POST", `/api/v1/secrets/store/${path}`, { value: "a-v1", allowed_services: [service] }), 201);
  await ok(as("PUT", `/api/v1/secrets/store/${path}`, { value: "a-v2" }), 200);
  const deleted = `${base}/old`;
  await ok(as("POST", `/api/v1/secrets/store/${deleted}`, { value: "gone" }), 201);
  await ok(as("DELETE", `/api/v1/secrets/store/${deleted}`), [200, 204]);

  const share = await ok(as("POST", "/api/v1/secrets/shares", { value: "a-share", max_views: 2 }), 201);
  const e2e = await ok(api("POST", "/api/v1/shares", { token, body: { ciphertext: (await encryptForShare("a-e2e")).ciphertext } }), 201);
  const ephemeral = await ok(as("POST", "/api/v1/ephemeral/api-keys", { subject: `${tenant}-eph`, scopes: ["secrets:read"], ttl_seconds: 600 }), 201);
  const policyName = unique("pol");
  await ok(as("PUT", `/api/v1/auth/policies/${policyName}`, { rules: [{ paths: [`${base}/*`], capabilities: ["read"] }] }), 200);
  const roleName = unique("role");
  await ok(
    as("POST", "/api/v1/auth/roles", {
      name: roleName, issuer: "https://issuer.example", audience: "hush", jwks: await publicJwks(), bound_claims: { sub: "x" }, policies: [policyName],
    }),
    201,
  );
  // An approval policy on a guarded area, and a pending request from a write that it stopped.
  const guarded = `${base}/guarded/key`;
  await ok(as("POST", `/api/v1/secrets/store/${guarded}`, { value: "g1" }), 201);
  const approvalPolicy = await ok(
    as("POST", "/api/v1/secrets/approvals/policies", { paths: [`${base}/guarded/*`], actions: ["rotate"], approvals_required: 1, approvers: { subjects: ["someone"] } }),
    201,
  );
  const stopped = await ok(as("PUT", `/api/v1/secrets/store/${guarded}`, { value: "g2" }), 403);
  const transitKey = unique("tk");
  await ok(as("POST", `/api/v1/transit/keys/${transitKey}`, { type: "aes256-gcm" }), [200, 201]);
  const encrypted = await ok(as("POST", `/api/v1/transit/encrypt/${transitKey}`, { plaintext: btoa("a-transit") }), 200);
  return {
    tenant, token, tokenId, base, path, deleted, service, policyName, roleName, transitKey,
    ciphertext: encrypted.ciphertext as string,
    shareId: share.id as string, shareToken: share.token as string, e2eShareId: e2e.id as string,
    leaseId: ephemeral.lease_id as string, ephemeralTokenId: ephemeral.id as string,
    approvalPolicyId: approvalPolicy.id as string, approvalRequestId: stopped.approval_request_id as string,
  };
}

/** Every row of every table that carries `tenant_id`, for one tenant, as one comparable string. */
export async function tenantRows(tenant: string, skip: string[] = []): Promise<string> {
  const out: string[] = [];
  for (const { name, columns } of await userTables()) {
    if (name === "idempotency_keys" || skip.includes(name) || !columns.some((c) => c.name === "tenant_id")) continue;
    const rows = await env.DB.prepare(`SELECT * FROM "${name}" WHERE tenant_id = ? ORDER BY rowid`).bind(tenant).all();
    out.push(`${name}:${JSON.stringify(rows.results, (_k, v) => (v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v))}`);
  }
  return out.join("\n");
}

/** Every application table with its columns (D1 forbids the pragma table functions, not PRAGMA itself). */
export async function userTables() {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations' ORDER BY name",
  ).all<{ name: string }>();
  return Promise.all(
    tables.results.map(async ({ name }) => ({
      name,
      columns: (await env.DB.prepare(`PRAGMA table_info("${name}")`).all<{ name: string; type: string }>()).results,
    })),
  );
}
