#!/usr/bin/env node
// Secret-store measurements (issue 3) against a running Hush:
//   1. import of 1,000 entries: wall time, and the D1 rows the import wrote
//   2. resolve of a 10-deep reference chain: p50/p99 latency
//   3. history listing of a path with 1,000 versions: D1 rows read
//
//   PORT=8810 npm start &            # wrangler dev on the local D1 in .wrangler/
//   HUSH_ADDR=http://127.0.0.1:8810 node bench/store.mjs
//
// Rows are measured with `wrangler d1 execute --local` on the same local D1 that
// `wrangler dev` uses: rows written by counting what the import created, rows read
// from the meta of the exact query the versions route runs. Latencies through
// `wrangler dev` include its proxy (about 5 ms a request): rerun on the Miniflare
// bench harness (bench/run.mjs) once it exists for numbers that measure Hush alone.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const addr = process.env.HUSH_ADDR ?? "http://127.0.0.1:8810";
const token =
  process.env.HUSH_TOKEN ?? readFileSync(join(root, ".dev.vars"), "utf8").match(/^ROOT_TOKEN\s*=\s*'?([^'\n]+)'?/m)?.[1];
if (!token) throw new Error("Set HUSH_TOKEN or create .dev.vars with `npm start`");
const run = Date.now().toString(36);

async function call(method, path, body) {
  const res = await fetch(`${addr}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

function d1(command) {
  const out = spawnSync(join(root, "node_modules/.bin/wrangler"), ["d1", "execute", "hush", "--local", "--json", "--command", command], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
  });
  if (out.status !== 0) throw new Error(out.stderr || out.stdout);
  return JSON.parse(out.stdout)[0];
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

// 1. Import of 1,000 entries.
const prefix = `bench-${run}/import`;
const values = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`svc${i % 20}/key${i}`, `value-${i}-${"x".repeat(40)}`]));
const auditBefore = d1("SELECT COUNT(*) AS n FROM audit_events").results[0].n;
const started = performance.now();
await call("POST", "/api/v1/secrets/store/import", { prefix, values });
const importMs = performance.now() - started;
const created = d1(
  `SELECT (SELECT COUNT(*) FROM secrets WHERE path LIKE '${prefix}/%') AS secrets,
          (SELECT COUNT(*) FROM secret_versions WHERE path LIKE '${prefix}/%') AS versions,
          (SELECT COUNT(*) FROM audit_events) - ${auditBefore} AS audit`,
).results[0];
// Each secrets row also writes its two secondary indexes (next_rotation, expires); D1 bills those as rows written.
const rowsWritten = created.secrets * 3 + created.versions + created.audit;

// 2. Resolve of a 10-deep reference chain (n0 -> n1 -> ... -> n10).
const chain = `bench-${run}/chain`;
await call("PUT", `/api/v1/secrets/store/${chain}/n10`, { value: "bottom" });
for (let i = 9; i >= 0; i--) await call("PUT", `/api/v1/secrets/store/${chain}/n${i}`, { value: `${i}.\${secret.${chain}/n${i + 1}}` });
const check = await call("GET", `/api/v1/secrets/store/${chain}/n0?resolve=true`);
if (check.value !== "0.1.2.3.4.5.6.7.8.9.bottom") throw new Error(`unexpected resolve result ${check.value}`);
const latencies = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  await call("GET", `/api/v1/secrets/store/${chain}/n0?resolve=true`);
  latencies.push(performance.now() - t);
}
latencies.sort((a, b) => a - b);
const plain = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  await call("GET", `/api/v1/secrets/store/${chain}/n10`);
  plain.push(performance.now() - t);
}
plain.sort((a, b) => a - b);

// 3. History listing of a path with 1,000 versions.
const deep = `bench-${run}/deep`;
for (let i = 0; i < 1000; i++) await call("PUT", `/api/v1/secrets/store/${deep}`, { value: `v${i}` });
const page = await call("GET", `/api/v1/secrets/store/${deep}/versions?limit=1000`);
if (page.items.length !== 1000) throw new Error(`expected 1000 versions, got ${page.items.length}`);
const listing = (limit) =>
  d1(
    `SELECT * FROM secret_versions WHERE tenant_id = 'default' AND path = '${deep}' ORDER BY version DESC LIMIT ${limit + 1}`,
  ).meta.rows_read;
const secretRow = d1(`SELECT * FROM secrets WHERE tenant_id = 'default' AND path = '${deep}'`).meta.rows_read;

const ms = (n) => `${n.toFixed(1)} ms`;
console.log(`Secret store (issue 3) against ${addr}, ${new Date().toISOString()}
| measurement | result |
| --- | --- |
| import of 1,000 entries: time | ${ms(importMs)} |
| import of 1,000 entries: D1 rows written | ${rowsWritten} (${created.secrets} secrets + ${created.secrets * 2} index entries + ${created.versions} versions + ${created.audit} audit event) |
| resolve of a 10-deep reference chain: p50 / p99 (200 sequential) | ${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))} |
| plain read of one secret, same run: p50 / p99 | ${ms(percentile(plain, 50))} / ${ms(percentile(plain, 99))} |
| history listing, path with 1,000 versions, limit=1000: D1 rows read | ${listing(1000) + secretRow} (versions query ${listing(1000)} + secret row ${secretRow}) |
| history listing, same path, default page (limit=100): D1 rows read | ${listing(100) + secretRow} |
(token lookup adds 1 row read per request.)`);
