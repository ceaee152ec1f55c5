import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { SCOPES } from "../../auth/access";
import { fromUtf8, utf8 } from "../../crypto/encoding";
import { loadKeyring, open, pack, seal, unpack } from "../../crypto/envelope";
import type { Db } from "../../db/client";
import { PathGlob as Glob } from "../../http/rules";
import { leaseProviders, type ProviderRole } from "../../db/schema";
import { hushApiKeyProvider } from "./hush-api-key";
import { MYSQL_PRIVILEGES, mysqlProvider, type MysqlConfig } from "./mysql";
import { postgresProvider, type PostgresConfig } from "./postgresql";
import { redisProvider, type RedisConfig } from "./redis";
import type { Provider } from "./types";
import { webhookProvider, type WebhookConfig } from "./webhook";
import { PKI_PROVIDER, pkiRevokeProvider } from "../../pki/issue";

/** The built-in provider behind POST /api/v1/ephemeral/api-keys; the name is reserved. */
export const EPHEMERAL_PROVIDER = "hush-api-key";
export const EPHEMERAL_ROLE = "ephemeral";

const ProviderName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "1-63 characters of a-z 0-9 -")
  .refine((name) => name !== EPHEMERAL_PROVIDER, `${EPHEMERAL_PROVIDER} is the built-in provider of ephemeral API keys`)
  .refine((name) => name !== PKI_PROVIDER, `${PKI_PROVIDER} is the built-in provider of certificates (src/pki)`);
export const RoleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "1-63 characters of A-Z a-z 0-9 _ . -");
const MaxTtl = z
  .number()
  .int()
  .min(1)
  .max(366 * 24 * 3600);
const PgIdentifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "A lower-case PostgreSQL role name");

/** A MySQL user name the config and the static-rotation bindings may name (quoted as a literal). */
export const MysqlIdentifier = z.string().regex(/^[a-z_][a-z0-9_]{0,31}$/, "Up to 32 characters of a-z 0-9 _");
export { PgIdentifier };
const MysqlGrant = z.strictObject({
  privileges: z.array(z.enum(MYSQL_PRIVILEGES)).min(1),
  on: z.string().regex(/^[A-Za-z0-9_]{1,64}\.(\*|[A-Za-z0-9_]{1,64})$/, "database.* or database.table"),
});
/** Redis ACL rules a role may carry: +cmd, -cmd, +@category, -@category (with |subcommand). */
const RedisCommandRule = z.string().regex(/^[+-]@?[a-z][a-z0-9_-]{0,40}(\|[a-z0-9_-]{1,40})?$/, "+command, -command, +@category or -@category");
const RedisKeyPattern = z.string().regex(/^[A-Za-z0-9_:.{}*?\-/]{1,128}$/, "A key glob of A-Z a-z 0-9 _ : . { } * ? - /");

const roles = <T extends z.ZodType>(role: T) =>
  z.record(RoleName, role).refine((r) => Object.keys(r).length >= 1 && Object.keys(r).length <= 50, "Define 1 to 50 roles");

const localHost = (url: URL) => url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";

export const ProviderBody = z
  .discriminatedUnion("kind", [
    z.strictObject({
      name: ProviderName,
      kind: z.literal("hush-api-key"),
      config: z.strictObject({}).optional(),
      roles: roles(z.strictObject({ max_ttl_seconds: MaxTtl, scopes: z.array(z.enum(SCOPES)).min(1), paths: z.array(Glob).min(1).max(32).optional() })),
    }),
    z.strictObject({
      name: ProviderName,
      kind: z.literal("postgresql"),
      config: z.strictObject({
        connection_url: z
          .string()
          .max(2048)
          .refine((value) => URL.canParse(value) && /^postgres(ql)?:$/.test(new URL(value).protocol), "A postgres:// URL"),
        role_prefix: z
          .string()
          .regex(/^[a-z][a-z0-9_]{0,23}$/, "Up to 24 characters of a-z 0-9 _")
          .default("hush_"),
      }),
      roles: roles(z.strictObject({ max_ttl_seconds: MaxTtl, grants: z.array(PgIdentifier).max(20).default([]) })),
    }),
    z.strictObject({
      name: ProviderName,
      kind: z.literal("mysql"),
      config: z.strictObject({
        connection_url: z
          .string()
          .max(2048)
          .refine((value) => URL.canParse(value) && /^(mysql|mariadb):$/.test(new URL(value).protocol), "A mysql:// URL"),
        user_prefix: z
          .string()
          .regex(/^[a-z][a-z0-9_]{0,7}$/, "Up to 8 characters of a-z 0-9 _ (MySQL names are at most 32)")
          .default("hush_"),
        user_host: z
          .string()
          .regex(/^(%|[A-Za-z0-9.%_-]{1,60})$/, "A MySQL host pattern such as % or 10.0.%")
          .default("%"),
      }),
      roles: roles(z.strictObject({ max_ttl_seconds: MaxTtl, mysql_grants: z.array(MysqlGrant).max(20).default([]) })),
    }),
    z.strictObject({
      name: ProviderName,
      kind: z.literal("redis"),
      config: z.strictObject({
        url: z
          .string()
          .max(2048)
          .refine((value) => URL.canParse(value) && /^redis:$/.test(new URL(value).protocol), "A redis:// URL (TLS is not supported)"),
        user_prefix: z
          .string()
          .regex(/^[a-z][a-z0-9_-]{0,23}$/, "Up to 24 characters of a-z 0-9 _ -")
          .default("hush_"),
      }),
      roles: roles(
        z.strictObject({
          max_ttl_seconds: MaxTtl,
          commands: z.array(RedisCommandRule).min(1).max(50),
          key_patterns: z.array(RedisKeyPattern).max(20).default([]),
        }),
      ),
    }),
    z.strictObject({
      name: ProviderName,
      kind: z.literal("webhook"),
      config: z.strictObject({
        url: z
          .string()
          .max(2048)
          .refine((value) => {
            if (!URL.canParse(value)) return false;
            const url = new URL(value);
            return !url.username && !url.password && (url.protocol === "https:" || (url.protocol === "http:" && localHost(url)));
          }, "An https:// URL without credentials (http:// only to localhost)"),
        signing_key: z.string().min(32, "At least 32 characters").max(512),
      }),
      roles: roles(z.strictObject({ max_ttl_seconds: MaxTtl })),
    }),
  ])
  .openapi("ProviderConfig");
export type ProviderInput = z.infer<typeof ProviderBody>;

export const providerPlace = (name: string) => ["lease-provider", name] as const;
const place = providerPlace;

export async function sealConfig(env: Env, tenantId: string, name: string, config: unknown): Promise<Uint8Array> {
  return pack(await seal(loadKeyring(env.MASTER_KEYS), tenantId, place(name), utf8(JSON.stringify(config ?? {}))));
}

export interface ResolvedProvider {
  name: string;
  kind: string;
  roles: Record<string, ProviderRole>;
  provider: Provider;
}

/** Opens a provider's sealed config and builds it; undefined if the tenant has no such provider. */
export async function resolveProvider(env: Env, db: Db, tenantId: string, name: string): Promise<ResolvedProvider | undefined> {
  if (name === EPHEMERAL_PROVIDER) {
    // Ephemeral keys carry their grant in the token row; the built-in only revokes and renews them.
    return {
      name,
      kind: "hush-api-key",
      roles: {},
      provider: hushApiKeyProvider(() => {
        throw new Error("ephemeral API keys are issued by POST /api/v1/ephemeral/api-keys");
      }),
    };
  }
  // Certificates are leases of the built-in `pki` provider; its revoke lists the serial in the CRL.
  if (name === PKI_PROVIDER) return { name, kind: "pki", roles: {}, provider: pkiRevokeProvider(env) };
  const row = await db
    .select()
    .from(leaseProviders)
    .where(and(eq(leaseProviders.tenantId, tenantId), eq(leaseProviders.name, name)))
    .get();
  if (!row) return undefined;
  const config = JSON.parse(fromUtf8(await open(loadKeyring(env.MASTER_KEYS), tenantId, place(name), unpack(row.config))));
  return { name, kind: row.kind, roles: row.roles, provider: buildProvider(name, row.kind, config) };
}

function buildProvider(name: string, kind: string, config: unknown): Provider {
  switch (kind) {
    case "hush-api-key":
      return hushApiKeyProvider(({ roleName, role }) => ({
        subject: `lease:${name}/${roleName}`,
        scopes: role.scopes ?? [],
        paths: role.paths ?? null,
      }));
    case "postgresql":
      return postgresProvider(config as PostgresConfig);
    case "mysql":
      return mysqlProvider(config as MysqlConfig);
    case "redis":
      return redisProvider(config as RedisConfig);
    case "webhook":
      return webhookProvider(config as WebhookConfig);
    default:
      throw new Error(`unknown provider kind ${kind}`);
  }
}
