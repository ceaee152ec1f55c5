/// <reference lib="dom" />
// (watchFor and the evaluate callbacks run in the page.)
// Issue 16, "each page is interactive in under 1 s locally": every console page, loaded in real
// Chromium from the production bundle (served by Miniflare, bench/lib/servers.mjs), timed by the
// browser from navigation start until the page's data is drawn.
//
//   npx node bench/console.mjs
//
// Each page is loaded BENCH_CONSOLE_LOADS times (default 7) cold (a new browser context: empty
// HTTP cache, no open connection, only the session cookie) and as many times warm (the same tab,
// after one load to warm it: about:blank, then the page's URL again). "Interactive" is the moment
// the page's ready element (the same ones test/console/a11y.test.ts waits for: its data drawn, its
// controls enabled) first appears, caught by a MutationObserver installed before the page's own
// script runs, read as performance.now() (milliseconds since navigation start). Medians are
// reported, with min and max, and the slowest request of the median cold load.
//
// The tenant holds BENCH_CONSOLE_SECRETS (10,000) secrets in 20 folders under `bulk/` besides the
// pages' own data, as in test/console/console.test.ts. Port BENCH_CONSOLE_PORT (8850).
// BENCH_BUNDLE serves that bundle instead of building one; BENCH_CONSOLE_ONLY=<text> times only the
// pages whose name contains it; BENCH_NO_RECORD=1 only prints.
import { appendFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { benchSecrets, buildBundle, ROOT, startHush } from "./lib/servers.mjs";

const PORT = Number(process.env.BENCH_CONSOLE_PORT ?? 8850);
const LOADS = Number(process.env.BENCH_CONSOLE_LOADS ?? 7);
const SECRETS = Number(process.env.BENCH_CONSOLE_SECRETS ?? 10_000);
const TARGET_MS = 1000;
const CHROMIUM = process.env.HUSH_CHROMIUM ?? "/usr/bin/chromium";

// Each page, and what shows it is ready to use (test/console/a11y.test.ts's PAGES, plus the tree).
const PAGES = [
  { name: `Secrets: the tree (${SECRETS.toLocaleString("en")} secrets)`, hash: "#/secrets", ready: '[data-folder="bulk"]' },
  { name: "Secrets: tree, panel and history", hash: "#/secrets/bench/app/db", ready: 'tr[data-version="2"]' },
  { name: "Secrets: a value with references", hash: "#/secrets/bench/app/url", ready: "#reveal" },
  { name: "Compare", hash: "#/diff", ready: "#diff-go" },
  { name: "Import", hash: "#/import", ready: "#import-preview-button" },
  { name: "Transit", hash: "#/transit", ready: '#transit-keys tr[data-key="bench-key"]' },
  { name: "Shares", hash: "#/shares", ready: "#share-rows tr[data-share]" },
  { name: "Leases", hash: "#/leases", ready: "#lease-rows tr[data-lease]" },
  { name: "Audit (with the chain's verify)", hash: "#/audit", ready: "#audit-rows tr" },
  { name: "Tokens", hash: "#/tokens", ready: "#token-rows tr" },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function seed(url, token) {
  const call = async (method, path, body) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  await call("PUT", "/secrets/store/bench/app/db", { value: "bench-secret-value", environment: "staging", tags: ["db"] });
  await call("PUT", "/secrets/store/bench/app/url", { value: "postgres://${secret.bench/app/db}@db" });
  await call("PUT", "/secrets/store/bench/app/db", { value: "bench-secret-value-2" });
  await call("PUT", "/secrets/store/bench/other/db", { value: "bench-secret-value" });
  await call("POST", "/secrets/shares", { value: "bench-share" });
  await call("POST", "/ephemeral/api-keys", { subject: "bench-lease", scopes: ["secrets:read"], ttl_seconds: 3600 });
  await call("POST", "/transit/keys/bench-key", { type: "aes256-gcm" });
  // Through the API's own import, 1,000 a request, 20 folders of 500 (test/console/console.test.ts).
  for (let batch = 0; batch < Math.ceil(SECRETS / 1000); batch++) {
    const values = {};
    for (let i = 0; i < Math.min(1000, SECRETS - batch * 1000); i++)
      values[`team-${String(batch * 2 + (i >= 500 ? 1 : 0)).padStart(2, "0")}/svc-${i % 500}/key`] = `v${batch}-${i}`;
    await call("POST", "/secrets/store/import", { prefix: "bulk", values });
  }
}

/** A Markdown table with padded columns, as Biome formats RESULTS.md. */
function markdownTable(head, body) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...body.map(line)].join("\n");
}

/** Records, in the page, when `selector` first matches (performance.now(), ms since navigation start). */
function watchFor(selector) {
  const check = () => {
    if (/** @type {any} */ (window).__hushReady === undefined && document.querySelector(selector)) {
      /** @type {any} */ (window).__hushReady = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true, attributes: true });
}

/** One load of `url` in `page`: ms to interactive, and the slowest request of that load. */
async function load(page, url) {
  await page.goto(url);
  const handle = await page.waitForFunction(() => /** @type {any} */ (window).__hushReady, undefined, { timeout: 30_000, polling: 50 });
  const ms = await handle.jsonValue();
  const slowest = await page.evaluate(
    () =>
      performance
        .getEntriesByType("resource")
        .map((/** @type {any} */ e) => ({ name: new URL(e.name).pathname + new URL(e.name).search, ms: Math.round(e.responseEnd - e.startTime) }))
        .sort((a, b) => b.ms - a.ms)[0],
  );
  return { ms: Math.round(ms), slowest };
}

const bundle = process.env.BENCH_BUNDLE ?? buildBundle();
const secrets = benchSecrets();
const hush = await startHush({ port: PORT, scriptPath: bundle, secrets, stateName: "console", assets: true });
let browser;
try {
  const t0 = Date.now();
  await seed(hush.url, secrets.ROOT_TOKEN);
  console.log(`seeded ${SECRETS} secrets and the pages' data in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  // Sign in once, through the page; every context below starts with that session cookie.
  const signInContext = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const signInPage = await signInContext.newPage();
  await signInPage.goto(`${hush.url}/console`);
  await signInPage.fill("#signin-token", secrets.ROOT_TOKEN);
  await signInPage.click("#signin-button");
  await signInPage.waitForSelector("#logout:visible");
  const storageState = await signInContext.storageState();
  await signInContext.close();

  const rows = [];
  for (const p of PAGES.filter((page) => page.name.includes(process.env.BENCH_CONSOLE_ONLY ?? ""))) {
    const url = `${hush.url}/console${p.hash}`;
    const cold = [];
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, storageState });
      const page = await context.newPage();
      await page.addInitScript(watchFor, p.ready);
      cold.push(await load(page, url));
      await context.close();
    }
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, storageState });
    const page = await context.newPage();
    await page.addInitScript(watchFor, p.ready);
    await load(page, url);
    const warm = [];
    for (let i = 0; i < LOADS; i++) {
      await page.goto("about:blank");
      warm.push(await load(page, url));
    }
    await context.close();
    const coldMs = cold.map((l) => l.ms);
    const warmMs = warm.map((l) => l.ms);
    const mid = [...cold].sort((a, b) => a.ms - b.ms)[Math.floor(cold.length / 2)];
    const row = {
      name: p.name,
      cold: median(coldMs),
      coldRange: `${Math.min(...coldMs)}-${Math.max(...coldMs)}`,
      warm: median(warmMs),
      warmRange: `${Math.min(...warmMs)}-${Math.max(...warmMs)}`,
      slowest: mid.slowest ? `${mid.slowest.name} ${mid.slowest.ms} ms` : "",
    };
    rows.push(row);
    console.log(`${row.name}: cold ${row.cold} ms (${row.coldRange}), warm ${row.warm} ms (${row.warmRange}); slowest request ${row.slowest}`);
  }

  const over = rows.filter((r) => r.cold >= TARGET_MS || r.warm >= TARGET_MS);
  const table = markdownTable(
    ["page", "cold median (ms)", "cold min-max", "warm median (ms)", "warm min-max", "slowest request (median cold load)"],
    rows.map((r) => [r.name, String(r.cold), r.coldRange, String(r.warm), r.warmRange, `\`${r.slowest}\``]),
  );
  const verdict = over.length ? `Over ${TARGET_MS} ms: ${over.map((r) => r.name).join(", ")}.` : `Every page under ${TARGET_MS} ms, cold and warm.`;
  console.log(`\n${table}\n\n${verdict}`);
  if (!process.env.BENCH_NO_RECORD) {
    const machine = `${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} at the end`;
    appendFileSync(
      join(ROOT, "bench", "RESULTS.md"),
      `\n## Console: time to interactive per page (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC)\n\n` +
        `Command: \`npx node bench/console.mjs\` (${LOADS} loads per page and mode, ${SECRETS} secrets in the tenant; ${machine}). ` +
        "Milliseconds from navigation start until the page's data is drawn, in Chromium, production bundle in Miniflare.\n\n" +
        `${table}\n\n${verdict}\n`,
    );
  }
} finally {
  await browser?.close();
  await hush.stop();
}
