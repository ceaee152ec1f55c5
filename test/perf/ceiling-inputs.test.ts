import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { BASE, createTenant, tokenWith } from "../helpers";
import { countingD1, type StatementCost } from "./d1-cost";

/**
 * The measured inputs of bench/ceiling.mjs (docs/scale.md, "Ceiling" and "Cost"): D1 statements,
 * rows read and written, and AuditChain object calls of one audited read and one audited write
 * (the write's statements count each of its batch). Prints
 * `CEILING_INPUTS {...}`, the shape of ceiling.mjs's `current`; `node bench/ceiling.mjs --inputs
 * <that json>` re-runs the simulation with it.
 */

const TENANT = "ceiling-inputs";
const PATH = "app/ceiling/password";

/** The AuditChain namespace, counting every call made on one of its stubs (append, settle, ...). */
function countingChains<N extends DurableObjectNamespace<any>>(namespace: N, calls: string[]): N {
  return new Proxy(namespace, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (key !== "get") return typeof value === "function" ? value.bind(target) : value;
      return (id: DurableObjectId) => {
        const stub = (target as DurableObjectNamespace).get(id) as object;
        return new Proxy(stub, {
          get(s: object, method) {
            const member = Reflect.get(s, method);
            if (typeof member !== "function" || typeof method !== "string") return member;
            return (...callArgs: unknown[]) => {
              calls.push(method);
              return Reflect.apply(member, s, callArgs);
            };
          },
        });
      };
    },
  });
}

async function measured(method: string, token: string, body?: unknown) {
  const log: StatementCost[] = [];
  const chainCalls: string[] = [];
  const d1 = countingD1(env.DB, log);
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${BASE}/api/v1/secrets/store/${PATH}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }),
    { ...env, DB: d1, AUDIT_CHAIN: countingChains(env.AUDIT_CHAIN, chainCalls) },
    ctx,
  );
  await response.text();
  await waitOnExecutionContext(ctx);
  const sum = (k: "rows_read" | "rows_written") => log.reduce((n, s) => n + s[k], 0);
  return {
    status: response.status,
    d1_statements: log.length,
    d1_rows_read: sum("rows_read"),
    d1_rows_written: sum("rows_written"),
    do_calls: chainCalls.filter((m) => m === "append" || m === "settle").length,
    chainCalls,
  };
}

describe("inputs of the ceiling simulation", () => {
  let token: string;
  beforeAll(async () => {
    await createTenant(TENANT);
    token = (await tokenWith(["secrets:read", "secrets:write"], { tenant: TENANT })).token;
  });

  it("measures D1 statements, rows and AuditChain calls of an audited read and an audited write", async () => {
    const created = await measured("POST", token, { value: "v1" });
    expect(created.status).toBe(201);
    const read = await measured("GET", token);
    expect(read.status).toBe(200);
    const write = await measured("PUT", token, { value: "v2" });
    expect(write.status).toBe(200);
    const shape = ({ d1_statements, d1_rows_read, d1_rows_written, do_calls }: typeof read) => ({ d1_statements, d1_rows_read, d1_rows_written, do_calls });
    console.log(`CEILING_INPUTS ${JSON.stringify({ read: shape(read), write: shape(write) })}`);
    // A read: one D1 statement (the token lookup joined to the secret), nothing written to D1, one
    // append to the chain object, which is the whole record of it.
    expect(shape(read)).toMatchObject({ d1_statements: 1, d1_rows_written: 0, do_calls: 1 });
    expect(read.chainCalls).toEqual(["append"]);
    // A write: the lookup and its batch, and the intent appended before the batch. Its settle rides
    // on the isolate's next append (here the next request's), or is one call of its own at most
    // every 250 ms per chain (src/audit/log.ts `settleCommitted`): 1 call on the write's path.
    expect(write.d1_rows_written).toBeGreaterThan(0);
    expect(write.chainCalls[0]).toBe("append");
    expect(write.do_calls).toBeLessThanOrEqual(2);
  });
});
