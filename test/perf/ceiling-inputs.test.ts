import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { BASE, createTenant, tokenWith } from "../helpers";
import { countingD1, type StatementCost } from "./d1-cost";

/**
 * The measured inputs of bench/ceiling.mjs (docs/scale.md, "Ceiling" and "Cost"): D1 rows read and
 * written, statements and round trips of one audited read and one audited write, plus what the
 * AuditChain sealer then spends on each event (the same SQL it runs, measured here). Prints
 * `CEILING_INPUTS {...}`; `node bench/ceiling.mjs --inputs <that json>` re-runs the simulation.
 */

const TENANT = "ceiling-inputs";
const PATH = "app/ceiling/password";

async function measured(method: string, token: string, body?: unknown) {
  const log: StatementCost[] = [];
  let batches = 0;
  const counted = countingD1(env.DB, log);
  const d1 = new Proxy(counted, {
    get(target, key) {
      if (key === "batch") batches++;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${BASE}/api/v1/secrets/store/${PATH}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }),
    { ...env, DB: d1 },
    ctx,
  );
  await response.text();
  await waitOnExecutionContext(ctx);
  const sum = (k: "rows_read" | "rows_written") => log.reduce((n, s) => n + s[k], 0);
  return { status: response.status, rows_read: sum("rows_read"), rows_written: sum("rows_written"), statements: log.length, batches, log };
}

/** What sealing one more event costs: the sealer's own two statements (durable-objects/audit-chain.ts). */
async function sealCost(): Promise<{ rows_read: number; rows_written: number }> {
  const pending = await env.DB.prepare("SELECT * FROM audit_events WHERE tenant_id = ? AND seq IS NULL ORDER BY n LIMIT ?")
    .bind(TENANT, 500)
    .all<{ n: number }>();
  const max = await env.DB.prepare("SELECT COALESCE(MAX(seq), 0) AS s FROM audit_events WHERE tenant_id = ?").bind(TENANT).first<{ s: number }>();
  let written = 0;
  let seq = max!.s;
  for (const row of pending.results) {
    const update = await env.DB.prepare("UPDATE audit_events SET seq = ?, hash = ? WHERE n = ? AND seq IS NULL").bind(++seq, "0".repeat(64), row.n).run();
    written += update.meta.rows_written;
  }
  const events = Math.max(1, pending.results.length);
  return { rows_read: pending.meta.rows_read / events, rows_written: written / events };
}

describe("inputs of the ceiling simulation", () => {
  let token: string;
  beforeAll(async () => {
    await createTenant(TENANT);
    token = (await tokenWith(["secrets:read", "secrets:write"], { tenant: TENANT })).token;
  });

  it("measures rows, statements and round trips of an audited read and an audited write", async () => {
    const created = await measured("POST", token, { value: "v1" });
    expect(created.status).toBe(201);
    await sealCost();
    const read = await measured("GET", token);
    expect(read.status).toBe(200);
    const readSeal = await sealCost();
    const write = await measured("PUT", token, { value: "v2" });
    expect(write.status).toBe(200);
    const writeSeal = await sealCost();
    const inputs = {
      read: {
        d1_rows_read: read.rows_read + readSeal.rows_read,
        d1_rows_written: read.rows_written + readSeal.rows_written,
        d1_statements: read.statements,
        d1_batches: read.batches,
        request_rows_written: read.rows_written,
      },
      write: {
        d1_rows_read: write.rows_read + writeSeal.rows_read,
        d1_rows_written: write.rows_written + writeSeal.rows_written,
        d1_statements: write.statements,
        d1_batches: write.batches,
        request_rows_written: write.rows_written,
      },
      seal_per_event: readSeal,
    };
    console.log(`CEILING_INPUTS ${JSON.stringify(inputs)}`);
    // The event of an audited read goes to the tenant's AuditChain object only: no D1 row written.
    expect(read.rows_written + readSeal.rows_written).toBe(0);
    expect(write.rows_written).toBeGreaterThan(read.rows_written);
  });
});
