#!/usr/bin/env node
// Audited reads of one tenant with its audit log on 1 chain vs on N chains (issue 13 §1, last bullet):
// the same production bundle served twice (each its own Miniflare), the default tenant set to
// `audit_chains` N on the second by root, and the floor Worker; wrk alternates them round by round.
//   node bench/chains.mjs            (N = 4)
//   BENCH_CHAINS=4 BENCH_DURATION=10s BENCH_ROUNDS=3 BENCH_BUNDLE=path BENCH_NO_RECORD=1
// Locally every object of a Miniflare runs in its one workerd process, so this measures what
// spreading costs per request, not the ceiling it lifts (one object's ~1,000 requests/s is a
// production limit; see docs/scale.md and `node bench/ceiling.mjs --chains N`).
import { call, createToken, seedFloor, seedHush } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, startFloor, startHush } from "./lib/servers.mjs";
import { alternate, median, runWrk } from "./lib/wrk.mjs";

const DURATION = process.env.BENCH_DURATION ?? "10s";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHAINS = Number(process.env.BENCH_CHAINS ?? 4);
const PORT = Number(process.env.BENCH_PORT ?? 8860) + 10;
const SECRETS = 200;

const bundle = process.env.BENCH_BUNDLE ?? buildBundle();
const servers = [];
try {
  const runs = {};
  const tokens = {};
  for (const [i, chains] of [1, CHAINS].entries()) {
    const secrets = benchSecrets();
    const hush = await startHush({ port: PORT + i, scriptPath: bundle, secrets, stateName: `chains-${i}` });
    servers.push(hush);
    if (chains > 1) await call(hush.url, "PATCH", "/api/v1/tenants/default", { token: secrets.ROOT_TOKEN, body: { audit_chains: chains } });
    const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write", "audit:read"], ["bench/*"]);
    tokens[chains] = { url: hush.url, token };
    await seedHush(hush.url, token, "bench/s", SECRETS);
    const env = { BENCH_PREFIX: "/api/v1/secrets/store/bench/s", BENCH_COUNT: String(SECRETS), BENCH_TOKEN: token };
    runs[`${chains} chain${chains > 1 ? "s" : ""}`] = (duration = DURATION) => runWrk({ url: hush.url, pid: hush.pid, script: "read.lua", duration, env });
  }
  const floor = await startFloor({ port: PORT + 2 });
  servers.push(floor);
  await seedFloor(floor.url, "bench/s", SECRETS);
  runs.floor = (duration = DURATION) =>
    runWrk({ url: floor.url, pid: floor.pid, script: "read.lua", duration, env: { BENCH_PREFIX: "/read/bench/s", BENCH_COUNT: String(SECRETS) } });

  for (const run of Object.values(runs)) await run("3s");
  const results = await alternate(ROUNDS, Object.fromEntries(Object.entries(runs).map(([k, run]) => [k, () => run()])));
  const floorRps = median(results.floor.map((r) => r.rps));
  const rows = Object.entries(results).map(([name, rs]) => ({
    "audit chains": name,
    "req/s (median)": fmt(median(rs.map((r) => r.rps)), 0),
    "/floor": fmt(median(rs.map((r) => r.rps)) / floorRps, 2),
    "per round": rs.map((r) => fmt(r.rps, 0)).join(", "),
    "p50 ms": fmt(median(rs.map((r) => r.p50_ms)), 2),
    "p99 ms": fmt(median(rs.map((r) => r.p99_ms)), 2),
    "workerd CPU ms/req": fmt(median(rs.map((r) => r.cpu_ms_per_req ?? NaN)), 2),
    "non-2xx": rs.reduce((n, r) => n + r.non2xx, 0),
  }));
  // Where the reads went: every chain's events, from the listing, and verify over all of them.
  const spread = [];
  for (const [chains, { url, token }] of Object.entries(tokens)) {
    const verify = await call(url, "GET", "/api/v1/audit/verify", { token });
    const per = verify.chains?.map((c) => c.checked) ?? [verify.checked];
    spread.push(`${chains} chain(s): verify ok=${verify.ok}, ${verify.checked} events, per chain ${per.join(" / ")}`);
  }
  const body = `Scenario: read.lua (audited GET of one of ${SECRETS} secrets, one tenant), wrk -t 1 -c 10 -d ${DURATION}, ${ROUNDS} alternating rounds; one bundle served twice, the second with the default tenant at audit_chains ${CHAINS}.\n\n${table(rows)}\n\n${spread.map((s) => `- ${s}`).join("\n")}\n\nLocally all objects share one workerd process: this is the per-request cost of spreading, not the per-tenant ceiling (production: N x one object's ~1,000 requests/s).`;
  console.log(body);
  const settings = Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_NO_RECORD");
  if (process.env.BENCH_NO_RECORD !== "1") {
    appendSection({
      title: `Audit chains: one tenant's audited reads, 1 vs ${CHAINS} chains`,
      command: `${settings.map(([k, v]) => `${k}=${v} `).join("")}npx node bench/chains.mjs`,
      body,
    });
  }
} finally {
  for (const server of servers) await server.stop();
}
