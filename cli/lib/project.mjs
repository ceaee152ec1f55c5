// The project file `.hush.yaml`: found by walking up from the working directory; environment
// variables override each of its settings. It never holds a token (it is meant to be committed).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { configPath } from "./config.mjs";
import { usageError } from "./errors.mjs";
import { parseDuration } from "./output.mjs";

export const PROJECT_FILE = ".hush.yaml";
export const PROVIDERS = ["hush", "local", "env", "azure-keyvault"];

const provider = z.enum(PROVIDERS);
const fileMode = z
  .union([z.string(), z.number()])
  .transform((m) => (typeof m === "number" ? m : Number.parseInt(m, 8)))
  .refine((m) => m === 0o600 || m === 0o400, "must be 0600 (or 0400): the store must be readable by its owner only");

const schema = z
  .object({
    address: z.string().optional(),
    defaultProvider: provider.optional(),
    chain: z.array(provider).min(1).optional(),
    prefix: z.string().optional(),
    environment: z.string().optional(),
    enableAuditLog: z.boolean().optional(),
    auditLogPath: z.string().optional(),
    providers: z
      .object({
        local: z.object({ storePath: z.string().optional(), fileMode: fileMode.optional() }).strict().optional(),
        env: z.object({ prefix: z.string().optional(), uppercaseNames: z.boolean().optional(), allowUnprefixed: z.boolean().optional() }).strict().optional(),
        "azure-keyvault": z
          .object({
            vaultUrl: z.string().optional(),
            cacheTtlSeconds: z.number().int().min(0).max(86400).optional(),
            maxRetries: z.number().int().min(0).max(10).optional(),
            managedIdentity: z.boolean().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    accessControl: z
      .object(
        Object.fromEntries(
          ["local", "env"].map((name) => [
            name,
            z
              .object({ read: z.array(z.string().min(1)).optional(), write: z.array(z.string().min(1)).optional() })
              .strict()
              .optional(),
          ]),
        ),
      )
      .strict()
      .optional(),
    run: z
      .object({
        secrets: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "is not an environment variable name"), z.string().min(1)).optional(),
        fallbackMaxAge: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The nearest .hush.yaml from dir upwards, or null. HUSH_PROJECT names one directly. */
export function findProjectFile(dir = process.cwd(), env = process.env) {
  if (env.HUSH_PROJECT) return env.HUSH_PROJECT === "none" ? null : resolve(env.HUSH_PROJECT);
  for (let current = resolve(dir); ; current = dirname(current)) {
    const candidate = join(current, PROJECT_FILE);
    if (existsSync(candidate)) return candidate;
    if (dirname(current) === current) return null;
  }
}

function readProjectFile(file) {
  let doc;
  try {
    doc = YAML.parse(readFileSync(file, "utf8")) ?? {};
  } catch (err) {
    throw usageError(`${file} is not valid YAML: ${String(err.message).split("\n")[0]}`, "Fix the file, or rewrite it with `hush init --force`");
  }
  if (doc && typeof doc === "object" && "token" in doc) {
    throw usageError(`${file} holds a token`, "Remove it: the project file is meant to be committed; use `hush login` or HUSH_TOKEN for the token");
  }
  const parsed = schema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.join(".") || "(top level)";
    throw usageError(`${file}: ${where}: ${issue.message}`, `See the README's \`.hush.yaml\` section for the keys it takes (\`hush init\` writes a valid one)`);
  }
  return parsed.data;
}

const parseChain = (text, source) => {
  const chain = String(text)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of chain) if (!PROVIDERS.includes(name)) throw usageError(`${source}: "${name}" is not a provider`, `Use ${PROVIDERS.join(", ")}`);
  if (chain.length === 0) throw usageError(`${source} is empty`, `List providers in priority order, like hush,local,env`);
  return chain;
};

const flag = (value) => (value === undefined ? undefined : value === "1" || value === "true");

let cached;

/**
 * The project settings in force: defaults < .hush.yaml < environment variables.
 * @returns {{ file: string|null, address?: string, defaultProvider: string, chain: string[], chainSource: string, prefix?: string, environment?: string,
 *   enableAuditLog: boolean, auditLogPath: string, configDir: string,
 *   local: { storePath: string, fileMode: number }, env: { prefix: string, uppercaseNames: boolean, allowUnprefixed: boolean },
 *   azure: { vaultUrl?: string, cacheTtlSeconds: number, maxRetries: number, managedIdentity: boolean },
 *   accessControl: Record<string, { read?: string[], write?: string[] } | undefined>,
 *   run: { secrets: Record<string, string>, fallbackMaxAgeSeconds: number } }}
 */
export function project(env = process.env) {
  if (cached) return cached;
  const file = findProjectFile(process.cwd(), env);
  const doc = file ? readProjectFile(file) : {};
  const base = file ? dirname(file) : process.cwd();
  const at = (p) => (p.startsWith("~/") ? join(homedir(), p.slice(2)) : isAbsolute(p) ? p : resolve(base, p));
  const configDir = dirname(configPath(env));
  const defaultProvider = env.HUSH_PROVIDER ? parseChain(env.HUSH_PROVIDER, "HUSH_PROVIDER")[0] : (doc.defaultProvider ?? "hush");
  const chain = env.HUSH_CHAIN ? parseChain(env.HUSH_CHAIN, "HUSH_CHAIN") : (doc.chain ?? [defaultProvider]);
  const local = doc.providers?.local ?? {};
  const envp = doc.providers?.env ?? {};
  const azure = doc.providers?.["azure-keyvault"] ?? {};
  const maxAge = env.HUSH_FALLBACK_MAX_AGE ?? doc.run?.fallbackMaxAge ?? "24h";
  cached = {
    file,
    address: doc.address,
    defaultProvider,
    chain,
    chainSource: env.HUSH_CHAIN ? "HUSH_CHAIN" : doc.chain ? file : "default",
    prefix: env.HUSH_PREFIX ?? doc.prefix,
    environment: env.HUSH_ENVIRONMENT ?? doc.environment,
    enableAuditLog: flag(env.HUSH_AUDIT_LOG) ?? doc.enableAuditLog ?? false,
    auditLogPath: env.HUSH_AUDIT_LOG_PATH ?? (doc.auditLogPath ? at(doc.auditLogPath) : join(configDir, "audit.log")),
    configDir,
    local: {
      storePath: env.HUSH_LOCAL_STORE ?? (local.storePath ? at(local.storePath) : join(configDir, "local-store.enc")),
      fileMode: local.fileMode ?? 0o600,
    },
    env: {
      prefix: env.HUSH_ENV_PREFIX ?? envp.prefix ?? "HUSH_SECRET_",
      uppercaseNames: envp.uppercaseNames ?? true,
      allowUnprefixed: flag(env.HUSH_ENV_ALLOW_UNPREFIXED) ?? envp.allowUnprefixed ?? false,
    },
    azure: {
      vaultUrl: env.HUSH_AZURE_VAULT_URL ?? azure.vaultUrl,
      cacheTtlSeconds: azure.cacheTtlSeconds ?? 300,
      maxRetries: env.HUSH_AZURE_MAX_RETRIES !== undefined ? Number(env.HUSH_AZURE_MAX_RETRIES) : (azure.maxRetries ?? 3),
      managedIdentity: flag(env.HUSH_AZURE_MANAGED_IDENTITY) ?? azure.managedIdentity ?? false,
    },
    accessControl: doc.accessControl ?? {},
    run: {
      secrets: doc.run?.secrets ?? {},
      fallbackMaxAgeSeconds: parseDuration(maxAge, "fallbackMaxAge"),
    },
  };
  return cached;
}

/** The text `hush init` writes. */
export function projectTemplate({ address, defaultProvider = "hush", chain, prefix, environment }) {
  const doc = {
    ...(address ? { address } : {}),
    defaultProvider,
    chain: chain ?? [defaultProvider],
    ...(prefix ? { prefix } : {}),
    ...(environment ? { environment } : {}),
    enableAuditLog: false,
    providers: {
      local: { fileMode: "0600" },
      env: { prefix: "HUSH_SECRET_", uppercaseNames: true, allowUnprefixed: false },
    },
    run: { secrets: {}, fallbackMaxAge: "24h" },
  };
  return `# Hush project settings (safe to commit: no token, no values). Environment variables override them.\n${YAML.stringify(doc)}`;
}
