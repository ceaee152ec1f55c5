import "reflect-metadata";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as x509 from "@peculiar/x509";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { database } from "../../src/db/client";
import { leases, pkiCertificates, pkiIssuers } from "../../src/db/schema";
import { SEALED_TABLES } from "../../src/rotation/registry";
import { api, expectProblem, type ApiResponse } from "../helpers";
import { waitFor } from "../leases/helpers";

x509.cryptoProvider.set(crypto);
vi.setConfig({ testTimeout: 30_000 });

let n = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(n++).toString(36)}`;
const db = () => database(env.DB);

let rootId: string;
let rootPem: string;

async function putRole(name: string, config: Record<string, unknown>) {
  const res = await api("PUT", `/api/v1/pki/roles/${name}`, { body: config });
  if (res.status !== 200) throw new Error(`role: ${res.status} ${res.text}`);
}

async function mint(body: Record<string, unknown>) {
  const res = await api("POST", "/api/v1/tokens", { body: { subject: unique("pki-user"), ...body } });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${res.text}`);
  return res.body.token as string;
}

async function policy(rules: unknown[]) {
  const name = unique("pki-pol");
  const res = await api("PUT", `/api/v1/auth/policies/${name}`, { body: { rules } });
  if (res.status !== 200) throw new Error(`policy: ${res.status} ${res.text}`);
  return name;
}

function expectRule(res: ApiResponse, rule: string) {
  expectProblem(res, 400);
  expect(res.body.type).toContain("pki-role-violation");
  expect(res.body.rule).toBe(rule);
}

async function csrWith(
  extensions: x509.Extension[],
  cn = "svc.example.com",
  alg: { name: string; namedCurve: string } = { name: "ECDSA", namedCurve: "P-256" },
) {
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" }, extensions });
  return csr.toString("pem");
}

beforeAll(async () => {
  rootId = unique("root");
  const res = await api("POST", "/api/v1/pki/issuers", {
    body: { type: "root", issuer_id: rootId, common_name: "Hush Test Root", ttl_seconds: 30 * 86400, default: true },
  });
  expect(res.status, res.text).toBe(201);
  rootPem = res.body.certificate;
  await putRole("default", { allowed_domains: ["example.com"], allow_subdomains: true, max_ttl_seconds: 7200 });
  await putRole("web", {
    allowed_domains: ["example.com"],
    allow_subdomains: true,
    allow_bare_domains: true,
    allow_ip_sans: false,
    allowed_uri_sans: ["spiffe://example.com/*"],
    max_ttl_seconds: 3600,
  });
  await putRole("other", { allowed_domains: ["other.test"], allow_subdomains: true, max_ttl_seconds: 3600 });
});

describe("issuers", () => {
  it("a root CA is self-signed, CA:true, and its key is sealed and covered by master-key rotation", async () => {
    const cert = new x509.X509Certificate(rootPem);
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    const row = await db().select().from(pkiIssuers).where(eq(pkiIssuers.id, rootId)).get();
    expect(row!.keyId).toBe("k1");
    expect(new TextDecoder().decode(row!.ciphertext)).not.toContain("PRIVATE");
    expect(SEALED_TABLES.map((t) => t.table)).toContain("pki_issuers");
    const view = await api("GET", `/api/v1/pki/issuers/${rootId}`);
    expect(view.status).toBe(200);
    expect(JSON.stringify(view.body)).not.toMatch(/PRIVATE KEY|ciphertext|wrapped/);
  });

  it("an intermediate's CSR, signed externally, becomes an issuer whose certificates chain to the root", async () => {
    const id = unique("int");
    const created = await api("POST", "/api/v1/pki/issuers", {
      body: { type: "intermediate", issuer_id: id, common_name: "Hush Test Intermediate", key_type: "ec", key_bits: 384 },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.state).toBe("pending");
    // The "external" CA: a root made here, outside Hush.
    const extKeys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const ext = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=External Root",
      keys: extKeys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const csr = new x509.Pkcs10CertificateRequest(created.body.csr);
    const signed = await x509.X509CertificateGenerator.create({
      subject: csr.subjectName,
      issuer: ext.subjectName,
      notAfter: new Date(Date.now() + 10 * 86400_000),
      publicKey: csr.publicKey,
      signingKey: extKeys.privateKey,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const done = await api("POST", `/api/v1/pki/issuers/${id}/signed`, { body: { certificate: signed.toString("pem"), chain: ext.toString("pem") } });
    expect(done.status, done.text).toBe(200);
    expect(done.body.state).toBe("active");
    const role = unique("introle");
    await putRole(role, { issuer: id, allowed_domains: ["example.com"], allow_subdomains: true });
    const issued = await api("POST", `/api/v1/pki/issue/${role}`, { body: { common_name: "a.example.com", ttl: "10m" } });
    expect(issued.status, issued.text).toBe(201);
    const leaf = new x509.X509Certificate(issued.body.certificate);
    expect(await leaf.verify({ publicKey: signed.publicKey, signatureOnly: true })).toBe(true);
    expect(issued.body.ca_chain).toHaveLength(2);
    // The wrong certificate (another key) is refused.
    const again = await api("POST", "/api/v1/pki/issuers", { body: { type: "intermediate", issuer_id: unique("int"), common_name: "x" } });
    expectProblem(await api("POST", `/api/v1/pki/issuers/${again.body.issuer_id}/signed`, { body: { certificate: signed.toString("pem") } }), 400);
  });

  it("imports a CA certificate with its key, and refuses a key that is not the certificate's", async () => {
    const alg = { name: "ECDSA", namedCurve: "P-256" };
    const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
    const other = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=Imported CA",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const pkcs8 = (k: CryptoKey) => crypto.subtle.exportKey("pkcs8", k).then((der) => x509.PemConverter.encode(der as ArrayBuffer, "PRIVATE KEY"));
    const bad = await api("POST", "/api/v1/pki/issuers", {
      body: { type: "import", issuer_id: unique("imp"), certificate: cert.toString("pem"), private_key: await pkcs8(other.privateKey) },
    });
    expectProblem(bad, 400);
    const ok = await api("POST", "/api/v1/pki/issuers", {
      body: { type: "import", issuer_id: unique("imp"), certificate: cert.toString("pem"), private_key: await pkcs8(keys.privateKey) },
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.kind).toBe("imported");
  });

  it("issuer administration needs admin: a lease token cannot create issuers or roles", async () => {
    const token = await mint({ scopes: ["leases:write", "leases:read"] });
    expectProblem(await api("POST", "/api/v1/pki/issuers", { token, body: { type: "root", issuer_id: unique("r"), common_name: "x" } }), 403);
    expectProblem(await api("PUT", "/api/v1/pki/roles/evil", { token, body: { allow_any_name: true } }), 403);
  });
});

describe("issue", () => {
  it("returns certificate, PKCS#8 key, issuing CA, chain, serial and expiry; the key is never stored nor replayed", async () => {
    const headers = { "idempotency-key": unique("idem") };
    const res = await api("POST", "/api/v1/pki/issue/web", {
      headers,
      body: { common_name: "api.example.com", alt_names: ["www.example.com"], uri_sans: ["spiffe://example.com/api"], ttl: "30m" },
    });
    expect(res.status, res.text).toBe(201);
    const { credential } = res.body;
    expect(credential.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(credential.issuing_ca).toBe(rootPem);
    expect(res.body.ca_chain).toEqual([rootPem]);
    const cert = new x509.X509Certificate(res.body.certificate);
    expect(await cert.verify({ publicKey: new x509.X509Certificate(rootPem).publicKey, signatureOnly: true })).toBe(true);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const sans = cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON();
    expect(sans).toEqual(
      expect.arrayContaining([
        { type: "dns", value: "api.example.com" },
        { type: "dns", value: "www.example.com" },
        { type: "url", value: "spiffe://example.com/api" },
      ]),
    );
    expect(cert.notAfter.getTime()).toBe(Date.parse(res.body.expires_at) - (Date.parse(res.body.expires_at) % 1000));
    expect(res.body.serial_number.replace(/:/g, "")).toBe(cert.serialNumber.toLowerCase());
    // The key pairs with the certificate.
    const key = await crypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(credential.private_key), { name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
    ]);
    const probe = new Uint8Array(16);
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, probe);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await cert.publicKey.export(), sig, probe)).toBe(true);
    // It is a lease of provider pki, role web.
    const lease = await api("GET", `/api/v1/secrets/leases/${res.body.lease_id}`);
    expect(lease.body).toMatchObject({ provider: "pki", role: "web", state: "issued" });
    // Replay: same answer minus the key.
    const replay = await api("POST", "/api/v1/pki/issue/web", {
      headers,
      body: { common_name: "api.example.com", alt_names: ["www.example.com"], uri_sans: ["spiffe://example.com/api"], ttl: "30m" },
    });
    expect(replay.status).toBe(201);
    expect(replay.text).not.toContain("PRIVATE KEY");
    expect(replay.body.certificate).toBe(res.body.certificate);
    const rows = await env.DB.prepare("SELECT * FROM idempotency_keys").all();
    expect(JSON.stringify(rows.results)).not.toContain("PRIVATE KEY");
    const stored = await db().select().from(pkiCertificates).where(eq(pkiCertificates.leaseId, res.body.lease_id)).get();
    expect(JSON.stringify(stored)).not.toContain("PRIVATE KEY");
  });

  it("POST /api/v1/secrets/pki with {} uses the default role", async () => {
    const res = await api("POST", "/api/v1/secrets/pki", { body: { common_name: "svc.example.com" } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.role).toBe("default");
    const empty = await api("POST", "/api/v1/secrets/pki", { body: {} });
    expectRule(empty, "require_cn"); // {} reaches the default role, which asks for a name
  });

  it.each([
    ["ec", 384, "ECDSA"],
    ["ed25519", 0, "Ed25519"],
    ["rsa", 2048, "RSASSA-PKCS1-v1_5"],
  ] as const)("issues %s %i keys", async (key_type, key_bits, name) => {
    const role = unique(`k-${key_type}`);
    await putRole(role, { allowed_domains: ["example.com"], allow_subdomains: true, key_type, key_bits });
    const res = await api("POST", `/api/v1/pki/issue/${role}`, { body: { common_name: "k.example.com" } });
    expect(res.status, res.text).toBe(201);
    expect(new x509.X509Certificate(res.body.certificate).publicKey.algorithm.name).toBe(name);
  });

  it("signs a CSR within the role; the key stays with the client", async () => {
    const res = await api("POST", "/api/v1/pki/sign/web", { body: { csr: await csrWith([]) } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.credential.private_key).toBeUndefined();
    expect(new x509.X509Certificate(res.body.certificate).subject).toBe("CN=svc.example.com");
  });
});

describe("attacks: a request outside the role is a 400 naming the rule", () => {
  it("a token allowed on role A cannot issue on role B", async () => {
    const allowWeb = await policy([{ paths: ["pki/web"], capabilities: ["lease"] }]);
    const token = await mint({ policies: [allowWeb] });
    expect((await api("POST", "/api/v1/pki/issue/web", { token, body: { common_name: "a.example.com" } })).status).toBe(201);
    expectProblem(await api("POST", "/api/v1/pki/issue/other", { token, body: { common_name: "a.other.test" } }), 403);
    expectProblem(await api("POST", "/api/v1/secrets/pki", { token, body: { common_name: "a.example.com" } }), 403);
    expectProblem(await api("POST", "/api/v1/pki/sign/other", { token, body: { csr: await csrWith([], "a.other.test") } }), 403);
    // Revoking role B's certificates by serial is refused too.
    const other = await api("POST", "/api/v1/pki/issue/other", { body: { common_name: "b.other.test" } });
    expectProblem(await api("POST", "/api/v1/pki/revoke", { token, body: { serial_number: other.body.serial_number } }), 403);
    // The Vault door decides the same.
    const vault = await api("POST", "/v1/pki/issue/other", { token, body: { common_name: "a.other.test" } });
    expect(vault.status).toBe(403);
  });

  it.each([
    ["example.com.evil.com", "allowed_domains"],
    ["evilexample.com", "allowed_domains"],
    ["a.example.com.", "enforce_hostnames"],
    ["a..example.com", "enforce_hostnames"],
    ["a.example.com\u0000.evil.com", "enforce_hostnames"],
    ["*.example.com", "allow_wildcard_certificates"],
    ["a*.example.com", "enforce_hostnames"],
    ["a.example.com, O=Evil", "enforce_hostnames"],
    ["other.test", "allowed_domains"],
  ])("refuses the name %j (%s)", async (name, rule) => {
    expectRule(await api("POST", "/api/v1/pki/issue/web", { body: { common_name: name } }), rule);
    expectRule(await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "ok.example.com", alt_names: [name] } }), rule);
  });

  it("bare domains need allow_bare_domains; globs match one label only", async () => {
    expectRule(await api("POST", "/api/v1/pki/issue/default", { body: { common_name: "example.com" } }), "allowed_domains");
    const role = unique("glob");
    await putRole(role, { allowed_domains: ["*.svc.example.com"], allow_glob_domains: true });
    expect((await api("POST", `/api/v1/pki/issue/${role}`, { body: { common_name: "pay.svc.example.com" } })).status).toBe(201);
    expectRule(await api("POST", `/api/v1/pki/issue/${role}`, { body: { common_name: "a.b.svc.example.com" } }), "allowed_domains");
  });

  it("IP SANs when off, URI SANs outside the role", async () => {
    expectRule(await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "a.example.com", ip_sans: ["127.0.0.1"] } }), "allow_ip_sans");
    expectRule(await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "a.example.com", uri_sans: ["spiffe://evil.com/x"] } }), "allowed_uri_sans");
    expectRule(
      await api("POST", "/api/v1/pki/issue/default", { body: { common_name: "a.example.com", uri_sans: ["spiffe://example.com/x"] } }),
      "allowed_uri_sans",
    );
    // And inside a CSR.
    const csr = await csrWith([new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "10.0.0.1" }])]);
    expectRule(await api("POST", "/api/v1/pki/sign/web", { body: { csr } }), "allow_ip_sans");
    const email = await csrWith([new x509.SubjectAlternativeNameExtension([{ type: "email", value: "a@example.com" }])]);
    expectRule(await api("POST", "/api/v1/pki/sign/web", { body: { csr: email } }), "san_types");
  });

  it("a CSR that asks for CA:true, extra key usages or extended key usages is refused", async () => {
    const ca = await csrWith([new x509.BasicConstraintsExtension(true, undefined, true)]);
    expectRule(await api("POST", "/api/v1/pki/sign/web", { body: { csr: ca } }), "basic_constraints");
    const certSign = await csrWith([new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true)]);
    expectRule(await api("POST", "/api/v1/pki/sign/web", { body: { csr: certSign } }), "key_usage");
    const codeSigning = await csrWith([new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning])]);
    expectRule(await api("POST", "/api/v1/pki/sign/web", { body: { csr: codeSigning } }), "ext_key_usage");
    const clientOnly = unique("server-only");
    await putRole(clientOnly, { allowed_domains: ["example.com"], allow_subdomains: true, client_flag: false });
    const client = await csrWith([new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])]);
    expectRule(await api("POST", `/api/v1/pki/sign/${clientOnly}`, { body: { csr: client } }), "ext_key_usage");
    const wrongKey = await csrWith([], "svc.example.com", { name: "ECDSA", namedCurve: "P-384" });
    expectRule(await api("POST", "/api/v1/pki/sign/web", { body: { csr: wrongKey } }), "key_type");
    const outside = await csrWith([], "svc.evil.com");
    expectRule(await api("POST", "/api/v1/pki/sign/web", { body: { csr: outside } }), "allowed_domains");
  });

  it("a CSR whose signature does not verify is refused (no proof of possession)", async () => {
    const pemText = await csrWith([]);
    const der = new Uint8Array(x509.PemConverter.decodeFirst(pemText));
    der[der.length - 5]! ^= 0xff;
    const res = await api("POST", "/api/v1/pki/sign/web", { body: { csr: x509.PemConverter.encode(der.buffer, "CERTIFICATE REQUEST") } });
    expectProblem(res, 400);
  });

  it("TTL beyond the role, or beyond the issuer's validity", async () => {
    expectRule(await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "a.example.com", ttl: "2h" } }), "max_ttl");
    const role = unique("long");
    await putRole(role, { allowed_domains: ["example.com"], allow_subdomains: true, max_ttl_seconds: 366 * 86400 });
    // The root lives 30 days.
    expectRule(await api("POST", `/api/v1/pki/issue/${role}`, { body: { common_name: "a.example.com", ttl: "40d" } }), "issuer_validity");
    expectRule(await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "a.example.com", ttl: "soon" } }), "ttl");
  });
});

async function crlSerials(): Promise<{ crl: x509.X509Crl; serials: string[] }> {
  const res = await api("GET", "/v1/pki/crl/pem");
  expect(res.status, res.text).toBe(200);
  const crl = new x509.X509Crl(res.text);
  expect(await crl.verify({ publicKey: new x509.X509Certificate(rootPem).publicKey })).toBe(true);
  return { crl, serials: crl.entries.map((e) => e.serialNumber.toLowerCase()) };
}

describe("revocation", () => {
  it("POST /api/v1/pki/revoke puts the serial in a freshly signed CRL, and revokes the lease", async () => {
    const issued = await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "r.example.com" } });
    const serial = issued.body.serial_number.replace(/:/g, "");
    const before = await crlSerials();
    expect(before.serials).not.toContain(serial);
    const res = await api("POST", "/api/v1/pki/revoke", { body: { serial_number: issued.body.serial_number } });
    expect(res.status, res.text).toBe(200);
    const after = await crlSerials();
    expect(after.serials).toContain(serial);
    expect(after.crl.nextUpdate!.getTime()).toBeGreaterThan(Date.now() + 3600_000);
    await waitFor("lease revoked", async () => (await api("GET", `/api/v1/secrets/leases/${issued.body.lease_id}`)).body.state === "revoked");
    const der = await api("GET", "/v1/pki/crl");
    expect(der.headers.get("content-type")).toBe("application/pkix-crl");
  });

  it("revoking the lease through the lease API lists the serial in the CRL", async () => {
    const issued = await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "l.example.com" } });
    const res = await api("POST", `/api/v1/secrets/leases/${issued.body.lease_id}/revoke`);
    expect(res.status, res.text).toBe(202);
    const serial = issued.body.serial_number.replace(/:/g, "");
    await waitFor("serial in CRL", async () => (await crlSerials()).serials.includes(serial));
  });

  it("an expired lease revokes its certificate (LeaseObject alarm, outbox, queue, CRL)", async () => {
    const issued = await api("POST", "/api/v1/pki/issue/web", { body: { common_name: "e.example.com", ttl: 600 } });
    const id = issued.body.lease_id;
    await db()
      .update(leases)
      .set({ expiresAt: Date.now() - 1000 })
      .where(eq(leases.id, id))
      .run();
    const stub = env.LEASE.get(env.LEASE.idFromName(id));
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE due SET due_at = ? WHERE lease_id = ?", Date.now() - 1000, id);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waitFor("expired", async () => (await api("GET", `/api/v1/secrets/leases/${id}`)).body.state === "expired");
    const row = await db().select().from(pkiCertificates).where(eq(pkiCertificates.leaseId, id)).get();
    expect(row!.revokedAt).toBeGreaterThan(0);
    expect((await crlSerials()).serials).toContain(issued.body.serial_number.replace(/:/g, ""));
  });
});

describe("Vault shape", () => {
  it("vault write pki/issue/default common_name=... ttl=1h, as the Go client sends it", async () => {
    const res = await api("POST", "/v1/pki/issue/default", {
      headers: { "x-vault-token": env.ROOT_TOKEN! },
      token: null,
      body: { common_name: "payments.example.com", ttl: "1h" },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.private_key).toMatch(/BEGIN PRIVATE KEY/);
    expect(res.body.data.serial_number).toMatch(/^01:/);
    expect(res.body.data.ca_chain).toEqual([rootPem]);
    expect(res.body.lease_id).toMatch(/^lease_/);
    const denied = await api("POST", "/v1/pki/issue/default", { body: { common_name: "payments.evil.com" } });
    expect(denied.status).toBe(400);
    expect(denied.body.errors[0]).toContain("allowed_domains");
    const ca = await api("GET", "/v1/pki/ca/pem");
    expect(ca.text).toBe(rootPem);
    const role = await api("GET", "/v1/pki/roles/web");
    expect(role.body.data.allowed_domains).toEqual(["example.com"]);
    const written = await api("POST", `/v1/pki/roles/${unique("vr")}`, { body: { allowed_domains: "a.test,b.test", allow_subdomains: true, max_ttl: "72h" } });
    expect(written.status, written.text).toBe(204);
    const revoke = await api("POST", "/v1/pki/revoke", { body: { serial_number: res.body.data.serial_number } });
    expect(revoke.status, revoke.text).toBe(200);
    expect(revoke.body.data.revocation_time).toBeGreaterThan(0);
  });

  it("the Vault door refuses a request without a token", async () => {
    expect((await api("POST", "/v1/pki/issue/default", { token: null, body: { common_name: "a.example.com" } })).status).toBe(403);
  });
});

describe("public PKI material", () => {
  it("validators fetch the CA and the CRL without a token; nothing else of the tenant is public", async () => {
    const ca = await api("GET", "/v1/pki/ca/pem", { token: null });
    expect(ca.status, ca.text).toBe(200);
    expect(ca.text).toBe(rootPem);
    const crl = await api("GET", "/v1/pki/crl/pem", { token: null });
    expect(crl.status).toBe(200);
    expect(await new x509.X509Crl(crl.text).verify({ publicKey: new x509.X509Certificate(rootPem).publicKey })).toBe(true);
    // A namespace without a default issuer, and the authenticated routes, stay closed.
    expect((await api("GET", "/v1/pki/ca/pem", { token: null, headers: { "x-vault-namespace": "no-such-tenant" } })).status).toBe(404);
    expect((await api("GET", "/v1/pki/roles/web", { token: null })).status).toBe(403);
    expect((await api("POST", "/v1/pki/issue/web", { token: null, body: { common_name: "x.example.com" } })).status).toBe(403);
  });
});
