import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, expectProblem, tokenWith } from "../helpers";
import { storedResponse } from "../foundation/stored-response";
import { WEBHOOK_SIGNING_KEY } from "./fixtures";
import { issue, leaseRow, uniqueName, waitFor, webhookCalls, webhookProvider } from "./helpers";

// Revocations travel through the real queue (batch timeout 1 s): allow for a few rounds.
vi.setConfig({ testTimeout: 30_000 });

describe("POST /api/v1/secrets/leases", () => {
  it("issues a credential once, then shows metadata only", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider, "app", 600);
    expect(lease.lease_id).toMatch(/^lease_[0-9a-f]{24}$/);
    expect(lease.renewable).toBe(true);
    expect(Date.parse(lease.expires_at) - Date.now()).toBeGreaterThan(590_000);
    const secret = String(lease.credential.api_key);
    expect(secret).toMatch(/^whk_/);
    expect((await webhookCalls(lease.lease_id)).issue).toBe(1);

    const got = await api("GET", `/api/v1/secrets/leases/${lease.lease_id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ lease_id: lease.lease_id, provider, role: "app", state: "issued", attempts: 0 });
    expect(got.body.credential).toBeUndefined();
    const list = await api("GET", `/api/v1/secrets/leases?provider=${provider}`);
    expect(list.body.items.map((l: { lease_id: string }) => l.lease_id)).toEqual([lease.lease_id]);

    // Revoke, let the real queue deliver it, then look everywhere for the credential.
    const revoked = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`);
    expect(revoked.status, revoked.text).toBe(202);
    await waitFor("revoked", async () => (await leaseRow(lease.lease_id)).state === "revoked");
    const audit = await api("GET", `/api/v1/audit?resource=lease:${lease.lease_id}`);
    for (const text of [got.text, list.text, revoked.text, audit.text]) expect(text).not.toContain(secret);
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'",
    ).all<{ name: string }>();
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).raw();
      expect(JSON.stringify(rows), `table ${name}`).not.toContain(secret);
    }
  });

  it("a replayed lease issue does not return the credential again", async () => {
    const provider = await webhookProvider("ok");
    const headers = { "idempotency-key": `lease-${crypto.randomUUID()}` };
    const body = { provider, role: "app", ttl_seconds: 600 };
    const first = await api("POST", "/api/v1/secrets/leases", { body, headers });
    expect(first.status, first.text).toBe(201);
    const secret = String(first.body.credential.api_key);
    const again = await api("POST", "/api/v1/secrets/leases", { body, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const { credential: _, ...metadata } = first.body;
    expect(again.body).toEqual({ ...metadata, credential_already_issued: true });
    expect(again.text).not.toContain(secret);
    expect(await storedResponse(headers["idempotency-key"])).not.toContain(secret);
    expect((await webhookCalls(first.body.lease_id)).issue).toBe(1);
  });

  it("refuses a TTL beyond the role's max, an unknown provider or role, and unknown fields", async () => {
    const provider = await webhookProvider("ok", { app: { max_ttl_seconds: 60 } });
    expectProblem(await api("POST", "/api/v1/secrets/leases", { body: { provider, role: "app", ttl_seconds: 61 } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/leases", { body: { provider: "nope", role: "app", ttl_seconds: 30 } }), 404);
    expectProblem(await api("POST", "/api/v1/secrets/leases", { body: { provider, role: "other", ttl_seconds: 30 } }), 404);
    expectProblem(await api("POST", "/api/v1/secrets/leases", { body: { provider, role: "app", ttl_seconds: 30, x: 1 } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/leases", { body: { provider, role: "app", ttl_seconds: 0 } }), 400);
  });

  it("needs leases:write to issue and leases:read to look", async () => {
    const provider = await webhookProvider("ok");
    const reader = await tokenWith(["leases:read"]);
    expectProblem(await api("POST", "/api/v1/secrets/leases", { body: { provider, role: "app", ttl_seconds: 30 }, token: reader.token }), 403);
    const writer = await tokenWith(["leases:write"]);
    const lease = await issue(provider, "app", 30, writer.token);
    expectProblem(await api("GET", `/api/v1/secrets/leases/${lease.lease_id}`, { token: writer.token }), 403);
    expect((await api("GET", `/api/v1/secrets/leases/${lease.lease_id}`, { token: reader.token })).status).toBe(200);
    expectProblem(await api("GET", "/api/v1/secrets/leases/lease_000000000000000000000000"), 404);
    expectProblem(await api("GET", "/api/v1/secrets/leases/not-a-lease"), 400);
  });
});

describe("POST /api/v1/secrets/leases/{id}/renew", () => {
  it("moves the expiry and the alarm, up to the role's max TTL; beyond is 400", async () => {
    const provider = await webhookProvider("ok", { app: { max_ttl_seconds: 120 } });
    const lease = await issue(provider, "app", 60);
    const renewed = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/renew`, { body: { extend_seconds: 30 } });
    expect(renewed.status, renewed.text).toBe(200);
    expect(Date.parse(renewed.body.expires_at)).toBe(Date.parse(lease.expires_at) + 30_000);
    expect((await leaseRow(lease.lease_id)).expiresAt).toBe(Date.parse(renewed.body.expires_at));
    const stub = env.LEASE.get(env.LEASE.idFromName(lease.lease_id));
    expect(await stub.dueAt(lease.lease_id)).toBe(Date.parse(renewed.body.expires_at));
    expect((await webhookCalls(lease.lease_id)).renew).toBe(1);

    const beyond = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/renew`, { body: { extend_seconds: 31 } });
    expectProblem(beyond, 400);
    expect(beyond.body.type).toContain("beyond-max-ttl");
    expect((await leaseRow(lease.lease_id)).expiresAt).toBe(Date.parse(renewed.body.expires_at));
  });

  it("refuses to renew a revoked lease", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`);
    expectProblem(await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/renew`, { body: { extend_seconds: 10 } }), 409);
  });
});

describe("POST /api/v1/secrets/leases/{id}/revoke", () => {
  it("revokes at the provider once, clears the alarm, and a second revoke changes nothing", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    const first = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`);
    expect(first.status).toBe(202);
    expect(first.body.state).toBe("revoking");
    const done = await waitFor("revoked", async () => {
      const row = await leaseRow(lease.lease_id);
      return row.state === "revoked" && row;
    });
    expect(done.revokedAt).toBeGreaterThan(0);
    const again = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`);
    expect(again.status).toBe(200);
    expect(again.body.state).toBe("revoked");
    expect((await webhookCalls(lease.lease_id)).revoked).toBe(1);
    const stub = env.LEASE.get(env.LEASE.idFromName(lease.lease_id));
    await waitFor("alarm cleared", async () => (await stub.dueAt(lease.lease_id)) === null);
  });
});

describe("POST /api/v1/secrets/leases/revoke-prefix", () => {
  it("revokes every live lease of a provider's role and leaves the others", async () => {
    const provider = await webhookProvider("ok", { app: { max_ttl_seconds: 600 }, ops: { max_ttl_seconds: 600 } });
    const apps = [await issue(provider, "app"), await issue(provider, "app")];
    const ops = await issue(provider, "ops");
    const res = await api("POST", "/api/v1/secrets/leases/revoke-prefix", { body: { provider, role: "app" } });
    expect(res.status, res.text).toBe(202);
    expect(res.body.count).toBe(2);
    expect([...res.body.lease_ids].sort()).toEqual(apps.map((l) => l.lease_id).sort());
    for (const l of apps) await waitFor("revoked", async () => (await leaseRow(l.lease_id)).state === "revoked");
    expect((await leaseRow(ops.lease_id)).state).toBe("issued");
    const all = await api("POST", "/api/v1/secrets/leases/revoke-prefix", { body: { provider } });
    expect(all.body.lease_ids).toEqual([ops.lease_id]);
  });
});

describe("POST /api/v1/secrets/providers", () => {
  it("seals the config and never returns it", async () => {
    const name = uniqueName("pg");
    // Port 9 on loopback refuses at once: a later health check fails fast, without a DNS lookup.
    const connection = "postgres://admin:Sup3rSecretPw@127.0.0.1:9/app";
    const res = await api("POST", "/api/v1/secrets/providers", {
      body: { name, kind: "postgresql", config: { connection_url: connection }, roles: { ro: { max_ttl_seconds: 600, grants: ["reader"] } } },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.text).not.toContain("Sup3rSecretPw");
    const list = await api("GET", "/api/v1/secrets/providers");
    expect(list.text).not.toContain("Sup3rSecretPw");
    expect(list.body.items.find((p: { name: string }) => p.name === name)).toMatchObject({ kind: "postgresql", roles: { ro: { grants: ["reader"] } } });
    const raw = await env.DB.prepare("SELECT * FROM lease_providers WHERE name = ?").bind(name).raw();
    expect(JSON.stringify(raw)).not.toContain("Sup3rSecretPw");
    const audit = await api("GET", `/api/v1/audit?resource=provider:${name}`);
    expect(audit.text).not.toContain("Sup3rSecretPw");
  });

  it("is operator-only and validates each kind", async () => {
    const writer = await tokenWith(["leases:write", "leases:read"]);
    const body = {
      name: uniqueName("wh"),
      kind: "webhook",
      config: { url: "https://example.com/hook", signing_key: WEBHOOK_SIGNING_KEY },
      roles: { app: { max_ttl_seconds: 60 } },
    };
    expectProblem(await api("POST", "/api/v1/secrets/providers", { body, token: writer.token }), 403);
    expectProblem(await api("POST", "/api/v1/secrets/providers", { body: { ...body, config: { ...body.config, url: "http://example.com/hook" } } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/providers", { body: { ...body, config: { ...body.config, signing_key: "short" } } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/providers", { body: { ...body, kind: "ldap" } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/providers", { body: { ...body, name: "hush-api-key" } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/providers", { body: { ...body, roles: {} } }), 400);
    expect((await api("POST", "/api/v1/secrets/providers", { body })).status).toBe(201);
  });
});

describe("GET /api/v1/secrets/providers/health", () => {
  it("reports ok and error per provider", async () => {
    const up = await webhookProvider("ok");
    const down = await webhookProvider("down");
    const res = await api("GET", "/api/v1/secrets/providers/health");
    expect(res.status, res.text).toBe(200);
    const byName = Object.fromEntries(res.body.items.map((i: { name: string }) => [i.name, i]));
    expect(byName[up]).toMatchObject({ kind: "webhook", status: "ok", error: null });
    expect(byName[down]).toMatchObject({ kind: "webhook", status: "error" });
    expect(byName[down].error).toContain("503");
    expect(byName["hush-api-key"]).toMatchObject({ status: "ok" });
    const list = await api("GET", "/api/v1/secrets/providers");
    expect(list.body.items.find((p: { name: string }) => p.name === down).health.status).toBe("error");
  });
});
