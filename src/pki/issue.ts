import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { authorize, onPkiRole } from "../auth/access";
import type { Db } from "../db/client";
import { pkiCertificates, pkiRoles } from "../db/schema";
import type { AppEnv } from "../http/context";
import { Problem } from "../http/problem";
import { issueLease } from "../leases/issue";
import type { Provider } from "../leases/providers/types";
import { activeIssuer, findIssuer, regenerateCrl, signingKeyOf, specOfIssuer, type Issuer } from "./issuers";
import { checkNames, listOf, parseTtl, PkiRoleBody, roleKeySpec, violation, type CheckedNames, type PkiRole } from "./roles";
import { colonHex, exportPkcs8, generateKeyPair, nameOf, pem, signingAlgorithm, specOf, x509, type KeySpec } from "./x509";

/** The built-in lease provider of certificates; leases carry provider `pki` and the role's name. */
export const PKI_PROVIDER = "pki";

/** A certificate's serial is derived from its lease id, so a revoke finds it with nothing else stored. */
export const serialOf = (leaseId: string) => `01${leaseId.slice("lease_".length)}`;
export const leaseIdOf = (serial: string) => `lease_${serial.slice(2)}`;

/** A serial as a caller may write it (`01:ab:..`, `01AB..`) in Hush's form (lower-case hex). */
export function normalSerial(value: unknown): string {
  if (typeof value !== "string" || !/^[0-9a-fA-F:-]{2,80}$/.test(value)) throw new Problem(400, "validation-failed", "serial_number must be a hex serial");
  return value.replace(/[:-]/g, "").toLowerCase();
}

export async function findRole(db: Db, tenantId: string, name: string): Promise<PkiRole | undefined> {
  const row = await db
    .select()
    .from(pkiRoles)
    .where(and(eq(pkiRoles.tenantId, tenantId), eq(pkiRoles.name, name)))
    .get();
  return row ? PkiRoleBody.parse(row.config) : undefined;
}

/** What a caller asks for, from the native JSON body or Vault's (comma-separated lists, `1h` TTLs). */
export interface IssueInput {
  common_name?: unknown;
  alt_names?: unknown;
  ip_sans?: unknown;
  uri_sans?: unknown;
  ttl?: unknown;
  ttl_seconds?: unknown;
  csr?: unknown;
}

const FLAG_OF: Record<string, number> = {
  DigitalSignature: x509.KeyUsageFlags.digitalSignature,
  KeyAgreement: x509.KeyUsageFlags.keyAgreement,
  KeyEncipherment: x509.KeyUsageFlags.keyEncipherment,
};

/** The leaf's key usage: the role's, less what the key type cannot do. */
function leafKeyUsage(role: PkiRole, spec: KeySpec): number {
  let flags = 0;
  for (const usage of role.key_usage) {
    if (usage === "KeyEncipherment" && spec.type !== "rsa") continue;
    if (usage === "KeyAgreement" && spec.type !== "ec") continue;
    flags |= FLAG_OF[usage]!;
  }
  return flags || x509.KeyUsageFlags.digitalSignature;
}

const roleEkus = (role: PkiRole) => [
  ...(role.server_flag ? [x509.ExtendedKeyUsage.serverAuth] : []),
  ...(role.client_flag ? [x509.ExtendedKeyUsage.clientAuth] : []),
];

interface CsrRequest {
  publicKey: x509.PublicKey;
  spec: KeySpec;
  commonName?: string;
  dnsNames: string[];
  ipSans: string[];
  uriSans: string[];
}

/**
 * Parses a CSR and holds it to the role: its signature (proof of possession), its key type,
 * and every extension it requests. CA:true, a key usage or extended key usage the role does
 * not give, or a SAN type other than DNS/IP/URI is refused, not dropped, so the caller learns
 * the rule. Nothing else from the CSR reaches the certificate: extensions are built from the role.
 */
async function checkCsr(role: PkiRole, text: unknown): Promise<CsrRequest> {
  if (typeof text !== "string" || text.length > 64 * 1024) throw new Problem(400, "validation-failed", "csr must be a PEM certificate request");
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(text.trim());
  } catch {
    throw new Problem(400, "validation-failed", "csr is not a PEM PKCS#10 certificate request");
  }
  if (!(await csr.verify().catch(() => false))) throw new Problem(400, "csr-signature", "The CSR's signature does not verify (proof of possession)");
  const spec = specOf(csr.publicKey);
  const want = roleKeySpec(role);
  const keyOk = spec && spec.type === want.type && (spec.type === "rsa" ? spec.bits >= want.bits : spec.bits === want.bits);
  if (!keyOk) throw violation("key_type", `The role issues ${want.type}${want.bits ? ` ${want.bits}` : ""} keys; the CSR's key is not one`);
  const request: CsrRequest = { publicKey: csr.publicKey, spec: spec!, dnsNames: [], ipSans: [], uriSans: [] };
  const cn = csr.subjectName.getField("CN");
  if (cn.length > 1) throw violation("common_name", "The CSR names more than one common name");
  request.commonName = cn[0];
  for (const extension of csr.extensions) {
    if (extension instanceof x509.BasicConstraintsExtension) {
      if (extension.ca) throw violation("basic_constraints", "The CSR asks for CA:true; roles issue end-entity certificates only");
    } else if (extension instanceof x509.KeyUsagesExtension) {
      const allowed = leafKeyUsage(role, spec!) | x509.KeyUsageFlags.digitalSignature;
      if (extension.usages & ~allowed) throw violation("key_usage", "The CSR asks for key usages the role does not allow", extension.usages);
    } else if (extension instanceof x509.ExtendedKeyUsageExtension) {
      const allowed = roleEkus(role) as string[];
      const extra = extension.usages.map(String).filter((u) => !allowed.includes(u));
      if (extra.length) throw violation("ext_key_usage", `The CSR asks for extended key usages the role does not allow: ${extra.join(", ")}`, extra);
    } else if (extension instanceof x509.SubjectAlternativeNameExtension) {
      for (const name of extension.names.toJSON()) {
        if (name.type === "dns") request.dnsNames.push(name.value);
        else if (name.type === "ip") request.ipSans.push(name.value);
        else if (name.type === "url") request.uriSans.push(name.value);
        else throw violation("san_types", `The CSR asks for a ${name.type} SAN; roles issue DNS, IP and URI names only`, name.type);
      }
    }
  }
  return request;
}

interface Plan {
  roleName: string;
  role: PkiRole;
  issuer: Issuer & { certificate: string };
  names: CheckedNames;
  spec: KeySpec;
  csr?: CsrRequest;
}

/** The lease provider of one issue: makes the certificate (and key) under the lease. */
function issueProvider(env: Env, plan: Plan): Provider {
  return {
    async issue(lease, ctx) {
      const ca = new x509.X509Certificate(plan.issuer.certificate);
      const keys = plan.csr ? undefined : await generateKeyPair(plan.spec);
      const publicKey = plan.csr ? plan.csr.publicKey : keys!.publicKey;
      const { names } = plan;
      const sans = [
        ...names.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...names.ipSans.map((value) => ({ type: "ip" as const, value })),
        ...names.uriSans.map((value) => ({ type: "url" as const, value })),
      ];
      const serial = serialOf(lease.id);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial,
        subject: names.commonName ? nameOf(names.commonName) : [],
        issuer: ca.subjectName,
        notBefore: new Date(ctx.now - 30_000),
        notAfter: new Date(lease.expiresAt),
        publicKey,
        signingKey: await signingKeyOf(env, plan.issuer),
        signingAlgorithm: signingAlgorithm(specOfIssuer(plan.issuer)),
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(leafKeyUsage(plan.role, plan.spec), true),
          ...(roleEkus(plan.role).length ? [new x509.ExtendedKeyUsageExtension(roleEkus(plan.role), false)] : []),
          ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans, !names.commonName)] : []),
          await x509.SubjectKeyIdentifierExtension.create(publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(ca.publicKey),
        ],
      });
      const certificate = cert.toString("pem");
      let privateKey: string | undefined;
      if (keys) {
        const pkcs8 = await exportPkcs8(keys.privateKey);
        privateKey = pem("PRIVATE KEY", pkcs8);
        pkcs8.fill(0);
      }
      const chain = [plan.issuer.certificate, ...plan.issuer.chain];
      return {
        credential: {
          certificate,
          ...(privateKey && { private_key: privateKey, private_key_type: plan.spec.type }),
          issuing_ca: plan.issuer.certificate,
          ca_chain: chain,
          serial_number: colonHex(serial),
          expiration: Math.floor(lease.expiresAt / 1000),
        },
        externalId: serial,
        statements: [
          ctx.db.insert(pkiCertificates).values({
            tenantId: lease.tenantId,
            serial,
            issuerId: plan.issuer.id,
            role: plan.roleName,
            leaseId: lease.id,
            commonName: names.commonName,
            certificate,
            notAfter: lease.expiresAt,
            createdAt: ctx.now,
            revokedAt: null,
          }),
        ],
      };
    },
    revoke: (lease, ctx) => revokeCertificate(env, ctx.db, lease.tenantId, serialOf(lease.id), ctx.now),
    async health() {},
  };
}

/**
 * The provider's revoke: the certificate is marked revoked and its issuer's CRL is signed
 * again. Idempotent: a certificate never issued (the issue died before its row) is success.
 */
export async function revokeCertificate(env: Env, db: Db, tenantId: string, serial: string, now = Date.now()): Promise<void> {
  const row = await db
    .select({ issuerId: pkiCertificates.issuerId })
    .from(pkiCertificates)
    .where(and(eq(pkiCertificates.tenantId, tenantId), eq(pkiCertificates.serial, serial)))
    .get();
  if (!row) return;
  await db
    .update(pkiCertificates)
    .set({ revokedAt: now })
    .where(and(eq(pkiCertificates.tenantId, tenantId), eq(pkiCertificates.serial, serial), isNull(pkiCertificates.revokedAt)))
    .run();
  await regenerateCrl(env, db, tenantId, row.issuerId, now);
}

/** The revoke-only provider the revocation consumer resolves for leases of provider `pki`. */
export const pkiRevokeProvider = (env: Env): Provider => ({
  async issue() {
    throw new Error("certificates are issued by POST /api/v1/pki/issue/{role}");
  },
  revoke: (lease, ctx) => revokeCertificate(env, ctx.db, lease.tenantId, serialOf(lease.id), ctx.now),
  async health() {},
});

/**
 * Issues (no `csr`) or signs (`csr`) a certificate on `roleName` for the current request:
 * the caller needs `lease` on `pki/<role>`; every name, the key, the TTL and (for a CSR)
 * each requested extension are held to the role; the certificate is a lease, so its
 * expiry and revocation run through the lease alarm and the revocation outbox.
 */
export async function issueCertificate(c: Context<AppEnv>, roleName: string, input: IssueInput, mode: "issue" | "sign") {
  await authorize(c, "leases:write", mode === "issue" ? "pki.issue" : "pki.sign", onPkiRole(roleName));
  const db = c.get("db");
  const tenantId = c.get("principal").tenantId;
  const role = await findRole(db, tenantId, roleName);
  if (!role) throw new Problem(404, "not-found", `No PKI role ${roleName}`);
  const issuer = activeIssuer(await findIssuer(db, tenantId, role.issuer), role.issuer ? `issuer ${role.issuer}` : "default issuer");

  const ttl = parseTtl(input.ttl ?? input.ttl_seconds) ?? role.ttl_seconds;
  if (ttl > role.max_ttl_seconds) throw violation("max_ttl", `Role ${roleName} allows at most ${role.max_ttl_seconds} seconds`, ttl);
  const now = Date.now();
  if (issuer.notAfter !== null && now + ttl * 1000 > issuer.notAfter) {
    throw violation("issuer_validity", `The certificate would outlive its issuer (valid until ${new Date(issuer.notAfter).toISOString()})`, ttl);
  }
  const csr = mode === "sign" ? await checkCsr(role, input.csr) : undefined;
  const commonName = typeof input.common_name === "string" ? input.common_name : input.common_name === undefined ? csr?.commonName : undefined;
  if (input.common_name !== undefined && typeof input.common_name !== "string") throw new Problem(400, "validation-failed", "common_name must be a string");
  const names = checkNames(role, {
    commonName,
    dnsNames: [...listOf(input.alt_names, "alt_names"), ...(csr?.dnsNames ?? [])],
    ipSans: [...listOf(input.ip_sans, "ip_sans"), ...(csr?.ipSans ?? [])],
    uriSans: [...listOf(input.uri_sans, "uri_sans"), ...(csr?.uriSans ?? [])],
  });
  const spec = csr?.spec ?? roleKeySpec(role);
  const plan: Plan = { roleName, role, issuer, names, spec, csr };
  return issueLease(
    c,
    {
      providerName: PKI_PROVIDER,
      kind: "pki",
      provider: issueProvider(c.env, plan),
      roleName,
      role: { max_ttl_seconds: role.max_ttl_seconds },
      ttlSeconds: ttl,
    },
    // Public parts stay in the stored response; the private key only in the one-time credential.
    (_lease, credential) => ({
      certificate: credential.certificate,
      issuing_ca: credential.issuing_ca,
      ca_chain: credential.ca_chain,
      serial_number: credential.serial_number,
      expiration: credential.expiration,
      issuer_id: issuer.id,
    }),
  );
}
