#!/usr/bin/env node
// Transit and master-key rotation benchmarks (issue 8).
//
//   node bench/transit.mjs                 start a local `wrangler dev` (ports 8870/8871) and run all
//   HUSH_ADDR=… HUSH_TOKEN=… node bench/transit.mjs
//                                          against a running server (transit only: the rewrap run
//                                          needs to restart the server with a new MASTER_KEYS)
//
// Options (env): SECONDS (per closed-loop run, default 10), CONCURRENCY (default 16),
// BATCHES (batch runs, default 5), REWRAP_ROWS (secrets to re-wrap, default 2000).
// Prints one JSON line per measurement; paste the results into bench/RESULTS.md.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const SECONDS = Number(process.env.SECONDS ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const BATCHES = Number(process.env.BATCHES ?? 5);
const REWRAP_ROWS = Number(process.env.REWRAP_ROWS ?? 2000);
const PORT = Number(process.env.PORT ?? 8870);

const K1 = randomBytes(32).toString("base64");
const K2 = randomBytes(32).toString("base64");
const ROOT = `hush_${randomBytes(30).toString("base64url")}`;

function report(name, data) {
  console.log(JSON.stringify({ bench: name, ...data }));
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function call(addr, token, method, path, body) {
  const res = await fetch(`${addr}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Closed loop: CONCURRENCY workers issue requests back to back for SECONDS. */
async function closedLoop(name, request) {
  const latencies = [];
  let errors = 0;
  const end = Date.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        try {
          await request();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  report(name, {
    concurrency: CONCURRENCY,
    requests: latencies.length,
    errors,
    req_per_s: Math.round(latencies.length / elapsed),
    p50_ms: +percentile(latencies, 50).toFixed(1),
    p99_ms: +percentile(latencies, 99).toFixed(1),
  });
}

async function transit(addr, token) {
  const key = `bench-${Date.now().toString(36)}`;
  await call(addr, token, "POST", `/api/v1/transit/keys/${key}`, { type: "aes256-gcm" });
  const plaintext = randomBytes(1024).toString("base64");
  const { ciphertext } = await call(addr, token, "POST", `/api/v1/transit/encrypt/${key}`, { plaintext });
  // Baseline on the same server: one secret read (token check, one D1 read, one audit write).
  await call(addr, token, "POST", `/api/v1/secrets/store/bench/${key}`, { value: "baseline" }).catch(() => {});
  await closedLoop("baseline: secret read", () => call(addr, token, "GET", `/api/v1/secrets/store/bench/${key}`));
  await closedLoop("transit encrypt 1 KiB", () => call(addr, token, "POST", `/api/v1/transit/encrypt/${key}`, { plaintext }));
  await closedLoop("transit decrypt 1 KiB", () => call(addr, token, "POST", `/api/v1/transit/decrypt/${key}`, { ciphertext }));

  const items = Array.from({ length: 1000 }, () => ({ plaintext: randomBytes(1024).toString("base64") }));
  for (const op of ["encrypt", "decrypt"]) {
    const times = [];
    let input = items;
    for (let i = 0; i < BATCHES; i++) {
      if (op === "decrypt") {
        const encrypted = await call(addr, token, "POST", `/api/v1/transit/encrypt/${key}`, { batch_input: items });
        input = encrypted.batch_results.map((r) => ({ ciphertext: r.ciphertext }));
      }
      const t = performance.now();
      const out = await call(addr, token, "POST", `/api/v1/transit/${op}/${key}`, { batch_input: input });
      times.push(performance.now() - t);
      if (out.batch_results.length !== 1000) throw new Error("short batch");
    }
    times.sort((a, b) => a - b);
    report(`transit ${op} batch of 1,000 x 1 KiB`, {
      runs: BATCHES,
      median_ms: +percentile(times, 50).toFixed(0),
      max_ms: +times[times.length - 1].toFixed(0),
      items_per_s: Math.round(1000 / (percentile(times, 50) / 1000)),
    });
  }
}

function startServer(persist, masterKeys) {
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };
  let output = "";
  const child = spawn(
    wrangler,
    [
      "dev", "--ip", "127.0.0.1", "--port", String(PORT), "--inspector-port", String(PORT + 1),
      "--persist-to", persist, "--show-interactive-dev-session=false",
      "--var", `MASTER_KEYS:${masterKeys}`, "--var", `ROOT_TOKEN:${ROOT}`,
    ],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const addr = `http://127.0.0.1:${PORT}`;
  const ready = (async () => {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
      try {
        if ((await fetch(`${addr}/healthz`)).status === 200) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`wrangler dev did not start:\n${output}`);
  })();
  const stop = async () => {
    process.kill(-child.pid, "SIGTERM");
    await new Promise((r) => child.once("exit", r));
  };
  return { addr, ready, stop };
}

async function rewrap(persist) {
  // Rows under k1.
  let server = startServer(persist, JSON.stringify({ active: "k1", keys: { k1: K1 } }));
  await server.ready;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REWRAP_ROWS) {
        const i = next++;
        await call(server.addr, ROOT, "POST", `/api/v1/secrets/store/bench/rewrap/s${i}`, { value: `value ${i}` });
      }
    }),
  );
  await server.stop();

  // k2 active, k1 still held: re-wrap everything.
  server = startServer(persist, JSON.stringify({ active: "k2", keys: { k1: K1, k2: K2 } }));
  await server.ready;
  const t = performance.now();
  let status = await call(server.addr, ROOT, "POST", "/api/v1/sys/rewrap");
  while (status.state !== "done") {
    await new Promise((r) => setTimeout(r, 200));
    status = await call(server.addr, ROOT, "GET", "/api/v1/sys/rewrap");
  }
  const seconds = (performance.now() - t) / 1000;
  report("master-key rewrap", { rows: status.done, failed: status.failed, remaining: status.remaining, seconds: +seconds.toFixed(1), keys_per_s: Math.round(status.done / seconds) });
  return server;
}

if (process.env.HUSH_ADDR && process.env.HUSH_TOKEN) {
  await transit(process.env.HUSH_ADDR, process.env.HUSH_TOKEN);
} else {
  const persist = mkdtempSync(join(tmpdir(), "hush-bench-"));
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "hush", "--local", "--persist-to", persist], { cwd: root, encoding: "utf8" });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}${migrate.stderr}`);
  const server = await rewrap(persist);
  try {
    await transit(server.addr, ROOT);
  } finally {
    await server.stop();
    rmSync(persist, { recursive: true, force: true });
  }
}
