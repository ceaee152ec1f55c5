import { once } from "node:events";
import net from "node:net";
import postgres from "postgres";
import { describe, expect, inject, it, vi } from "vitest";
import { api, expectProblem } from "../helpers";
import { PG_READER_ROLE } from "./fixtures";
import { issue, leaseRow, uniqueName, waitFor } from "./helpers";

// Revocations travel through the real queue (batch timeout 1 s): allow for a few rounds.
vi.setConfig({ testTimeout: 30_000 });

/** Connects from workerd over TCP, as an application holding the credential would. */
async function query(url: string): Promise<number> {
  const sql = postgres(url, {
    max: 1,
    fetch_types: false,
    connect_timeout: 5,
    onnotice: () => {},
    socket: async ({ host, port }: { host: string[]; port: number[] }) => {
      const socket = net.connect(port[0]!, host[0]!);
      await once(socket, "connect");
      return socket;
    },
  } as postgres.Options<{}>);
  try {
    const [row] = await sql`SELECT answer FROM hush_probe`;
    return row!.answer as number;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

async function postgresProvider() {
  const name = uniqueName("pg");
  // A per-run prefix: parallel runs on the same server never touch each other's roles.
  const prefix = `hush_t${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}_`;
  const res = await api("POST", "/api/v1/secrets/providers", {
    body: {
      name,
      kind: "postgresql",
      config: { connection_url: inject("pgProvisionerUrl"), role_prefix: prefix },
      roles: { reader: { max_ttl_seconds: 3600, grants: [PG_READER_ROLE] } },
    },
  });
  expect(res.status, res.text).toBe(201);
  return { name, prefix };
}

describe("postgresql provider", () => {
  it("issues a login role that can query, and after revoke cannot log in", async () => {
    const { name, prefix } = await postgresProvider();
    const lease = await issue(name, "reader", 600);
    const credential = lease.credential as { username: string; password: string; connection_url: string; database: string };
    expect(credential.username.startsWith(prefix)).toBe(true);
    expect(credential.password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(await query(credential.connection_url)).toBe(42);
    expect((await leaseRow(lease.lease_id)).externalId).toBe(credential.username);

    const revoke = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`);
    expect(revoke.status).toBe(202);
    await waitFor("revoked", async () => (await leaseRow(lease.lease_id)).state === "revoked");
    await expect(query(credential.connection_url)).rejects.toMatchObject({ code: "28000" });
  });

  it("renews the role's VALID UNTIL and reports healthy", async () => {
    const { name } = await postgresProvider();
    const lease = await issue(name, "reader", 600);
    const renewed = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/renew`, { body: { extend_seconds: 600 } });
    expect(renewed.status, renewed.text).toBe(200);
    const health = await api("GET", "/api/v1/secrets/providers/health");
    expect(health.body.items.find((i: { name: string }) => i.name === name)).toMatchObject({ status: "ok" });
    await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`);
    await waitFor("revoked", async () => (await leaseRow(lease.lease_id)).state === "revoked");
  });

  it("fails the issue with 502 and a safe message when the grant does not exist, and cleans up", async () => {
    const name = uniqueName("pg");
    const res = await api("POST", "/api/v1/secrets/providers", {
      body: {
        name,
        kind: "postgresql",
        config: { connection_url: inject("pgProvisionerUrl"), role_prefix: `hush_t${Date.now().toString(36)}_` },
        roles: { bad: { max_ttl_seconds: 60, grants: ["no_such_role_anywhere"] } },
      },
    });
    expect(res.status).toBe(201);
    const failed = await api("POST", "/api/v1/secrets/leases", { body: { provider: name, role: "bad", ttl_seconds: 30 } });
    expectProblem(failed, 502);
    expect(failed.body.detail).toContain("(42704)");
    expect(failed.text).not.toContain("PASSWORD");
    await waitFor("cleaned up", async () => (await leaseRow(failed.body.lease_id)).state === "revoked");
  });
});
