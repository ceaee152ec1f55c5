#!/usr/bin/env node
// `npm run bench`: the production bundle served by Miniflare, against the floor Worker,
// driven by wrk at concurrency 10. Appends the numbers to bench/RESULTS.md.
//
//   BENCH_DURATION=10s  each wrk run          BENCH_ROUNDS=3    alternating rounds per server
//   BENCH_PORT=8860     Hush (floor: +1)      BENCH_SKIP_ROWS=1 skip the rows_read suite (vitest)
//   BENCH_NO_RECORD=1   print, do not append to RESULTS.md
//   BENCH_BUNDLE=path   serve this bundle instead of building one (A/B experiments)
//   BENCH_PAIRED=1      each floor scenario runs at the same moment as Hush's (wrk -c 5 each) and
//                       the ratios are per round, then the median (bench/README.md, "Paired A/B")
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { call, createToken, seedFloor, seedHush } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, OUT, ROOT, startFloor, startHush } from "./lib/servers.mjs";
import { alternate, ensureWrk, median, pairedRatio, runWrk, together } from "./lib/wrk.mjs";

const DURATION = process.env.BENCH_DURATION ?? "10s";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PAIRED = process.env.BENCH_PAIRED === "1";
const PORT = Number(process.env.BENCH_PORT ?? 8860);
const SECRETS = 200;
const KiB = 1024;
const settings = Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_NO_RECORD");
const command = `${settings.map(([k, v]) => `${k}=${v} `).join("")}npm run bench`;

ensureWrk();
if (!process.env.BENCH_BUNDLE) console.log("building the production bundle (wrangler deploy --dry-run --outdir bench/out/hush)");
const bundle = process.env.BENCH_BUNDLE ?? buildBundle();
const bundleBytes = readFileSync(bundle);
const gzipKiB = gzipSync(bundleBytes).length / KiB;

// The floor doing Hush's exact read and write storage work, from Hush's own modules (bench/floor/hush-storage.ts).
console.log("building the exact-storage floor (bench/floor/hush-storage.ts)");
const storageBundle = buildBundle(join(OUT, "floor-storage"), "bench/floor/hush-storage.ts");

const secrets = benchSecrets();
const storageSecrets = benchSecrets();
const hush = await startHush({ port: PORT, scriptPath: bundle, secrets });
const floor = await startFloor({ port: PORT + 1 });
const storageFloor = await startHush({ port: PORT + 2, scriptPath: storageBundle, secrets: storageSecrets, stateName: "floor-storage" });
try {
  console.log(`Hush on ${hush.url}, floor on ${floor.url}, exact-storage floor on ${storageFloor.url}; seeding ${SECRETS} secrets in each`);
  const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write"], ["bench/*"]);
  await seedHush(hush.url, token, "bench/s", SECRETS);
  await call(floor.url, "PUT", "/token", { token, expect: [204] });
  await seedFloor(floor.url, "bench/s", SECRETS, token);
  const storageToken = await createToken(storageFloor.url, storageSecrets.ROOT_TOKEN, ["secrets:read", "secrets:write"], ["bench/*"]);
  await seedHush(storageFloor.url, storageToken, "bench/s", SECRETS);

  const scenario =
    (server, script, prefix, extra = {}) =>
    (duration = DURATION) =>
      runWrk({
        url: server.url,
        pid: server.pid,
        script,
        duration,
        env: { BENCH_PREFIX: prefix, BENCH_COUNT: String(SECRETS), ...extra },
        ...(PAIRED && { connections: 5 }),
      });
  const hushRead = scenario(hush, "read.lua", "/api/v1/secrets/store/bench/s", { BENCH_TOKEN: token });
  const floorRead = scenario(floor, "read.lua", "/read/bench/s");
  const floorAuthRead = scenario(floor, "read.lua", "/read-auth/bench/s", { BENCH_TOKEN: token });
  const hushWrite = scenario(hush, "write.lua", "/api/v1/secrets/store/bench/s", { BENCH_TOKEN: token });
  const floorWrite = scenario(floor, "write.lua", "/write/bench/s");
  // The floor doing Hush's storage work (token joined to the secret, the chain-shaped append, the
  // versioned batch) without its code: how much of the gap is the audit design, how much is Hush.
  const floorSameRead = scenario(floor, "read.lua", "/read-same/bench/s", { BENCH_TOKEN: token });
  const floorSameWrite = scenario(floor, "write.lua", "/write-same/bench/s", { BENCH_TOKEN: token });
  const floorExactRead = scenario(storageFloor, "read.lua", "/api/v1/secrets/store/bench/s", { BENCH_TOKEN: storageToken });
  const floorExactWrite = scenario(storageFloor, "write.lua", "/api/v1/secrets/store/bench/s", { BENCH_TOKEN: storageToken });

  console.log("warming up");
  // Every server's read path, so no floor starts its first round cold.
  for (const warm of [hushRead, floorRead, floorAuthRead, floorSameRead, floorExactRead]) await warm("3s");

  // Alternating: each scenario alone, one after the other, Hush's runs shared by every comparison.
  // Paired: each floor scenario at the same moment as a Hush run of its own, compared per round.
  const measure = async (label, hushRun, floors) => {
    if (!PAIRED) {
      console.log(`${label}: ${ROUNDS} alternating rounds of ${DURATION}`);
      const runs = await alternate(ROUNDS, { hush: () => hushRun(), ...Object.fromEntries(Object.entries(floors).map(([k, run]) => [k, () => run()])) });
      return Object.fromEntries(Object.keys(floors).map((name) => [name, { hush: runs.hush, floor: runs[name] }]));
    }
    const pairs = {};
    for (const [name, floorRun] of Object.entries(floors)) {
      console.log(`${label} vs ${name}: ${ROUNDS} paired rounds of ${DURATION}`);
      pairs[name] = await together(ROUNDS, { hush: () => hushRun(), floor: () => floorRun() });
    }
    return pairs;
  };
  const reads = await measure("reads", hushRead, { floor: floorRead, floorAuth: floorAuthRead, floorSame: floorSameRead, floorExact: floorExactRead });
  const writes = await measure("writes", hushWrite, { floor: floorWrite, floorSame: floorSameWrite, floorExact: floorExactWrite });

  const cpu = (runs) => median(runs.map((r) => r.cpu_ms_per_req ?? NaN));
  const summary = (name, { hush: runs, floor: floorRuns }) => {
    const rps = median(runs.map((r) => r.rps));
    return {
      scenario: name,
      "req/s (median)": fmt(rps, 0),
      "floor req/s": fmt(median(floorRuns.map((r) => r.rps)), 0),
      "Hush/floor": fmt(rps / median(floorRuns.map((r) => r.rps)), 2),
      "p50 ms": fmt(median(runs.map((r) => r.p50_ms)), 2),
      "p99 ms": fmt(median(runs.map((r) => r.p99_ms)), 2),
      "floor p50 / p99 ms": `${fmt(median(floorRuns.map((r) => r.p50_ms)), 2)} / ${fmt(median(floorRuns.map((r) => r.p99_ms)), 2)}`,
      "workerd CPU ms/req (Hush / floor)": `${fmt(cpu(runs), 2)} / ${fmt(cpu(floorRuns), 2)}`,
      "CPU ratio floor/Hush": fmt(cpu(floorRuns) / cpu(runs), 2),
      "non-2xx": runs.reduce((n, r) => n + r.non2xx, 0),
      ...(PAIRED && {
        "paired req/s Hush/floor (median, range)": pairedRatio(runs, floorRuns, (r) => r.rps, 2).text,
        "paired CPU floor/Hush (median, range)": pairedRatio(floorRuns, runs, (r) => r.cpu_ms_per_req, 2).text,
      }),
    };
  };
  const rows = [
    summary("GET secret (API token, audited)", reads.floor),
    summary("(same, vs floor + token lookup)", reads.floorAuth),
    summary("(same, vs floor with Hush's storage work)", reads.floorSame),
    summary("(same, vs Hush's exact storage work, bench/floor/hush-storage.ts)", reads.floorExact),
    summary("PUT next version", writes.floor),
    summary("(same, vs floor with Hush's storage work)", writes.floorSame),
    summary("(same, vs Hush's exact storage work, bench/floor/hush-storage.ts)", writes.floorExact),
  ];
  const perRound = (runs) => runs.map((r) => fmt(r.rps, 0)).join(", ");

  let rowsRead = "";
  if (process.env.BENCH_SKIP_ROWS !== "1") {
    console.log("D1 rows_read per secret read (vitest, test/perf/read-cost.test.ts)");
    const run = spawnSync(`${ROOT}/node_modules/.bin/vitest`, ["run", "--project", "workers", "test/perf/read-cost.test.ts"], {
      cwd: ROOT,
      env: { ...process.env, CI: "true" },
      encoding: "utf8",
    });
    const lines = `${run.stdout}\n${run.stderr}`.split("\n").filter((l) => l.includes("READ_COST "));
    const costs = lines.map((l) => JSON.parse(l.slice(l.indexOf("READ_COST ") + "READ_COST ".length)));
    rowsRead = costs.length
      ? table(
          costs.map((c) => ({
            "versions in store": c.versions.toLocaleString("en"),
            rows_read: c.total,
            "per statement": c.statements.map((s) => `${s.name} ${s.rows_read}`).join(", "),
          })),
        )
      : `(the read-cost suite printed nothing; exit ${run.status})\n\n\`\`\`\n${(run.stdout + run.stderr).slice(-2000)}\n\`\`\``;
  }

  const how = PAIRED
    ? `${ROUNDS} paired rounds per floor scenario (Hush and that floor under load at the same moment, wrk -c 5 each)`
    : `${ROUNDS} rounds alternating Hush and floor`;
  const roundsOf = (name, { hush: h, floor: f }, floorName) =>
    PAIRED ? `${name}: Hush ${perRound(h)} with ${floorName} ${perRound(f)}` : `${floorName} ${perRound(f)}`;
  const perRoundLines = [
    ...(PAIRED ? [] : [`Hush read ${perRound(reads.floor.hush)}`]),
    roundsOf("read", reads.floor, "floor read"),
    roundsOf("read", reads.floorAuth, "floor + token read"),
    roundsOf("read", reads.floorSame, "floor read with Hush's storage work"),
    roundsOf("read", reads.floorExact, "Hush's exact storage work"),
    ...(PAIRED ? [] : [`Hush write ${perRound(writes.floor.hush)}`]),
    roundsOf("write", writes.floor, "floor write"),
    roundsOf("write", writes.floorSame, "floor write with Hush's storage work"),
    roundsOf("write", writes.floorExact, "Hush's exact storage work"),
  ];
  const body = `Load: \`${reads.floor.hush[0].command.replace(/-s \S+/, "-s bench/wrk/read.lua")}\` (and write.lua), ${how}, ${SECRETS} secrets in turn; Hush with an API token scoped to \`bench/*\`.

${table(rows)}

Per round (req/s): ${perRoundLines.join("; ")}.

Bundle (\`wrangler deploy --dry-run\`): ${fmt(bundleBytes.length / KiB, 0)} KiB, gzip ${fmt(gzipKiB, 1)} KiB (target < 300 KiB).
${rowsRead ? `\nD1 rows_read per audited secret read (token lookup + secret/version read + audit insert; target <= 3, flat):\n\n${rowsRead}\n` : ""}`;
  console.log(`\n${body}`);
  if (process.env.BENCH_NO_RECORD !== "1") appendSection({ title: "Secret read and write vs floor", command, body });
} finally {
  await hush.stop();
  await floor.stop();
  await storageFloor.stop();
}
