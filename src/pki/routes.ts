import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import type { Context } from "hono";
import { authorize, onPkiRole, TENANT } from "../auth/access";
import { pkiCertificates, pkiIssuers, pkiRoles } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { body, errorResponses, featureApp, json } from "../http/openapi";
import { notFound, Problem } from "../http/problem";
import { findLease, leaseView, revocationStatements, sendRevocation } from "../leases/store";
import { leaseObject } from "../../durable-objects/lease";
import { issueCertificate, leaseIdOf, normalSerial, revokeCertificate, type IssueInput } from "./issue";
import {
  activeIssuer,
  crlPem,
  currentCrl,
  findIssuer,
  generateIntermediate,
  generateRoot,
  importIssuer,
  issuerView,
  signedIntermediate,
  type Issuer,
} from "./issuers";
import { IssuerId, PkiRoleBody, RoleName } from "./roles";

const issuerResource = (id: string) => `pki_issuer:${id}`;

const KeyFields = {
  key_type: z.enum(["ec", "ed25519", "rsa"]).default("ec"),
  key_bits: z.number().int().default(0),
};
const specFrom = (input: { key_type: "ec" | "ed25519" | "rsa"; key_bits: number }) => {
  const bits = input.key_type === "ed25519" ? 0 : input.key_bits || (input.key_type === "rsa" ? 2048 : 256);
  const ok = input.key_type === "ec" ? [256, 384].includes(bits) : input.key_type === "rsa" ? [2048, 3072].includes(bits) : true;
  if (!ok) throw new Problem(400, "validation-failed", "key_bits: ec 256 or 384; rsa 2048 or 3072");
  return { type: input.key_type, bits };
};

const IssuerBody = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("root"),
      issuer_id: IssuerId,
      common_name: z.string().min(1).max(64),
      ttl_seconds: z
        .number()
        .int()
        .min(3600)
        .max(20 * 366 * 86400)
        .default(10 * 365 * 86400),
      default: z.boolean().default(false),
      ...KeyFields,
    }),
    z.strictObject({
      type: z.literal("intermediate"),
      issuer_id: IssuerId,
      common_name: z.string().min(1).max(64),
      default: z.boolean().default(false),
      ...KeyFields,
    }),
    z.strictObject({
      type: z.literal("import"),
      issuer_id: IssuerId,
      certificate: z
        .string()
        .min(1)
        .max(64 * 1024),
      private_key: z
        .string()
        .min(1)
        .max(64 * 1024),
      chain: z
        .string()
        .max(256 * 1024)
        .optional(),
      default: z.boolean().default(false),
    }),
  ])
  .openapi("PkiIssuerCreate");

const IssuerView = z
  .object({
    issuer_id: z.string(),
    kind: z.string(),
    state: z.string(),
    common_name: z.string(),
    key_type: z.string(),
    key_bits: z.number(),
    default: z.boolean(),
    certificate: z.string().nullable(),
    ca_chain: z.array(z.string()),
    csr: z.string().nullable(),
    not_after: z.string().nullable(),
    crl_number: z.number(),
    created_at: z.string(),
    created_by: z.string(),
  })
  .openapi("PkiIssuer");

const IssueBody = z
  .object({
    common_name: z.string().max(64).optional(),
    alt_names: z.union([z.string(), z.array(z.string())]).optional(),
    ip_sans: z.union([z.string(), z.array(z.string())]).optional(),
    uri_sans: z.union([z.string(), z.array(z.string())]).optional(),
    ttl: z.union([z.string(), z.number().int()]).optional(),
    ttl_seconds: z.number().int().min(1).optional(),
  })
  .strict()
  .openapi("PkiIssue");
const SignBody = IssueBody.extend({
  csr: z
    .string()
    .min(1)
    .max(64 * 1024),
})
  .strict()
  .openapi("PkiSign");

const Issued = z
  .object({
    lease_id: z.string(),
    certificate: z.string(),
    issuing_ca: z.string(),
    ca_chain: z.array(z.string()),
    serial_number: z.string(),
    expiration: z.number(),
    issuer_id: z.string(),
    credential: z.record(z.string(), z.unknown()),
  })
  .passthrough()
  .openapi("PkiIssued");

const RoleParam = z.object({ role: RoleName });
const IssuerParam = z.object({ id: IssuerId });

const route = <T extends Parameters<typeof createRoute>[0]>(r: T) => createRoute({ tags: ["pki"], ...r });

const createIssuerRoute = route({
  method: "post",
  path: "/issuers",
  summary: "Generate a root CA or an intermediate (returns its CSR), or import a CA certificate and key (admin)",
  request: body(IssuerBody),
  responses: { 201: { description: "Created", ...json(IssuerView) }, ...errorResponses(400, 401, 403, 409, 503) },
});
const listIssuersRoute = route({
  method: "get",
  path: "/issuers",
  summary: "List issuers (public certificates only)",
  responses: { 200: { description: "Issuers", ...json(z.object({ items: z.array(IssuerView) })) }, ...errorResponses(401, 403) },
});
const getIssuerRoute = route({
  method: "get",
  path: "/issuers/{id}",
  summary: "One issuer's public certificate, chain and CSR",
  request: { params: IssuerParam },
  responses: { 200: { description: "The issuer", ...json(IssuerView) }, ...errorResponses(401, 403, 404) },
});
const signedRoute = route({
  method: "post",
  path: "/issuers/{id}/signed",
  summary: "Complete a pending intermediate with the certificate an external CA signed (admin)",
  request: {
    params: IssuerParam,
    ...body(
      z.strictObject({
        certificate: z
          .string()
          .min(1)
          .max(64 * 1024),
        chain: z
          .string()
          .max(256 * 1024)
          .optional(),
      }),
    ),
  },
  responses: { 200: { description: "Active", ...json(IssuerView) }, ...errorResponses(400, 401, 403, 404, 409) },
});
const defaultIssuerRoute = route({
  method: "post",
  path: "/issuers/{id}/default",
  summary: "Make this issuer the tenant's default (admin)",
  request: { params: IssuerParam },
  responses: { 200: { description: "Default", ...json(IssuerView) }, ...errorResponses(401, 403, 404, 409) },
});
const putRoleRoute = route({
  method: "put",
  path: "/roles/{role}",
  summary: "Create or replace a PKI role (admin)",
  request: { params: RoleParam, ...body(PkiRoleBody) },
  responses: { 200: { description: "Saved", ...json(z.record(z.string(), z.unknown())) }, ...errorResponses(400, 401, 403) },
});
const getRoleRoute = route({
  method: "get",
  path: "/roles/{role}",
  summary: "One PKI role",
  request: { params: RoleParam },
  responses: { 200: { description: "The role", ...json(z.record(z.string(), z.unknown())) }, ...errorResponses(401, 403, 404) },
});
const listRolesRoute = route({
  method: "get",
  path: "/roles",
  summary: "List PKI roles (admin)",
  responses: { 200: { description: "Roles", ...json(z.object({ items: z.array(z.record(z.string(), z.unknown())) })) }, ...errorResponses(401, 403) },
});
const issueRoute = route({
  method: "post",
  path: "/issue/{role}",
  summary: "Issue a certificate and a fresh private key (returned once, never stored) under a lease",
  request: { params: RoleParam, ...body(IssueBody) },
  responses: { 201: { description: "Issued", ...json(Issued) }, ...errorResponses(400, 401, 403, 404, 409, 503) },
});
const signRoute = route({
  method: "post",
  path: "/sign/{role}",
  summary: "Sign a CSR (the key stays with the client) under a lease",
  request: { params: RoleParam, ...body(SignBody) },
  responses: { 201: { description: "Signed", ...json(Issued) }, ...errorResponses(400, 401, 403, 404, 409, 503) },
});
const revokeRoute = route({
  method: "post",
  path: "/revoke",
  summary: "Revoke a certificate by serial: its lease is revoked and the CRL signed again",
  request: body(z.strictObject({ serial_number: z.string().min(2).max(80) })),
  responses: { 200: { description: "Revoked", ...json(z.record(z.string(), z.unknown())) }, ...errorResponses(400, 401, 403, 404) },
});
const crlRoute = route({
  method: "get",
  path: "/issuers/{id}/crl",
  summary: "The issuer's current CRL (PEM)",
  request: { params: IssuerParam },
  responses: { 200: { description: "CRL", content: { "application/x-pem-file": { schema: z.string() } } }, ...errorResponses(401, 403, 404, 409) },
});

export const defaultRoleIssue = createRoute({
  method: "post",
  path: "/pki",
  tags: ["pki"],
  summary: "Issue a TLS identity on the default role (`{}` is enough), or on `role`",
  request: body(IssueBody.extend({ role: RoleName.optional() }).strict()),
  responses: { 201: { description: "Issued", ...json(Issued) }, ...errorResponses(400, 401, 403, 404, 409, 503) },
});

/** Reads of public PKI material (CA certificates, CRLs) need any `lease` capability in the tenant. */
export const authorizePublicRead = (c: Context<AppEnv>, action: string) => authorize(c, "leases:read", action, TENANT);

/** A certificate by serial, after `lease` was decided on its role; 404 for another tenant's. */
export async function revokeBySerial(c: Context<AppEnv>, rawSerial: unknown) {
  const serial = normalSerial(rawSerial);
  const db = c.get("db");
  const tenantId = c.get("principal").tenantId;
  const cert = await db
    .select()
    .from(pkiCertificates)
    .where(and(eq(pkiCertificates.tenantId, tenantId), eq(pkiCertificates.serial, serial)))
    .get();
  if (!cert) throw notFound("certificate");
  await authorize(c, "leases:write", "pki.revoke", onPkiRole(cert.role));
  const { lease } = await findLease(db, tenantId, leaseIdOf(serial));
  if (!lease) throw notFound("certificate");
  const change = revocationStatements(db, lease, "revoked");
  if (change) {
    await commit(c, change.statements, { audit: { ...change.audit, action: "pki.revoke", detail: { ...change.audit.detail, serial } } });
    await sendRevocation(c.env, change.row);
    c.executionCtx.waitUntil(
      leaseObject(c.env, lease.id)
        .cancel(lease.id)
        .catch(() => undefined),
    );
  }
  // The outbox delivers the revoke for sure; doing it now too means the CRL already lists the serial
  // when this answers (the consumer's second revoke finds it done).
  await revokeCertificate(c.env, db, tenantId, serial);
  const { lease: after } = await findLease(db, tenantId, lease.id);
  return { serial_number: serial, revocation_time: Math.floor(Date.now() / 1000), lease: leaseView(after ?? lease) };
}

async function saveIssuer(c: Context<AppEnv>, row: Issuer, makeDefault: boolean, action: string) {
  const db = c.get("db");
  const tenantId = row.tenantId;
  const existing = await findIssuer(db, tenantId, row.id);
  if (existing) throw new Problem(409, "conflict", `Issuer ${row.id} exists`);
  const hasDefault = await findIssuer(db, tenantId, undefined);
  const isDefault = makeDefault || !hasDefault;
  const statements = [
    ...(isDefault && hasDefault
      ? [
          db
            .update(pkiIssuers)
            .set({ isDefault: false })
            .where(and(eq(pkiIssuers.tenantId, tenantId), eq(pkiIssuers.isDefault, true))),
        ]
      : []),
    db.insert(pkiIssuers).values({ ...row, isDefault }),
  ];
  const view = issuerView({ ...row, isDefault });
  await commit(c, statements, {
    audit: {
      action,
      resource: issuerResource(row.id),
      status: 201,
      detail: { kind: row.kind, key_type: row.keyType, key_bits: row.keyBits, default: isDefault },
    },
    response: { status: 201, body: view },
  });
  return view;
}

export const pkiApp = featureApp()
  .openapi(createIssuerRoute, async (c) => {
    await authorize(c, "providers:admin", "pki.issuer.create");
    const input = c.req.valid("json");
    const principal = c.get("principal");
    const base = { tenantId: principal.tenantId, id: input.issuer_id, actor: principal.subject, now: Date.now() };
    if (await findIssuer(c.get("db"), principal.tenantId, input.issuer_id)) throw new Problem(409, "conflict", `Issuer ${input.issuer_id} exists`);
    const row =
      input.type === "root"
        ? await generateRoot(c.env, { ...base, commonName: input.common_name, spec: specFrom(input), ttlSeconds: input.ttl_seconds })
        : input.type === "intermediate"
          ? await generateIntermediate(c.env, { ...base, commonName: input.common_name, spec: specFrom(input) })
          : await importIssuer(c.env, base, input.certificate, input.private_key, input.chain);
    return c.json(await saveIssuer(c, row, input.default, `pki.issuer.${input.type}`), 201);
  })
  .openapi(listIssuersRoute, async (c) => {
    await authorizePublicRead(c, "pki.issuer.list");
    const rows = await c
      .get("db")
      .select()
      .from(pkiIssuers)
      .where(eq(pkiIssuers.tenantId, c.get("principal").tenantId))
      .orderBy(asc(pkiIssuers.id))
      .all();
    return c.json({ items: rows.map(issuerView) }, 200);
  })
  .openapi(getIssuerRoute, async (c) => {
    await authorizePublicRead(c, "pki.issuer.read");
    const row = await findIssuer(c.get("db"), c.get("principal").tenantId, c.req.valid("param").id);
    if (!row) throw notFound("issuer");
    return c.json(issuerView(row), 200);
  })
  .openapi(signedRoute, async (c) => {
    await authorize(c, "providers:admin", "pki.issuer.signed");
    const db = c.get("db");
    const row = await findIssuer(db, c.get("principal").tenantId, c.req.valid("param").id);
    if (!row) throw notFound("issuer");
    const input = c.req.valid("json");
    const set = await signedIntermediate(row, input.certificate, input.chain, Date.now());
    const view = issuerView({ ...row, ...set });
    await commit(
      c,
      [
        db
          .update(pkiIssuers)
          .set(set)
          .where(and(eq(pkiIssuers.tenantId, row.tenantId), eq(pkiIssuers.id, row.id), eq(pkiIssuers.state, "pending"))),
      ],
      {
        audit: { action: "pki.issuer.signed", resource: issuerResource(row.id) },
        response: { status: 200, body: view },
      },
    );
    return c.json(view, 200);
  })
  .openapi(defaultIssuerRoute, async (c) => {
    await authorize(c, "providers:admin", "pki.issuer.default");
    const db = c.get("db");
    const tenantId = c.get("principal").tenantId;
    const row = activeIssuer(await findIssuer(db, tenantId, c.req.valid("param").id));
    await commit(
      c,
      [
        db
          .update(pkiIssuers)
          .set({ isDefault: false })
          .where(and(eq(pkiIssuers.tenantId, tenantId), eq(pkiIssuers.isDefault, true))),
        db
          .update(pkiIssuers)
          .set({ isDefault: true })
          .where(and(eq(pkiIssuers.tenantId, tenantId), eq(pkiIssuers.id, row.id))),
      ],
      { audit: { action: "pki.issuer.default", resource: issuerResource(row.id) } },
    );
    return c.json(issuerView({ ...row, isDefault: true }), 200);
  })
  .openapi(putRoleRoute, async (c) => {
    // A role bounds what its holders may issue, so configuring one is tenant-wide administration.
    await authorize(c, "providers:admin", "pki.role.write");
    const { role } = c.req.valid("param");
    const config = c.req.valid("json");
    const db = c.get("db");
    const tenantId = c.get("principal").tenantId;
    if (config.issuer && !(await findIssuer(db, tenantId, config.issuer))) throw new Problem(400, "validation-failed", `No issuer ${config.issuer}`);
    const now = Date.now();
    const view = { name: role, ...config };
    await commit(
      c,
      [
        db
          .insert(pkiRoles)
          .values({ tenantId, name: role, config, createdAt: now, updatedAt: now })
          .onConflictDoUpdate({ target: [pkiRoles.tenantId, pkiRoles.name], set: { config, updatedAt: now } }),
      ],
      {
        audit: { action: "pki.role.write", resource: `pki_role:${role}`, detail: { allowed_domains: config.allowed_domains, key_type: config.key_type } },
        response: { status: 200, body: view },
      },
    );
    return c.json(view, 200);
  })
  .openapi(getRoleRoute, async (c) => {
    const { role } = c.req.valid("param");
    await authorize(c, "leases:read", "pki.role.read", onPkiRole(role));
    const row = await c
      .get("db")
      .select()
      .from(pkiRoles)
      .where(and(eq(pkiRoles.tenantId, c.get("principal").tenantId), eq(pkiRoles.name, role)))
      .get();
    if (!row) throw notFound("PKI role");
    return c.json({ name: role, ...PkiRoleBody.parse(row.config) }, 200);
  })
  .openapi(listRolesRoute, async (c) => {
    await authorize(c, "providers:admin", "pki.role.list");
    const rows = await c
      .get("db")
      .select()
      .from(pkiRoles)
      .where(eq(pkiRoles.tenantId, c.get("principal").tenantId))
      .orderBy(asc(pkiRoles.name))
      .all();
    return c.json({ items: rows.map((r) => ({ name: r.name, ...PkiRoleBody.parse(r.config) })) }, 200);
  })
  .openapi(issueRoute, async (c) =>
    c.json((await issueCertificate(c, c.req.valid("param").role, c.req.valid("json") as IssueInput, "issue")) as unknown as z.infer<typeof Issued>, 201),
  )
  .openapi(signRoute, async (c) =>
    c.json((await issueCertificate(c, c.req.valid("param").role, c.req.valid("json") as IssueInput, "sign")) as unknown as z.infer<typeof Issued>, 201),
  )
  .openapi(revokeRoute, async (c) => c.json(await revokeBySerial(c, c.req.valid("json").serial_number), 200))
  .openapi(crlRoute, async (c) => {
    await authorizePublicRead(c, "pki.crl.read");
    const row = activeIssuer(await findIssuer(c.get("db"), c.get("principal").tenantId, c.req.valid("param").id));
    return c.body(crlPem(await currentCrl(c.env, c.get("db"), row)), 200, { "content-type": "application/x-pem-file" }) as never;
  });

/** `POST /api/v1/secrets/pki`: the seed's route; `{}` issues on the role named `default`. */
export const pkiSecretsApp = featureApp().openapi(defaultRoleIssue, async (c) => {
  const { role, ...input } = c.req.valid("json");
  return c.json((await issueCertificate(c, role ?? "default", input as IssueInput, "issue")) as unknown as z.infer<typeof Issued>, 201);
});
