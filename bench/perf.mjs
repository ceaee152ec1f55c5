#!/usr/bin/env node
// Where the whole workerd process spends its CPU under wrk load, by Linux perf: native code, GC,
// the kernel, and every JavaScript frame (V8's --perf-basic-prof and
// --interpreted-frames-native-stack name them; the bundle's source map turns them into src/ lines).
// Unlike bench/profile.mjs (V8's own sampler, JavaScript self time only), this sees the native work
// a line of JavaScript causes (a Response copy, a D1 result parsed, an allocation), which is where
// nearly all of a request's CPU goes (bench/RESULTS.md, 2026-12-02 "perf profile").
//   node bench/perf.mjs [read|write]   BENCH_DURATION=8s  BENCH_PORT=8860  BENCH_BUNDLE=path/index.js
//   BENCH_TOP=40 rows per table. Needs `perf` (Debian: apt-get install -y linux-perf) and wrk.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import sourceMap from "source-map-js";
import { createToken, seedHush } from "./lib/api.mjs";
import { benchSecrets, buildBundle, OUT, startHush } from "./lib/servers.mjs";
import { runWrk } from "./lib/wrk.mjs";

if (spawnSync("perf", ["--version"]).status !== 0) {
  console.error("bench/perf.mjs needs Linux perf: apt-get install -y linux-perf");
  process.exit(1);
}
const scenario = process.argv[2] ?? "read";
const PORT = Number(process.env.BENCH_PORT ?? 8860);
const TOP = Number(process.env.BENCH_TOP ?? 40);
const DATA = join(OUT, "perf.data");
// Read by Miniflare when it writes workerd's config (`MINIFLARE_WORKERD_V8_FLAGS`).
process.env.MINIFLARE_WORKERD_V8_FLAGS = "--perf-basic-prof --interpreted-frames-native-stack";

const bundle = process.env.BENCH_BUNDLE ?? buildBundle();
const secrets = benchSecrets();
const hush = await startHush({ port: PORT, scriptPath: bundle, secrets, stateName: "perf" });
let load;
try {
  const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write"], ["bench/*"]);
  await seedHush(hush.url, token, "bench/s", 200);
  const env = { BENCH_PREFIX: "/api/v1/secrets/store/bench/s", BENCH_COUNT: "200", BENCH_TOKEN: token };
  await runWrk({ url: hush.url, pid: hush.pid, script: `${scenario}.lua`, duration: "3s", env }); // warm up
  const perf = spawn("perf", ["record", "-F", "1999", "-g", "-o", DATA, "-p", String(hush.pid)], { stdio: "ignore" });
  await new Promise((resolve) => setTimeout(resolve, 300));
  load = await runWrk({ url: hush.url, pid: hush.pid, script: `${scenario}.lua`, duration: process.env.BENCH_DURATION ?? "8s", env });
  perf.kill("SIGINT");
  await new Promise((resolve) => perf.on("exit", resolve));
} finally {
  await hush.stop();
}

const report = (children) =>
  spawnSync("perf", ["report", "-i", DATA, children ? "--children" : "--no-children", "--sort", "sym", "-q", "-g", "none", "--stdio"], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  }).stdout;
const mapFile = `${bundle}.map`;
const consumer = existsSync(mapFile) ? new sourceMap.SourceMapConsumer(JSON.parse(readFileSync(mapFile, "utf8"))) : undefined;
const usPerRequest = (percent) => (percent / 100) * load.cpu_ms_per_req * 1000;

/** A sampled symbol, named for a reader: a bundle frame as its src/ (or package) line, platform frames as they are. */
function name(symbol) {
  const js = /^JS:\S*?([^\s]*)\s+(\S+):(\d+):(\d+)/.exec(symbol);
  if (!js) return { kind: symbol.startsWith("Builtins_") ? "V8 builtins" : "native", label: symbol.slice(0, 110) };
  const [, fn, file, line, column] = js;
  if (!file.endsWith("index.js") || !consumer) return { kind: `JS ${file}`, label: `${file}:${line} ${fn.replace(/^[*~^+']+/, "")}` };
  const at = consumer.originalPositionFor({ line: Number(line), column: Number(column) - 1 });
  const original = at.source ?? "?";
  const inPackage = original.includes("node_modules/");
  const source = inPackage ? original.replace(/^.*node_modules\//, "") : original.replace(/^(\.\.\/)+/, "");
  return { kind: inPackage ? "Hush's packages" : "Hush", label: `${source}:${at.line}${at.name ? ` ${at.name}` : ""}` };
}

const rows = (text, children) =>
  text
    .split("\n")
    .map((line) => (children ? /^\s*([\d.]+)%\s+[\d.]+%\s+\[(.)\]\s+(.+)$/ : /^\s*([\d.]+)%\s+\[(.)\]\s+(.+)$/).exec(line))
    .filter(Boolean)
    .map(([, percent, space, symbol]) => ({ percent: Number(percent), ...(space === "k" ? { kind: "kernel", label: symbol } : name(symbol.trim())) }));

const self = rows(report(false), false);
const byKind = new Map();
for (const row of self) byKind.set(row.kind, (byKind.get(row.kind) ?? 0) + row.percent);
console.log(`${scenario}: ${load.requests} requests, ${load.rps.toFixed(0)} req/s, ${load.cpu_ms_per_req.toFixed(2)} ms CPU each (whole workerd process)\n`);
console.log("Self time by kind (us per request):");
for (const [kind, percent] of [...byKind].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${usPerRequest(percent).toFixed(0).padStart(6)}  ${kind}`);

const inclusive = rows(report(true), true);
const landmarks = /CollectGarbage$|^fsync$|sqlite3_step$|JsRpcTargetBase::callImpl$/;
console.log("\nInclusive (us per request) of GC, SQLite, fsync and RPC:");
for (const row of inclusive.filter((r) => landmarks.test(r.label)).slice(0, 8))
  console.log(`${usPerRequest(row.percent).toFixed(0).padStart(6)}  ${row.label}`);
console.log(`\nInclusive (us per request) of JavaScript functions, top ${TOP} (middleware includes what runs after its next()):`);
const seen = new Set();
for (const row of inclusive.filter((r) => r.kind !== "native" && r.kind !== "kernel" && r.kind !== "V8 builtins")) {
  if (seen.has(row.label) || seen.size >= TOP) continue;
  seen.add(row.label);
  console.log(`${usPerRequest(row.percent).toFixed(0).padStart(6)}  ${row.kind.padEnd(16)} ${row.label}`);
}
