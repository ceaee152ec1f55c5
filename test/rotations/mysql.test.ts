import { describe, expect, it, vi } from "vitest";
import { MysqlConnection } from "../../src/leases/providers/mysql-wire";
import { describeWithService } from "../support/requires-service";
import { api } from "../helpers";
import { issue, leaseRow, waitFor } from "../leases/helpers";
import { bind, currentCredential, runDirect, runRow, store, sweepLater, unique } from "./helpers";
import type { Faults } from "../../src/rotations/engine";

vi.setConfig({ testTimeout: 30_000 });

// The machine's MariaDB: root without a password on 127.0.0.1:3306.
const ROOT_URL = "mysql://root@127.0.0.1:3306/";
const DATABASE = "hush_rotations_test";

async function asRoot(...statements: string[]) {
  const conn = await MysqlConnection.connect({ host: "127.0.0.1", port: 3306, user: "root", password: "" });
  try {
    for (const statement of statements) await conn.query(statement);
  } finally {
    await conn.close();
  }
}

/** Logs in and probes; resolves "1" or rejects with the server's error (SQLSTATE 28000: bad password, no such or locked account). */
async function login(user: string, password: string, database?: string) {
  const conn = await MysqlConnection.connect({ host: "127.0.0.1", port: 3306, user, password, database });
  try {
    const rows = await conn.query(database ? "SELECT answer FROM hush_probe" : "SELECT 1 AS answer");
    return rows[0]!.answer;
  } finally {
    await conn.close();
  }
}

async function provider(
  roles: Record<string, unknown> = { reader: { max_ttl_seconds: 600, mysql_grants: [{ privileges: ["SELECT"], on: `${DATABASE}.*` }] } },
) {
  const name = unique("my-");
  const res = await api("POST", "/api/v1/secrets/providers", {
    body: { name, kind: "mysql", config: { connection_url: ROOT_URL, user_prefix: `h${unique("").slice(-5)}_` }, roles },
  });
  expect(res.status, res.text).toBe(201);
  return name;
}

describeWithService("mariadb", "mysql provider and static rotation (MariaDB)", () => {
  it("dynamic: the leased account reads what it was granted, and stops after revoke", async () => {
    await asRoot(
      `CREATE DATABASE IF NOT EXISTS ${DATABASE}`,
      `CREATE TABLE IF NOT EXISTS ${DATABASE}.hush_probe (answer int NOT NULL)`,
      `INSERT INTO ${DATABASE}.hush_probe SELECT 42 FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM ${DATABASE}.hush_probe)`,
    );
    const name = await provider();
    const lease = await issue(name, "reader", 600);
    const credential = lease.credential as { username: string; password: string };
    expect(await login(credential.username, credential.password, DATABASE)).toBe("42");
    const health = await api("GET", "/api/v1/secrets/providers/health");
    expect(health.body.items.find((i: { name: string }) => i.name === name)).toMatchObject({ status: "ok" });
    expect((await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`)).status).toBe(202);
    await waitFor("revoked", async () => (await leaseRow(lease.lease_id)).state === "revoked");
    await expect(login(credential.username, credential.password)).rejects.toMatchObject({ sqlState: "28000" });
  });

  it("dynamic: the leased account stops working when the lease expires (DROP USER from the lease alarm)", async () => {
    const name = await provider();
    const lease = await issue(name, "reader", 1);
    const credential = lease.credential as { username: string; password: string };
    expect(await login(credential.username, credential.password)).toBe("1");
    await waitFor("expired", async () => (await leaseRow(lease.lease_id)).state === "expired", 25_000);
    await expect(login(credential.username, credential.password)).rejects.toMatchObject({ sqlState: "28000" });
    // Gone from the server, not merely locked or with a changed password.
    const root = await MysqlConnection.connect({ host: "127.0.0.1", port: 3306, user: "root", password: "" });
    try {
      expect(await root.query(`SELECT User FROM mysql.user WHERE User = '${credential.username}'`)).toHaveLength(0);
    } finally {
      await root.close();
    }
  });

  async function setup(strategy: "single" | "alternate", grace = 0) {
    const name = await provider();
    const stem = unique("hs").slice(0, 20);
    const users = strategy === "single" ? [`${stem}_app`] : [`${stem}_a`, `${stem}_b`];
    const initial = `init${unique("pw")}`;
    await asRoot(
      ...users.map((u) => `CREATE USER '${u}'@'%' IDENTIFIED BY '${initial}'`),
      ...(strategy === "alternate" ? [`ALTER USER '${users[1]}'@'%' ACCOUNT LOCK`] : []),
    );
    const key = `db/${unique("my")}`;
    const created = await api("POST", store(key), { body: { value: JSON.stringify({ username: users[0], password: initial, host: "127.0.0.1" }) } });
    expect(created.status, created.text).toBe(201);
    expect((await bind(key, name, strategy, users, grace)).status).toBe(200);
    return { name, key, users, oldPassword: initial };
  }

  it("single: the new password logs in and the old one is refused", async () => {
    const { name, key, users, oldPassword } = await setup("single");
    const res = await api("POST", "/api/v1/secrets/rotations", { body: { provider: name, key, old_ref: `${key}@1` } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ old_ref: `${key}@1`, new_ref: `${key}@2`, completed: true, rolled_back: false, failed_phase: null });
    const now = await currentCredential(key);
    expect(res.text).not.toContain(now.password);
    expect(await login(now.username, now.password)).toBe("1");
    await expect(login(users[0]!, oldPassword)).rejects.toMatchObject({ sqlState: "28000" });
  });

  it("a/b: the old account works through the grace period and is locked after retire", async () => {
    const { name, key, users, oldPassword } = await setup("alternate", 60);
    const res = await api("POST", "/api/v1/secrets/rotations", { body: { provider: name, key } });
    expect(res.status, res.text).toBe(200);
    const now = await currentCredential(key);
    expect(now.username).toBe(users[1]);
    expect(await login(now.username, now.password)).toBe("1");
    expect(await login(users[0]!, oldPassword)).toBe("1");
    await sweepLater(61_000 + 150_000);
    expect((await runRow(res.body.rotation_id)).state).toBe("completed");
    await expect(login(users[0]!, oldPassword)).rejects.toBeTruthy();
  });

  it("an injected verify failure rolls back and leaves the old password working", async () => {
    const { key, users, oldPassword } = await setup("single");
    const { run } = await runDirect(key, { fail: "verify" });
    expect(run).toMatchObject({ state: "rolled_back", failedPhase: "verify", republishedVersion: 3 });
    expect(await currentCredential(key)).toMatchObject({ username: users[0], password: oldPassword });
    expect(await login(users[0]!, oldPassword)).toBe("1");
  });

  const crashes: [string, Faults][] = [
    ["between stage and cutover", { crashAfterCommit: "stage" }],
    ["between cutover and verify", { crashAfterCommit: "cutover" }],
    ["between verify and retire", { crashAfterCommit: "verify" }],
  ];
  it.each(crashes)("single: a crash %s ends in a working published password", async (_, faults) => {
    const { key, users, oldPassword } = await setup("single");
    const { crash, id } = await runDirect(key, faults);
    expect(crash?.name).toBe("InjectedCrash");
    await sweepLater();
    expect((await runRow(id)).state).toBe("completed");
    const now = await currentCredential(key);
    expect(await login(now.username, now.password)).toBe("1");
    await expect(login(users[0]!, oldPassword)).rejects.toMatchObject({ sqlState: "28000" });
  });
});

describe("mysql provider config", () => {
  it("refuses grants beyond data access and names that could break out of a literal", async () => {
    const bad = await api("POST", "/api/v1/secrets/providers", {
      body: {
        name: unique("my-"),
        kind: "mysql",
        config: { connection_url: ROOT_URL },
        roles: { r: { max_ttl_seconds: 60, mysql_grants: [{ privileges: ["ALL PRIVILEGES"], on: "*.*" }] } },
      },
    });
    expect(bad.status).toBe(400);
    const quote = await api("POST", "/api/v1/secrets/providers", {
      body: { name: unique("my-"), kind: "mysql", config: { connection_url: ROOT_URL, user_host: "%' OR '1" }, roles: { r: { max_ttl_seconds: 60 } } },
    });
    expect(quote.status).toBe(400);
  });
});
