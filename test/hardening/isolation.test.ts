import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type ApiResponse } from "../helpers";
import { populatedTenant, publicJwks, rowCounts, tenantRows, tenantWithAdmin } from "./tenant-fixture";
import { auditDb } from "../support/audit-store";

/**
 * Tenant isolation: with a token of tenant B that holds every scope, call every documented
 * route and method (plus the Vault subset) on tenant A's ids, paths and names. Each answer is a
 * 404, a listing that shows nothing of A, or a write into B's own tenant; A's rows never change.
 * A lives in the second D1 database (DB_1), B in the home one (DB): every row of each stays in
 * its own database (src/db/directory.ts).
 */

type A = Awaited<ReturnType<typeof populatedTenant>> & { jwks?: unknown };
interface Operation {
  method: string;
  template: string;
}

// Routes for the platform operator, not for any tenant: a tenant's token gets 403 whatever it asks.
const ROOT_ONLY = new Set(["GET /api/v1/tenants", "POST /api/v1/tenants", "PATCH /api/v1/tenants/{id}", "GET /api/v1/sys/rewrap", "POST /api/v1/sys/rewrap"]);
// Writes that land in the caller's own tenant (checked afterwards: A is unchanged).
const CREATES = new Set([
  "POST /api/v1/tokens",
  "PUT /api/v1/auth/policies/{name}",
  "POST /api/v1/auth/roles",
  "POST /api/v1/secrets/store/{path}",
  "PUT /api/v1/secrets/store/{path}",
  "POST /api/v1/secrets/store/import",
  "POST /api/v1/secrets/approvals/policies",
  "POST /api/v1/secrets/shares",
  "POST /api/v1/shares",
  "POST /api/v1/secrets/leases",
  "POST /api/v1/secrets/providers",
  "POST /api/v1/ephemeral/api-keys",
  "POST /api/v1/transit/keys/{name}",
  "POST /api/v1/secrets/leases/revoke-prefix",
  "POST /api/v1/secrets/scans",
  "POST /api/v1/pki/issuers",
  "PUT /api/v1/pki/roles/{role}",
  "POST /api/v1/secrets/sync-targets",
  "POST /api/v1/secrets/syncs",
  "POST /api/v1/secrets/syncs/run",
]);
// Reads of one object named in the query string, not listings: A's id there is a 404.
const LOOKUPS = new Set(["GET /api/v1/discovery/findings"]);
// Public routes where the link or the share token is the credential: B holds A's share id (the link) but not
// its key or token, so a nonce is fine; nothing may be revealed or consumed (checked afterwards).
const PUBLIC = new Set(["POST /api/v1/auth/login", "POST /api/v1/shares/{id}/nonce", "POST /api/v1/shares/{id}/reveal", "POST /api/v1/secrets/shares/redeem"]);

function target(op: Operation, a: A): string {
  const by = (key: string) => {
    if (key === "path") return a.path;
    if (key === "service") return a.service;
    if (key === "request_id") return a.approvalRequestId;
    if (key === "role") return a.pkiRole;
    if (key === "name" && op.template.includes("/sync-targets/")) return a.syncTarget;
    if (key === "name") return op.template.includes("/transit/") ? a.transitKey : op.template.includes("/roles/") ? a.roleName : a.policyName;
    // {id}
    if (op.template.startsWith("/api/v1/pki/issuers/")) return a.issuerId;
    if (op.template.startsWith("/api/v1/secrets/rotations/")) return a.rotationId;
    if (op.template.startsWith("/api/v1/secrets/syncs/")) return a.syncId;
    if (op.template.startsWith("/api/v1/tokens")) return a.tokenId;
    if (op.template.startsWith("/api/v1/tenants/")) return a.tenant;
    if (op.template.includes("/approvals/policies")) return a.approvalPolicyId;
    if (op.template.includes("/leases/")) return a.leaseId;
    if (op.template.startsWith("/api/v1/shares/")) return a.e2eShareId;
    return a.shareId;
  };
  const path = op.template.replace(/\{([a-z_]+)\}/g, (_m, key: string) => by(key));
  // Listings are asked about A's own things, where they take a filter.
  const query: Record<string, string> = {
    "/api/v1/secrets/store": `prefix=${a.base}/`,
    "/api/v1/secrets/folders": `prefix=${a.base}`,
    "/api/v1/secrets/compare": `left=${a.base}/db&right=${a.base}`,
    "/api/v1/secrets/export": `prefix=${a.base}/&include_values=true`,
    "/api/v1/audit": `path=${a.path}`,
    "/api/v1/tokens": `subject=${a.tenant}-admin`,
    "/api/v1/secrets/store/{path}": "resolve=true",
    "/api/v1/secrets/store/history/{path}": "version=1",
    "/api/v1/discovery/findings": `run_id=${a.scanRunId}`,
    "/api/v1/secrets/rotations": `key=${a.rotationKey}`,
  };
  return query[op.template] ? `${path}?${query[op.template]}` : path;
}

function body(op: Operation, a: A): unknown {
  const key = `${op.method} ${op.template}`;
  const bodies: Record<string, unknown> = {
    "POST /api/v1/tokens": { subject: "b-user", scopes: ["secrets:read"] },
    "POST /api/v1/tenants": { id: `${a.tenant}-b` },
    "PATCH /api/v1/tenants/{id}": { audit_chains: 8 },
    "PUT /api/v1/auth/policies/{name}": { rules: [{ paths: ["b/*"], capabilities: ["read"] }] },
    "POST /api/v1/auth/roles": {
      name: a.roleName,
      issuer: "https://issuer.example",
      audience: "hush",
      jwks: a.jwks,
      bound_claims: { sub: "x" },
      policies: [a.policyName],
    },
    "POST /api/v1/auth/login": { role: a.roleName, jwt: "e30.e30.sig", tenant: a.tenant },
    "POST /api/v1/secrets/store/recover/{path}": { at: new Date().toISOString() },
    "POST /api/v1/secrets/store/destroy/{path}": { versions: [1] },
    "PATCH /api/v1/secrets/store/{path}/metadata": { description: "b was here" },
    "POST /api/v1/secrets/store/{path}/rotate": { value: "b-value" },
    "POST /api/v1/secrets/store/import": { prefix: a.base, values: { "db/password": { value: "b-value" } } },
    "POST /api/v1/secrets/store/{path}": { value: "b-value" },
    "PUT /api/v1/secrets/store/{path}": { value: "b-value", cas: 2 },
    "POST /api/v1/secrets/approvals/policies": { paths: [`${a.base}/*`], actions: ["rotate"], approvals_required: 1, approvers: { subjects: ["b"] } },
    "POST /api/v1/secrets/shares": { value: "b-share" },
    "POST /api/v1/secrets/shares/redeem": { token: `${a.shareToken.slice(0, -4)}zzzz` },
    "POST /api/v1/shares": { ciphertext: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
    "POST /api/v1/shares/{id}/reveal": { nonce: "not-a-nonce" },
    "POST /api/v1/secrets/leases": { provider: "hush-api-key", role: "default", ttl_seconds: 60 },
    "POST /api/v1/secrets/leases/revoke-prefix": { provider: "hush-api-key" },
    "POST /api/v1/secrets/leases/{id}/renew": { extend_seconds: 30 },
    // A provider named like A's, in B's own tenant (nothing is contacted on create).
    "POST /api/v1/secrets/providers": {
      name: a.pgProvider,
      kind: "postgresql",
      config: { connection_url: "postgres://b:b@127.0.0.1:1/none", role_prefix: "hush_b_" },
      roles: { none: { max_ttl_seconds: 60 } },
    },
    "POST /api/v1/ephemeral/api-keys": { subject: "b-eph", scopes: ["secrets:read"], ttl_seconds: 60 },
    "POST /api/v1/transit/keys/{name}": { type: "aes256-gcm" },
    "PATCH /api/v1/transit/keys/{name}": { deletion_allowed: true },
    "POST /api/v1/transit/encrypt/{name}": { plaintext: btoa("b") },
    "POST /api/v1/transit/decrypt/{name}": { ciphertext: a.ciphertext },
    "POST /api/v1/transit/rewrap/{name}": { ciphertext: a.ciphertext },
    "POST /api/v1/transit/hmac/{name}": { input: btoa("b") },
    "POST /api/v1/transit/verify/{name}": { input: btoa("b"), hmac: "hush:v1:AAAA" },
    "POST /api/v1/transit/sign/{name}": { input: btoa("b") },
    "POST /api/v1/transit/verify-signature/{name}": { input: btoa("b"), signature: "hush:v1:AAAA" },
    // B's own scan, probing for A's stored value: it may match nothing of A.
    // B's own target named like A's, and syncs of A's path: B may not read it (404 or refused), A is untouched.
    "POST /api/v1/secrets/sync-targets": {
      name: a.syncTarget,
      kind: "webhook",
      config: { url: "http://127.0.0.1:9/hook", signing_key: "b-sync-signing-key-0123456789abcdef" },
    },
    "POST /api/v1/secrets/syncs": { target: a.syncTarget, path: a.path, remote_key: "B_KEY", run: false },
    "POST /api/v1/secrets/syncs/run": { name: a.path, target: a.syncTarget, remote_key: "B_KEY" },
    "POST /api/v1/secrets/scans": {
      source: "working-tree",
      rules_active: ["hush/stored-value", "generic-api-key"],
      findings: [
        { rule: "hush/stored-value", file: "config/b.env", line: 1, fingerprint: "b".repeat(32), preview: "********", candidate: a.valueDigest },
        { rule: "generic-api-key", file: "config/b.env", line: 2, fingerprint: "c".repeat(32), preview: "********", candidate: a.valueDigest },
      ],
    },
    // Binding A's key to A's provider, and rotating it: B has neither (404).
    "PUT /api/v1/secrets/rotations/static-roles": { key: a.rotationKey, provider: a.pgProvider, strategy: "single", usernames: ["a_app"] },
    "POST /api/v1/secrets/rotations": { provider: a.pgProvider, key: a.rotationKey },
    "POST /api/v1/pki/issuers": { type: "root", issuer_id: a.issuerId, common_name: "B Root CA", ttl_seconds: 30 * 86400 },
    "POST /api/v1/pki/issuers/{id}/signed": { certificate: a.issuerCertificate },
    "PUT /api/v1/pki/roles/{role}": { allowed_domains: ["b.example"], allow_subdomains: true, max_ttl_seconds: 3600 },
    "POST /api/v1/pki/issue/{role}": { common_name: `svc.${a.pkiDomain}`, ttl: "10m" },
    "POST /api/v1/pki/sign/{role}": { csr: a.csr, ttl: "10m" },
    "POST /api/v1/pki/revoke": { serial_number: a.serial },
    "POST /api/v1/secrets/pki": { role: a.pkiRole, common_name: `svc.${a.pkiDomain}` },
  };
  return bodies[key];
}

/** Every identifier of A that must never show up in an answer to B. */
const identifiers = (a: A) => [
  a.tenant,
  a.base,
  a.tokenId,
  a.leaseId,
  a.ephemeralTokenId,
  a.shareId,
  a.e2eShareId,
  a.policyName,
  a.roleName,
  a.transitKey,
  a.approvalPolicyId,
  a.approvalRequestId,
  a.service,
  "a-v1",
  "a-v2",
  "a-share",
  a.issuerId,
  a.certBody,
  a.pkiRole,
  a.pkiDomain,
  a.serial,
  a.certLeaseId,
  a.scanRunId,
  a.pgProvider,
  a.rotationId,
  "a-rot-pw",
  a.syncTarget,
  a.syncId,
  "A_REMOTE_KEY",
];

/** No identifier of A that B did not itself send appears in the answer. */
function expectNothingOfA(res: ApiResponse, a: A, context: string, sent = "") {
  for (const id of identifiers(a)) {
    if (sent.includes(id)) continue;
    expect(res.text.includes(id), `${context} shows ${id}: ${res.text.slice(0, 300)}`).toBe(false);
  }
}

/** A's audit rows with the sealer's columns left out (it fills seq and hash in the background). */
async function auditOf(tenant: string) {
  const rows = await auditDb
    .prepare("SELECT id, at, actor, action, resource, outcome, status, detail FROM audit_events WHERE tenant_id = ? ORDER BY n")
    .bind(tenant)
    .all<Record<string, unknown>>();
  return rows.results;
}

describe("tenant isolation sweep", async () => {
  const doc = (await api("GET", "/openapi.json", { token: null })).body as { paths: Record<string, Record<string, unknown>> };
  const ops: Operation[] = Object.entries(doc.paths).flatMap(([template, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), template })));
  const isCreate = (op: Operation) => CREATES.has(`${op.method} ${op.template}`);
  let a: A;
  let b: { tenant: string; token: string };
  let before: string;
  let auditBefore: Record<string, unknown>[];
  let swept = 0;

  beforeAll(async () => {
    a = { ...(await populatedTenant(1)), jwks: await publicJwks() };
    b = await tenantWithAdmin("iso-b", 0);
    before = await tenantRows(a.tenant, ["audit_events"], env.DB_1);
    auditBefore = await auditOf(a.tenant);
  }, 60_000);

  afterAll(() => console.log(`isolation: ${swept} route/method pairs swept (${ops.length} documented + Vault subset)`));

  const call = async (op: Operation) => {
    const payload = body(op, a);
    const url = target(op, a);
    return {
      sent: `${url} ${JSON.stringify(payload ?? null)}`,
      res: await api(op.method, url, { token: b.token, ...(payload !== undefined ? { body: payload } : {}) }),
    };
  };
  const isListing = (op: Operation) =>
    op.method === "GET" && !LOOKUPS.has(`${op.method} ${op.template}`) && (!op.template.includes("{") || op.template.includes("{service}"));

  it("the Vault subset answers 404 for A's paths and lists nothing of A", async () => {
    const v = (method: string, path: string, payload?: unknown) => api(method, `/v1/secret/${path}`, { token: b.token, ...(payload ? { body: payload } : {}) });
    // Deletes answer 204 whether or not the path exists, as Vault does: no existence oracle; A's rows are checked below.
    const cases: [string, string, unknown?][] = [
      ["GET", `data/${a.path}`],
      ["GET", `data/${a.path}?version=1`],
      ["PATCH", `data/${a.path}`, { data: { k: "b" } }],
      ["DELETE", `data/${a.path}`],
      ["POST", `delete/${a.path}`, { versions: [1] }],
      ["PUT", `delete/${a.path}`, { versions: [1] }],
      ["POST", `undelete/${a.path}`, { versions: [1] }],
      ["PUT", `undelete/${a.path}`, { versions: [1] }],
      ["POST", `destroy/${a.path}`, { versions: [1] }],
      ["PUT", `destroy/${a.path}`, { versions: [1] }],
      ["GET", `metadata/${a.path}`],
      ["PATCH", `metadata/${a.path}`, { max_versions: 1 }],
      ["DELETE", `metadata/${a.path}`],
      ["GET", `subkeys/${a.path}`],
      ["GET", `metadata/${a.base}?list=true`],
      ["GET", `metadata/${a.base}/db?list=true`],
    ];
    const failures: string[] = [];
    for (const [method, path, payload] of cases) {
      const res = await v(method, path, payload);
      swept++;
      const idempotentDelete = method === "DELETE" || /^(delete|undelete|destroy)\//.test(path);
      if (res.status !== 404 && !(idempotentDelete && res.status === 204))
        failures.push(`${method} /v1/secret/${path} -> ${res.status} ${res.text.slice(0, 200)}`);
      try {
        expectNothingOfA(res, a, `${method} ${path}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    // The Vault PKI mount: A's role, serial and CSR are 404; B has no issuer of its own, so the CA and CRL are 404 too.
    const pki: [string, string, unknown?][] = [
      ["GET", `roles/${a.pkiRole}`],
      ["POST", `issue/${a.pkiRole}`, { common_name: `svc.${a.pkiDomain}`, ttl: "10m" }],
      ["POST", `sign/${a.pkiRole}`, { csr: a.csr, ttl: "10m" }],
      ["POST", "revoke", { serial_number: a.serial }],
      ["GET", "ca/pem"],
      ["GET", "ca"],
      ["GET", "ca_chain"],
      ["GET", "crl"],
      ["GET", "crl/pem"],
    ];
    for (const [method, path, payload] of pki) {
      const res = await api(method, `/v1/pki/${path}`, { token: b.token, ...(payload ? { body: payload } : {}) });
      swept++;
      if (res.status !== 404) failures.push(`${method} /v1/pki/${path} -> ${res.status} ${res.text.slice(0, 200)}`);
      try {
        expectNothingOfA(res, a, `${method} /v1/pki/${path}`, `${path} ${JSON.stringify(payload ?? null)}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    // Another token's metadata: A's own token, held by B, is refused like an unknown one.
    for (const [method, payload] of [
      ["POST", { token: a.token }],
      ["GET", undefined],
    ] as const) {
      const res = await api(method, `/v1/auth/token/lookup${payload ? "" : `?token=${a.token}`}`, { token: b.token, ...(payload ? { body: payload } : {}) });
      swept++;
      if (res.status !== 403) failures.push(`${method} /v1/auth/token/lookup (A's token) -> ${res.status} ${res.text.slice(0, 200)}`);
      try {
        expectNothingOfA(res, a, `${method} /v1/auth/token/lookup`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    const root = await v("GET", "metadata?list=true");
    swept++;
    expectNothingOfA(root, a, "LIST metadata");
    // Metadata before data is a write into B's own tenant (Vault allows it): B's metadata at A's path shows
    // nothing of A, and goes again so the next sweep's probes of A's path find nothing of B's there.
    for (const method of ["POST", "PUT"]) {
      const res = await v(method, `metadata/${a.path}`, { max_versions: 1 });
      swept++;
      if (res.status !== 204) failures.push(`${method} /v1/secret/metadata/${a.path} -> ${res.status} ${res.text.slice(0, 200)}`);
    }
    const own = await v("GET", `metadata/${a.path}`);
    expect(own.status, own.text).toBe(200);
    expect(own.body.data).toMatchObject({ current_version: 0, max_versions: 1, versions: {} });
    expectNothingOfA(own, a, "B's own metadata at A's path", a.path);
    expect((await v("DELETE", `metadata/${a.path}`)).status).toBe(204);
    // A write lands in B's own tenant: allowed, and A is untouched (checked below). Not on a.path, which the next sweep probes.
    expect((await v("POST", `data/${a.deleted}`, { data: { k: "b" } })).status).toBe(200);
    swept++;
    expect(failures).toEqual([]);
  });

  // Reads and changes of A's things first; B's own creations last, so a name B takes cannot mask a leak.
  it("every route and method acting on A's ids answers 404 or shows nothing of A", async () => {
    const failures: string[] = [];
    for (const op of [...ops.filter((o) => !isCreate(o)), ...ops.filter(isCreate)]) {
      const key = `${op.method} ${op.template}`;
      const { sent, res } = await call(op);
      swept++;
      const context = `${key} -> ${res.status}`;
      if (res.status >= 500) failures.push(`${context} ${res.text.slice(0, 200)}`);
      else if (ROOT_ONLY.has(key)) {
        if (res.status !== 403) failures.push(`${context} (root-only route)`);
      } else if (PUBLIC.has(key)) {
        if (res.status < 400 && !key.endsWith("/nonce")) failures.push(`${context} (public route accepted B's guess)`);
      } else if (isListing(op)) {
        if (res.status >= 400) failures.push(`${context} (a listing refused B)`);
      } else if (!isCreate(op) && res.status !== 404) failures.push(`${context} ${res.text.slice(0, 200)}`);
      try {
        expectNothingOfA(res, a, context, sent);
      } catch (e) {
        failures.push((e as Error).message.slice(0, 300));
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it("left every row of tenant A exactly as it was, and A's shares, lease and keys still work", async () => {
    expect(await tenantRows(a.tenant, ["audit_events"], env.DB_1)).toBe(before);
    // Each tenant's rows sit in its own database only, after every route was called: none of A's in DB, none of B's in DB_1.
    expect(await rowCounts(a.tenant, env.DB)).toEqual({});
    expect(await rowCounts(b.tenant, env.DB_1)).toEqual({});
    expect(Object.keys(await rowCounts(a.tenant, env.DB_1))).toEqual(
      expect.arrayContaining(["api_tokens", "audit_events", "leases", "secret_versions", "secrets", "share_index", "syncs", "transit_keys"]),
    );
    expect(Object.keys(await rowCounts(b.tenant, env.DB))).toEqual(expect.arrayContaining(["api_tokens", "audit_events", "secrets"]));
    // A's log keeps every event it had; the only new ones record B's refused guesses at A's public share and login routes.
    const audit = await auditOf(a.tenant);
    expect(audit.slice(0, auditBefore.length)).toEqual(auditBefore);
    for (const event of audit.slice(auditBefore.length)) {
      expect(event.outcome, JSON.stringify(event)).toBe("denied");
      expect(["auth.login", "share.redeem", "share.reveal", "share.nonce"]).toContain(event.action);
    }
    const asA = (method: string, path: string, payload?: unknown) => api(method, path, { token: a.token, ...(payload ? { body: payload } : {}) });
    expect((await asA("GET", `/api/v1/secrets/store/${a.path}`)).body).toMatchObject({ value: "a-v2", version: 2 });
    expect((await asA("GET", `/api/v1/secrets/leases/${a.leaseId}`)).body.state).toBe("issued");
    const decrypted = await asA("POST", `/api/v1/transit/decrypt/${a.transitKey}`, { ciphertext: a.ciphertext });
    expect(atob(decrypted.body.plaintext)).toBe("a-transit");
    const redeemed = await api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: a.shareToken } });
    expect(redeemed.body).toMatchObject({ value: "a-share", views_left: 1 });
  });
});
