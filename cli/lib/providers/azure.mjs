// The `azure-keyvault` provider: Azure Key Vault's secrets REST API (api-version 7.4), with a
// bearer token from HUSH_AZURE_TOKEN or a managed identity, an in-process cache and retries.
// The token is never put in a message: every error text is scrubbed of it before it leaves.
import { EXIT } from "../errors.mjs";
import { providerError } from "./common.mjs";

const NAME = "azure-keyvault";
const API_VERSION = "7.4";
const RESOURCE = "https://vault.azure.net";
const IMDS = "http://169.254.169.254/metadata/identity/oauth2/token";
const MAX_WAIT_MS = 10_000;
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);
const TOKEN_FIX = `Set HUSH_AZURE_TOKEN to a current token (az account get-access-token --resource ${RESOURCE} --query accessToken -o tsv), or run where a managed identity is available (IDENTITY_ENDPOINT, or managedIdentity: true in .hush.yaml for the VM endpoint)`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A Key Vault secret name for a path: segments joined by `--` (names allow only letters, digits and dashes). */
export function vaultName(path) {
  if (!/^[A-Za-z0-9-]+(\/[A-Za-z0-9-]+)*$/.test(path) || path.split("/").some((s) => s.includes("--") || s.startsWith("-") || s.endsWith("-"))) {
    throw providerError(NAME, `"${path}" cannot be a Key Vault secret name`, {
      exitCode: EXIT.usage,
      hint: "Key Vault names take letters, digits and single dashes; `/` becomes `--` (app/db-password is app--db-password)",
    });
  }
  const name = path.split("/").join("--");
  if (name.length > 127) throw providerError(NAME, `"${path}" is longer than Key Vault's 127 characters`, { exitCode: EXIT.usage });
  return name;
}
export const pathOf = (name) => name.split("--").join("/");

const isoOf = (unix) => (typeof unix === "number" ? new Date(unix * 1000).toISOString() : null);
const lastSegment = (id) =>
  String(id ?? "")
    .split("/")
    .filter(Boolean)
    .pop();

export class AzureKeyVaultProvider {
  readOnly = false;
  name = NAME;
  cache = new Map();

  /** @param {{ vaultUrl?: string, cacheTtlSeconds: number, maxRetries: number, managedIdentity: boolean }} settings */
  constructor(settings, env = process.env) {
    this.settings = settings;
    this.env = env;
  }

  /** Removes the token from any text that could reach a terminal or a log. */
  scrub(text) {
    let out = String(text ?? "");
    for (const secret of [this.token, this.env.HUSH_AZURE_TOKEN, this.env.IDENTITY_HEADER]) {
      if (secret && secret.length >= 8) out = out.split(secret).join("[redacted]");
    }
    return out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, "Bearer [redacted]");
  }

  fail(message, options) {
    return providerError(NAME, this.scrub(message), { ...options, hint: options?.hint && this.scrub(options.hint) });
  }

  vault() {
    const raw = this.settings.vaultUrl;
    if (!raw)
      throw this.fail("no vault is configured", {
        exitCode: EXIT.usage,
        hint: "Set HUSH_AZURE_VAULT_URL, or providers.azure-keyvault.vaultUrl in .hush.yaml (https://<name>.vault.azure.net)",
      });
    let url;
    try {
      url = new URL(raw);
    } catch {
      throw this.fail(`vaultUrl "${raw}" is not a URL`, { exitCode: EXIT.usage, hint: "Use https://<name>.vault.azure.net" });
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
      throw this.fail(`refusing to send a token over plain HTTP to ${url.host}`, { exitCode: EXIT.usage, hint: "Use the vault's https:// address" });
    }
    return url.origin;
  }

  /** The bearer token: HUSH_AZURE_TOKEN, else a managed identity (App Service/Container Apps endpoint, or the VM's IMDS when enabled). */
  async bearer() {
    if (this.env.HUSH_AZURE_TOKEN) return (this.token = this.env.HUSH_AZURE_TOKEN);
    if (this.token && this.tokenExpires > Date.now() + 60_000) return this.token;
    // Concurrent reads share one token request.
    this.pending ??= this.identityToken().finally(() => (this.pending = undefined));
    return this.pending;
  }

  async identityToken() {
    let url;
    const headers = {};
    if (this.env.IDENTITY_ENDPOINT && this.env.IDENTITY_HEADER) {
      url = new URL(this.env.IDENTITY_ENDPOINT);
      url.searchParams.set("api-version", "2019-08-01");
      headers["x-identity-header"] = this.env.IDENTITY_HEADER;
    } else if (this.settings.managedIdentity) {
      url = new URL(IMDS);
      url.searchParams.set("api-version", "2018-02-01");
      headers.metadata = "true";
    } else {
      throw this.fail("no token: HUSH_AZURE_TOKEN is not set and no managed identity is configured", { exitCode: EXIT.denied, hint: TOKEN_FIX });
    }
    url.searchParams.set("resource", RESOURCE);
    if (this.env.AZURE_CLIENT_ID) url.searchParams.set("client_id", this.env.AZURE_CLIENT_ID);
    const response = await this.send(url, { headers }, "the managed identity endpoint");
    const body = /** @type {any} */ (await response.json().catch(() => ({})));
    if (!response.ok || typeof body.access_token !== "string") {
      throw this.fail(`the managed identity endpoint gave no token (HTTP ${response.status})`, { exitCode: EXIT.denied, hint: TOKEN_FIX });
    }
    this.token = body.access_token;
    const expiresOn = Number(body.expires_on);
    this.tokenExpires = Number.isFinite(expiresOn) && expiresOn > 0 ? expiresOn * 1000 : Date.now() + 5 * 60_000;
    return this.token;
  }

  /** One HTTP exchange with retries on network errors, 429 and 5xx (Retry-After honoured, capped). */
  async send(url, init, what) {
    const tries = 1 + this.settings.maxRetries;
    for (let attempt = 1; ; attempt++) {
      let response;
      try {
        response = await fetch(url, { ...init, redirect: "error", signal: AbortSignal.timeout(15_000) });
      } catch (err) {
        if (attempt < tries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw this.fail(
          `could not reach ${what} at ${new URL(url).origin}: ${err?.cause?.code ?? err?.name ?? "network error"} (tried ${attempt} time${attempt > 1 ? "s" : ""})`,
          {
            unavailable: true,
            hint: "Check the vault address and your network; `hush health` shows each provider",
          },
        );
      }
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt >= tries) return response;
      const wait = this.backoff(attempt, response.headers.get("retry-after"));
      if (wait >= MAX_WAIT_MS) return response;
      await response.body?.cancel();
      await sleep(wait);
    }
  }

  backoff(attempt, retryAfter) {
    const given = Number(retryAfter);
    if (retryAfter && Number.isFinite(given) && given >= 0) return Math.min(given * 1000, MAX_WAIT_MS);
    const base = Math.min(250 * 2 ** (attempt - 1), MAX_WAIT_MS);
    return base / 2 + Math.random() * (base / 2);
  }

  /** A call to the vault: JSON in and out; Key Vault's error document becomes an error naming this provider. */
  /** @param {string} method @param {string} path @param {{ body?: unknown, query?: Record<string, string>, notFound?: string }} [options] */
  async call(method, path, { body, query, notFound } = {}) {
    const origin = this.vault();
    const url = path.startsWith("http") ? new URL(path) : new URL(`${origin}${path}`);
    // nextLink comes from the server: never send the token to another host.
    if (url.origin !== origin) throw this.fail(`the vault pointed to another host (${url.origin}); not followed`, { hint: "Check vaultUrl" });
    if (!url.searchParams.has("api-version")) url.searchParams.set("api-version", API_VERSION);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, String(v));
    const token = await this.bearer();
    const response = await this.send(
      url,
      {
        method,
        headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
        body: body && JSON.stringify(body),
      },
      "Azure Key Vault",
    );
    const text = await response.text();
    let parsed = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = {};
    }
    if (response.ok) return parsed;
    const code = parsed?.error?.code ?? `HTTP ${response.status}`;
    const message = parsed?.error?.message ?? response.statusText;
    const where = `${url.host}${url.pathname}`;
    if (response.status === 401) {
      this.cache.clear();
      this.token = undefined;
      throw this.fail(`the vault rejected the token (401 ${code}) at ${where}`, { exitCode: EXIT.denied, hint: TOKEN_FIX });
    }
    if (response.status === 403) {
      throw this.fail(`access denied (403 ${code}): ${message}`, {
        exitCode: EXIT.denied,
        hint: "Give this identity the Key Vault Secrets User role (reads) or Secrets Officer (writes) on the vault, or an access policy",
      });
    }
    if (response.status === 404)
      throw this.fail(notFound ?? `not found at ${where}`, {
        exitCode: EXIT.notFound,
        hint: "`hush list --provider azure-keyvault` shows the vault's secrets",
      });
    if (response.status === 429 || response.status >= 500) {
      throw this.fail(`the vault answered ${response.status} ${code} after ${1 + this.settings.maxRetries} tries`, {
        unavailable: true,
        hint:
          response.status === 429
            ? "Key Vault is throttling this client: wait and retry, or raise maxRetries"
            : "Key Vault is failing: retry later (maxRetries in .hush.yaml sets how often the CLI retries)",
      });
    }
    throw this.fail(`the vault answered ${response.status} ${code}: ${message}`, {
      exitCode: response.status === 400 ? EXIT.usage : EXIT.error,
      hint: "Check the command's arguments (`hush help <command>`)",
    });
  }

  cached(key, fn) {
    const ttl = this.settings.cacheTtlSeconds * 1000;
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) return hit.value;
    const value = fn();
    if (ttl > 0) this.cache.set(key, { value, expires: Date.now() + ttl });
    value.catch(() => this.cache.delete(key));
    return value;
  }

  bundle(path, b) {
    return {
      path,
      version: lastSegment(b.id),
      current_version: null,
      type: b.contentType ?? "CUSTOM",
      environment: b.tags?.environment ?? null,
      tags: b.tags?.["hush-tags"] ? b.tags["hush-tags"].split(",") : [],
      description: b.tags?.description ?? null,
      expires_at: isoOf(b.attributes?.exp),
      version_created_at: isoOf(b.attributes?.created),
      version_created_by: "azure-keyvault",
      value: b.value,
      provider: NAME,
    };
  }

  /** @param {string} path @param {{ version?: number, resolve?: boolean }} [options] */
  async get(path, { version } = {}) {
    const name = vaultName(path);
    const suffix = version ? `/${encodeURIComponent(String(version))}` : "";
    const b = await this.cached(`get:${name}${suffix}`, () =>
      this.call("GET", `/secrets/${name}${suffix}`, { notFound: `no secret ${name}${version ? ` version ${version}` : ""} (path ${path}) in the vault` }),
    );
    return this.bundle(path, b);
  }

  async set(path, value, meta = {}) {
    const name = vaultName(path);
    const tags = {};
    if (meta.tags?.length) tags["hush-tags"] = meta.tags.join(",");
    if (meta.environment) tags.environment = meta.environment;
    if (meta.description) tags.description = meta.description;
    const b = await this.call("PUT", `/secrets/${name}`, {
      body: { value, ...(meta.type ? { contentType: meta.type } : {}), ...(Object.keys(tags).length ? { tags } : {}) },
    });
    this.cache.clear();
    return { path, version: lastSegment(b.id), provider: NAME };
  }

  /** Each Key Vault version carries its own content type and tags: the new one keeps the current one's. */
  async rotate(path, value) {
    const current = await this.get(path);
    return this.set(path, value, { type: current.type, tags: current.tags, environment: current.environment, description: current.description });
  }

  async delete(path) {
    const name = vaultName(path);
    await this.call("DELETE", `/secrets/${name}`, { notFound: `no secret ${name} (path ${path}) in the vault` });
    this.cache.clear();
    return { path, provider: NAME };
  }

  async pages(first) {
    const items = [];
    let next = first;
    for (let page = 0; next && page < 1000; page++) {
      const body = await this.call("GET", next);
      items.push(...(body.value ?? []));
      next = body.nextLink;
    }
    return items;
  }

  /** @param {{ prefix?: string, includeDeleted?: boolean }} [options] */
  async list({ prefix } = {}) {
    return (await this.pages(`/secrets?maxresults=25`))
      .map((item) => ({ item, path: pathOf(lastSegment(item.id)) }))
      .filter(({ path }) => !prefix || path.startsWith(prefix))
      .sort((a, b) => a.path.localeCompare(b.path))
      .map(({ item, path }) => ({
        path,
        current_version: null,
        type: item.contentType ?? "CUSTOM",
        environment: item.tags?.environment ?? null,
        tags: item.tags?.["hush-tags"] ? item.tags["hush-tags"].split(",") : [],
        updated_at: isoOf(item.attributes?.updated),
        deleted_at: null,
        provider: NAME,
      }));
  }

  async history(path) {
    const name = vaultName(path);
    const items = await this.pages(`/secrets/${name}/versions?maxresults=25`).catch((err) => {
      if (err.exitCode === EXIT.notFound) err.message = `${NAME}: no secret ${name} (path ${path}) in the vault`;
      throw err;
    });
    return items
      .sort((a, b) => (a.attributes?.created ?? 0) - (b.attributes?.created ?? 0))
      .map((v) => ({
        version: lastSegment(v.id),
        state: v.attributes?.enabled === false ? "disabled" : "live",
        created_at: isoOf(v.attributes?.created),
        created_by: "azure-keyvault",
      }));
  }

  /** Key Vault has no transactions: every name is checked and the existing ones found first, then each is written in turn. */
  /** @param {Record<string, any>} values @param {{ upsert?: boolean }} [options] */
  async import(values, { upsert } = {}) {
    const paths = Object.keys(values);
    paths.forEach(vaultName);
    const existing = new Set((await this.list()).map((s) => s.path));
    const conflicts = paths.filter((p) => existing.has(p));
    if (conflicts.length && !upsert) {
      throw Object.assign(
        this.fail(`${conflicts.length} secret(s) already exist in the vault; nothing was imported`, { hint: "Add --upsert to write new versions of them" }),
        {
          details: conflicts.slice(0, 20).map((p) => `exists: ${p}`),
        },
      );
    }
    const created = [];
    const updated = [];
    for (const [path, entry] of Object.entries(values)) {
      const { value, ...meta } = typeof entry === "string" ? { value: entry } : entry;
      const written = await this.set(path, value, meta).catch((err) => {
        err.message = `${err.message} (while importing ${path}: ${created.length + updated.length} of ${paths.length} were written before it)`;
        throw err;
      });
      (existing.has(path) ? updated : created).push({ path, version: written.version });
    }
    return { created, updated };
  }

  /** @param {{ prefix?: string, includeValues?: boolean }} [options] */
  async export({ prefix, includeValues } = {}) {
    const out = {};
    for (const item of await this.list({ prefix })) {
      const meta = { type: item.type, environment: item.environment, tags: item.tags };
      out[item.path] = includeValues ? { value: (await this.get(item.path)).value, ...meta } : meta;
    }
    return out;
  }

  async health() {
    const body = await this.call("GET", "/secrets", { query: { maxresults: "1" } });
    return { detail: `${this.vault()}: reachable, token accepted${body.value ? "" : " (empty answer)"}` };
  }
}
