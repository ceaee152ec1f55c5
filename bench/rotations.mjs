// Database credentials (issue 20): how long a static rotation takes end to end (stage, cutover,
// verify, retire: `POST /api/v1/secrets/rotations` until its response), and the latency of a
// lease issue and a lease revoke for each provider kind, against the machine's real servers.
//   npm run bench:rotations   (port BENCH_ROTATIONS_PORT=8837 for Hush, +1 for the webhook receiver)
// Needs PostgreSQL on 127.0.0.1:5432 (trust, user postgres), MariaDB on 127.0.0.1:3306 (root, no
// password, the `mysql` client on PATH) and Redis on 127.0.0.1:6379; a provider whose server does
// not answer is left out of the table with a note.
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { connect } from "node:net";
import postgres from "postgres";
import { call, createToken } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, startHush } from "./lib/servers.mjs";

const PORT = Number(process.env.BENCH_ROTATIONS_PORT ?? 8837);
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 20);
const LEASES = Number(process.env.BENCH_ROTATION_LEASES ?? 30);
const RUN = Date.now().toString(36);

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, "p50 ms": fmt(quantile(sorted, 0.5), 0), "p99 ms": fmt(quantile(sorted, 0.99), 0), "max ms": fmt(sorted.at(-1), 0) };
};

const answers = (port) =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

/** A webhook provider that answers at once. */
const receiver = createServer(async (req, res) => {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  const body = JSON.parse(raw || "{}");
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body.action === "issue" ? { credential: { api_key: "bench" } } : {}));
});

// PostgreSQL: a provisioner (CREATEROLE) that makes the leased logins and the static roles.
const PG_PROVISIONER = "hush_bench_provisioner";
const PG_READER = "hush_bench_reader";
async function preparePostgres() {
  const admin = postgres({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres", onnotice: () => {}, max: 1 });
  const quietly = (p) => p.catch((err) => (["42710", "23505"].includes(err.code) ? undefined : Promise.reject(err)));
  try {
    await quietly(admin.unsafe(`CREATE ROLE ${PG_PROVISIONER} LOGIN CREATEROLE`));
    await quietly(admin.unsafe(`CREATE ROLE ${PG_READER} NOLOGIN`));
    await admin.unsafe(`GRANT ${PG_READER} TO ${PG_PROVISIONER} WITH ADMIN OPTION`);
    await admin.unsafe(`GRANT pg_signal_backend TO ${PG_PROVISIONER}`);
  } finally {
    await admin.end();
  }
  return `postgres://${PG_PROVISIONER}@127.0.0.1:5432/postgres`;
}
async function asPgProvisioner(url, ...statements) {
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  try {
    for (const s of statements) await sql.unsafe(s);
  } finally {
    await sql.end();
  }
}
const asMysqlRoot = (...statements) =>
  execFileSync("mysql", ["-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e", statements.join(";")], { stdio: ["ignore", "pipe", "inherit"] });

const notes = [];
const [pgUp, myUp, redisUp] = await Promise.all([answers(5432), answers(3306), answers(6379)]);
await new Promise((resolve) => receiver.listen(PORT + 1, "127.0.0.1", () => resolve(undefined)));
const secrets = benchSecrets();
const hush = await startHush({ port: PORT, scriptPath: buildBundle(), secrets, stateName: "rotations" });
try {
  const root = secrets.ROOT_TOKEN;
  const provider = (body) => call(hush.url, "POST", "/api/v1/secrets/providers", { token: root, body });
  const pgUrl = pgUp ? await preparePostgres() : undefined;
  const kinds = [];
  if (pgUp) {
    await provider({
      name: "bench-pg",
      kind: "postgresql",
      config: { connection_url: pgUrl, role_prefix: `hb_${RUN}_` },
      roles: { reader: { max_ttl_seconds: 3600, grants: [PG_READER] } },
    });
    kinds.push(["postgresql", "bench-pg", "reader"]);
  } else notes.push("PostgreSQL did not answer on 5432: left out.");
  if (myUp) {
    asMysqlRoot("CREATE DATABASE IF NOT EXISTS hush_bench_rot");
    await provider({
      name: "bench-my",
      kind: "mysql",
      config: { connection_url: "mysql://root@127.0.0.1:3306/", user_prefix: `hb${RUN.slice(-5)}_` },
      roles: { reader: { max_ttl_seconds: 3600, mysql_grants: [{ privileges: ["SELECT"], on: "hush_bench_rot.*" }] } },
    });
    kinds.push(["mysql (MariaDB)", "bench-my", "reader"]);
  } else notes.push("MariaDB did not answer on 3306: left out.");
  if (redisUp) {
    await provider({
      name: "bench-redis",
      kind: "redis",
      config: { url: "redis://127.0.0.1:6379", user_prefix: `hush-bench-${RUN}-` },
      roles: { app: { max_ttl_seconds: 3600, commands: ["+get", "+set"], key_patterns: ["bench:*"] } },
    });
    kinds.push(["redis", "bench-redis", "app"]);
  } else notes.push("Redis did not answer on 6379: left out.");
  await provider({
    name: "bench-hook",
    kind: "webhook",
    config: { url: `http://127.0.0.1:${PORT + 1}/`, signing_key: "b".repeat(40) },
    roles: { app: { max_ttl_seconds: 3600 } },
  });
  kinds.push(["webhook (local receiver)", "bench-hook", "app"]);
  await provider({ name: "bench-keys", kind: "hush-api-key", roles: { ci: { max_ttl_seconds: 3600, scopes: ["secrets:read"] } } });
  kinds.push(["hush-api-key", "bench-keys", "ci"]);
  const token = await createToken(hush.url, root, ["leases:write", "leases:read", "secrets:read"]);

  // 1. Leases, one at a time: issue (provider creates the credential inside the request), then
  // revoke (POST .../revoke answers 202; the provider revoke runs from the outbox through the
  // local queue, so "revoked" is timed until GET /leases/{id} says so, polled every 5 ms).
  const leaseRows = [];
  for (const [kind, name, role] of kinds) {
    const issueMs = [];
    const revokeMs = [];
    const acceptMs = [];
    for (let i = 0; i < LEASES; i++) {
      let start = performance.now();
      const lease = await call(hush.url, "POST", "/api/v1/secrets/leases", { token, body: { provider: name, role, ttl_seconds: 600 } });
      issueMs.push(performance.now() - start);
      start = performance.now();
      await call(hush.url, "POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`, { token, expect: [202] });
      acceptMs.push(performance.now() - start);
      for (;;) {
        const row = await call(hush.url, "GET", `/api/v1/secrets/leases/${lease.lease_id}`, { token });
        if (row.state === "revoked") break;
        if (performance.now() - start > 30_000) throw new Error(`${kind}: lease ${lease.lease_id} not revoked within 30 s (${row.state})`);
        await new Promise((r) => setTimeout(r, 5));
      }
      revokeMs.push(performance.now() - start);
    }
    const i = summary(issueMs);
    const a = summary(acceptMs);
    const r = summary(revokeMs);
    leaseRows.push({
      provider: kind,
      n: i.n,
      "issue p50 ms": i["p50 ms"],
      "issue p99 ms": i["p99 ms"],
      "revoke 202 p50 ms": a["p50 ms"],
      "revoked p50 ms": r["p50 ms"],
      "revoked p99 ms": r["p99 ms"],
      "revoked max ms": r["max ms"],
    });
  }

  // 2. Static rotations, one key rotated ROTATIONS times in a row (grace 0, so retire runs inside
  // the request and the response is the finished run).
  const rotationRows = [];
  const rotateAll = async (label, providerName, key) => {
    const ms = [];
    for (let i = 0; i < ROTATIONS; i++) {
      const start = performance.now();
      const res = await call(hush.url, "POST", "/api/v1/secrets/rotations", { token: root, body: { provider: providerName, key } });
      ms.push(performance.now() - start);
      if (!res.completed || res.state !== "completed") throw new Error(`${label}: rotation ${i} ended ${res.state} (${res.failed_phase ?? "-"})`);
    }
    rotationRows.push({ rotation: label, ...summary(ms) });
  };
  const bind = (key, providerName, strategy, usernames) =>
    call(hush.url, "PUT", "/api/v1/secrets/rotations/static-roles", {
      token: root,
      body: { key, provider: providerName, strategy, usernames, grace_seconds: 0 },
    });
  const seed = (key, value) => call(hush.url, "POST", `/api/v1/secrets/store/${key}`, { token: root, body: { value: JSON.stringify(value) } });
  if (pgUp) {
    await provider({
      name: "bench-pgrot",
      kind: "postgresql",
      config: { connection_url: pgUrl, role_prefix: "hush_unused_" },
      roles: { none: { max_ttl_seconds: 60 } },
    });
    const single = `hb_${RUN}_app`;
    const [a, b] = [`hb_${RUN}_a`, `hb_${RUN}_b`];
    await asPgProvisioner(
      pgUrl,
      `CREATE ROLE "${single}" LOGIN PASSWORD 'init'`,
      `CREATE ROLE "${a}" LOGIN PASSWORD 'init'`,
      `CREATE ROLE "${b}" NOLOGIN PASSWORD 'init'`,
    );
    const url = (user) => `postgres://${user}:init@127.0.0.1:5432/postgres`;
    await seed("db/pg-single", { username: single, password: "init", connection_url: url(single) });
    await bind("db/pg-single", "bench-pgrot", "single", [single]);
    await seed("db/pg-ab", { username: a, password: "init", connection_url: url(a) });
    await bind("db/pg-ab", "bench-pgrot", "alternate", [a, b]);
    await rotateAll("PostgreSQL, single role (ALTER ROLE ... PASSWORD)", "bench-pgrot", "db/pg-single");
    await rotateAll("PostgreSQL, a/b roles, grace 0", "bench-pgrot", "db/pg-ab");
  }
  if (myUp) {
    const user = `hb${RUN.slice(-5)}_app`;
    asMysqlRoot(`CREATE USER '${user}'@'%' IDENTIFIED BY 'init'`);
    await seed("db/my-single", { username: user, password: "init", host: "127.0.0.1" });
    await bind("db/my-single", "bench-my", "single", [user]);
    await rotateAll("MariaDB, single user (ALTER USER ... IDENTIFIED BY)", "bench-my", "db/my-single");
  }

  const body = [
    "Static rotation: `POST /api/v1/secrets/rotations` sent until its response, one key rotated in a row (stage, cutover = a new secret version, verify = log in with the new credential and probe, retire; grace 0 so retire runs inside the request).",
    "",
    table(rotationRows),
    "",
    "Leases, one at a time: issue = `POST /api/v1/secrets/leases` (the provider creates the credential inside the request); revoke 202 = `POST .../revoke` answered; revoked = from sending the revoke until `GET /leases/{id}` reads `revoked` (outbox, local queue with `max_batch_timeout` 1 s, consumer, provider revoke), polled every 5 ms.",
    "",
    table(leaseRows),
    ...(notes.length ? ["", ...notes] : []),
    "",
    "Production bundle served by Miniflare (bench/lib/servers.mjs), PostgreSQL 5432, MariaDB 3306 and Redis 6379 on the same machine; 2 cores shared with four other engineers running test suites, so read the p99s loosely.",
  ].join("\n");
  const title = "Database credentials: static rotation duration, lease issue and revoke latency per provider (issue 20)";
  console.log(process.env.BENCH_NO_RECORD === "1" ? `${title}\n\n${body}` : appendSection({ title, command: "npm run bench:rotations", body }));
} finally {
  await hush.stop();
  receiver.close();
  // The static roles and users this run made (the leased ones were revoked above).
  if (pgUp) await asPgProvisioner(await preparePostgres(), ...["app", "a", "b"].map((s) => `DROP ROLE IF EXISTS "hb_${RUN}_${s}"`)).catch(() => {});
  if (myUp) {
    try {
      asMysqlRoot(`DROP USER IF EXISTS '${`hb${RUN.slice(-5)}_app`}'@'%'`);
    } catch {
      // best effort
    }
  }
}
