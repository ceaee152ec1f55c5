import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectProblem, tokenWith, uniquePath } from "../helpers";

const IMPORT = "/api/v1/secrets/store/import";
const count = async (sql: string, ...args: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...args)
    .first<{ n: number }>())!.n;

describe("POST /store/import", () => {
  it("imports a tree as version 1 of each path and answers with metadata only", async () => {
    const prefix = uniquePath("imp");
    const res = await api("POST", IMPORT, {
      body: {
        prefix,
        values: {
          "db/password": "canary-import-1",
          "api/key": { value: "canary-import-2", type: "API_KEY", tags: ["svc"], environment: "staging", rotation_days: 7 },
          "hook/secret": { generate: { length: 24, charset: "base64url" }, type: "WEBHOOK_SECRET" },
        },
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.text).not.toContain("canary-import");
    expect(res.body.imported.map((m: any) => m.path).sort()).toEqual([`${prefix}/api/key`, `${prefix}/db/password`, `${prefix}/hook/secret`]);
    const key = await api("GET", `/api/v1/secrets/store/${prefix}/api/key`);
    expect(key.body).toMatchObject({ value: "canary-import-2", version: 1, type: "API_KEY", environment: "staging", tags: ["svc"], rotation_days: 7 });
    expect(key.body.next_rotation_at).not.toBeNull();
    expect((await api("GET", `/api/v1/secrets/store/${prefix}/hook/secret`)).body.value).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });

  it("rejects the whole import when any path exists, listing the conflicts, and writes nothing", async () => {
    const prefix = uniquePath("impconflict");
    await api("PUT", `/api/v1/secrets/store/${prefix}/taken`, { body: { value: "x" } });
    await api("PUT", `/api/v1/secrets/store/${prefix}/deleted`, { body: { value: "x" } });
    await api("DELETE", `/api/v1/secrets/store/${prefix}/deleted`);
    const res = await api("POST", IMPORT, { body: { prefix, values: { fresh: "a", taken: "b", deleted: "c", other: "d" } } });
    expectProblem(res, 409);
    expect(res.body.conflicts).toEqual([`${prefix}/deleted`, `${prefix}/taken`]);
    expect(await count("SELECT COUNT(*) AS n FROM secrets WHERE path IN (?, ?)", `${prefix}/fresh`, `${prefix}/other`)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM secret_versions WHERE path LIKE ?", `${prefix}/%`)).toBe(2);
  });

  it("writes nothing when one entry is invalid", async () => {
    const prefix = uniquePath("impinvalid");
    const res = await api("POST", IMPORT, { body: { prefix, values: { good: "a", "bad//path": "b", "../x": "c" } } });
    expectProblem(res, 400);
    expect(res.body.errors.map((e: any) => e.field).sort()).toEqual(["values.../x", "values.bad//path"]);
    expect(await count("SELECT COUNT(*) AS n FROM secrets WHERE path LIKE ?", `${prefix}/%`)).toBe(0);
    const big = await api("POST", IMPORT, { body: { prefix, values: { good: "a", huge: "x".repeat(64 * 1024 + 1) } } });
    expectProblem(big, 413);
    expect(big.body.path).toBe(`${prefix}/huge`);
    expect(await count("SELECT COUNT(*) AS n FROM secrets WHERE path LIKE ?", `${prefix}/%`)).toBe(0);
  });

  it("takes 1,000 entries in one request larger than the 1 MiB default cap, and refuses 1,001 with 413", async () => {
    const prefix = uniquePath("impbulk");
    const values = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, `${"v".repeat(1500)}${i}`]));
    expect(JSON.stringify({ prefix, values }).length).toBeGreaterThan(1024 * 1024);
    const res = await api("POST", IMPORT, { body: { prefix, values } });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    expect(res.body.imported.length).toBe(1000);
    expect(await count("SELECT COUNT(*) AS n FROM secret_versions WHERE path LIKE ?", `${prefix}/%`)).toBe(1000);
    expect((await api("GET", `/api/v1/secrets/store/${prefix}/k999`)).body.value).toBe(`${"v".repeat(1500)}999`);
    const tooMany = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, "v"]));
    expectProblem(await api("POST", IMPORT, { body: { prefix: uniquePath("impmany"), values: tooMany } }), 413);
  });

  it("replays an import under the same Idempotency-Key instead of answering 409", async () => {
    const prefix = uniquePath("impidem");
    const request = { body: { prefix, values: { a: "1", b: "2" } }, headers: { "idempotency-key": `imp-${prefix}` } };
    const first = await api("POST", IMPORT, request);
    expect(first.status, first.text).toBe(201);
    const again = await api("POST", IMPORT, request);
    expect(again.status, again.text).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expectProblem(await api("POST", IMPORT, { body: request.body }), 409);
  });

  it("keeps the 1 MiB cap on every other route", async () => {
    const res = await api("PUT", `/api/v1/secrets/store/${uniquePath("cap")}`, { body: { value: "x", description: "d".repeat(1024 * 1024) } });
    expectProblem(res, 413);
  });

  it("needs secrets:write on every imported path", async () => {
    const prefix = uniquePath("impglob");
    const { token } = await tokenWith(["secrets:write"], { paths: [`${prefix}/ok/*`] });
    const res = await api("POST", IMPORT, { token, body: { prefix, values: { "ok/a": "1", "no/b": "2" } } });
    expectProblem(res, 403);
    expect(res.body.detail).toContain(`${prefix}/no/b`);
    expect(await count("SELECT COUNT(*) AS n FROM secrets WHERE path LIKE ?", `${prefix}/%`)).toBe(0);
  });
});

describe("GET /export", () => {
  it("exports metadata only by default, and values with include_values and secrets:export, audited per path, re-importable", async () => {
    const prefix = uniquePath("exp");
    await api("POST", IMPORT, {
      body: {
        prefix,
        values: {
          a: "canary-exp-a",
          b: { value: "canary-exp-b", type: "API_KEY", description: "bee", custom_metadata: { o: "t" }, allowed_services: ["billing"] },
        },
      },
    });
    const meta = await api("GET", `/api/v1/secrets/export?prefix=${prefix}/`);
    expect(meta.status, meta.text).toBe(200);
    expect(meta.text).not.toContain("canary-exp");
    expect(meta.body.values[`${prefix}/b`]).toMatchObject({ type: "API_KEY", description: "bee" });

    const reader = await tokenWith(["secrets:read"]);
    expectProblem(await api("GET", `/api/v1/secrets/export?prefix=${prefix}/&include_values=true`, { token: reader.token }), 403);
    const exporter = await tokenWith(["secrets:read", "secrets:export"]);
    const full = await api("GET", `/api/v1/secrets/export?prefix=${prefix}/&include_values=true`, { token: exporter.token });
    expect(full.status, full.text).toBe(200);
    expect(full.body.values[`${prefix}/a`].value).toBe("canary-exp-a");
    const audit = await api("GET", `/api/v1/audit?path=${prefix}/b&action=secret.export`);
    expect(audit.body.items.length).toBe(1);

    // Into another tenant, unchanged.
    await api("POST", "/api/v1/tenants", { body: { id: "export-target" } });
    const target = await tokenWith(["secrets:read", "secrets:write"], { tenant: "export-target" });
    const reimport = await api("POST", IMPORT, { token: target.token, body: full.body });
    expect(reimport.status, reimport.text).toBe(201);
    const copy = await api("GET", `/api/v1/secrets/store/${prefix}/b`, { token: target.token });
    expect(copy.body).toMatchObject({ value: "canary-exp-b", type: "API_KEY", description: "bee", custom_metadata: { o: "t" }, allowed_services: ["billing"] });
  });

  it("skips values it cannot hand out and names them in a header", async () => {
    const prefix = uniquePath("expskip");
    await api("POST", IMPORT, { body: { prefix, values: { live: "1", shredded: "2" } } });
    await api("POST", `/api/v1/secrets/store/destroy/${prefix}/shredded`, { body: { versions: [1] } });
    const res = await api("GET", `/api/v1/secrets/export?prefix=${prefix}/&include_values=true`);
    expect(Object.keys(res.body.values)).toEqual([`${prefix}/live`]);
    expect(res.headers.get("hush-export-skipped")).toBe(`${prefix}/shredded`);
  });
});
