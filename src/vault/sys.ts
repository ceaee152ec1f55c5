import { Hono } from "hono";
import { loadKeyring } from "../crypto/envelope";
import type { AppEnv } from "../http/context";
import { envelope, vaultError, type VaultContext } from "./common";

/**
 * Vault's sys endpoints that clients call before anything else. `sys/health` and
 * `sys/seal-status` are unauthenticated, as in Vault, and say nothing a caller without a
 * token should not learn: no version of Hush, no tenant, no counts. "Sealed" means the
 * Worker has no usable MASTER_KEYS (every secret route fails closed with 503 then).
 */
export const sysApp = new Hono<AppEnv>();

/** A Vault-shaped version string: clients parse it (semver), so it is fixed, not Hush's own. */
const VAULT_VERSION = "1.15.0+hush";
const CLUSTER = { cluster_name: "hush", cluster_id: "00000000-0000-0000-0000-000000000000" };

function unsealed(env: Env): boolean {
  try {
    loadKeyring(env.MASTER_KEYS);
    return true;
  } catch {
    return false;
  }
}

/** `?sealedcode=` and the like: Vault lets a load balancer choose the status codes. */
function codeParam(c: VaultContext, name: string, fallback: number): number {
  const raw = c.req.query(name);
  if (raw === undefined) return fallback;
  const code = Number(raw);
  if (!Number.isInteger(code) || code < 200 || code > 599) throw vaultError(400, `invalid ${name}`);
  return code;
}

const health = (c: VaultContext) => {
  const sealed = !unsealed(c.env);
  // Every Hush isolate is active; there are no standbys, so standbycode never applies.
  const status = sealed ? codeParam(c, "sealedcode", 503) : codeParam(c, "activecode", 200);
  codeParam(c, "standbycode", 429);
  codeParam(c, "perfstandbyokcode", 473);
  const body = {
    initialized: true,
    sealed,
    standby: false,
    performance_standby: false,
    replication_performance_mode: "disabled",
    replication_dr_mode: "disabled",
    server_time_utc: Math.floor(Date.now() / 1000),
    version: VAULT_VERSION,
    ...CLUSTER,
  };
  if (c.req.method === "HEAD" || status === 204 || status === 304) return c.body(null, status as 200);
  return c.json(body, status as 200);
};
sysApp.get("/sys/health", health);
sysApp.on("HEAD", "/sys/health", health);

sysApp.get("/sys/seal-status", (c) => {
  const sealed = !unsealed(c.env);
  return c.json({
    type: "shamir",
    initialized: true,
    sealed,
    t: 1,
    n: 1,
    progress: 0,
    nonce: "",
    version: VAULT_VERSION,
    build_date: "",
    migration: false,
    recovery_seal: false,
    storage_type: "d1",
    ...CLUSTER,
  });
});

/** The one engine Hush serves: KV version 2 at `secret/`. */
export const secretMount = {
  accessor: "kv_hush",
  config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
  description: "Hush secret store (KV v2 compatible)",
  external_entropy_access: false,
  local: false,
  options: { version: "2" },
  plugin_version: "",
  running_plugin_version: "",
  running_sha256: "",
  seal_wrap: false,
  type: "kv",
  uuid: "",
};

// Any valid token (Vault asks for read on sys/mounts; Hush has one fixed mount, nothing to hide).
sysApp.get("/sys/mounts", (c) => {
  const mounts = { "secret/": secretMount };
  // Vault answers the mounts both at the top level (older clients) and under data.
  return c.json({ ...mounts, ...envelope(c, mounts) });
});
sysApp.get("/sys/mounts/secret", (c) => c.json({ ...secretMount, ...envelope(c, secretMount) }));
sysApp.get("/sys/mounts/secret/tune", (c) =>
  c.json({ ...secretMount.config, options: secretMount.options, ...envelope(c, { ...secretMount.config, options: secretMount.options }) }),
);

// The stock vault CLI asks this first to learn the mount's KV version.
const mountInfo = (c: VaultContext) => c.json(envelope(c, { ...secretMount, path: "secret/" }));
sysApp.get("/sys/internal/ui/mounts/secret", mountInfo);
sysApp.get("/sys/internal/ui/mounts/secret/*", mountInfo);
