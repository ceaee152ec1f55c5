// Outbound sync (issue 18): how long from a new version written to its copy arriving at the
// target, through the trigger-written outbox row, the afterCommit send, the local `hush-sync`
// queue (max_batch_timeout 1 s) and the consumer's re-decision and push. Two local receivers
// time the arrival: a JSON webhook (HMAC checked) and a GitHub Actions secrets API (public key,
// PUT of a sealed box that it opens with its private key, so "arrived" means the right value), the
// latter also with GitHub App auth (app JWT verified with the app's public key, installation token).
//   npx node bench/sync.mjs      (ports BENCH_SYNC_PORT=8838 for Hush, +1 for the receivers)
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { jwtVerify } from "jose";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { call, createToken, inParallel } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, startHush } from "./lib/servers.mjs";

const require = createRequire(import.meta.url);
const nacl = require("tweetnacl");
const blake = require("blakejs");

const PORT = Number(process.env.BENCH_SYNC_PORT ?? 8838);
const WRITES = Number(process.env.BENCH_SYNC_WRITES ?? 60);
const BURST = Number(process.env.BENCH_SYNC_BURST ?? 50);
const SIGNING_KEY = "s".repeat(40);
const GH_TOKEN = "ghp_benchtoken0123456789abcdefghijklmnop";

const APP = generateKeyPairSync("rsa", { modulusLength: 2048 });
const APP_KEY = APP.privateKey.export({ type: "pkcs1", format: "pem" }).toString();

/** The receivers: value seen -> first arrival time (ms since epoch). */
function receivers() {
  const arrivedAt = new Map();
  const appTokens = new Set();
  let exchanges = 0;
  const gh = nacl.box.keyPair();
  const open = (sealed) => {
    const epk = sealed.subarray(0, 32);
    const input = new Uint8Array(64);
    input.set(epk, 0);
    input.set(gh.publicKey, 32);
    return nacl.box.open(sealed.subarray(32), blake.blake2b(input, undefined, 24), epk, gh.secretKey);
  };
  const server = createServer(async (req, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const reply = (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };
    if (req.url === "/wh") {
      const ts = String(req.headers["x-hush-timestamp"]);
      const expected = `sha256=${createHmac("sha256", SIGNING_KEY).update(`${ts}.${raw}`).digest("hex")}`;
      if (req.headers["x-hush-signature"] !== expected) return reply(401, {});
      const body = JSON.parse(raw);
      if (body.action === "put" && !arrivedAt.has(body.value)) arrivedAt.set(body.value, Date.now());
      return reply(200, {});
    }
    if (req.method === "POST" && /\/app\/installations\/7\/access_tokens$/.test(req.url)) {
      // GitHub App: the app JWT verified with the app's public key, then an installation token.
      try {
        await jwtVerify(String(req.headers.authorization).slice(7), APP.publicKey, { algorithms: ["RS256"], issuer: "1234" });
      } catch {
        return reply(401, { message: "bad jwt" });
      }
      exchanges++;
      const token = `ghs_${randomBytes(16).toString("hex")}`;
      appTokens.add(token);
      return reply(201, { token, expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    }
    const bearer = String(req.headers.authorization).slice(7);
    if (bearer !== GH_TOKEN && !appTokens.has(bearer)) return reply(401, { message: "Bad credentials" });
    if (req.url.endsWith("/secrets/public-key")) return reply(200, { key_id: "1", key: Buffer.from(gh.publicKey).toString("base64") });
    if (req.method === "PUT") {
      const body = JSON.parse(raw);
      const opened = open(Buffer.from(body.encrypted_value, "base64"));
      if (!opened) return reply(422, { message: "sealed box" });
      const value = Buffer.from(opened).toString("utf8");
      if (!arrivedAt.has(value)) arrivedAt.set(value, Date.now());
      return reply(201, {});
    }
    reply(404, {});
  });
  return { server, arrivedAt, exchanges: () => exchanges };
}

async function until(map, key, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!map.has(key)) {
    if (Date.now() > deadline) throw new Error(`no delivery of ${key} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return map.get(key);
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, "p50 ms": fmt(quantile(sorted, 0.5), 0), "p99 ms": fmt(quantile(sorted, 0.99), 0), "max ms": fmt(sorted.at(-1), 0) };
};

const { server, arrivedAt, exchanges } = receivers();
await new Promise((resolve) => server.listen(PORT + 1, "127.0.0.1", () => resolve(undefined)));
const secrets = benchSecrets();
const hush = await startHush({ port: PORT, scriptPath: buildBundle(), secrets, stateName: "sync" });
const base = `http://127.0.0.1:${PORT + 1}`;
try {
  const root = secrets.ROOT_TOKEN;
  await call(hush.url, "POST", "/api/v1/secrets/sync-targets", {
    token: root,
    body: { name: "bench-wh", kind: "webhook", config: { url: `${base}/wh`, signing_key: SIGNING_KEY } },
  });
  await call(hush.url, "POST", "/api/v1/secrets/sync-targets", {
    token: root,
    body: { name: "bench-gh", kind: "github", config: { api_url: `${base}/gh`, token: GH_TOKEN, scope: "repository", owner: "acme", repo: "api" } },
  });
  await call(hush.url, "POST", "/api/v1/secrets/sync-targets", {
    token: root,
    body: {
      name: "bench-app",
      kind: "github",
      config: { api_url: `${base}/app`, app_id: "1234", installation_id: "7", private_key: APP_KEY, scope: "repository", owner: "acme", repo: "api" },
    },
  });
  // The writer and the sync's creator: a path-bound token, not root (the consumer re-reads it).
  const token = await createToken(hush.url, root, ["secrets:read", "secrets:write"], ["bench/*"]);
  for (const [t, prefix] of [
    ["bench-wh", "bench/wh/"],
    ["bench-gh", "bench/gh/"],
    ["bench-app", "bench/app/"],
  ]) {
    await call(hush.url, "POST", "/api/v1/secrets/syncs", { token, body: { target: t, prefix, remote_prefix: "", run: false } });
  }

  const rows = [];
  const writeMs = [];
  for (const [label, prefix] of [
    ["webhook (HMAC checked)", "bench/wh/"],
    ["GitHub (public key + sealed box opened)", "bench/gh/"],
    ["GitHub App auth (JWT verified, installation token cached)", "bench/app/"],
  ]) {
    // One write at a time: write -> copy, p50/p99 over WRITES versions of 10 paths.
    const ms = [];
    for (let i = 0; i < WRITES; i++) {
      const value = `${prefix}v${i}-${Math.random().toString(36).slice(2)}`;
      const start = Date.now();
      await call(hush.url, "PUT", `/api/v1/secrets/store/${prefix}k${i % 10}`, { token, body: { value } });
      writeMs.push(Date.now() - start);
      ms.push((await until(arrivedAt, value)) - start);
    }
    rows.push({ target: label, load: "one write at a time", ...summary(ms) });
    // A burst: BURST writes to distinct paths, 10 in flight; each copy timed from its own write.
    const burst = [];
    const starts = new Map();
    await inParallel(BURST, 10, async (i) => {
      const value = `${prefix}b${i}-${Math.random().toString(36).slice(2)}`;
      starts.set(value, Date.now());
      await call(hush.url, "PUT", `/api/v1/secrets/store/${prefix}burst${i}`, { token, body: { value } });
    });
    for (const [value, start] of starts) burst.push((await until(arrivedAt, value)) - start);
    rows.push({ target: label, load: `${BURST} writes, 10 in flight`, ...summary(burst) });
  }
  const w = summary(writeMs);
  const body = [
    "From sending the `PUT /api/v1/secrets/store/{path}` of a new version to the target receiving that value (trigger-written outbox row, afterCommit send, local queue `hush-sync` with `max_batch_timeout` 1 s, consumer: creator token re-read, read rule, open, push). The sync's creator and the writer are one path-bound token.",
    "",
    table(rows),
    "",
    `GitHub App: ${exchanges()} installation-token exchange(s) for ${WRITES + BURST} deliveries (the token is cached until 5 minutes before it expires).`,
    "",
    `The PUT itself (answered): p50 ${w["p50 ms"]} ms, p99 ${w["p99 ms"]} ms over ${w.n} writes. Production bundle under Miniflare (bench/lib/servers.mjs), receivers in this process; one write at a time, the local queue's batch timeout (1 s) dominates, as for lease revocations; in a burst, the consumer handling a batch's messages one after another does.`,
  ].join("\n");
  const title = "Sync: new version written to its copy delivered (issue 18)";
  console.log(process.env.BENCH_NO_RECORD === "1" ? `${title}\n\n${body}` : appendSection({ title, command: "npx node bench/sync.mjs", body }));
} finally {
  await hush.stop();
  server.close();
}
