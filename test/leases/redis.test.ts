import { expect, it, vi } from "vitest";
import { RespConnection, RedisError } from "../../src/leases/providers/redis";
import { describeWithService } from "../support/requires-service";
import { api } from "../helpers";
import { issue, leaseRow, uniqueName, waitFor } from "./helpers";

vi.setConfig({ testTimeout: 30_000 });

async function as(user: string, password: string, ...command: string[]) {
  const conn = await RespConnection.open("127.0.0.1", 6379);
  try {
    const auth = await conn.command("AUTH", user, password);
    if (auth instanceof RedisError) throw auth;
    return await conn.command(...command);
  } finally {
    await conn.close();
  }
}

describeWithService("redis", "redis provider", () => {
  async function provider() {
    const name = uniqueName("redis");
    const res = await api("POST", "/api/v1/secrets/providers", {
      body: {
        name,
        kind: "redis",
        config: { url: "redis://127.0.0.1:6379", user_prefix: `hush-${name}-` },
        roles: { app: { max_ttl_seconds: 600, commands: ["+get", "+set"], key_patterns: ["app:*"] } },
      },
    });
    expect(res.status, res.text).toBe(201);
    return name;
  }

  it("issues an ACL user limited to its commands and keys, which stops after revoke", async () => {
    const name = await provider();
    const lease = await issue(name, "app", 600);
    const { username, password } = lease.credential as { username: string; password: string };
    expect(await as(username, password, "SET", "app:x", "1")).toBe("OK");
    expect(await as(username, password, "GET", "app:x")).toBe("1");
    expect(await as(username, password, "GET", "other:x")).toBeInstanceOf(RedisError); // key pattern
    expect(await as(username, password, "FLUSHALL")).toBeInstanceOf(RedisError); // command rule
    const health = await api("GET", "/api/v1/secrets/providers/health");
    expect(health.body.items.find((i: { name: string }) => i.name === name)).toMatchObject({ status: "ok" });
    expect((await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`)).status).toBe(202);
    await waitFor("revoked", async () => (await leaseRow(lease.lease_id)).state === "revoked");
    await expect(as(username, password, "PING")).rejects.toThrow(/WRONGPASS/);
  });

  it("deletes the user when the lease expires", async () => {
    const name = await provider();
    const lease = await issue(name, "app", 1);
    const { username, password } = lease.credential as { username: string; password: string };
    expect(await as(username, password, "SET", "app:y", "1")).toBe("OK");
    await waitFor("expired", async () => (await leaseRow(lease.lease_id)).state === "expired", 25_000);
    await expect(as(username, password, "PING")).rejects.toThrow(/WRONGPASS/);
  });
});

it("refuses Redis ACL rules that are not +/- command rules", async () => {
  const res = await api("POST", "/api/v1/secrets/providers", {
    body: {
      name: uniqueName("redis"),
      kind: "redis",
      config: { url: "redis://127.0.0.1:6379" },
      roles: { app: { max_ttl_seconds: 60, commands: ["allcommands", "on >pw"] } },
    },
  });
  expect(res.status).toBe(400);
});
