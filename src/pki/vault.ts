import { and, eq } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { authorize } from "../auth/access";
import { namespaceTenant } from "../vault/common";
import { bearerFrom, resolveToken, signIn, throttleFailedAuth } from "../auth/tokens";
import { enterTenant } from "../http/middleware";
import { pkiRoles } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { loggable, problemOf } from "../http/errors";
import { idempotency } from "../http/idempotency";
import { apiHeaders, limitBody } from "../http/middleware";
import { notFound, Problem } from "../http/problem";
import { issueCertificate, type IssueInput } from "./issue";
import { crlPem, currentCrl, findIssuer } from "./issuers";
import { listOf, parseTtl, PkiRoleBody, RoleName } from "./roles";
import { revokeBySerial } from "./routes";
import { x509 } from "./x509";

/**
 * Vault's PKI engine mounted at `pki/`: `pki/issue/:role`, `pki/sign/:role`, `pki/revoke`,
 * `pki/ca/pem`, `pki/crl`, `pki/crl/pem`, `pki/roles/:name`. Vault's envelopes and
 * `{"errors": [...]}` bodies; the same decisions as the native routes (src/pki/routes.ts),
 * which it calls. Mounted at /v1/pki before the KV subset (src/vault/routes.ts).
 */
export const pkiVaultApp = new Hono<AppEnv>();

const envelope = (c: Context<AppEnv>, data: unknown, lease?: { id: string; duration: number }) => ({
  request_id: c.get("requestId"),
  lease_id: lease?.id ?? "",
  renewable: false,
  lease_duration: lease?.duration ?? 0,
  data,
  wrap_info: null,
  warnings: null,
  auth: null,
});

pkiVaultApp.onError((err, c) => {
  let status: ContentfulStatusCode = 500;
  let errors: string[] = ["internal error"];
  const problem = problemOf(err);
  if (problem) {
    status = problem.status;
    errors = (problem.extras.errors as { message?: string; field?: string }[] | undefined)?.map((e) => `${e.field}: ${e.message}`) ?? [
      problem.detail ?? problem.title,
    ];
    if (typeof problem.extras.rule === "string") errors = [`${errors[0]} (rule ${problem.extras.rule})`];
    if (status === 401) status = 403;
  } else if (err instanceof HTTPException) {
    status = err.status as ContentfulStatusCode;
    errors = [err.message || "bad request"];
  } else {
    console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), ...loggable(err) }));
  }
  return c.json({ errors }, status);
});

pkiVaultApp.use("*", apiHeaders, limitBody(256 * 1024));

/*
 * CA certificates and CRLs are public by nature, and validators fetch them without a token (as
 * from Vault): served before authentication, for the tenant the namespace names (`default`
 * without one). Nothing else of the tenant is shown; a tenant without a default issuer is 404.
 */
async function publicIssuer(c: Context<AppEnv>) {
  const tenant = await publicTenant(c);
  // The tenant's own database (the namespace names a tenant, never a database).
  if (!(await enterTenant(c, tenant))) throw new Problem(404, "vault", "no default issuer");
  const row = await findIssuer(c.get("db"), tenant, undefined);
  if (!row?.certificate) throw new Problem(404, "vault", "no default issuer");
  return row as typeof row & { certificate: string };
}
/** The namespace's tenant; without one, the token's own (a Vault client reads its CA); else `default`. */
async function publicTenant(c: Context<AppEnv>): Promise<string> {
  if (c.req.header("x-vault-namespace")) return namespaceTenant(c);
  const token = c.req.header("x-vault-token") || bearerFrom(c.req.header("authorization"));
  if (!token) return "default";
  const result = await resolveToken(c.env, token);
  if ("rejected" in result) {
    await throttleFailedAuth(c.env, c.req.header("cf-connecting-ip"), token);
    throw new Problem(403, "vault", "permission denied");
  }
  return result.principal.tenantId;
}
const PUBLIC_PKI: Record<string, (c: Context<AppEnv>) => Promise<Response>> = {
  "/ca/pem": async (c) => c.body((await publicIssuer(c)).certificate, 200, { "content-type": "application/pem-certificate-chain" }),
  "/ca": async (c) =>
    c.body(new Uint8Array(new x509.X509Certificate((await publicIssuer(c)).certificate).rawData), 200, { "content-type": "application/pkix-cert" }),
  "/ca_chain": async (c) => {
    const row = await publicIssuer(c);
    return c.body([row.certificate, ...row.chain].join("\n"), 200, { "content-type": "application/pem-certificate-chain" });
  },
  "/crl": async (c) => {
    const issuer = await publicIssuer(c);
    return c.body((await currentCrl(c.env, c.get("db"), issuer)).slice(), 200, { "content-type": "application/pkix-crl" });
  },
  "/crl/pem": async (c) => {
    const issuer = await publicIssuer(c);
    return c.body(crlPem(await currentCrl(c.env, c.get("db"), issuer)), 200, { "content-type": "application/x-pem-file" });
  },
};
for (const [path, handler] of Object.entries(PUBLIC_PKI)) pkiVaultApp.get(path, handler);

pkiVaultApp.use("*", async (c, next) => {
  const token = c.req.header("x-vault-token") || bearerFrom(c.req.header("authorization"));
  const result = token ? await resolveToken(c.env, token) : undefined;
  if (!result || "rejected" in result) {
    await throttleFailedAuth(c.env, c.req.header("cf-connecting-ip"), token);
    throw new Problem(403, "vault", "permission denied");
  }
  signIn(c, result.principal);
  await next();
});
pkiVaultApp.use("*", idempotency);

async function jsonBody(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Problem(400, "vault", "failed to parse JSON input");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Problem(400, "vault", "request body must be a JSON object");
  return parsed as Record<string, unknown>;
}

function roleParam(c: Context<AppEnv>): string {
  const parsed = RoleName.safeParse(c.req.param("role"));
  if (!parsed.success) throw new Problem(400, "vault", "invalid role name");
  return parsed.data;
}

const issued = async (c: Context<AppEnv>, mode: "issue" | "sign") => {
  const body = await jsonBody(c);
  const input: IssueInput = {
    common_name: body.common_name,
    alt_names: body.alt_names,
    ip_sans: body.ip_sans,
    uri_sans: body.uri_sans,
    ttl: body.ttl,
    csr: body.csr,
  };
  const result = (await issueCertificate(c, roleParam(c), input, mode)) as Record<string, unknown> & { credential: Record<string, unknown>; lease_id: string };
  const duration = Math.max(0, Number(result.expiration) - Math.floor(Date.now() / 1000));
  return c.json(envelope(c, { ...result.credential, lease_id: result.lease_id }, { id: result.lease_id, duration }), 200);
};

pkiVaultApp.post("/issue/:role", (c) => issued(c, "issue"));
pkiVaultApp.post("/sign/:role", (c) => issued(c, "sign"));

pkiVaultApp.post("/revoke", async (c) => {
  const body = await jsonBody(c);
  const result = await revokeBySerial(c, body.serial_number);
  return c.json(envelope(c, { revocation_time: result.revocation_time, state: "revoked" }), 200);
});

pkiVaultApp.get("/roles/:role", async (c) => {
  const role = roleParam(c);
  await authorize(c, "leases:read", "pki.role.read", { kind: "pki-role", name: role });
  const row = await c
    .get("db")
    .select()
    .from(pkiRoles)
    .where(and(eq(pkiRoles.tenantId, c.get("principal").tenantId), eq(pkiRoles.name, role)))
    .get();
  if (!row) throw notFound("role");
  const config = PkiRoleBody.parse(row.config);
  return c.json(envelope(c, { ...config, ttl: config.ttl_seconds, max_ttl: config.max_ttl_seconds }), 200);
});

/** Vault's role fields (durations as `72h`, lists as commas) onto Hush's role; unknown fields are refused. */
pkiVaultApp.post("/roles/:role", async (c) => {
  const role = roleParam(c);
  await authorize(c, "providers:admin", "pki.role.write");
  const body = await jsonBody(c);
  const mapped: Record<string, unknown> = { ...body };
  for (const [from, to] of [
    ["ttl", "ttl_seconds"],
    ["max_ttl", "max_ttl_seconds"],
  ] as const) {
    if (from in mapped) {
      mapped[to] = parseTtl(mapped[from]);
      delete mapped[from];
    }
  }
  for (const field of ["allowed_domains", "allowed_uri_sans", "key_usage"]) if (field in mapped) mapped[field] = listOf(mapped[field], field);
  if (typeof mapped.key_bits === "string") mapped.key_bits = Number(mapped.key_bits);
  const parsed = PkiRoleBody.safeParse(mapped);
  if (!parsed.success) throw new Problem(400, "vault", parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const config = parsed.data;
  const db = c.get("db");
  const tenantId = c.get("principal").tenantId;
  const now = Date.now();
  await commit(
    c,
    [
      db
        .insert(pkiRoles)
        .values({ tenantId, name: role, config, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: [pkiRoles.tenantId, pkiRoles.name], set: { config, updatedAt: now } }),
    ],
    { audit: { action: "pki.role.write", resource: `pki_role:${role}`, detail: { allowed_domains: config.allowed_domains, key_type: config.key_type } } },
  );
  return c.body(null, 204);
});
