import { env } from "cloudflare:workers";
import { describe, expect, inject, it, vi } from "vitest";
import { api, expectProblem, tokenWith } from "../helpers";
import { asProvisioner, pgLogin } from "./pg";
import { auditText, bind, currentCredential, db, rotationRowsText, runDirect, runRow, store, sweepLater, unique } from "./helpers";
import type { Faults } from "../../src/rotations/engine";
import { auditDb } from "../support/audit-store";

vi.setConfig({ testTimeout: 30_000 });

const base = () => inject("pgProvisionerUrl");

async function provider() {
  const name = unique("pgrot-");
  const res = await api("POST", "/api/v1/secrets/providers", {
    body: { name, kind: "postgresql", config: { connection_url: base(), role_prefix: "hush_unused_" }, roles: { none: { max_ttl_seconds: 60 } } },
  });
  expect(res.status, res.text).toBe(201);
  return name;
}

/** Login roles made by the provisioner, a secret at a fresh key holding the first one, and the binding. */
async function setup(strategy: "single" | "alternate", grace = 0) {
  const name = await provider();
  const stem = unique("hush_s");
  const users = strategy === "single" ? [`${stem}_app`] : [`${stem}_a`, `${stem}_b`];
  const initial = `init${unique("pw")}`;
  await asProvisioner(base(), ...users.map((u, i) => `CREATE ROLE "${u}" ${i === 0 ? "LOGIN" : "NOLOGIN"} PASSWORD '${initial}${i}'`));
  const key = `db/${unique("reporting")}`;
  const url = new URL(base());
  url.username = users[0]!;
  url.password = `${initial}0`;
  const created = await api("POST", store(key), {
    body: { value: JSON.stringify({ username: users[0], password: `${initial}0`, connection_url: url.toString() }) },
  });
  expect(created.status, created.text).toBe(201);
  const bound = await bind(key, name, strategy, users, grace);
  expect(bound.status, bound.text).toBe(200);
  return { name, key, users, oldPassword: `${initial}0` };
}

const rotate = (body: Record<string, unknown>, token?: string) => api("POST", "/api/v1/secrets/rotations", { body, token });

describe("static rotation, PostgreSQL", () => {
  it("single role: the new password logs in, the old one stops, and the credential appears in no response, audit row or run row", async () => {
    const { name, key, users, oldPassword } = await setup("single");
    const res = await rotate({ provider: name, key, old_ref: `${key}@1` });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      old_ref: `${key}@1`,
      new_ref: `${key}@2`,
      current_ref: `${key}@2`,
      completed: true,
      rolled_back: false,
      failed_phase: null,
      state: "completed",
    });
    const now = await currentCredential(key);
    expect(now.username).toBe(users[0]);
    expect(now.password).not.toBe(oldPassword);
    expect(new URL(now.connection_url!).password).toBe(now.password);
    expect(await pgLogin(base(), now.username, now.password)).toBe(1);
    // A server with trust authentication (this machine's) accepts any password: only one that checks can show it.
    const checksPasswords = await pgLogin(base(), users[0]!, "not-the-password").then(
      () => false,
      () => true,
    );
    if (checksPasswords) await expect(pgLogin(base(), users[0]!, oldPassword)).rejects.toMatchObject({ code: "28P01" });
    else console.info("postgresql: the server trusts every password here; the old password's refusal is shown by the MariaDB suite");
    expect(res.text).not.toContain(now.password);
    expect(await auditText()).not.toContain(now.password);
    expect(await rotationRowsText()).not.toContain(now.password);
    // The sealed passwords are shredded once the run is over.
    expect((await runRow(res.body.rotation_id)).staged).toBeNull();
    const actions = (
      await auditDb.prepare("SELECT action FROM audit_events WHERE resource = ? ORDER BY rowid").bind(`rotation:${res.body.rotation_id}`).all()
    ).results.map((r) => r.action);
    expect(actions).toEqual(["rotation.start", "rotation.stage", "rotation.cutover", "rotation.verify", "rotation.retire", "rotation.complete"]);
  });

  it("a/b roles: the old login works through the grace period and stops when the sweeper retires it", async () => {
    const { name, key, users, oldPassword } = await setup("alternate", 60);
    const res = await rotate({ provider: name, key });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ completed: true, state: "running", phase: "retire" });
    expect(res.body.retire_at).not.toBeNull();
    const now = await currentCredential(key);
    expect(now.username).toBe(users[1]);
    expect(await pgLogin(base(), now.username, now.password)).toBe(1);
    // Grace: connections opened with the old login keep working.
    expect(await pgLogin(base(), users[0]!, oldPassword)).toBe(1);
    await sweepLater(61_000 + 150_000);
    expect((await runRow(res.body.rotation_id)).state).toBe("completed");
    await expect(pgLogin(base(), users[0]!, oldPassword)).rejects.toMatchObject({ code: "28000" });
    expect(await pgLogin(base(), now.username, now.password)).toBe(1);
    // The next rotation goes back to a.
    const again = await rotate({ provider: name, key, old_ref: `${key}@2` });
    expect(again.status, again.text).toBe(200);
    expect((await currentCredential(key)).username).toBe(users[0]);
  });

  it("an injected verify failure rolls back: the previous version is republished and the old login works", async () => {
    const { key, users, oldPassword } = await setup("single");
    const { run } = await runDirect(key, { fail: "verify" });
    expect(run).toMatchObject({ state: "rolled_back", failedPhase: "verify", newVersion: 2, republishedVersion: 3 });
    const now = await currentCredential(key);
    expect(now).toMatchObject({ version: 3, username: users[0], password: oldPassword });
    expect(await pgLogin(base(), users[0]!, oldPassword)).toBe(1);
  });

  it("an injected cutover failure (a/b) rolls back: nothing is published and the staged login is disabled again", async () => {
    const { key, users, oldPassword } = await setup("alternate", 0);
    const { run } = await runDirect(key, { fail: "cutover" });
    expect(run).toMatchObject({ state: "rolled_back", failedPhase: "cutover", newVersion: null });
    expect(await currentCredential(key)).toMatchObject({ version: 1, username: users[0], password: oldPassword });
    expect(await pgLogin(base(), users[0]!, oldPassword)).toBe(1);
  });

  it("a real verify failure (the b login cannot connect to the database) rolls back through the API with a 502 naming the phase", async () => {
    const { name, key, users, oldPassword } = await setup("alternate", 0);
    const database = new URL(base()).pathname.slice(1);
    await asProvisioner(
      base(),
      `REVOKE CONNECT ON DATABASE "${database}" FROM PUBLIC`,
      `GRANT CONNECT ON DATABASE "${database}" TO "${users[0]}"`,
      `GRANT CONNECT ON DATABASE "${database}" TO hush_test_provisioner`,
    ).catch(() => {});
    const res = await rotate({ provider: name, key });
    // Restore PUBLIC's CONNECT for the other suites before asserting.
    await asProvisioner(base(), `GRANT CONNECT ON DATABASE "${database}" TO PUBLIC`).catch(() => {});
    if (res.status === 200) return; // the provisioner could not revoke PUBLIC's CONNECT on this server: covered by the injected failure above
    expectProblem(res, 502);
    expect(res.body).toMatchObject({
      completed: false,
      rolled_back: true,
      failed_phase: "verify",
      old_ref: `${key}@1`,
      new_ref: `${key}@2`,
      current_ref: `${key}@3`,
    });
    expect(await currentCredential(key)).toMatchObject({ username: users[0], password: oldPassword });
    expect(await pgLogin(base(), users[0]!, oldPassword)).toBe(1);
  });

  const crashes: [string, Faults][] = [
    ["after stage's database call, before its commit", { crashAfterEffect: "stage" }],
    ["between stage and cutover", { crashAfterCommit: "stage" }],
    ["between cutover and verify", { crashAfterCommit: "cutover" }],
    ["after verify's login, before its commit", { crashAfterEffect: "verify" }],
    ["between verify and retire", { crashAfterCommit: "verify" }],
    ["after retire's database call, before its commit", { crashAfterEffect: "retire" }],
  ];
  for (const strategy of ["single", "alternate"] as const) {
    it.each(crashes)(`${strategy}: a crash %s ends, after the sweeper, in a working published login`, async (_, faults) => {
      const { key, users, oldPassword } = await setup(strategy, 0);
      const { crash, id } = await runDirect(key, faults);
      expect(crash?.name).toBe("InjectedCrash");
      await sweepLater();
      const run = await runRow(id);
      expect(run.state).toBe("completed");
      const now = await currentCredential(key);
      expect(now.version).toBe(2);
      expect(await pgLogin(base(), now.username, now.password)).toBe(1);
      if (strategy === "alternate") await expect(pgLogin(base(), users[0]!, oldPassword)).rejects.toMatchObject({ code: "28000" });
    });
  }

  it("a crash in the middle of a rollback is finished by the sweeper: old login republished and working", async () => {
    const { key, users, oldPassword } = await setup("single");
    const { crash, id } = await runDirect(key, { fail: "verify", crashAfterEffect: "rollback" });
    expect(crash?.name).toBe("InjectedCrash");
    await sweepLater();
    expect(await runRow(id)).toMatchObject({ state: "rolled_back", failedPhase: "verify", republishedVersion: 3 });
    expect(await currentCredential(key)).toMatchObject({ version: 3, password: oldPassword });
    expect(await pgLogin(base(), users[0]!, oldPassword)).toBe(1);
  });

  it("a secret written by someone else during the rotation fails the cutover and rolls back without overwriting it", async () => {
    const { key, users, oldPassword } = await setup("single");
    const { crash, id } = await runDirect(key, { crashAfterCommit: "stage" });
    expect(crash?.name).toBe("InjectedCrash");
    const other = JSON.stringify({ username: users[0], password: oldPassword, note: "edited by hand" });
    expect((await api("PUT", store(key), { body: { value: other } })).status).toBe(200);
    await sweepLater();
    expect(await runRow(id)).toMatchObject({ state: "rolled_back", failedPhase: "cutover" });
    expect(await currentCredential(key)).toMatchObject({ version: 2, password: oldPassword });
    expect(await pgLogin(base(), users[0]!, oldPassword)).toBe(1);
  });

  it("rotates on schedule: an AUTOMATIC secret that is due is rotated by the sweeper as system", async () => {
    const { key } = await setup("single");
    await api("PATCH", `/api/v1/secrets/store/${key}/metadata`, { body: { rotation_policy: "AUTOMATIC", rotation_days: 30 } });
    await env.DB.prepare("UPDATE secrets SET rotation_policy = 'AUTOMATIC', rotation_days = 30, next_rotation_at = ? WHERE tenant_id = 'default' AND path = ?")
      .bind(Date.now() - 1000, key)
      .run();
    const result = await sweepLater(0);
    expect(result.started).toBeGreaterThanOrEqual(1);
    const now = await currentCredential(key);
    expect(now.version).toBe(2);
    expect(await pgLogin(base(), now.username, now.password)).toBe(1);
    const row = await env.DB.prepare("SELECT next_rotation_at FROM secrets WHERE tenant_id = 'default' AND path = ?")
      .bind(key)
      .first<{ next_rotation_at: number }>();
    expect(row!.next_rotation_at).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const rotations = await api("GET", `/api/v1/secrets/rotations?key=${encodeURIComponent(key)}`);
    expect(rotations.body.items[0]).toMatchObject({ state: "completed", created_by: "system" });
  });
});

describe("static rotation: who may rotate what", () => {
  it("a token with write on another path cannot rotate the key, nor read the run", async () => {
    const { name, key } = await setup("single");
    const other = await tokenWith(["secrets:write", "secrets:read"], { paths: ["db/other/*"] });
    const res = await rotate({ provider: name, key }, other.token);
    expectProblem(res, 403);
    expect((await currentCredential(key)).version).toBe(1);
    const mine = await rotate({ provider: name, key });
    expectProblem(await api("GET", `/api/v1/secrets/rotations/${mine.body.rotation_id}`, { token: other.token }), 403);
  });

  it("a narrow token cannot configure a provider or bind logins to a key, even one it may write", async () => {
    const { name, key, users } = await setup("single");
    const narrow = await tokenWith(["secrets:write", "secrets:read", "leases:write"], { paths: [`${key}`] });
    const provider = await api("POST", "/api/v1/secrets/providers", {
      token: narrow.token,
      body: {
        name: unique("evil-"),
        kind: "postgresql",
        config: { connection_url: "postgres://attacker@127.0.0.1:5432/x" },
        roles: { r: { max_ttl_seconds: 60 } },
      },
    });
    expectProblem(provider, 403);
    // Rebinding the key to the superuser would make its writers able to reset that password.
    expectProblem(await bind(key, name, "single", ["postgres"], 0, narrow.token), 403);
    const bindings = await api("GET", "/api/v1/secrets/rotations/static-roles");
    expect(bindings.body.items.find((b: { key: string }) => b.key === key).usernames).toEqual(users);
  });

  it("old_ref and key only select and confirm: a stale or foreign old_ref is 409, an unbound key 404, another provider 409", async () => {
    const { name, key } = await setup("single");
    const writer = await tokenWith(["secrets:write", "secrets:read"], { paths: ["db/*"] });
    const stale = await rotate({ provider: name, key, old_ref: `${key}@7` }, writer.token);
    expectProblem(stale, 409);
    expect(stale.body.current_ref).toBe(`${key}@1`);
    expectProblem(await rotate({ provider: name, key, old_ref: "postgres" }, writer.token), 409);
    expectProblem(await rotate({ provider: name, key, old_ref: `db/other@1` }, writer.token), 409);
    const unbound = `db/${unique("unbound")}`;
    await api("POST", store(unbound), { body: { value: JSON.stringify({ username: "postgres", password: "x" }) } });
    expectProblem(await rotate({ provider: name, key: unbound }, writer.token), 404);
    const otherProvider = await provider();
    expectProblem(await rotate({ provider: otherProvider, key }, writer.token), 409);
    expect((await currentCredential(key)).version).toBe(1);
    // A secret whose username is not a bound login is refused before the database is touched.
    await api("PUT", store(key), { body: { value: JSON.stringify({ username: "postgres", password: "x" }) } });
    const foreign = await rotate({ provider: name, key }, writer.token);
    expectProblem(foreign, 422);
    expect(foreign.body.type).toContain("not-rotatable");
  });

  it("dual control: an approval policy on the key makes the rotation wait for approval", async () => {
    const { name, key } = await setup("single");
    const policy = await api("POST", "/api/v1/secrets/approvals/policies", {
      body: { paths: [key], actions: ["rotate"], approvals_required: 1, approvers: { subjects: [unique("approver")] } },
    });
    expect(policy.status, policy.text).toBe(201);
    const res = await rotate({ provider: name, key });
    expectProblem(res, 403);
    expect(res.body.approval_request_id).toMatch(/^apr_/);
    expect((await currentCredential(key)).version).toBe(1);
    expect(
      (
        await db()
          .select()
          .from((await import("../../src/db/schema")).staticRotations)
          .all()
      ).some((r) => r.key === key),
    ).toBe(false);
  });
});
