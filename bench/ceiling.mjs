#!/usr/bin/env node
// The global ceiling and the cost of audited reads and writes (issue 13, docs/scale.md "Ceiling"
// and "Cost"): a model, not a load test. It takes what one request costs (D1 statements and rows,
// Durable Object calls, queue messages, CPU ms: measured by test/perf/ceiling-inputs.test.ts and
// `npm run bench`) and the platform's published limits and prices, and prints, for 1, 4 and 16 D1
// databases, with and without read replicas, the request rate at which each tier saturates and
// which one saturates first; then the cost per million requests next to AWS and GCP.
//
//   node bench/ceiling.mjs                      # the numbers measured (below): before issue 13 on 2026-12-01, now on 2026-12-02
//   node bench/ceiling.mjs --inputs '<json>'    # the CEILING_INPUTS line of test/perf/ceiling-inputs.test.ts
//   node bench/ceiling.mjs --replicas 6 --tenants 1000 --query-ms 1 --chains 1 --cpu-read 3.49 --cpu-write 5.07
//   node bench/ceiling.mjs --json               # everything as one JSON document
//
// Every input can be changed on the command line, so the tables can be re-run when a branch
// changes what a request costs (e.g. audit events appended to the AuditChain object, not D1).

import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    inputs: { type: "string" },
    replicas: { type: "string", default: "6" },
    tenants: { type: "string", default: "1000" },
    "query-ms": { type: "string", default: "1" },
    chains: { type: "string", default: "1" },
    // workerd CPU ms per audited read / write, `npm run bench` of 2026-12-02 15:05 and 15:10
    // (bench/RESULTS.md; without Miniflare's asset router, which is not the Worker's CPU on Cloudflare).
    "cpu-read": { type: "string", default: "1.7" },
    "cpu-write": { type: "string", default: "2.8" },
    "do-ms": { type: "string", default: "1" },
    "do-rows-per-event": { type: "string", default: "2" },
    "queue-msgs-per-write": { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const num = (name) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number >= 0`);
  return v;
};

// --- Published limits (the issue's figures; pages cited in docs/scale.md) ---
const LIMITS = {
  // D1 runs one query at a time per database: at 1 ms a query, about 1,000 queries (writes) a second.
  d1QueriesPerSecondAt1ms: 1000,
  // One Durable Object (single-threaded): about 1,000 requests a second.
  doRequestsPerSecond: 1000,
  // One queue: 5,000 messages a second.
  queueMessagesPerSecond: 5000,
};

// --- Published prices, Workers Paid, beyond the monthly allowances (marginal cost) ---
const PRICES = {
  workersRequestPerM: 0.3, // $ per million requests
  workersCpuMsPerM: 0.02, // $ per million CPU ms
  d1RowsReadPerM: 0.001, // $ per million rows read
  d1RowsWrittenPerM: 1.0, // $ per million rows written
  doRequestPerM: 0.15, // $ per million Durable Object requests (each RPC call is one)
  doGbSecondPerM: 12.5, // $ per million GB-s of Durable Object duration (128 MB per object)
  doRowsWrittenPerM: 1.0, // SQLite-backed Durable Object rows written: assumed equal to D1's
  doRowsReadPerM: 0.001,
  awsSecretsManagerPerM: 0.05 * 100, // $0.05 per 10,000 API calls
  gcpSecretManagerPerM: 0.03 * 100, // $0.03 per 10,000 access operations
};

// --- What one request costs. Measured 2026-12-01 by test/perf/ceiling-inputs.test.ts (CEILING_INPUTS):
// read  {"d1_rows_read":5,"d1_rows_written":7,"d1_statements":3,"d1_batches":1,"request_rows_written":5}
// write {"d1_rows_read":6,"d1_rows_written":13,"d1_statements":7,"d1_batches":1,"request_rows_written":11}
// seal per event {"rows_read":2,"rows_written":2}; CPU ms from bench/RESULTS.md (2026-12-01 19:50 UTC).
const measured = {
  read: { d1_rows_read: 5, d1_rows_written: 7, d1_statements: 3, request_rows_written: 5 },
  write: { d1_rows_read: 6, d1_rows_written: 13, d1_statements: 7, request_rows_written: 11 },
  seal_per_event: { rows_read: 2, rows_written: 2 },
};
// What one request costs now (audit in the chain objects; the token lookup joins the route's first
// read): test/perf/ceiling-inputs.test.ts, CEILING_INPUTS of 2026-12-02 15:20; `--inputs` replaces
// these. A write's statements count every statement of its batch; its one AuditChain call is the
// intent's append (the settle rides on the isolate's next append under load, src/audit/log.ts).
const current = {
  read: { d1_statements: 1, d1_rows_read: 3, d1_rows_written: 0, do_calls: 1 },
  write: { d1_statements: 4, d1_rows_read: 3, d1_rows_written: 8, do_calls: 1 },
};
if (args.inputs) Object.assign(current, JSON.parse(args.inputs));

const replicas = num("replicas");
const tenants = num("tenants");
const queryMs = num("query-ms");
const chains = Math.max(1, num("chains"));
const doMs = num("do-ms");
const doRowsPerEvent = num("do-rows-per-event");
const queueMsgsPerWrite = num("queue-msgs-per-write");

/**
 * Per request: queries on the primary (with and without replicas), queries a replica may serve,
 * D1 rows, Durable Object calls and rows, queue messages, CPU ms.
 * - today: every audited request inserts its event into D1 and the tenant's AuditChain numbers it
 *   (one UPDATE per event, its SELECT shared by up to 500 events); the sealer is kicked at most once a
 *   second per isolate and tenant, so under load its calls per request are about 0.
 * - chain: events appended to the tenant's AuditChain object as written (the audit-chain branch):
 *   0 D1 rows written by a read, 1 object call per read, 2 per write (request and outcome).
 */
function profiles() {
  const r = measured.read;
  const w = measured.write;
  return {
    today: {
      read: {
        primary: r.d1_statements + 1, // token lookup, secret + version, audit insert; + the seal UPDATE
        primaryWithReplicas: 2, // the insert and the seal stay; the two reads may go to a replica
        replica: r.d1_statements - 1,
        rowsRead: r.d1_rows_read,
        rowsWritten: r.d1_rows_written,
        doCalls: 0,
        doRowsWritten: 0,
        queue: 0,
        cpuMs: 4.19, // bench/RESULTS.md 2026-12-01 19:50
      },
      write: {
        primary: w.d1_statements + 1,
        primaryWithReplicas: w.d1_statements, // the token lookup may go to a replica; the rest must be fresh
        replica: 1,
        rowsRead: w.d1_rows_read,
        rowsWritten: w.d1_rows_written,
        doCalls: 0,
        doRowsWritten: 0,
        queue: queueMsgsPerWrite,
        cpuMs: 6.68,
      },
    },
    // Now (audit in the chain objects, and since 2026-12-02 the token lookup carries the route's
    // first read): the token lookup stays at the primary on every request (docs/scale.md,
    // "Consistency": a revoked token is refused at once), so a read's one statement is a primary
    // query and replicas take nothing of it; a write is that lookup plus its batch.
    chain: {
      read: {
        primary: current.read.d1_statements,
        primaryWithReplicas: current.read.d1_statements,
        replica: 0,
        rowsRead: current.read.d1_rows_read,
        rowsWritten: current.read.d1_rows_written,
        doCalls: current.read.do_calls,
        doRowsWritten: doRowsPerEvent,
        queue: 0,
        cpuMs: num("cpu-read"),
      },
      write: {
        primary: current.write.d1_statements,
        primaryWithReplicas: current.write.d1_statements,
        replica: 0,
        rowsRead: current.write.d1_rows_read,
        rowsWritten: current.write.d1_rows_written,
        doCalls: current.write.do_calls,
        // The intent (with its index entries) and the settle's update of it.
        doRowsWritten: current.write.do_calls * doRowsPerEvent + 1,
        queue: queueMsgsPerWrite,
        cpuMs: num("cpu-write"),
      },
    },
  };
}

const perQuery = LIMITS.d1QueriesPerSecondAt1ms / queryMs; // queries a second one database (or replica) runs

/** The rate (requests/s) at which each tier saturates, for `databases` databases serving `tenantsServed` tenants. */
function tiers(p, databases, withReplicas, tenantsServed, chainsPerTenant = chains) {
  const primaryQueries = withReplicas ? p.primaryWithReplicas : p.primary;
  const result = {
    "D1 primary": primaryQueries > 0 ? (databases * perQuery) / primaryQueries : Infinity,
    "D1 replicas": withReplicas && p.replica > 0 ? (databases * replicas * perQuery) / p.replica : Infinity,
    "AuditChain objects": p.doCalls > 0 ? (tenantsServed * chainsPerTenant * LIMITS.doRequestsPerSecond) / p.doCalls : Infinity,
    Queues: p.queue > 0 ? LIMITS.queueMessagesPerSecond / p.queue : Infinity,
    // Workers publish no per-account request rate limit: the isolates scale out.
    Workers: Infinity,
  };
  const [first, rate] = Object.entries(result).reduce((a, b) => (b[1] < a[1] ? b : a));
  return { tiers: result, ceiling: rate, saturates: first };
}

const DATABASES = [1, 4, 16];
const fmt = (n) => (n === Infinity ? "∞" : Math.round(n).toLocaleString("en-US"));

function ceilingTables(all) {
  const out = [];
  for (const [scenario, label] of [
    ["today", "today (audit events inserted into D1, numbered by the sealer)"],
    ["chain", "with audit in the chain object (0 D1 rows written per read)"],
  ]) {
    for (const op of ["read", "write"]) {
      const p = all[scenario][op];
      out.push(`\n### Audited ${op}s, ${label}\n`);
      out.push(
        `Per ${op}: ${p.primary} D1 queries on the primary (${p.primaryWithReplicas} with replicas, ${p.replica} on a replica), ${p.rowsRead} rows read, ${p.rowsWritten} rows written, ${p.doCalls} AuditChain calls, ${p.queue} queue messages, ${p.cpuMs} CPU ms.\n`,
      );
      out.push(
        "| databases | replicas | one tenant: req/s | saturates first | deployment of " +
          tenants +
          " tenants: req/s | saturates first | D1 primary | D1 replicas | AuditChain | Queues |",
      );
      out.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
      for (const n of DATABASES) {
        for (const withReplicas of [false, true]) {
          // One tenant lives in one database whatever N is; a deployment spreads its tenants evenly.
          const one = tiers(p, 1, withReplicas, 1);
          const many = tiers(p, n, withReplicas, tenants);
          const t = many.tiers;
          out.push(
            `| ${n} | ${withReplicas ? `yes (${replicas})` : "no"} | ${fmt(one.ceiling)} | ${one.saturates} | ${fmt(many.ceiling)} | ${many.saturates} | ${fmt(t["D1 primary"])} | ${fmt(t["D1 replicas"])} | ${fmt(t["AuditChain objects"])} | ${fmt(t.Queues)} |`,
          );
        }
      }
    }
  }
  return out.join("\n");
}

/**
 * One hot tenant whose events spread over 1, 4, 16 or 64 audit chains (tenants.audit_chains,
 * docs/decisions.md "Several audit chains per tenant"): its objects' ceiling is N x one object's,
 * until its one database (primary, or replicas for reads) saturates first.
 */
function oneTenantTable(all) {
  const out = ["\n### One tenant, by audit chains (audit in the chain objects)\n"];
  out.push("| audited | replicas | 1 chain | 4 chains | 16 chains | 64 chains | saturates first at 64 |");
  out.push("| --- | --- | --- | --- | --- | --- | --- |");
  for (const op of ["read", "write"]) {
    for (const withReplicas of [false, true]) {
      const at = [1, 4, 16, 64].map((n) => tiers(all.chain[op], 1, withReplicas, 1, n));
      out.push(
        `| ${op}s/s | ${withReplicas ? `yes (${replicas})` : "no"} | ${at.map((t) => `${fmt(t.ceiling)} (${t.saturates === "AuditChain objects" ? "chains" : t.saturates})`).join(" | ")} | ${at[3].saturates} |`,
      );
    }
  }
  return out.join("\n");
}

/** Dollars per million requests, by line item. */
function cost(p) {
  const items = {
    "Workers requests": PRICES.workersRequestPerM,
    "Workers CPU": p.cpuMs * PRICES.workersCpuMsPerM,
    "D1 rows read": p.rowsRead * PRICES.d1RowsReadPerM,
    "D1 rows written": p.rowsWritten * PRICES.d1RowsWrittenPerM,
    "DO requests": p.doCalls * PRICES.doRequestPerM,
    "DO duration": p.doCalls * (doMs / 1000) * 0.128 * PRICES.doGbSecondPerM,
    "DO rows written": p.doRowsWritten * PRICES.doRowsWrittenPerM,
  };
  return { items, total: Object.values(items).reduce((a, b) => a + b, 0) };
}

function costTable(all) {
  const rows = [];
  /** @type {Array<[string, ReturnType<typeof cost>]>} */
  const cols = [];
  for (const scenario of ["today", "chain"])
    for (const op of ["read", "write"]) cols.push([`${op} ${scenario === "today" ? "today" : "(chain object)"}`, cost(all[scenario][op])]);
  rows.push(`| $ per million audited requests | ${cols.map(([name]) => name).join(" | ")} |`);
  rows.push(`| --- | ${cols.map(() => "---").join(" | ")} |`);
  for (const item of Object.keys(cols[0][1].items)) rows.push(`| ${item} | ${cols.map(([, c]) => c.items[item].toFixed(4)).join(" | ")} |`);
  rows.push(`| **total** | ${cols.map(([, c]) => `**${c.total.toFixed(2)}**`).join(" | ")} |`);
  rows.push(`| AWS Secrets Manager ($0.05 / 10,000 calls) | ${cols.map(() => PRICES.awsSecretsManagerPerM.toFixed(2)).join(" | ")} |`);
  rows.push(`| GCP Secret Manager ($0.03 / 10,000 operations) | ${cols.map(() => PRICES.gcpSecretManagerPerM.toFixed(2)).join(" | ")} |`);
  return rows.join("\n");
}

const all = profiles();
if (args.json) {
  const ceilings = {};
  for (const scenario of ["today", "chain"]) {
    for (const op of ["read", "write"]) {
      for (const n of DATABASES) {
        for (const withReplicas of [false, true]) {
          ceilings[`${scenario}/${op}/${n}/${withReplicas ? "replicas" : "primary"}`] = {
            one_tenant: tiers(all[scenario][op], 1, withReplicas, 1),
            deployment: tiers(all[scenario][op], n, withReplicas, tenants),
          };
        }
      }
    }
  }
  const costs = Object.fromEntries(["today", "chain"].flatMap((s) => ["read", "write"].map((op) => [`${s}/${op}`, cost(all[s][op])])));
  console.log(
    JSON.stringify(
      { limits: LIMITS, prices: PRICES, inputs: { measured, replicas, tenants, queryMs, chains, doMs, doRowsPerEvent }, profiles: all, ceilings, costs },
      (_k, v) => (v === Infinity ? null : v),
      2,
    ),
  );
} else {
  console.log(`## Ceiling (node bench/ceiling.mjs ${process.argv.slice(2).join(" ")})`.trimEnd());
  console.log(
    `\nLimits: D1 ${LIMITS.d1QueriesPerSecondAt1ms} queries/s per database at ${queryMs} ms a query, ${replicas} read replicas per database when on; a Durable Object ${LIMITS.doRequestsPerSecond} req/s (${chains} chain object(s) per tenant); a queue ${LIMITS.queueMessagesPerSecond} msgs/s; Workers unlimited.`,
  );
  console.log(ceilingTables(all));
  console.log(oneTenantTable(all));
  console.log(`\n## Cost per million audited requests (Workers Paid, beyond the monthly allowances)\n`);
  console.log(costTable(all));
}
