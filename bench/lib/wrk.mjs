// Runs wrk (the load generator: C, so it leaves the 2 cores to workerd) with a Lua
// scenario script and parses throughput and latency percentiles.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cpuSeconds, OUT, ROOT } from "./servers.mjs";

const REPORT = join(ROOT, "bench", "wrk", "report.lua");

/** Fails with the install command when wrk is missing (CI installs it in .ci/run). */
export function ensureWrk() {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (err) {
    if (err.code !== "ENOENT") return; // wrk --version exits 1 but exists
    if (process.env.BENCH_INSTALL_WRK === "1" && process.getuid?.() === 0) {
      execFileSync("apt-get", ["install", "-y", "wrk"], { stdio: "inherit" });
      return;
    }
    throw new Error("wrk is not installed: run `apt-get install -y wrk` (or BENCH_INSTALL_WRK=1 npm run bench as root)");
  }
}

/**
 * Runs one wrk scenario against `url + path prefix` and returns its numbers.
 * `script` is a Lua file in bench/wrk/ (see read.lua); `env` reaches it through os.getenv.
 * @example
 * const r = await runWrk({ url: hush.url, script: "read.lua", env: { BENCH_PREFIX: "/api/v1/secrets/store/bench/s", BENCH_COUNT: "100", BENCH_TOKEN: token } });
 * // r.rps, r.p50_ms, r.p99_ms (and r.cpu_ms_per_req when `pid` names the server's workerd)
 */
/**
 * @param {{ url: string, script: string, env?: Record<string, string>, connections?: number, threads?: number, duration?: string, timeout?: string, pid?: number }} options
 */
export async function runWrk({ url, script, env = {}, connections = 10, threads = 1, duration = "10s", timeout = "5s", pid }) {
  ensureWrk();
  const scriptPath = join(OUT, "wrk", basename(script));
  mkdirSync(join(OUT, "wrk"), { recursive: true });
  writeFileSync(scriptPath, `${readFileSync(join(ROOT, "bench", "wrk", script), "utf8")}\n${readFileSync(REPORT, "utf8")}`);
  const args = ["-t", String(threads), "-c", String(connections), "-d", duration, "--timeout", timeout, "-s", scriptPath, url];
  const cpuBefore = pid && cpuSeconds(pid);
  const output = await new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out}`))));
  });
  const cpuAfter = pid && cpuSeconds(pid);
  const line = output.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no result:\n${output}`);
  const raw = JSON.parse(line.slice("WRK_JSON ".length));
  const seconds = raw.duration_us / 1e6;
  const errors = raw.connect_errors + raw.read_errors + raw.write_errors + raw.timeouts;
  return {
    command: `wrk ${args.join(" ")}`,
    requests: raw.requests,
    rps: raw.requests / seconds,
    p50_ms: raw.p50_us / 1000,
    p90_ms: raw.p90_us / 1000,
    p99_ms: raw.p99_us / 1000,
    mean_ms: raw.mean_us / 1000,
    max_ms: raw.max_us / 1000,
    non2xx: raw.status_errors,
    socketErrors: errors,
    /** CPU the server's workerd process spent per request: steadier than req/s on a busy machine. */
    cpu_ms_per_req: cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1000) / raw.requests : undefined,
  };
}

/** Runs a scenario against several servers alternately, `rounds` times each, and keeps every run. */
export async function alternate(rounds, runs) {
  const results = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(runs)) results[name].push(await run());
  }
  return results;
}

/**
 * Paired rounds: every scenario under load at the same moment, `rounds` times, so a noisy second on
 * this shared machine slows them alike (bench/README.md, "Paired A/B"). Give each run wrk -c 5.
 */
export async function together(rounds, runs) {
  const results = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const done = await Promise.all(Object.values(runs).map((run) => run()));
    Object.keys(runs).forEach((name, i) => results[name].push(done[i]));
  }
  return results;
}

/** Per round, `value(a) / value(b)` of two paired series: median (lowest-highest), as text. */
export function pairedRatio(a, b, value, digits = 3) {
  const ratios = a.map((r, i) => value(r) / value(b[i]));
  return { median: median(ratios), text: `${median(ratios).toFixed(digits)} (${Math.min(...ratios).toFixed(digits)}-${Math.max(...ratios).toFixed(digits)})` };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
