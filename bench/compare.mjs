#!/usr/bin/env node
// A/B of bundles: serves each given bundle (its own Miniflare, port BENCH_PORT+3+i) and runs the same
// wrk scenario against them in alternating rounds, so a change is judged in one run.
//   node bench/compare.mjs [read|write] name=path/to/index.js name2=path2 ...
//   name=path/to/index.js@/other/checkout: that checkout's wrangler.toml and migrations go with the bundle
//   name=path/to/index.js+assets: with Miniflare's static-assets router in front (bench/lib/servers.mjs `withAssetRouter`)
//   BENCH_DURATION=10s BENCH_ROUNDS=3 BENCH_NO_RECORD=1
//   BENCH_PAIRED=1: every round loads all bundles at once (wrk -c 5 each) and compares their CPU per
//   request within the round, so the machine's noise hits them alike (bench/README.md, "Paired A/B")
import { createToken, seedHush } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, startHush } from "./lib/servers.mjs";
import { alternate, median, pairedRatio, runWrk, together } from "./lib/wrk.mjs";

const [scenario = "read", ...specs] = process.argv.slice(2);
if (!specs.length) throw new Error("usage: node bench/compare.mjs read|write name=bundle.js name2=bundle2.js");
const DURATION = process.env.BENCH_DURATION ?? "10s";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PORT = Number(process.env.BENCH_PORT ?? 8860) + 3;
const PAIRED = process.env.BENCH_PAIRED === "1";
const servers = [];
try {
  const runs = {};
  for (const [i, spec] of specs.entries()) {
    const [name, given] = spec.split("=");
    const assets = given.endsWith("+assets");
    const [scriptPath, root] = given.replace(/\+assets$/, "").split("@");
    const secrets = benchSecrets();
    const hush = await startHush({ port: PORT + i, scriptPath, secrets, stateName: `compare-${i}`, ...(root && { root }), ...(assets && { assets }) });
    servers.push(hush);
    const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write"], ["bench/*"]);
    await seedHush(hush.url, token, "bench/s", 200);
    const env = { BENCH_PREFIX: "/api/v1/secrets/store/bench/s", BENCH_COUNT: "200", BENCH_TOKEN: token };
    runs[name] = (duration = DURATION) => runWrk({ url: hush.url, pid: hush.pid, script: `${scenario}.lua`, duration, env, ...(PAIRED && { connections: 5 }) });
  }
  for (const run of Object.values(runs)) await run("3s");
  const results = PAIRED ? await together(ROUNDS, runs) : await alternate(ROUNDS, Object.fromEntries(Object.entries(runs).map(([k, run]) => [k, () => run()])));
  const first = Object.values(results)[0];
  const rows = Object.entries(results).map(([name, rs]) => ({
    bundle: name,
    "req/s (median)": fmt(median(rs.map((r) => r.rps)), 0),
    "per round": rs.map((r) => fmt(r.rps, 0)).join(", "),
    "p50 ms": fmt(median(rs.map((r) => r.p50_ms)), 2),
    "p99 ms": fmt(median(rs.map((r) => r.p99_ms)), 2),
    "workerd CPU ms/req": fmt(median(rs.map((r) => r.cpu_ms_per_req ?? NaN)), 2),
    "non-2xx": rs.reduce((n, r) => n + r.non2xx, 0),
    ...(PAIRED && { "CPU/req vs first, same round (median, range)": cpuRatio(rs, first) }),
  }));
  const how = PAIRED
    ? `wrk -t 1 -c 5 -d ${DURATION} against every bundle at once, ${ROUNDS} rounds`
    : `wrk -t 1 -c 10 -d ${DURATION}, ${ROUNDS} alternating rounds`;
  const body = `Scenario: ${scenario}.lua, ${how}.\n\n${table(rows)}\n\nBundles: ${specs.map((s) => `\`${s}\``).join(", ")}`;
  console.log(body);
  const settings = Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_NO_RECORD");
  if (process.env.BENCH_NO_RECORD !== "1") {
    appendSection({
      title: `A/B: ${scenario}`,
      command: `${settings.map(([k, v]) => `${k}=${v} `).join("")}node bench/compare.mjs ${process.argv.slice(2).join(" ")}`,
      body,
    });
  }
} finally {
  for (const server of servers) await server.stop();
}

/** Each round's CPU per request over the first bundle's in the same round: median (lowest-highest). */
function cpuRatio(rs, first) {
  return pairedRatio(rs, first, (r) => r.cpu_ms_per_req).text;
}
