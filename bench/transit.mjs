#!/usr/bin/env node
// Transit and master-key rotation (issue 8), on the production bundle served by Miniflare
// (bench/lib, as `npm run bench`). Appends a section to bench/RESULTS.md.
//
//   node bench/transit.mjs
//   BENCH_DURATION=10s  each wrk run        BENCH_ROUNDS=3          rounds (medians reported)
//   BENCH_PORT=8870     Hush                BENCH_BATCHES=5         batch requests timed per operation
//   BENCH_REWRAP_ROWS=2000 secrets re-wrapped    BENCH_NO_RECORD=1 print only
//
// 1. Transit encrypt / decrypt of 1 KiB under wrk (10 connections, API token with transit
//    scopes), alternating with an audited secret read as the same-run baseline.
// 2. Batches of 1,000 x 1 KiB (encrypt, decrypt), timed one request at a time.
// 3. Rewrap: secrets written under master key bench-1; Hush restarted on the same state with
//    bench-2 active; POST /api/v1/sys/rewrap; polled until done: data keys per second.
import { randomBytes } from "node:crypto";
import { call, createToken, seedHush } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { buildBundle, startHush } from "./lib/servers.mjs";
import { alternate, ensureWrk, median, runWrk } from "./lib/wrk.mjs";

const DURATION = process.env.BENCH_DURATION ?? "10s";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PORT = Number(process.env.BENCH_PORT ?? 8870);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 5);
const REWRAP_ROWS = Number(process.env.BENCH_REWRAP_ROWS ?? 2000);
const SECRETS = 200;
const settings = Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_NO_RECORD");
const command = `${settings.map(([k, v]) => `${k}=${v} `).join("")}node bench/transit.mjs`;

const [k1, k2] = [randomBytes(32).toString("base64"), randomBytes(32).toString("base64")];
const ROOT_TOKEN = `hush_bench_root_${randomBytes(24).toString("base64url")}`;
const before = { MASTER_KEYS: JSON.stringify({ active: "bench-1", keys: { "bench-1": k1 } }), ROOT_TOKEN };
const after = { MASTER_KEYS: JSON.stringify({ active: "bench-2", keys: { "bench-1": k1, "bench-2": k2 } }), ROOT_TOKEN };

ensureWrk();
console.log("building the production bundle");
const bundle = process.env.BENCH_BUNDLE ?? buildBundle();

// Rows under bench-1 for the rewrap run, written first so the transit runs add none.
let hush = await startHush({ port: PORT, scriptPath: bundle, secrets: before, stateName: "transit" });
const writer = await createToken(hush.url, ROOT_TOKEN, ["secrets:read", "secrets:write"], ["bench/*"]);
console.log(`seeding ${REWRAP_ROWS} secrets under bench-1`);
await seedHush(hush.url, writer, "bench/r", REWRAP_ROWS);
await hush.stop();

hush = await startHush({ port: PORT, scriptPath: bundle, secrets: after, stateName: "transit", keepState: true });
try {
  console.log("rewrap: bench-1 -> bench-2");
  const t0 = performance.now();
  let status = await call(hush.url, "POST", "/api/v1/sys/rewrap", { token: ROOT_TOKEN, expect: [202] });
  while (status.state !== "done") {
    await new Promise((resolve) => setTimeout(resolve, 50));
    status = await call(hush.url, "GET", "/api/v1/sys/rewrap", { token: ROOT_TOKEN });
  }
  const rewrapSeconds = (performance.now() - t0) / 1000;
  if (status.remaining !== 0 || status.failed !== 0) throw new Error(`rewrap left rows behind: ${JSON.stringify(status)}`);

  const token = await createToken(hush.url, ROOT_TOKEN, ["transit:admin", "transit:encrypt", "transit:decrypt", "secrets:read", "secrets:write"]);
  await call(hush.url, "POST", "/api/v1/transit/keys/bench", { token, body: { type: "aes256-gcm" }, expect: [201] });
  await seedHush(hush.url, token, "bench/s", SECRETS);
  const plaintext = randomBytes(1024).toString("base64");
  const { ciphertext } = await call(hush.url, "POST", "/api/v1/transit/encrypt/bench", { token, body: { plaintext } });

  const post =
    (path, body) =>
    (duration = DURATION) =>
      runWrk({ url: hush.url, pid: hush.pid, script: "post.lua", duration, env: { BENCH_PATH: path, BENCH_BODY: JSON.stringify(body), BENCH_TOKEN: token } });
  const encrypt = post("/api/v1/transit/encrypt/bench", { plaintext });
  const decrypt = post("/api/v1/transit/decrypt/bench", { ciphertext });
  const read = (duration = DURATION) =>
    runWrk({
      url: hush.url,
      pid: hush.pid,
      script: "read.lua",
      duration,
      env: { BENCH_PREFIX: "/api/v1/secrets/store/bench/s", BENCH_COUNT: String(SECRETS), BENCH_TOKEN: token },
    });

  console.log("warming up");
  for (const warm of [encrypt, decrypt, read]) await warm("3s");
  console.log(`${ROUNDS} alternating rounds of ${DURATION}`);
  const runs = await alternate(ROUNDS, { encrypt: () => encrypt(), decrypt: () => decrypt(), read: () => read() });

  console.log(`batches of 1,000 x 1 KiB, ${BATCHES} each`);
  const items = Array.from({ length: 1000 }, () => ({ plaintext: randomBytes(1024).toString("base64") }));
  const batchTimes = { encrypt: [], decrypt: [] };
  for (let i = 0; i < BATCHES; i++) {
    let t = performance.now();
    const encrypted = await call(hush.url, "POST", "/api/v1/transit/encrypt/bench", { token, body: { batch_input: items } });
    batchTimes.encrypt.push(performance.now() - t);
    const input = encrypted.batch_results.map((r) => ({ ciphertext: r.ciphertext }));
    t = performance.now();
    const decrypted = await call(hush.url, "POST", "/api/v1/transit/decrypt/bench", { token, body: { batch_input: input } });
    batchTimes.decrypt.push(performance.now() - t);
    if (decrypted.batch_results.some((r) => r.error)) throw new Error("a batch item failed");
  }

  const cpu = (list) => median(list.map((r) => r.cpu_ms_per_req ?? NaN));
  const row = (scenario, list) => ({
    scenario,
    "req/s (median)": fmt(median(list.map((r) => r.rps)), 0),
    "p50 ms": fmt(median(list.map((r) => r.p50_ms)), 2),
    "p99 ms": fmt(median(list.map((r) => r.p99_ms)), 2),
    "workerd CPU ms/req": fmt(cpu(list), 2),
    "non-2xx": list.reduce((n, r) => n + r.non2xx, 0),
  });
  const batchRow = (scenario, times) => ({
    scenario,
    "median ms": fmt(median(times), 0),
    "max ms": fmt(Math.max(...times), 0),
    "items/s": fmt(1000 / (median(times) / 1000), 0),
  });
  const body = `Load: \`${runs.encrypt[0].command.replace(/-s \S+/, "-s bench/wrk/post.lua")}\`, ${ROUNDS} rounds alternating transit encrypt, decrypt and an audited secret read (the same-run baseline); API token with transit scopes; plaintext 1 KiB (random), no context.

${table([row("POST /transit/encrypt 1 KiB", runs.encrypt), row("POST /transit/decrypt 1 KiB", runs.decrypt), row("baseline: GET secret (same run)", runs.read)])}

Batches (one request at a time, ${BATCHES} each, 1,000 items of 1 KiB):

${table([batchRow("encrypt batch_input x 1,000", batchTimes.encrypt), batchRow("decrypt batch_input x 1,000", batchTimes.decrypt)])}

Master-key rewrap (queue \`hush-rewrap\`, 100 rows per message, ${REWRAP_ROWS.toLocaleString("en")} secrets): ${status.done.toLocaleString("en")} data keys in ${fmt(rewrapSeconds, 2)} s = **${fmt(status.done / rewrapSeconds, 0)} data keys/s** (start to \`state: done\`, polled every 50 ms).
`;
  console.log(`\n${body}`);
  if (process.env.BENCH_NO_RECORD !== "1") appendSection({ title: "Transit and master-key rewrap", command, body });
} finally {
  await hush.stop();
}
