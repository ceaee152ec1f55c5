import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { fromUtf8, utf8 } from "../crypto/encoding";
import { loadKeyring, open, pack, seal, unpack } from "../crypto/envelope";
import type { Db } from "../db/client";
import { syncTargets } from "../db/schema";

/** Where a target's sealed config is bound (crypto/envelope.ts); in SEALED_TABLES. */
export const targetPlace = (name: string) => ["sync-target", name] as const;

export const TargetName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "1-63 characters of a-z 0-9 -");

const isLoopback = (host: string) => host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/**
 * An address Hush must not push values to: private, link-local, CGNAT, unspecified, metadata
 * and internal-only names. Loopback is the one exception (local development and the tests),
 * as for the lease webhook. Names are checked as written: a public name that resolves to an
 * internal address cannot be seen from a Worker (docs/sync.md).
 */
export function internalHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (isLoopback(h)) return false;
  if (h.endsWith(".internal") || h.endsWith(".local") || h.endsWith(".localhost") || h.endsWith(".lan") || !h.includes(".")) return true;
  if (h.startsWith("[")) return true; // IPv6 literals other than ::1 (ULA, link-local, mapped): refused
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  // Numeric forms a resolver would read as an address (0x7f000001, 2130706433).
  return /^(0x[0-9a-f]+|\d+)$/.test(h);
}

/** https:// to a public host, or http(s):// to loopback; no credentials in the URL. */
export const TargetUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    if (url.username || url.password) return false;
    if (isLoopback(url.hostname)) return url.protocol === "https:" || url.protocol === "http:";
    return url.protocol === "https:" && !internalHost(url.hostname);
  }, "An https:// URL to a public host without credentials (http:// only to loopback; internal addresses are refused)");

export const KUBERNETES_CA_REFUSED =
  "Refused: a Worker cannot pin a private CA (fetch and connect()/startTls trust only public roots), so ca_cert would be ignored. Put the API server behind a publicly trusted certificate, e.g. a Cloudflare Tunnel (docs/sync.md)";

const Secret = (min = 1) => z.string().min(min).max(8192);

export const TargetBody = z
  .discriminatedUnion("kind", [
    z.strictObject({
      name: TargetName,
      kind: z.literal("webhook"),
      config: z.strictObject({ url: TargetUrl, signing_key: z.string().min(32, "At least 32 characters").max(512) }),
    }),
    z.strictObject({
      name: TargetName,
      kind: z.literal("github"),
      config: z
        .strictObject({
          api_url: TargetUrl.default("https://api.github.com"),
          /** A fine-grained or classic token with secrets write; or GitHub App auth (the three fields below). */
          token: Secret(10).optional(),
          /** The GitHub App's id (or client id): the app JWT's `iss`. */
          app_id: z
            .union([z.number().int().positive().transform(String), z.string().regex(/^(\d{1,20}|Iv[0-9A-Za-z.]{2,40})$/, "An app id or client id")])
            .optional(),
          installation_id: z.union([z.number().int().positive().transform(String), z.string().regex(/^\d{1,20}$/, "A numeric installation id")]).optional(),
          /** The app's private key (PEM, PKCS#1 as GitHub issues it, or PKCS#8); sealed, never returned. */
          private_key: z.string().min(100).max(16384).optional(),
          scope: z.enum(["repository", "environment", "organization"]).default("repository"),
          owner: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/)
            .optional(),
          repo: z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,100}$/)
            .optional(),
          environment: z
            .string()
            .regex(/^[A-Za-z0-9._ -]{1,255}$/)
            .optional(),
          org: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/)
            .optional(),
          visibility: z.enum(["all", "private", "selected"]).default("private"),
        })
        .refine((c) => (c.scope === "organization" ? !!c.org : !!c.owner && !!c.repo && (c.scope !== "environment" || !!c.environment)), {
          message: "repository needs owner and repo; environment also environment; organization needs org",
        })
        .refine((c) => (c.token !== undefined) !== (c.app_id !== undefined || c.installation_id !== undefined || c.private_key !== undefined), {
          message: "Give either token, or app_id, installation_id and private_key (GitHub App auth)",
        })
        .refine((c) => c.token !== undefined || (c.app_id !== undefined && c.installation_id !== undefined && c.private_key !== undefined), {
          message: "GitHub App auth needs app_id, installation_id and private_key",
        }),
    }),
    z.strictObject({
      name: TargetName,
      kind: z.literal("aws"),
      config: z.strictObject({
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "An AWS region such as eu-west-1"),
        access_key_id: z.string().regex(/^[A-Z0-9]{16,128}$/),
        secret_access_key: Secret(16),
        session_token: Secret().optional(),
        kms_key_id: z.string().min(1).max(2048).optional(),
        /** Defaults to https://secretsmanager.<region>.amazonaws.com (a VPC or test endpoint otherwise). */
        endpoint: TargetUrl.optional(),
        /** Days AWS keeps a deleted secret recoverable (7-30) when deletes propagate. */
        recovery_window_days: z.number().int().min(7).max(30).default(7),
      }),
    }),
    z.strictObject({
      name: TargetName,
      kind: z.literal("kubernetes"),
      config: z.strictObject({
        api_url: TargetUrl,
        token: Secret(10),
        /**
         * Refused: neither workerd's fetch nor connect()/startTls can trust a private CA, so a
         * cluster CA would be stored and silently ignored (docs/sync.md, "Kubernetes and TLS").
         */
        ca_cert: z
          .string()
          .max(16384)
          .optional()
          .refine((v) => v === undefined, KUBERNETES_CA_REFUSED),
        /** Refused loudly: Hush never turns TLS verification off. */
        insecure_skip_tls_verify: z
          .boolean()
          .optional()
          .refine((v) => v !== true, "Refused: Hush never skips TLS verification. Give the API server a publicly trusted certificate (docs/sync.md)"),
        namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "A namespace name"),
        secret_name: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "A Secret name"),
      }),
    }),
    z.strictObject({
      name: TargetName,
      kind: z.literal("cloudflare"),
      config: z.strictObject({
        api_url: TargetUrl.default("https://api.cloudflare.com/client/v4"),
        account_id: z.string().regex(/^[0-9a-f]{32}$/, "A 32-character account id"),
        script_name: z.string().regex(/^[a-z0-9_-]{1,63}$/, "A Worker script name"),
        api_token: Secret(10),
      }),
    }),
  ])
  .openapi("SyncTarget");
export type TargetInput = z.infer<typeof TargetBody>;
export type TargetConfig<K extends TargetInput["kind"]> = Extract<TargetInput, { kind: K }>["config"];

/** What a listing may show of a target: never a token, key or signing key. */
export function targetSummary(input: TargetInput): Record<string, string> {
  switch (input.kind) {
    case "webhook":
      return { url: new URL(input.config.url).origin };
    case "github": {
      const c = input.config;
      return {
        scope: c.scope,
        ...(c.org ? { org: c.org } : { repository: `${c.owner}/${c.repo}` }),
        ...(c.environment ? { environment: c.environment } : {}),
        ...(c.app_id ? { auth: "github-app", app_id: c.app_id, installation_id: c.installation_id! } : { auth: "token" }),
      };
    }
    case "aws":
      return { region: input.config.region, ...(input.config.kms_key_id ? { kms_key_id: input.config.kms_key_id } : {}) };
    case "kubernetes":
      return { api: new URL(input.config.api_url).origin, namespace: input.config.namespace, secret: input.config.secret_name };
    case "cloudflare":
      return { account_id: input.config.account_id, script: input.config.script_name };
  }
}

export async function sealTarget(env: Env, tenantId: string, name: string, config: unknown): Promise<Uint8Array> {
  return pack(await seal(loadKeyring(env.MASTER_KEYS), tenantId, targetPlace(name), utf8(JSON.stringify(config))));
}

export interface ResolvedTarget {
  name: string;
  kind: TargetInput["kind"];
  config: TargetInput["config"];
}

export async function resolveTarget(env: Env, db: Db, tenantId: string, name: string): Promise<ResolvedTarget | undefined> {
  const row = await db
    .select()
    .from(syncTargets)
    .where(and(eq(syncTargets.tenantId, tenantId), eq(syncTargets.name, name)))
    .get();
  if (!row) return undefined;
  const config = JSON.parse(fromUtf8(await open(loadKeyring(env.MASTER_KEYS), tenantId, targetPlace(name), unpack(row.config))));
  return { name, kind: row.kind, config };
}
