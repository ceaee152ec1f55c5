#!/usr/bin/env node
// `npm run bench:load` (issue 9, Load): sustained mixed load on the production bundle, then a
// redeem storm against one-view shares, with every outcome accounted for afterwards.
//
// 1. Mixed load (bench/wrk/mixed.lua): 70% secret reads, 20% writes, 10% share create+redeem.
//    wrk is closed-loop, so the "rate" is set by connections: short steps at BENCH_LOAD_STEPS
//    connections find the highest throughput with zero errors, then that many connections hold
//    for BENCH_LOAD_HOLD. Every request and response is logged by the Lua script; afterwards
//    each version in D1 and each share's state (from the API) is matched against what clients saw.
// 2. Redeem storm: BENCH_STORM_ATTEMPTS attempts (default 10,000) spread over BENCH_STORM_SHARES
//    one-view shares (default 100), BENCH_STORM_CONCURRENCY (default 250) in flight: exactly one
//    reveal per share, every other attempt a 410.
//
//   BENCH_PORT=8890  BENCH_LOAD_STEPS=4,8,16,32  BENCH_LOAD_STEP=10s  BENCH_LOAD_HOLD=60s
//   BENCH_NO_RECORD=1 prints without appending to RESULTS.md
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { call, createToken, inParallel, seedHush } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, OUT, startHush } from "./lib/servers.mjs";
import { ensureWrk, runWrk } from "./lib/wrk.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8890);
const STEPS = (process.env.BENCH_LOAD_STEPS ?? "4,8,16,32").split(",").map(Number);
const STEP = process.env.BENCH_LOAD_STEP ?? "10s";
const HOLD = process.env.BENCH_LOAD_HOLD ?? "60s";
const STORM_SHARES = Number(process.env.BENCH_STORM_SHARES ?? 100);
const STORM_ATTEMPTS = Number(process.env.BENCH_STORM_ATTEMPTS ?? 10_000);
const STORM_CONCURRENCY = Number(process.env.BENCH_STORM_CONCURRENCY ?? 250);
const PATHS = 200;
const PREFIX = "bench/mix/s";
const LOGS = join(OUT, "load-logs");
const settings = Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_NO_RECORD");
const command = `${settings.map(([k, v]) => `${k}=${v} `).join("")}npm run bench:load`;

ensureWrk();
rmSync(LOGS, { recursive: true, force: true });
mkdirSync(LOGS, { recursive: true });
const secrets = benchSecrets();
console.log("building the production bundle");
const hush = await startHush({ port: PORT, scriptPath: buildBundle(), secrets, stateName: "load" });
const errorsOf = (r) => r.non2xx + r.socketErrors;

try {
  const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write"]);
  await seedHush(hush.url, token, PREFIX, PATHS);

  let runNumber = 0;
  const mixed = (connections, duration) => {
    const run = String(++runNumber);
    return runWrk({
      url: hush.url,
      pid: hush.pid,
      script: "mixed.lua",
      connections,
      duration,
      env: {
        BENCH_PREFIX: `/api/v1/secrets/store/${PREFIX}`,
        BENCH_COUNT: String(PATHS),
        BENCH_TOKEN: token,
        BENCH_RUN: run,
        BENCH_LOG: join(LOGS, `run${run}`),
      },
    }).then((r) => ({ ...r, run, connections, duration }));
  };

  // --- 1. find the rate, then hold it ---
  await mixed(4, "3s"); // warm-up (accounted for like the rest)
  const steps = [];
  for (const connections of STEPS) {
    const r = await mixed(connections, STEP);
    steps.push(r);
    console.log(`step: ${connections} connections: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.p50_ms)} ms, p99 ${fmt(r.p99_ms)} ms, errors ${errorsOf(r)}`);
    if (errorsOf(r) > 0) break;
  }
  const clean = steps.filter((r) => errorsOf(r) === 0 && r.p99_ms < 5000);
  if (!clean.length) throw new Error("no step ran without errors");
  // The fewest connections within 5% of the best clean throughput: more would only add queueing.
  const best = Math.max(...clean.map((r) => r.rps));
  const chosen = clean.find((r) => r.rps >= best * 0.95);
  console.log(`holding ${chosen.connections} connections for ${HOLD}`);
  let hold = await mixed(chosen.connections, HOLD);
  console.log(`hold: ${fmt(hold.rps, 0)} req/s, p50 ${fmt(hold.p50_ms)} ms, p99 ${fmt(hold.p99_ms)} ms, errors ${errorsOf(hold)}`);
  const holds = [hold];
  if (errorsOf(hold) > 0 && chosen.connections > STEPS[0]) {
    const fewer = Math.max(STEPS[0], chosen.connections >> 1);
    console.log(`errors at ${chosen.connections}: holding ${fewer} connections instead`);
    hold = await mixed(fewer, HOLD);
    holds.push(hold);
  }

  // --- accounting: what the clients saw against what D1 and the API report ---
  const lines = readdirSync(LOGS).flatMap((f) =>
    readFileSync(join(LOGS, f), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ")),
  );
  const count = (kind, pred = (/** @type {string[]} */ _line) => true) => lines.filter((l) => l[0] === kind && pred(l)).length;
  const sentWrites = new Map();
  for (const [kind, i] of lines) if (kind === "SW") sentWrites.set(`${PREFIX}${i}`, (sentWrites.get(`${PREFIX}${i}`) ?? 0) + 1);
  const seenVersions = new Map();
  for (const [kind, status, path, version] of lines) {
    if (kind !== "W" || status !== "200") continue;
    if (!seenVersions.has(path)) seenVersions.set(path, []);
    seenVersions.get(path).push(Number(version));
  }
  const db = await hush.mf.getD1Database("DB");
  const { results: versionRows } = await db
    .prepare("SELECT path, version FROM secret_versions WHERE path LIKE ? ORDER BY path, version")
    .bind(`${PREFIX}%`)
    .all();
  const stored = new Map();
  for (const { path, version } of versionRows) {
    if (!stored.has(path)) stored.set(path, []);
    stored.get(path).push(version);
  }
  const problems = [];
  let storedWrites = 0;
  let unseenWrites = 0;
  let duplicateSeen = 0;
  for (let i = 0; i < PATHS; i++) {
    const path = `${PREFIX}${i}`;
    const versions = stored.get(path) ?? [];
    const seen = seenVersions.get(path) ?? [];
    if (versions.some((v, k) => v !== k + 1)) problems.push(`${path}: versions not 1..${versions.length}`);
    const written = versions.filter((v) => v > 1); // version 1 is the seed
    storedWrites += written.length;
    duplicateSeen += seen.length - new Set(seen).size;
    for (const v of seen) if (!written.includes(v)) problems.push(`${path}: client saw version ${v}, D1 has no such version`);
    unseenWrites += written.filter((v) => !seen.includes(v)).length;
    if (written.length > (sentWrites.get(path) ?? 0)) problems.push(`${path}: ${written.length} versions for ${sentWrites.get(path) ?? 0} writes sent`);
  }
  for (const path of seenVersions.keys()) if (!stored.has(path)) problems.push(`client saw a write to ${path}, D1 has none`);

  const createdIds = lines.filter((l) => l[0] === "C" && l[1] === "201").map((l) => l[2]);
  const redeemedIds = new Set(lines.filter((l) => l[0] === "SR").map((l) => l[1]));
  const { results: shareRows } = await db.prepare("SELECT id FROM share_index").all();
  const states = new Map();
  await inParallel(shareRows.length, 8, async (k) => {
    const { id } = shareRows[k];
    const share = await call(hush.url, "GET", `/api/v1/secrets/shares/${id}`, { token });
    states.set(id, share);
  });
  const shareOutcome = {
    "redeem sent, viewed": 0,
    "redeem sent, still active": 0,
    "never redeemed, active": 0,
    "never redeemed, not active": 0,
    "not seen by a client": 0,
  };
  for (const [id, share] of states) {
    if (!createdIds.includes(id)) shareOutcome["not seen by a client"]++;
    else if (redeemedIds.has(id)) shareOutcome[share.state === "viewed" && share.views_left === 0 ? "redeem sent, viewed" : "redeem sent, still active"]++;
    else shareOutcome[share.state === "active" ? "never redeemed, active" : "never redeemed, not active"]++;
  }
  for (const id of createdIds) if (!states.has(id)) problems.push(`share ${id}: created (201) but not in D1`);
  if (shareOutcome["never redeemed, not active"]) problems.push(`${shareOutcome["never redeemed, not active"]} shares left active state without a redeem`);
  const reveals = count("D", (l) => l[1] === "200");
  const altered = count("D", (l) => l[2] !== "intact");
  if (altered) problems.push(`${altered} redeems returned a value other than the one shared`);
  if (reveals > shareOutcome["redeem sent, viewed"]) problems.push(`${reveals} reveals seen but ${shareOutcome["redeem sent, viewed"]} shares viewed`);

  // Requests cut off when wrk stopped (sent, never answered): the only allowed gap.
  // (An error line cannot say which kind of request it answered; with zero errors there are none.)
  const inFlightAtCut = count("SW") + count("SC") + count("SR") - (count("W") + count("C") + count("D") + count("E"));
  const allRuns = [...steps, ...holds];
  const maxCut = allRuns.reduce((n, r) => n + r.connections, 4);
  if (unseenWrites + shareOutcome["not seen by a client"] + (shareOutcome["redeem sent, viewed"] - reveals) > inFlightAtCut) {
    problems.push("more unseen changes in D1 than requests cut off in flight");
  }
  if (inFlightAtCut > maxCut) problems.push(`${inFlightAtCut} writes/shares unanswered, more than the ${maxCut} connections that could be cut`);
  const errors = allRuns.reduce((n, r) => n + errorsOf(r), 0);

  const accounting = {
    "runs (warm-up, steps, hold)": runNumber,
    "reads answered 200": count("R", (l) => l[1] === "200"),
    "writes sent / answered 200": `${count("SW")} / ${count("W", (l) => l[1] === "200")}`,
    "versions written in D1 (beyond the seed)": storedWrites,
    "of which the client saw": storedWrites - unseenWrites,
    "version numbers seen twice": duplicateSeen,
    "shares create sent / 201": `${count("SC")} / ${createdIds.length}`,
    "redeems sent / 200 (value intact)": `${count("SR")} / ${reveals} (${reveals - altered})`,
    "shares in D1": states.size,
    ...Object.fromEntries(Object.entries(shareOutcome).map(([k, v]) => [`shares: ${k}`, v])),
    "requests cut off in flight when wrk stopped (writes + shares)": inFlightAtCut,
    "errors (non-2xx + socket) over all runs": errors,
    "accounted for": problems.length ? `NO: ${problems.slice(0, 5).join("; ")}` : "yes",
  };
  console.log(accounting);

  // --- 2. redeem storm ---
  console.log(`redeem storm: ${STORM_ATTEMPTS} attempts over ${STORM_SHARES} one-view shares, ${STORM_CONCURRENCY} in flight`);
  const stormShares = [];
  await inParallel(STORM_SHARES, 8, async () => {
    stormShares.push(await call(hush.url, "POST", "/api/v1/secrets/shares", { token, body: { value: "storm-value", max_views: 1 } }));
  });
  const attempts = Array.from({ length: STORM_ATTEMPTS }, (_, k) => stormShares[k % STORM_SHARES]);
  for (let k = attempts.length - 1; k > 0; k--) {
    const j = Math.floor(Math.random() * (k + 1));
    [attempts[k], attempts[j]] = [attempts[j], attempts[k]];
  }
  const statuses = new Map();
  const revealsPerShare = new Map();
  let wrongValue = 0;
  const stormStart = performance.now();
  await inParallel(attempts.length, STORM_CONCURRENCY, async (k) => {
    const share = attempts[k];
    let status;
    try {
      const res = await fetch(`${hush.url}/api/v1/secrets/shares/redeem`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: share.token }),
        signal: AbortSignal.timeout(60_000),
      });
      status = res.status;
      const body = /** @type {any} */ (await res.json());
      if (status === 200) {
        revealsPerShare.set(share.id, (revealsPerShare.get(share.id) ?? 0) + 1);
        if (body.value !== "storm-value") wrongValue++;
      }
    } catch (err) {
      status = err.name;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  });
  const stormSeconds = (performance.now() - stormStart) / 1000;
  const after = new Map();
  await inParallel(stormShares.length, 8, async (k) => {
    const share = await call(hush.url, "GET", `/api/v1/secrets/shares/${stormShares[k].id}`, { token });
    after.set(share.state, (after.get(share.state) ?? 0) + 1);
  });
  const stormReveals = statuses.get(200) ?? 0;
  const once = [...revealsPerShare.values()].filter((n) => n === 1).length;
  const stormOk =
    stormReveals === STORM_SHARES &&
    once === STORM_SHARES &&
    (statuses.get(410) ?? 0) === STORM_ATTEMPTS - STORM_SHARES &&
    wrongValue === 0 &&
    after.get("viewed") === STORM_SHARES;
  const storm = {
    attempts: STORM_ATTEMPTS,
    shares: STORM_SHARES,
    "in flight": STORM_CONCURRENCY,
    "200 (reveals)": stormReveals,
    "410 (gone)": statuses.get(410) ?? 0,
    other:
      [...statuses]
        .filter(([s]) => s !== 200 && s !== 410)
        .map(([s, n]) => `${s}: ${n}`)
        .join(", ") || "none",
    "shares revealed exactly once": once,
    "states afterwards": [...after].map(([s, n]) => `${s} ${n}`).join(", "),
    seconds: fmt(stormSeconds, 1),
    "attempts/s": fmt(STORM_ATTEMPTS / stormSeconds, 0),
    "exactly one reveal per share": stormOk ? "yes" : "NO",
  };
  console.log(storm);

  const stepRows = [...steps, ...holds].map((r) => ({
    run: holds.includes(r) ? `hold ${r.duration}` : `step ${r.duration}`,
    connections: r.connections,
    "req/s": fmt(r.rps, 0),
    "p50 ms": fmt(r.p50_ms),
    "p99 ms": fmt(r.p99_ms),
    "workerd CPU ms/req": r.cpu_ms_per_req === undefined ? "–" : fmt(r.cpu_ms_per_req, 2),
    requests: r.requests,
    "non-2xx": r.non2xx,
    "socket errors": r.socketErrors,
  }));
  const body = `Mixed load: \`${hold.command.replace(/-s \S+/, "-s bench/wrk/mixed.lua")}\` (70% GET secret, 20% PUT next version, 10% share traffic: a server-sealed one-view share created, then redeemed by a later share request; one API token; ${PATHS} paths). wrk is closed-loop: the rate is set by connections, stepped first, then held at the fewest connections within 5% of the best error-free throughput.

${table(stepRows)}

**Held: ${fmt(hold.rps, 0)} req/s for ${hold.duration} with ${hold.connections} connections, p50 ${fmt(hold.p50_ms)} ms, p99 ${fmt(hold.p99_ms)} ms, ${errorsOf(hold)} errors.**

Accounting over every run (the Lua script logs each request and response; D1 \`secret_versions\` and \`GET /api/v1/secrets/shares/{id}\` afterwards):

${table(Object.entries(accounting).map(([what, n]) => ({ what, count: n })))}

Redeem storm (Node fetch, bounded concurrency, attempts shuffled over the shares):

${table([storm])}
`;
  console.log(`\n${body}`);
  if (process.env.BENCH_NO_RECORD !== "1") appendSection({ title: "Load: sustained mixed load and a redeem storm (issue 9)", command, body });
  if (problems.length || !stormOk) process.exitCode = 1;
} finally {
  await hush.stop();
}
