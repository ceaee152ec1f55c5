import { and, eq, gt, isNotNull } from "drizzle-orm";
import { randomBytes, toHex, wipe } from "../crypto/encoding";
import { loadKeyring, open, seal } from "../crypto/envelope";
import type { Db } from "../db/client";
import { pkiCertificates, pkiIssuers } from "../db/schema";
import { Problem } from "../http/problem";
import { crlNumberExtension, exportPkcs8, generateKeyPair, importSigningKey, nameOf, pem, signingAlgorithm, specOf, x509, type KeySpec } from "./x509";

export type Issuer = typeof pkiIssuers.$inferSelect;

/** Where a CA key is sealed: listed in SEALED_TABLES, so master-key rotation re-wraps it. */
export const issuerPlace = (id: string) => ["pki-issuer", id] as const;

/** How long a CRL is good for, and when a read regenerates it (half its life left). */
export const CRL_LIFETIME_MS = 24 * 3600_000;
/** A revoked certificate stays listed this long past its own notAfter. */
export const CRL_GRACE_MS = 24 * 3600_000;

export const specOfIssuer = (row: Pick<Issuer, "keyType" | "keyBits">): KeySpec => ({ type: row.keyType, bits: row.keyBits });

export async function findIssuer(db: Db, tenantId: string, id: string | undefined): Promise<Issuer | undefined> {
  const where = id === undefined ? eq(pkiIssuers.isDefault, true) : eq(pkiIssuers.id, id);
  return db
    .select()
    .from(pkiIssuers)
    .where(and(eq(pkiIssuers.tenantId, tenantId), where))
    .get();
}

export async function sealKey(env: Env, tenantId: string, id: string, pkcs8: Uint8Array) {
  try {
    return await seal(loadKeyring(env.MASTER_KEYS), tenantId, issuerPlace(id), pkcs8);
  } finally {
    wipe(pkcs8);
  }
}

/** The CA's signing key, opened for this request only (no cache, as transit keys). */
export async function signingKeyOf(env: Env, row: Issuer): Promise<CryptoKey> {
  const pkcs8 = await open(loadKeyring(env.MASTER_KEYS), row.tenantId, issuerPlace(row.id), row);
  try {
    return await importSigningKey(pkcs8, specOfIssuer(row));
  } finally {
    wipe(pkcs8);
  }
}

export function activeIssuer(row: Issuer | undefined, what = "issuer"): Issuer & { certificate: string } {
  if (!row) throw new Problem(404, "not-found", `No such ${what}`);
  if (row.state !== "active" || !row.certificate) {
    throw new Problem(409, "issuer-pending", `Issuer ${row.id} waits for its signed certificate (POST /api/v1/pki/issuers/${row.id}/signed)`);
  }
  return row as Issuer & { certificate: string };
}

const caExtensions = async (publicKey: CryptoKey) => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
  await x509.SubjectKeyIdentifierExtension.create(publicKey),
];

interface NewIssuer {
  tenantId: string;
  id: string;
  commonName: string;
  spec: KeySpec;
  actor: string;
  now: number;
}

const baseRow = (input: NewIssuer, sealed: Awaited<ReturnType<typeof sealKey>>) => ({
  tenantId: input.tenantId,
  id: input.id,
  commonName: input.commonName,
  keyType: input.spec.type,
  keyBits: input.spec.bits,
  ciphertext: sealed.ciphertext,
  iv: sealed.iv,
  wrappedKey: sealed.wrappedKey,
  keyId: sealed.keyId,
  crl: null,
  crlNumber: 0,
  crlNextUpdate: null,
  isDefault: false,
  createdAt: input.now,
  createdBy: input.actor,
  updatedAt: input.now,
});

/** A self-signed root CA; its key is generated here and only ever stored sealed. */
export async function generateRoot(env: Env, input: NewIssuer & { ttlSeconds: number }): Promise<Issuer> {
  const keys = await generateKeyPair(input.spec);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${toHex(randomBytes(15))}`,
    name: nameOf(input.commonName),
    notBefore: new Date(input.now - 60_000),
    notAfter: new Date(input.now + input.ttlSeconds * 1000),
    keys,
    signingAlgorithm: signingAlgorithm(input.spec),
    extensions: await caExtensions(keys.publicKey),
  });
  const sealed = await sealKey(env, input.tenantId, input.id, await exportPkcs8(keys.privateKey));
  return {
    ...baseRow(input, sealed),
    kind: "root",
    state: "active",
    certificate: cert.toString("pem"),
    chain: [],
    csr: null,
    notAfter: cert.notAfter.getTime(),
  };
}

/** An intermediate: the key stays here, the CSR goes to an external CA, `setSigned` completes it. */
export async function generateIntermediate(env: Env, input: NewIssuer): Promise<Issuer> {
  const keys = await generateKeyPair(input.spec);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: nameOf(input.commonName),
    keys,
    signingAlgorithm: signingAlgorithm(input.spec),
    extensions: await caExtensions(keys.publicKey),
  });
  const sealed = await sealKey(env, input.tenantId, input.id, await exportPkcs8(keys.privateKey));
  return { ...baseRow(input, sealed), kind: "intermediate", state: "pending", certificate: null, chain: [], csr: csr.toString("pem"), notAfter: null };
}

export function parseCertificate(text: string, field: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(text.trim());
  } catch {
    throw new Problem(400, "validation-failed", `${field} is not a PEM certificate`);
  }
}

/** Splits a PEM bundle into certificates (each checked to parse). */
export function parseBundle(text: string | undefined, field: string): x509.X509Certificate[] {
  if (!text) return [];
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => parseCertificate(block, field));
}

function requireCa(cert: x509.X509Certificate, field: string) {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new Problem(400, "not-a-ca", `${field} is not a CA certificate (basicConstraints CA:true)`);
  if (!specOf(cert.publicKey)) throw new Problem(400, "unsupported-key", `${field} has a key type Hush does not sign with`);
}

/** Completes a pending intermediate with the certificate its CSR was signed into. */
export async function signedIntermediate(row: Issuer, certText: string, chainText: string | undefined, now: number) {
  if (row.state !== "pending" || !row.csr) throw new Problem(409, "issuer-not-pending", `Issuer ${row.id} is not waiting for a signed certificate`);
  const cert = parseCertificate(certText, "certificate");
  requireCa(cert, "certificate");
  const csr = new x509.Pkcs10CertificateRequest(row.csr);
  if (!sameBytes(cert.publicKey.rawData, csr.publicKey.rawData)) {
    throw new Problem(400, "key-mismatch", "The certificate is not for this issuer's key (its CSR)");
  }
  const chain = parseBundle(chainText, "chain");
  if (chain[0] && !(await cert.verify({ publicKey: chain[0].publicKey, signatureOnly: true }))) {
    throw new Problem(400, "chain-mismatch", "The first chain certificate did not sign this certificate");
  }
  return {
    state: "active" as const,
    certificate: cert.toString("pem"),
    chain: chain.map((c) => c.toString("pem")),
    csr: null,
    notAfter: cert.notAfter.getTime(),
    updatedAt: now,
  };
}

/** An imported CA: certificate, its PKCS#8 key (proved to match by a signature), and its chain. */
export async function importIssuer(
  env: Env,
  input: Omit<NewIssuer, "spec" | "commonName">,
  certText: string,
  keyText: string,
  chainText?: string,
): Promise<Issuer> {
  const cert = parseCertificate(certText, "certificate");
  requireCa(cert, "certificate");
  const spec = specOf(cert.publicKey)!;
  let pkcs8: Uint8Array;
  try {
    pkcs8 = new Uint8Array(x509.PemConverter.decodeFirst(keyText.trim()));
  } catch {
    throw new Problem(400, "validation-failed", "private_key is not a PKCS#8 PEM key");
  }
  let key: CryptoKey;
  try {
    key = await importSigningKey(pkcs8.slice(), spec);
  } catch {
    wipe(pkcs8);
    throw new Problem(400, "key-mismatch", "private_key is not a PKCS#8 key of the certificate's type");
  }
  const probe = new Uint8Array(32);
  const publicKey = await cert.publicKey.export();
  const signature = await crypto.subtle.sign(signingAlgorithm(spec), key, probe);
  if (!(await crypto.subtle.verify(signingAlgorithm(spec), publicKey, signature, probe))) {
    wipe(pkcs8);
    throw new Problem(400, "key-mismatch", "private_key does not belong to the certificate");
  }
  const chain = parseBundle(chainText, "chain");
  const commonName = cert.subjectName.getField("CN")[0] ?? cert.subject;
  const sealed = await sealKey(env, input.tenantId, input.id, pkcs8);
  return {
    ...baseRow({ ...input, spec, commonName }, sealed),
    kind: "imported",
    state: "active",
    certificate: cert.toString("pem"),
    chain: chain.map((c) => c.toString("pem")),
    csr: null,
    notAfter: cert.notAfter.getTime(),
  };
}

const sameBytes = (a: ArrayBuffer, b: ArrayBuffer) => {
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/**
 * Signs a new CRL of the issuer's revoked certificates and stores it. Concurrent
 * revocations race on `crl_number`: the update is conditioned on the number read
 * before the revoked set, so a writer whose set may be stale loses and reads again.
 */
export async function regenerateCrl(env: Env, db: Db, tenantId: string, issuerId: string, now = Date.now()): Promise<Issuer | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await findIssuer(db, tenantId, issuerId);
    if (row?.state !== "active" || !row.certificate) return row;
    const revoked = await db
      .select({ serial: pkiCertificates.serial, revokedAt: pkiCertificates.revokedAt })
      .from(pkiCertificates)
      .where(
        and(
          eq(pkiCertificates.tenantId, tenantId),
          eq(pkiCertificates.issuerId, issuerId),
          isNotNull(pkiCertificates.revokedAt),
          gt(pkiCertificates.notAfter, now - CRL_GRACE_MS),
        ),
      )
      .all();
    const cert = new x509.X509Certificate(row.certificate);
    const number = row.crlNumber + 1;
    const crl = await x509.X509CrlGenerator.create({
      issuer: cert.subjectName,
      thisUpdate: new Date(now - 60_000),
      nextUpdate: new Date(now + CRL_LIFETIME_MS),
      signingAlgorithm: signingAlgorithm(specOfIssuer(row)),
      signingKey: await signingKeyOf(env, row),
      extensions: [crlNumberExtension(number), await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey)],
      entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: new Date(r.revokedAt!), reason: x509.X509CrlReason.unspecified })),
    });
    const der = new Uint8Array(crl.rawData);
    const done = await db
      .update(pkiIssuers)
      .set({ crl: der, crlNumber: number, crlNextUpdate: now + CRL_LIFETIME_MS })
      .where(and(eq(pkiIssuers.tenantId, tenantId), eq(pkiIssuers.id, issuerId), eq(pkiIssuers.crlNumber, row.crlNumber)))
      .run();
    if (done.meta.changes) return { ...row, crl: der, crlNumber: number, crlNextUpdate: now + CRL_LIFETIME_MS };
  }
  throw new Error("pki: CRL regeneration kept losing the race");
}

/** The issuer's CRL, regenerated first if it has none or less than half its life is left. */
export async function currentCrl(env: Env, db: Db, row: Issuer, now = Date.now()): Promise<Uint8Array> {
  if (row.crl && row.crlNextUpdate !== null && row.crlNextUpdate - now > CRL_LIFETIME_MS / 2) return row.crl;
  const fresh = await regenerateCrl(env, db, row.tenantId, row.id, now);
  if (!fresh?.crl) throw new Problem(409, "issuer-pending", `Issuer ${row.id} has no certificate yet`);
  return fresh.crl;
}

export const crlPem = (der: Uint8Array) => pem("X509 CRL", der);

/** Public view of an issuer: never the key. */
export const issuerView = (row: Issuer) => ({
  issuer_id: row.id,
  kind: row.kind,
  state: row.state,
  common_name: row.commonName,
  key_type: row.keyType,
  key_bits: row.keyBits,
  default: row.isDefault,
  certificate: row.certificate,
  ca_chain: row.certificate ? [row.certificate, ...row.chain] : [],
  csr: row.csr,
  not_after: row.notAfter === null ? null : new Date(row.notAfter).toISOString(),
  crl_number: row.crlNumber,
  created_at: new Date(row.createdAt).toISOString(),
  created_by: row.createdBy,
});
