#!/usr/bin/env node
// Secret-store latencies (issue 3) against a running Hush over HTTP:
//   1. import of 1,000 entries: wall time
//   2. resolve of a 10-deep reference chain: p50/p99 latency (beside a plain read)
//   3. history listing of a path with 1,000 versions: latency of one full page
//
//   PORT=8810 npm start &            # wrangler dev on the local D1 in .wrangler/
//   HUSH_ADDR=http://127.0.0.1:8810 node bench/store.mjs
//
// D1 rows (written by the import, read by the listing) come from the query result
// meta inside workerd: `npx vitest run test/secrets-store/cost` prints them as
// [bench] lines (local `wrangler d1 execute` reports no rows_read). Latencies through
// `wrangler dev` include its proxy (about 5 ms a request): rerun on the Miniflare
// bench harness (bench/run.mjs) once it exists for numbers that measure Hush alone.
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

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

// 1. Import of 1,000 entries.
const prefix = `bench-${run}/import`;
const values = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`svc${i % 20}/key${i}`, `value-${i}-${"x".repeat(40)}`]));
const started = performance.now();
await call("POST", "/api/v1/secrets/store/import", { prefix, values });
const importMs = performance.now() - started;

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
const listings = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  const page = await call("GET", `/api/v1/secrets/store/${deep}/versions?limit=1000`);
  listings.push(performance.now() - t);
  if (page.items.length !== 1000) throw new Error(`expected 1000 versions, got ${page.items.length}`);
}
listings.sort((a, b) => a - b);

const ms = (n) => `${n.toFixed(1)} ms`;
console.log(`Secret store (issue 3) against ${addr}, ${new Date().toISOString()}
| measurement | result |
| --- | --- |
| import of 1,000 entries: time | ${ms(importMs)} |
| resolve of a 10-deep reference chain: p50 / p99 (200 sequential) | ${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))} |
| plain read of one secret, same run: p50 / p99 | ${ms(percentile(plain, 50))} / ${ms(percentile(plain, 99))} |
| history listing of 1,000 versions in one page: p50 (20 sequential) | ${ms(percentile(listings, 50))} |`);
