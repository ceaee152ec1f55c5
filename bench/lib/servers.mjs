// Serves the production bundle and the floor Worker with Miniflare directly (no
// `wrangler dev` proxy in the way), each on its own port with a fresh persisted D1.
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

export const ROOT = join(import.meta.dirname, "..", "..");
export const OUT = join(ROOT, "bench", "out");

/** Fresh random key material for one bench run (never the test or dev keys). */
export function benchSecrets() {
  return {
    MASTER_KEYS: JSON.stringify({ active: "bench-1", keys: { "bench-1": randomBytes(32).toString("base64") } }),
    ROOT_TOKEN: `hush_bench_root_${randomBytes(24).toString("base64url")}`,
  };
}

/**
 * Builds the bundle exactly as `npm run deploy` would upload it, or with another entry (`entry`,
 * relative to the checkout: the exact-storage floor, bench/floor/hush-storage.ts).
 * @returns the bundle path
 */
export function buildBundle(outdir = join(OUT, "hush"), entry = undefined) {
  rmSync(outdir, { recursive: true, force: true });
  execFileSync(join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir, ...(entry ? [entry] : [])], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return join(outdir, entry ? `${basename(entry).replace(/\.ts$/, "")}.js` : "index.js");
}

/** The SQL statements of every migration in `dir`, in order (drizzle-kit's breakpoints split them). */
export function migrationStatements(dir = join(ROOT, "migrations")) {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort()
    .flatMap((name) => readFileSync(join(dir, name), "utf8").split("--> statement-breakpoint"))
    .map((sql) =>
      sql
        .split("\n")
        .filter((line) => !line.trim().startsWith("--"))
        .join("\n")
        .trim(),
    )
    .filter(Boolean);
}

const claimed = new Set();
/** The workerd process Miniflare just spawned for us (a child of this process), for CPU accounting. */
function newWorkerdPid() {
  const children = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, comm]) => pid && comm === "workerd" && !claimed.has(pid));
  const pid = children[0]?.[0];
  if (pid) claimed.add(pid);
  return pid ? Number(pid) : undefined;
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined off Linux. */
export function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

async function applySql(mf, binding, statements) {
  const db = await mf.getD1Database(binding);
  await db.batch(statements.map((sql) => db.prepare(sql)));
}

/** Where D1 and Durable Object state live: bench/out/state/, or BENCH_STATE_DIR (e.g. a tmpfs). */
const statePath = (name) => join(process.env.BENCH_STATE_DIR ?? join(OUT, "state"), name);

function persistDir(name) {
  const dir = statePath(name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Whether Miniflare puts its static-assets router in front of the Worker (wrangler.jsonc
 * `assets`). Off unless BENCH_ASSETS=1 (a bench that serves pages, console.mjs, passes `assets: true`): on Cloudflare the
 * platform routes assets before the Worker runs and that CPU is not the Worker's, while locally
 * the router is two extra JS Workers in the same process on every request (about 0.3 ms of CPU,
 * bench/RESULTS.md 2026-12-02 "Asset router"), which the floor Worker does not pay either.
 */
export const withAssetRouter = () => process.env.BENCH_ASSETS === "1";

/**
 * The Hush bundle, configured from wrangler.jsonc, with MASTER_KEYS / ROOT_TOKEN and a
 * fresh D1 (migrations applied). `assets`: see `withAssetRouter`.
 *
 * @example
 * const hush = await startHush({ port: 8860, scriptPath: buildBundle(), secrets: benchSecrets() });
 * // ... hush.url, hush.mf.getD1Database("DB") ...
 * await hush.stop();
 */
/**
 * @param {{ port: number, scriptPath: string, secrets: Record<string, string>, host?: string, inspectorPort?: number, stateName?: string, keepState?: boolean, root?: string, assets?: boolean }} options
 */
export async function startHush({
  port,
  scriptPath,
  secrets,
  host = "127.0.0.1",
  inspectorPort,
  stateName = "hush",
  keepState = false,
  root = ROOT,
  assets = withAssetRouter(),
}) {
  // `root`: the checkout whose wrangler config and migrations go with the bundle (an A/B against another branch).
  const config = ["wrangler.jsonc", "wrangler.toml"].map((f) => join(root, f)).find((f) => existsSync(f)) ?? join(root, "wrangler.jsonc");
  const { workerOptions } = /** @type {any} */ (unstable_getMiniflareWorkerOptions(config));
  // The bundle is one self-contained module, so wrangler's rules for extra modules do not apply
  // (and Miniflare 5 cannot convert them).
  const { modulesRules: _unused, assets: assetsConfig, ...fromConfig } = workerOptions;
  const options = convertV4MiniflareOptions({
    ...fromConfig,
    ...(assets && { assets: assetsConfig }),
    name: "hush",
    modules: true,
    scriptPath,
    rootPath: ROOT,
    bindings: { ...workerOptions.bindings, ...secrets },
    host,
    port,
    ...(inspectorPort ? { inspectorPort } : {}),
    // keepState: restart on the state of an earlier startHush (e.g. with other MASTER_KEYS).
    resourcePersistencePath: keepState ? statePath(stateName) : persistDir(stateName),
    cf: false,
    log: new Log(LogLevel.WARN),
  });
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const pid = newWorkerdPid();
  if (!keepState) await applySql(mf, "DB", migrationStatements(join(root, "migrations")));
  return { name: "hush", url, mf, pid, stop: () => mf.dispose() };
}

/** The floor Worker (bench/floor/worker.js): only the unavoidable work of an audited read. */
/** @param {{ port: number, host?: string }} options */
export async function startFloor({ port, host = "127.0.0.1" }) {
  const { workerOptions } = /** @type {any} */ (unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.jsonc")));
  const options = convertV4MiniflareOptions({
    name: "floor",
    modules: true,
    scriptPath: join(ROOT, "bench", "floor", "worker.js"),
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
    d1Databases: { DB: "floor" },
    durableObjects: { LOG: { className: "FloorLog", useSQLite: true } },
    host,
    port,
    resourcePersistencePath: persistDir("floor"),
    cf: false,
    log: new Log(LogLevel.WARN),
  });
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const pid = newWorkerdPid();
  await applySql(mf, "DB", [
    "CREATE TABLE secrets (tenant_id TEXT NOT NULL, path TEXT NOT NULL, iv BLOB NOT NULL, ciphertext BLOB NOT NULL, PRIMARY KEY (tenant_id, path))",
    "CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, tenant_id TEXT NOT NULL)",
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, at INTEGER NOT NULL, action TEXT NOT NULL, resource TEXT NOT NULL)",
    // The "same storage work" routes (bench/floor/worker.js): shaped like Hush's secrets, versions and audit copies.
    "CREATE TABLE secrets_same (tenant_id TEXT NOT NULL, path TEXT NOT NULL, current_version INTEGER NOT NULL, iv BLOB NOT NULL, ciphertext BLOB NOT NULL, PRIMARY KEY (tenant_id, path))",
    "CREATE TABLE versions_same (tenant_id TEXT NOT NULL, path TEXT NOT NULL, version INTEGER NOT NULL, iv BLOB NOT NULL, ciphertext BLOB NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, path, version))",
    "CREATE TABLE audit_copy (tenant_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, resource TEXT, outcome TEXT NOT NULL, status INTEGER NOT NULL, request_id TEXT NOT NULL, detail TEXT, hash TEXT NOT NULL)",
    "CREATE UNIQUE INDEX audit_copy_seq ON audit_copy (tenant_id, seq)",
  ]);
  return { name: "floor", url, mf, pid, stop: () => mf.dispose() };
}
