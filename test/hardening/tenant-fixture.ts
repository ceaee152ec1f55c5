import "reflect-metadata";
import { env } from "cloudflare:workers";
import * as x509 from "@peculiar/x509";
import { expect } from "vitest";
import { encryptForShare } from "../shares/share-helpers";
import { api, createTenant } from "../helpers";

export const ALL_SCOPES = [
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
];

x509.cryptoProvider.set(crypto);

/** What the scanning CLI sends for a candidate: base64 SHA-256("hush-scan-v1:" || value). */
export async function scanDigest(value: string) {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`hush-scan-v1:${value}`)));
  return btoa(String.fromCharCode(...bytes));
}

/** A PEM PKCS#10 request for `cn` on a fresh P-256 key. */
export async function csrFor(cn: string) {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
  return csr.toString("pem");
}

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

/** A fresh tenant in D1 database `database` (0: DB, 1: DB_1) and a token in it that holds every scope on every path. */
export async function tenantWithAdmin(prefix: string, database = 0) {
  const tenant = unique(prefix);
  await createTenant(tenant, database);
  const admin = await ok(api("POST", "/api/v1/tokens", { body: { subject: `${tenant}-admin`, scopes: ALL_SCOPES, tenant } }), 201);
  return { tenant, token: admin.token as string, tokenId: admin.id as string };
}

/** One of every resource in a fresh tenant (in database `database`), and the names and ids to reach each of them. */
export async function populatedTenant(database = 0) {
  const { tenant, token, tokenId } = await tenantWithAdmin("iso-a", database);
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
      name: roleName,
      issuer: "https://issuer.example",
      audience: "hush",
      jwks: await publicJwks(),
      bound_claims: { sub: "x" },
      policies: [policyName],
    }),
    201,
  );
  // An approval policy on a guarded area, and a pending request from a write that it stopped.
  const guarded = `${base}/guarded/key`;
  await ok(as("POST", `/api/v1/secrets/store/${guarded}`, { value: "g1" }), 201);
  const approvalPolicy = await ok(
    as("POST", "/api/v1/secrets/approvals/policies", {
      paths: [`${base}/guarded/*`],
      actions: ["rotate"],
      approvals_required: 1,
      approvers: { subjects: ["someone"] },
    }),
    201,
  );
  const stopped = await ok(as("PUT", `/api/v1/secrets/store/${guarded}`, { value: "g2" }), 403);
  const transitKey = unique("tk");
  await ok(as("POST", `/api/v1/transit/keys/${transitKey}`, { type: "aes256-gcm" }), [200, 201]);
  const encrypted = await ok(as("POST", `/api/v1/transit/encrypt/${transitKey}`, { plaintext: btoa("a-transit") }), 200);

  // PKI: a root CA (A's default issuer), a role on it, and one certificate issued under the role.
  const issuerId = unique("ca");
  const issuer = await ok(
    as("POST", "/api/v1/pki/issuers", { type: "root", issuer_id: issuerId, common_name: "A Root CA", ttl_seconds: 30 * 86400, default: true }),
    201,
  );
  const pkiRole = unique("pkirole");
  const pkiDomain = `${unique("a")}.example`;
  await ok(as("PUT", `/api/v1/pki/roles/${pkiRole}`, { issuer: issuerId, allowed_domains: [pkiDomain], allow_subdomains: true, max_ttl_seconds: 3600 }), 200);
  const cert = await ok(as("POST", `/api/v1/pki/issue/${pkiRole}`, { common_name: `svc.${pkiDomain}`, ttl: "10m" }), 201);
  // A stretch of the CA certificate's body (key and signature): A's certificate in any answer to B shows it.
  const issuerCertificate = issuer.certificate as string;
  const certBody = issuerCertificate.replace(/-----[A-Z ]+-----|\s/g, "");

  // Secret scanning: a run whose probe matched A's current value.
  const valueDigest = await scanDigest("a-v2");
  const scanRun = await ok(
    as("POST", "/api/v1/secrets/scans", {
      source: "working-tree",
      rules_active: ["hush/stored-value"],
      findings: [{ rule: "hush/stored-value", file: "config/a.env", line: 1, fingerprint: "a".repeat(32), preview: "********", candidate: valueDigest }],
    }),
    201,
  );
  expect(scanRun.findings[0]?.matches?.[0]?.path).toBe(path);

  // Static rotation: a PostgreSQL provider (nothing is contacted until a rotation runs), a secret holding a
  // login, its binding, and one run. The provider's server is a closed port, so the run's stage phase fails
  // and the run rolls back: a real run row, with no database needed.
  const pgProvider = unique("pgrot");
  const rotationKey = `${base}/rot/db`;
  const connection = "postgres://a_app:a-rot-pw@127.0.0.1:1/none";
  await ok(
    as("POST", "/api/v1/secrets/providers", {
      name: pgProvider,
      kind: "postgresql",
      config: { connection_url: connection, role_prefix: "hush_unused_" },
      roles: { none: { max_ttl_seconds: 60 } },
    }),
    201,
  );
  await ok(
    as("POST", `/api/v1/secrets/store/${rotationKey}`, { value: JSON.stringify({ username: "a_app", password: "a-rot-pw", connection_url: connection }) }),
    201,
  );
  await ok(as("PUT", "/api/v1/secrets/rotations/static-roles", { key: rotationKey, provider: pgProvider, strategy: "single", usernames: ["a_app"] }), 200);
  const rotation = await ok(as("POST", "/api/v1/secrets/rotations", { provider: pgProvider, key: rotationKey }), [200, 202, 502]);
  expect(rotation.rotation_id, JSON.stringify(rotation)).toMatch(/^rot_[0-9a-f]{24}$/);

  // Sync: a webhook target (loopback, a closed port: nothing is delivered) and a sync of A's path that does not run.
  const syncTarget = unique("wh");
  await ok(
    as("POST", "/api/v1/secrets/sync-targets", {
      name: syncTarget,
      kind: "webhook",
      config: { url: "http://127.0.0.1:9/hook", signing_key: "a-sync-signing-key-0123456789abcdef" },
    }),
    [200, 201],
  );
  const sync = await ok(as("POST", "/api/v1/secrets/syncs", { target: syncTarget, path, remote_key: "A_REMOTE_KEY", run: false }), [200, 201]);
  expect(sync.id, JSON.stringify(sync)).toMatch(/^sync_[0-9a-f]{24}$/);

  return {
    syncTarget,
    syncId: sync.id as string,
    tenant,
    token,
    tokenId,
    base,
    path,
    deleted,
    service,
    policyName,
    roleName,
    transitKey,
    ciphertext: encrypted.ciphertext as string,
    shareId: share.id as string,
    shareToken: share.token as string,
    e2eShareId: e2e.id as string,
    leaseId: ephemeral.lease_id as string,
    ephemeralTokenId: ephemeral.id as string,
    approvalPolicyId: approvalPolicy.id as string,
    approvalRequestId: stopped.approval_request_id as string,
    issuerId,
    issuerCertificate,
    certBody: certBody.slice(-100, -40),
    pkiRole,
    pkiDomain,
    serial: cert.serial_number as string,
    certLeaseId: cert.lease_id as string,
    csr: await csrFor(`svc.${pkiDomain}`),
    valueDigest,
    scanRunId: scanRun.run_id as string,
    pgProvider,
    rotationKey,
    rotationId: rotation.rotation_id as string,
  };
}

/** Every row of every table that carries `tenant_id`, for one tenant, as one comparable string (in database `db`). */
export async function tenantRows(tenant: string, skip: string[] = [], db: D1Database = env.DB): Promise<string> {
  const out: string[] = [];
  for (const { name, columns } of await userTables()) {
    if (name === "idempotency_keys" || skip.includes(name) || !columns.some((c) => c.name === "tenant_id")) continue;
    const rows = await db.prepare(`SELECT * FROM "${name}" WHERE tenant_id = ? ORDER BY rowid`).bind(tenant).all();
    out.push(`${name}:${JSON.stringify(rows.results, (_k, v) => (v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v))}`);
  }
  return out.join("\n");
}

/** Every application table with its columns (D1 forbids the pragma table functions, not PRAGMA itself). */
/**
 * How many rows `tenant` has in each table of database `db` that carries `tenant_id`
 * (idempotency records included); only the tables where it has any.
 */
export async function rowCounts(tenant: string, db: D1Database): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { name, columns } of await userTables()) {
    if (!columns.some((c) => c.name === "tenant_id")) continue;
    const row = await db.prepare(`SELECT COUNT(*) AS n FROM "${name}" WHERE tenant_id = ?`).bind(tenant).first<{ n: number }>();
    if (row?.n) counts[name] = row.n;
  }
  return counts;
}

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
