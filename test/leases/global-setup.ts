// Node side of the lease suites: a local webhook receiver (signed calls, scripted
// failures, call counts) and a dedicated PostgreSQL role and database: on the machine's server at
// 127.0.0.1:5432 when one answers, else on the PostgreSQL packaged for npm (test/support/postgres.ts).
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { TestProject } from "vitest/node";
import { ensurePostgres, type PostgresServer } from "../support/postgres";
import { probeServices } from "../support/services";
import { PG_DATABASE, PG_PROVISIONER, PG_READER_ROLE, WEBHOOK_PORT, WEBHOOK_SIGNING_KEY } from "./fixtures";

// The Node build of the driver: under this project's resolve conditions an import would pick the Workers build.
const postgres = createRequire(import.meta.url)("postgres") as typeof import("postgres");

interface Calls {
  issue: number;
  renew: number;
  revoke_attempts: number;
  revoked: number;
}

function webhookServer() {
  const calls = new Map<string, Calls>();
  let badSignatures = 0;
  const of = (lease: string) => {
    let c = calls.get(lease);
    if (!c) calls.set(lease, (c = { issue: 0, renew: 0, revoke_attempts: 0, revoked: 0 }));
    return c;
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  return createServer(async (req: IncomingMessage, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET" && url.pathname === "/calls") {
      return send(res, 200, { ...of(url.searchParams.get("lease_id") ?? ""), bad_signatures: badSignatures });
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const timestamp = String(req.headers["x-hush-timestamp"] ?? "");
    const given = Buffer.from(String(req.headers["x-hush-signature"] ?? ""));
    const expected = Buffer.from(`sha256=${createHmac("sha256", WEBHOOK_SIGNING_KEY).update(`${timestamp}.${raw}`).digest("hex")}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      badSignatures++;
      return send(res, 401, { error: "bad signature" });
    }
    const body = JSON.parse(raw) as { action: string; lease_id: string };
    // The first path segment scripts the receiver: ok, flaky3 (revoke fails 3 times), down (revoke always fails).
    const scenario = url.pathname.split("/")[1];
    const c = of(body.lease_id);
    switch (body.action) {
      case "health":
        return send(res, scenario === "down" ? 503 : 200, {});
      case "issue":
        c.issue++;
        return send(res, 200, {
          credential: { username: `wh-${body.lease_id}`, api_key: `whk_${Math.random().toString(36).slice(2)}${Date.now()}` },
          external_id: `wh-${body.lease_id}`,
        });
      case "renew":
        c.renew++;
        return send(res, 200, {});
      case "revoke":
        c.revoke_attempts++;
        if (scenario === "down" || (scenario === "flaky3" && c.revoke_attempts <= 3)) return send(res, 503, {});
        c.revoked++;
        return send(res, 200, {});
      default:
        return send(res, 400, {});
    }
  });
}

/** Creates what the postgres suites need; safe to run concurrently with another run. */
async function preparePostgres({ host, port }: PostgresServer): Promise<string> {
  const admin = postgres({ host, port, user: "postgres", database: "postgres", onnotice: () => {}, max: 1 });
  const ignoreExisting = async (run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (err) {
      // duplicate_object, duplicate_database, unique_violation (a concurrent run created it first)
      if (!["42710", "42P04", "23505"].includes((err as { code?: string }).code ?? "")) throw err;
    }
  };
  try {
    await ignoreExisting(() => admin.unsafe(`CREATE ROLE ${PG_PROVISIONER} LOGIN CREATEROLE`));
    await ignoreExisting(() => admin.unsafe(`CREATE ROLE ${PG_READER_ROLE} NOLOGIN`));
    await admin.unsafe(`GRANT ${PG_READER_ROLE} TO ${PG_PROVISIONER} WITH ADMIN OPTION`);
    await admin.unsafe(`GRANT pg_signal_backend TO ${PG_PROVISIONER}`);
    await ignoreExisting(() => admin.unsafe(`CREATE DATABASE ${PG_DATABASE}`));
  } finally {
    await admin.end();
  }
  const db = postgres({ host, port, user: "postgres", database: PG_DATABASE, onnotice: () => {}, max: 1 });
  try {
    await ignoreExisting(() => db.unsafe("CREATE TABLE IF NOT EXISTS hush_probe (answer int NOT NULL)"));
    await db.unsafe("INSERT INTO hush_probe (answer) SELECT 42 WHERE NOT EXISTS (SELECT 1 FROM hush_probe)");
    await db.unsafe(`GRANT SELECT ON hush_probe TO ${PG_READER_ROLE}`);
  } finally {
    await db.end();
  }
  return `postgres://${PG_PROVISIONER}@${host}:${port}/${PG_DATABASE}`;
}

export default async function setup(project: TestProject) {
  const server = webhookServer();
  // The assigned port, or the next ones if another run holds it (parallel runs on one machine).
  let port = 0;
  for (const candidate of [WEBHOOK_PORT, ...Array.from({ length: 8 }, (_, i) => WEBHOOK_PORT + 1 + i), 0]) {
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(candidate, "127.0.0.1", () => resolve(true));
    });
    if (bound) {
      port = (server.address() as { port: number }).port;
      break;
    }
  }
  project.provide("webhookUrl", `http://127.0.0.1:${port}`);
  const pg = await ensurePostgres();
  try {
    project.provide("pgProvisionerUrl", await preparePostgres(pg));
    project.provide("services", await probeServices());
  } catch (err) {
    await pg.stop();
    throw err;
  }
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pg.stop();
  };
}
