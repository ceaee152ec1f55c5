import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { api, BASE, createTenant, expectProblem, tokenWith } from "../helpers";
import { countingD1, type StatementCost } from "./d1-cost";

// The token lookup carries the route's first read (src/auth/tokens.ts `Prefetch`): a GET or PUT of
// /api/v1/secrets/store/{path} reads the token row and the caller's secret in one D1 statement.
// What must not change: revocation is effective on the next request, the secret is the caller's
// own tenant's, the read rule and authorize still decide, and an approval policy or sync created
// after a write applies to the next one (nothing about the tenant is kept across requests).
const A = "prefetch-a";
const B = "prefetch-b";
const PATH = "app/prefetch/db";

async function counted(method: string, path: string, token: string, body?: unknown) {
  const log: StatementCost[] = [];
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${BASE}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { ...env, DB: countingD1(env.DB, log) },
    ctx,
  );
  const text = await response.text();
  await waitOnExecutionContext(ctx);
  return { status: response.status, text, log };
}

describe("the token lookup carries the route's first read", () => {
  let tokenA: string;
  let tokenB: string;
  let adminA: string;

  beforeAll(async () => {
    await createTenant(A);
    await createTenant(B);
    tokenA = (await tokenWith(["secrets:read", "secrets:write"], { tenant: A })).token;
    tokenB = (await tokenWith(["secrets:read", "secrets:write"], { tenant: B })).token;
    adminA = (await tokenWith(["auth:admin", "secrets:read", "secrets:write"], { tenant: A, subject: "prefetch-admin" })).token;
    expect((await api("PUT", `/api/v1/secrets/store/${PATH}`, { token: tokenA, body: { value: "a-value" } })).status).toBe(200);
    expect((await api("PUT", `/api/v1/secrets/store/${PATH}`, { token: tokenB, body: { value: "b-value" } })).status).toBe(200);
  });

  it("a read is one D1 statement, a write two (lookup, batch), and each tenant sees its own value", async () => {
    const read = await counted("GET", `/api/v1/secrets/store/${PATH}`, tokenA);
    expect(read.status, read.text).toBe(200);
    expect(JSON.parse(read.text).value).toBe("a-value");
    expect(read.log.length, JSON.stringify(read.log)).toBe(1);
    const readB = await api("GET", `/api/v1/secrets/store/${PATH}`, { token: tokenB });
    expect(readB.body.value).toBe("b-value");

    const write = await counted("PUT", `/api/v1/secrets/store/${PATH}`, tokenA, { value: "a-2" });
    expect(write.status, write.text).toBe(200);
    expect(JSON.parse(write.text).version).toBe(2);
    // The lookup, then one batch (version, secret row, audit copy): no approval or sync query.
    expect(write.log.map((s) => s.sql.slice(0, 30)).length, JSON.stringify(write.log)).toBe(4);
    expect((await api("GET", `/api/v1/secrets/store/${PATH}`, { token: tokenB })).body.version).toBe(1);
  });

  it("a token with no access to the path learns nothing from the prefetched row", async () => {
    const elsewhere = (await tokenWith(["secrets:read", "secrets:write"], { tenant: A, paths: ["other/*"] })).token;
    const read = await api("GET", `/api/v1/secrets/store/${PATH}`, { token: elsewhere });
    expectProblem(read, 403);
    expect(read.text).not.toContain("a-");
    expectProblem(await api("PUT", `/api/v1/secrets/store/${PATH}`, { token: elsewhere, body: { value: "x" } }), 403);
    const writeOnly = (await tokenWith(["secrets:write"], { tenant: A })).token;
    expectProblem(await api("GET", `/api/v1/secrets/store/${PATH}`, { token: writeOnly }), 403);
  });

  it("a revoked token is refused on its very next read and write", async () => {
    const { token, id } = await tokenWith(["secrets:read", "secrets:write"], { tenant: A });
    expect((await api("GET", `/api/v1/secrets/store/${PATH}`, { token })).status).toBe(200);
    expect((await api("DELETE", `/api/v1/tokens/${id}`, { token })).status).toBe(200);
    expectProblem(await api("GET", `/api/v1/secrets/store/${PATH}`, { token }), 401);
    expectProblem(await api("PUT", `/api/v1/secrets/store/${PATH}`, { token, body: { value: "after-revoke" } }), 401);
  });

  it("an approval policy created between two writes guards the second", async () => {
    const guardedPath = "guarded/prefetch/key";
    expect((await api("PUT", `/api/v1/secrets/store/${guardedPath}`, { token: tokenA, body: { value: "g1" } })).status).toBe(200);
    const policy = await api("POST", "/api/v1/secrets/approvals/policies", {
      token: adminA,
      body: { paths: ["guarded/*"], actions: ["rotate"], approvals_required: 1, approvers: { subjects: ["prefetch-admin"] } },
    });
    expect(policy.status, policy.text).toBe(201);
    const second = await api("PUT", `/api/v1/secrets/store/${guardedPath}`, { token: tokenA, body: { value: "g2" } });
    expectProblem(second, 403);
    expect(second.body.type).toContain("approval-required");
  });
});
