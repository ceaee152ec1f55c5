#!/usr/bin/env node
// Secret-store benchmarks (issue 3), on the same harness as `npm run bench`: the production
// bundle served by Miniflare directly (bench/lib/servers.mjs), a fresh D1, an API token.
//
//   npm run bench:store            (BENCH_PORT=8810 by default; BENCH_NO_RECORD=1 only prints)
//
// 1. import of 1,000 entries: time over HTTP, and D1 rows written (batch meta, vitest suite)
// 2. resolve of a 10-deep reference chain: p50/p99 over HTTP, beside a plain read
// 3. history listing of a path with 1,000 versions: D1 rows read (vitest suite), and latency
// D1 rows come from test/perf/store-cost.test.ts, which reads the query result meta inside
// workerd and prints one `STORE_COST {json}` line per measurement.
import { spawnSync } from "node:child_process";
import { call, createToken } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, ROOT, startHush } from "./lib/servers.mjs";
import { median } from "./lib/wrk.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8810);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function timed(samples, task) {
  const times = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await task(i);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const secrets = benchSecrets();
console.log("building the bundle");
const hush = await startHush({ port: PORT, scriptPath: buildBundle(), secrets, stateName: "hush-store" });
const rows = [];
try {
  const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write"], ["bench/*"]);

  console.log("import of 1,000 entries");
  const imports = [];
  for (let round = 0; round < 3; round++) {
    const values = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`svc${i % 20}/key${i}`, `value-${i}-${"x".repeat(40)}`]));
    const started = performance.now();
    await call(hush.url, "POST", "/api/v1/secrets/store/import", { token, body: { prefix: `bench/import${round}`, values } });
    imports.push(performance.now() - started);
  }
  rows.push({ measurement: "import of 1,000 entries (3 runs)", result: `median ${fmt(median(imports))} ms (${imports.map((t) => fmt(t, 0)).join(", ")})` });

  console.log("resolve of a 10-deep reference chain");
  await call(hush.url, "PUT", "/api/v1/secrets/store/bench/chain/n10", { token, body: { value: "bottom" } });
  for (let i = 9; i >= 0; i--) {
    await call(hush.url, "PUT", `/api/v1/secrets/store/bench/chain/n${i}`, { token, body: { value: `${i}.\${secret.bench/chain/n${i + 1}}` } });
  }
  const check = await call(hush.url, "GET", "/api/v1/secrets/store/bench/chain/n0?resolve=true", { token });
  if (check.value !== "0.1.2.3.4.5.6.7.8.9.bottom") throw new Error(`unexpected resolve result ${check.value}`);
  const resolve = await timed(SAMPLES, () => call(hush.url, "GET", "/api/v1/secrets/store/bench/chain/n0?resolve=true", { token }));
  const plain = await timed(SAMPLES, () => call(hush.url, "GET", "/api/v1/secrets/store/bench/chain/n10", { token }));
  rows.push({
    measurement: `resolve of a 10-deep chain, ${SAMPLES} sequential: p50 / p99`,
    result: `${fmt(percentile(resolve, 50))} / ${fmt(percentile(resolve, 99))} ms (plain read of one secret: ${fmt(percentile(plain, 50))} / ${fmt(percentile(plain, 99))} ms)`,
  });

  console.log("history listing of a path with 1,000 versions");
  for (let i = 0; i < 1000; i++) await call(hush.url, "PUT", "/api/v1/secrets/store/bench/deep", { token, body: { value: `v${i}` } });
  const listing = await timed(20, async () => {
    const page = await call(hush.url, "GET", "/api/v1/secrets/store/bench/deep/versions?limit=1000", { token });
    if (page.items.length !== 1000) throw new Error(`expected 1000 versions, got ${page.items.length}`);
  });
  rows.push({ measurement: "history listing, 1,000 versions in one page: p50", result: `${fmt(percentile(listing, 50))} ms` });
} finally {
  await hush.stop();
}

console.log("D1 rows (vitest, test/perf/store-cost.test.ts)");
const run = spawnSync(`${ROOT}/node_modules/.bin/vitest`, ["run", "--project", "workers", "test/perf/store-cost.test.ts"], {
  cwd: ROOT,
  env: { ...process.env, CI: "true" },
  encoding: "utf8",
});
const costs = `${run.stdout}\n${run.stderr}`
  .split("\n")
  .filter((l) => l.includes("STORE_COST "))
  .map((l) => JSON.parse(l.slice(l.indexOf("STORE_COST ") + "STORE_COST ".length)));
const imported = costs.find((c) => c.measure === "import");
const history = costs.find((c) => c.measure === "history");
rows.push({
  measurement: "import of 1,000 entries: D1 rows written",
  result: imported ? `${imported.rows_written} in one batch of ${imported.statements} statements` : `(suite printed nothing; exit ${run.status})`,
});
rows.push({
  measurement: "history listing of a path with 1,000 versions: D1 rows read",
  result: history
    ? `${history.rows_read_limit_1000} for limit=1000, ${history.rows_read_limit_100} for the default limit=100`
    : `(suite printed nothing; exit ${run.status})`,
});

const body = `Miniflare serving the production bundle on port ${PORT}; an API token scoped to \`bench/*\`; sequential requests from one client.
Rows written per imported entry: the secrets row, its primary-key index and two secondary indexes, the version row and its primary-key index (6), plus one audit event for the import.

${table(rows)}
`;
if (process.env.BENCH_NO_RECORD === "1") console.log(body);
else console.log(appendSection({ title: "Secret store: import, references, history (issue 3)", command: "npm run bench:store", body }));
