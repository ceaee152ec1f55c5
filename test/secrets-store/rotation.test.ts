import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { api, BASE, createTenant, expectProblem, tokenWith, uniquePath } from "../helpers";

const DAY = 86_400_000;
const store = (path: string) => `/api/v1/secrets/store/${path}`;

/** Runs the Worker's cron handler as Cloudflare would, at a time the test chooses. */
async function runSweeper(scheduledTime: number) {
  const ctx = createExecutionContext();
  worker.scheduled(createScheduledController({ scheduledTime, cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Moves a secret's clocks directly in D1. */
const setColumn = (tenant: string, path: string, column: "next_rotation_at" | "expires_at", value: number) =>
  env.DB.prepare(`UPDATE secrets SET ${column} = ? WHERE tenant_id = ? AND path = ?`).bind(value, tenant, path).run();

describe("rotation policies, pending rotation, expiry and stats", () => {
  it("sets next_rotation_at from each new version", async () => {
    const path = uniquePath("policy");
    const created = await api("POST", store(path), { body: { value: "v1", rotation_policy: "ON_DEMAND", rotation_days: 10 } });
    expect(Date.parse(created.body.next_rotation_at) - Date.parse(created.body.created_at)).toBe(10 * DAY);
    const written = await api("PUT", store(path), { body: { value: "v2" } });
    expect(Date.parse(written.body.next_rotation_at) - Date.parse(written.body.updated_at)).toBe(10 * DAY);
    const manual = await api("POST", store(uniquePath("policy")), { body: { value: "v1" } });
    expect(manual.body).toMatchObject({ rotation_policy: "MANUAL", rotation_days: null, next_rotation_at: null });
  });

  it("lists pending rotations, expiring secrets and stats against a clock set in D1", async () => {
    const tenant = `rot-${Date.now().toString(36)}`;
    await createTenant(tenant);
    const { token } = await tokenWith(["secrets:read", "secrets:write", "secrets:delete"], { tenant });
    const put = (path: string, body: object) => api("PUT", store(path), { token, body: { value: "v", ...body } });
    await put("svc/due", { type: "API_KEY", environment: "production", rotation_policy: "MANUAL", rotation_days: 30 });
    await put("svc/not-due", { type: "API_KEY", environment: "production", rotation_days: 30 });
    await put("svc/soon", { type: "DATABASE_CREDENTIAL", environment: "staging" });
    await put("svc/later", { type: "CERTIFICATE" });
    await put("svc/expired", {});
    await put("svc/deleted-due", { rotation_days: 1 });
    await put("svc/due", {}); // a second version
    const now = Date.now();
    await setColumn(tenant, "svc/due", "next_rotation_at", now - DAY);
    await setColumn(tenant, "svc/deleted-due", "next_rotation_at", now - DAY);
    await api("DELETE", store("svc/deleted-due"), { token });
    await setColumn(tenant, "svc/soon", "expires_at", now + 3 * DAY);
    await setColumn(tenant, "svc/later", "expires_at", now + 60 * DAY);
    await setColumn(tenant, "svc/expired", "expires_at", now - 1000);

    const pending = await api("GET", "/api/v1/secrets/rotation/pending", { token });
    expect(pending.status, pending.text).toBe(200);
    expect(pending.body.items.map((i: any) => i.path)).toEqual(["svc/due"]);

    const week = await api("GET", "/api/v1/secrets/expiring?within_days=7", { token });
    expect(week.body.items.map((i: any) => [i.path, i.expired])).toEqual([
      ["svc/expired", true],
      ["svc/soon", false],
    ]);
    const quarter = await api("GET", "/api/v1/secrets/expiring?within_days=90", { token });
    expect(quarter.body.items.map((i: any) => i.path)).toEqual(["svc/expired", "svc/soon", "svc/later"]);
    expectProblem(await api("GET", "/api/v1/secrets/expiring?within_days=-1", { token }), 400);

    expectProblem(await api("GET", store("svc/expired"), { token }), 410);
    expect((await api("GET", `${store("svc/expired")}?include_expired=true`, { token })).status).toBe(200);

    const stats = await api("GET", "/api/v1/secrets/stats", { token });
    expect(stats.status, stats.text).toBe(200);
    expect(stats.body).toMatchObject({
      secrets: 5,
      deleted: 1,
      pending_rotation: 1,
      expiring_30_days: 1,
      expired: 1,
      total_versions: 7, // versions of soft-deleted paths are still stored
      by_environment: { production: 2, staging: 1, "(none)": 2 },
    });
    expect(stats.body.by_type).toMatchObject({ API_KEY: 2, DATABASE_CREDENTIAL: 1, CERTIFICATE: 1, CUSTOM: 1 });

    const limited = await tokenWith(["secrets:read"], { tenant, paths: ["svc/soon"] });
    const limitedStats = await api("GET", "/api/v1/secrets/stats", { token: limited.token });
    expect(limitedStats.body).toMatchObject({ secrets: 1, total_versions: 1, pending_rotation: 0 });
  });
});

describe("generated values and AUTOMATIC rotation by the cron sweeper", () => {
  describe("AUTOMATIC without a rotation period is refused (422), so it can never silently not rotate", () => {
    it("PATCH .../metadata {rotation_policy: AUTOMATIC} without rotation_days: 422, and the secret stays MANUAL", async () => {
      const path = uniquePath("auto");
      await api("POST", store(path), { body: { generate: { length: 32 } } });
      const res = await api("PATCH", `${store(path)}/metadata`, { body: { rotation_policy: "AUTOMATIC" } });
      expectProblem(res, 422);
      expect(res.body.type).toBe(`${BASE}/problems/rotation-period-required`);
      expect((await api("GET", store(path))).body).toMatchObject({ rotation_policy: "MANUAL", rotation_days: null });
      // Clearing the period of an AUTOMATIC secret is refused the same way.
      expect((await api("PATCH", `${store(path)}/metadata`, { body: { rotation_policy: "AUTOMATIC", rotation_days: 30 } })).status).toBe(200);
      expectProblem(await api("PATCH", `${store(path)}/metadata`, { body: { rotation_days: null } }), 422);
    });

    it("accepts AUTOMATIC when the period is already known, and then the sweeper rotates it", async () => {
      const path = uniquePath("auto");
      await api("POST", store(path), { body: { generate: { length: 32 }, rotation_days: 30 } });
      const res = await api("PATCH", `${store(path)}/metadata`, { body: { rotation_policy: "AUTOMATIC" } });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ rotation_policy: "AUTOMATIC", rotation_days: 30 });
      await setColumn("default", path, "next_rotation_at", Date.now() - 1000);
      await runSweeper(Date.now());
      expect((await api("GET", store(path))).body.current_version).toBe(2);
    });

    it("refuses it on create, write and import too, writing nothing", async () => {
      const path = uniquePath("auto");
      expectProblem(await api("POST", store(path), { body: { value: "v", rotation_policy: "AUTOMATIC" } }), 422);
      expectProblem(await api("PUT", store(path), { body: { value: "v", rotation_policy: "AUTOMATIC" } }), 422);
      expect((await api("GET", store(path))).status).toBe(404);
      const prefix = uniquePath("autoimp");
      const imported = await api("POST", "/api/v1/secrets/store/import", {
        body: { prefix, values: { ok: "x", bad: { value: "y", rotation_policy: "AUTOMATIC" } } },
      });
      expectProblem(imported, 422);
      expect(imported.body.path).toBe(`${prefix}/bad`);
      expect((await api("GET", store(`${prefix}/ok`))).status).toBe(404);
    });
  });

  it.each([
    ["alnum", /^[A-Za-z0-9]{32}$/],
    ["hex", /^[0-9a-f]{32}$/],
    ["base64url", /^[A-Za-z0-9_-]{32}$/],
    ["ascii", /^[\x21-\x7e]{32}$/],
  ] as const)("generates a %s value", async (charset, pattern) => {
    const path = uniquePath("gen");
    const res = await api("POST", store(path), { body: { generate: { length: 32, charset } } });
    expect(res.status, res.text).toBe(201);
    expect((await api("GET", store(path))).body.value).toMatch(pattern);
  });

  it.each([{ generate: { length: 4 } }, { generate: { length: 32, charset: "emoji" } }, { value: "x", generate: {} }, {}])("rejects %j", async (body) => {
    expectProblem(await api("POST", store(uniquePath("genbad")), { body }), 400);
  });

  it("rotates a due AUTOMATIC generated secret exactly once even when the sweeper runs twice", async () => {
    const path = uniquePath("auto");
    await api("POST", store(path), { body: { generate: { length: 48, charset: "hex" }, rotation_policy: "AUTOMATIC", rotation_days: 30 } });
    const manual = uniquePath("auto-manual");
    await api("POST", store(manual), { body: { generate: { length: 48 }, rotation_policy: "MANUAL", rotation_days: 30 } });
    const handWritten = uniquePath("auto-value");
    await api("POST", store(handWritten), { body: { value: "typed-by-hand", rotation_policy: "AUTOMATIC", rotation_days: 30 } });
    const before = (await api("GET", store(path))).body.value;

    // The sweep runs 31 days from now: everything above is due.
    const sweepAt = Date.now() + 31 * DAY;
    await runSweeper(sweepAt);
    await runSweeper(sweepAt);

    const after = await api("GET", store(path));
    expect(after.body.version).toBe(2);
    expect(after.body.value).toMatch(/^[0-9a-f]{48}$/);
    expect(after.body.value).not.toBe(before);
    expect(after.body.version_created_by).toBe("system");
    expect(Date.parse(after.body.next_rotation_at)).toBe(sweepAt + 30 * DAY);
    expect((await api("GET", `${store(path)}/versions`)).body.items.length).toBe(2);
    const audit = await api("GET", `/api/v1/audit?path=${path}&action=secret.rotate`);
    expect(audit.body.items.map((e: any) => [e.actor, e.detail.version])).toEqual([["system", 2]]);
    // MANUAL and hand-written values are never rotated by the sweeper.
    expect((await api("GET", store(manual))).body.version).toBe(1);
    expect((await api("GET", store(handWritten))).body.version).toBe(1);

    // Not due yet at the next sweep; due again 30 days later.
    await runSweeper(sweepAt + DAY);
    expect((await api("GET", store(path))).body.version).toBe(2);
    await runSweeper(sweepAt + 30 * DAY);
    expect((await api("GET", store(path))).body.version).toBe(3);
  });

  it("creates exactly one version when two sweeps race", async () => {
    const path = uniquePath("autorace");
    await api("POST", store(path), { body: { generate: { length: 32 }, rotation_policy: "AUTOMATIC", rotation_days: 1 } });
    const sweepAt = Date.now() + 2 * DAY;
    await Promise.all([runSweeper(sweepAt), runSweeper(sweepAt)]);
    expect((await api("GET", store(path))).body.version).toBe(2);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM secret_versions WHERE path = ?").bind(path).first<{ n: number }>();
    expect(rows!.n).toBe(2);
  });

  it("leaves a soft-deleted AUTOMATIC secret alone", async () => {
    const path = uniquePath("autodeleted");
    await api("POST", store(path), { body: { generate: { length: 32 }, rotation_policy: "AUTOMATIC", rotation_days: 1 } });
    await api("DELETE", store(path));
    await runSweeper(Date.now() + 2 * DAY);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM secret_versions WHERE path = ?").bind(path).first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });
});
