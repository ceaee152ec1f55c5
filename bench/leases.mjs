// Leases (issue 5): how long from a revoke (or an expiry) to the provider's revoke being done,
// through the outbox, the local `hush-revocations` queue (max_batch_timeout 1 s) and a webhook
// provider; and how many hush-api-key leases are issued per second.
//   node bench/leases.mjs            (ports BENCH_LEASES_PORT=8835 for Hush, +1 for the webhook receiver)
import { createServer } from "node:http";
import { call, createToken, inParallel } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, cpuSeconds, startHush } from "./lib/servers.mjs";

const PORT = Number(process.env.BENCH_LEASES_PORT ?? 8835);
const REVOKES = Number(process.env.BENCH_LEASE_REVOKES ?? 50);
const EXPIRIES = Number(process.env.BENCH_LEASE_EXPIRIES ?? 20);
const ISSUES = Number(process.env.BENCH_LEASE_ISSUES ?? 400);
const PARALLEL = 10;

/** A webhook provider that answers at once and records when each lease's revoke arrived. */
function receiver() {
  const revokedAt = new Map();
  const server = createServer(async (req, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw || "{}");
    if (body.action === "revoke" && !revokedAt.has(body.lease_id)) revokedAt.set(body.lease_id, Date.now());
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body.action === "issue" ? { credential: { api_key: "bench" } } : {}));
  });
  return { server, revokedAt };
}

async function until(map, key, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!map.has(key)) {
    if (Date.now() > deadline) throw new Error(`no revoke for ${key} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return map.get(key);
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50: fmt(quantile(sorted, 0.5), 0), p99: fmt(quantile(sorted, 0.99), 0), max: fmt(sorted.at(-1), 0) };
};

const { server, revokedAt } = receiver();
await new Promise((resolve) => server.listen(PORT + 1, "127.0.0.1", () => resolve(undefined)));
const secrets = benchSecrets();
const hush = await startHush({ port: PORT, scriptPath: buildBundle(), secrets, stateName: "leases" });
try {
  const root = secrets.ROOT_TOKEN;
  await call(hush.url, "POST", "/api/v1/secrets/providers", {
    token: root,
    body: {
      name: "bench-hook",
      kind: "webhook",
      config: { url: `http://127.0.0.1:${PORT + 1}/`, signing_key: "b".repeat(40) },
      roles: { app: { max_ttl_seconds: 3600 } },
    },
  });
  await call(hush.url, "POST", "/api/v1/secrets/providers", {
    token: root,
    body: { name: "bench-keys", kind: "hush-api-key", roles: { ci: { max_ttl_seconds: 3600, scopes: ["secrets:read"] } } },
  });
  const token = await createToken(hush.url, root, ["leases:write", "leases:read", "secrets:read"]);

  // 1. POST .../revoke -> the provider has the revoke.
  const revokeMs = [];
  for (let i = 0; i < REVOKES; i++) {
    const lease = await call(hush.url, "POST", "/api/v1/secrets/leases", { token, body: { provider: "bench-hook", role: "app", ttl_seconds: 600 } });
    const start = Date.now();
    await call(hush.url, "POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`, { token, expect: [202] });
    revokeMs.push((await until(revokedAt, lease.lease_id)) - start);
  }

  // 2. expires_at -> the provider has the revoke (the LeaseObject alarm starts it).
  const expiring = [];
  await inParallel(EXPIRIES, 5, async () => {
    expiring.push(await call(hush.url, "POST", "/api/v1/secrets/leases", { token, body: { provider: "bench-hook", role: "app", ttl_seconds: 2 } }));
  });
  const expiryMs = [];
  for (const lease of expiring) expiryMs.push((await until(revokedAt, lease.lease_id)) - Date.parse(lease.expires_at));

  // 3. hush-api-key leases issued per second.
  const cpuBefore = cpuSeconds(hush.pid);
  const started = performance.now();
  await inParallel(ISSUES, PARALLEL, () =>
    call(hush.url, "POST", "/api/v1/secrets/leases", { token, body: { provider: "bench-keys", role: "ci", ttl_seconds: 600 } }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuBefore === undefined ? undefined : cpuSeconds(hush.pid) - cpuBefore;

  const r = summary(revokeMs);
  const e = summary(expiryMs);
  const body = [
    "Revocation: from the moment named to the webhook provider receiving the revoke (local queue, `max_batch_timeout` 1 s; target under 2 s).",
    "",
    table([
      { from: "POST /leases/{id}/revoke sent (one at a time)", n: r.n, "p50 ms": r.p50, "p99 ms": r.p99, "max ms": r.max },
      { from: "expires_at (LeaseObject alarm)", n: e.n, "p50 ms": e.p50, "p99 ms": e.p99, "max ms": e.max },
    ]),
    "",
    table([
      {
        scenario: `POST /api/v1/secrets/leases, hush-api-key, ${PARALLEL} in flight`,
        leases: ISSUES,
        "leases/s": fmt(ISSUES / seconds, 0),
        "CPU ms/lease": cpu === undefined ? "n/a" : fmt((cpu * 1000) / ISSUES, 2),
      },
    ]),
  ].join("\n");
  const title = "Leases: revocation latency and issue rate";
  console.log(process.env.BENCH_NO_RECORD === "1" ? `${title}\n\n${body}` : appendSection({ title, command: "node bench/leases.mjs", body }));
} finally {
  await hush.stop();
  server.close();
}
