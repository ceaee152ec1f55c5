import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it, vi } from "vitest";
import { leases, outbox } from "../../src/db/schema";
import { api, expectProblem, uniquePath } from "../helpers";
import { chainSql } from "../support/audit-store";
import { db, deliver, issue, leaseRow, messageFor, revocationWithLostSend, waitFor, webhookCalls, webhookProvider } from "../leases/helpers";
import { encryptForShare } from "../shares/share-helpers";
import { userTables } from "./tenant-fixture";

vi.setConfig({ testTimeout: 30_000 });
let faultsInjected = 0;
afterAll(() => console.info(`faults: ${faultsInjected} injected in this file (evictions, a throwing consumer, failed audit writes)`));

describe("a LeaseObject evicted mid-lease", () => {
  it("keeps its due time and alarm across the eviction, and the alarm still expires the lease", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider, "app", 600);
    const stub = env.LEASE.get(env.LEASE.idFromName(lease.lease_id));
    await evictDurableObject(stub);
    faultsInjected++;
    // A fresh instance reads the same due row and the alarm is still set.
    expect(await stub.dueAt(lease.lease_id)).toBe(Date.parse(lease.expires_at));
    expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBe(Date.parse(lease.expires_at));
    // Time runs out; the object is evicted again just before its alarm.
    await db()
      .update(leases)
      .set({ expiresAt: Date.now() - 1000 })
      .where(eq(leases.id, lease.lease_id))
      .run();
    await runInDurableObject(
      stub,
      (_, state) => void state.storage.sql.exec("UPDATE due SET due_at = ? WHERE lease_id = ?", Date.now() - 1000, lease.lease_id),
    );
    await evictDurableObject(stub);
    faultsInjected++;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waitFor("expired", async () => (await leaseRow(lease.lease_id)).state === "expired");
    expect((await webhookCalls(lease.lease_id)).revoked).toBe(1);
  });
});

describe("a revocations consumer whose D1 write throws", () => {
  it("is retried and converges: revoked once at the provider, outbox delivered", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    const row = await revocationWithLostSend(lease.lease_id);
    // D1 refuses the consumer's final state change: the handler throws after the provider's revoke.
    await env.DB.exec(
      `CREATE TRIGGER fail_revoked BEFORE UPDATE ON leases WHEN NEW.state = 'revoked' AND OLD.id = '${lease.lease_id}' BEGIN SELECT RAISE(ABORT, 'd1 unavailable'); END`,
    );
    faultsInjected++;
    try {
      const failed = await deliver("hush-revocations", [messageFor(row)], 1);
      expect(failed.explicitAcks).toHaveLength(0);
      expect(failed.retryMessages.length + (failed.outcome === "exception" ? 1 : 0)).toBeGreaterThan(0);
      expect((await leaseRow(lease.lease_id)).state).toBe("revoking");
    } finally {
      await env.DB.exec("DROP TRIGGER fail_revoked");
    }
    // The retry comes after its backoff, when the failed attempt's claim on the outbox row has lapsed.
    await db()
      .update(outbox)
      .set({ claimedUntil: Date.now() - 1 })
      .where(eq(outbox.id, row.id))
      .run();
    const retried = await deliver("hush-revocations", [messageFor(row)], 2);
    expect(retried.explicitAcks).toHaveLength(1);
    expect((await leaseRow(lease.lease_id)).state).toBe("revoked");
    const [after] = await db().select().from(outbox).where(eq(outbox.leaseId, lease.lease_id)).all();
    expect(after!.deliveredAt).toBeGreaterThan(0);
    // The provider was asked twice (at least once is the contract; its revoke is idempotent).
    expect((await webhookCalls(lease.lease_id)).revoke_attempts).toBe(2);
    // A duplicate delivery afterwards changes nothing and calls nobody.
    expect((await deliver("hush-revocations", [messageFor(row)], 3)).explicitAcks).toHaveLength(1);
    expect((await webhookCalls(lease.lease_id)).revoke_attempts).toBe(2);
  });
});

/**
 * Row counts of every table, to see that a failed request wrote nothing. Leases are left out: issuing
 * writes the lease row before calling the provider on purpose (so whatever the provider makes is
 * revoked by the lease's alarm even if the request dies); those rows are checked on their own.
 */
async function fingerprint() {
  const out: string[] = [];
  for (const { name } of await userTables()) {
    if (name === "idempotency_keys" || name === "leases") continue;
    out.push(`${name}:${(await env.DB.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).first<{ n: number }>())!.n}`);
  }
  return out.join(",");
}

describe("when the audit write fails", () => {
  it("share, lease, transit, token and Vault requests fail closed and write nothing else", async () => {
    const path = uniquePath("auditfail");
    const key = `af-${path.replace(/\W/g, "")}`;
    expect((await api("POST", `/api/v1/transit/keys/${key}`, { body: { type: "aes256-gcm" } })).status).toBe(201);
    const encrypted = (await api("POST", `/api/v1/transit/encrypt/${key}`, { body: { plaintext: btoa("x") } })).body.ciphertext;
    const share = (await api("POST", "/api/v1/secrets/shares", { body: { value: "audited-share" } })).body;
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    const requests: [string, string, unknown?][] = [
      ["POST", "/api/v1/secrets/shares", { value: "never-without-audit" }],
      ["POST", "/api/v1/secrets/leases", { provider, role: "app", ttl_seconds: 60 }],
      ["POST", `/api/v1/secrets/leases/${lease.lease_id}/renew`, { extend_seconds: 30 }],
      ["POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`],
      ["POST", "/api/v1/ephemeral/api-keys", { subject: "af", scopes: ["secrets:read"], ttl_seconds: 60 }],
      ["POST", `/api/v1/transit/keys/${key}-new`, { type: "aes256-gcm" }],
      ["POST", `/api/v1/transit/keys/${key}/rotate`],
      ["POST", `/api/v1/transit/encrypt/${key}`, { plaintext: btoa("x") }],
      ["POST", `/api/v1/transit/decrypt/${key}`, { ciphertext: encrypted }],
      ["POST", "/api/v1/tokens", { subject: "af", scopes: ["secrets:read"] }],
      ["POST", `/v1/secret/data/${path}`, { data: { k: "never-without-audit" } }],
      ["POST", `/api/v1/secrets/store/${path}`, { value: "never-without-audit" }],
    ];
    const before = await fingerprint();
    const leasesBefore = (await env.DB.prepare("SELECT id FROM leases").all<{ id: string }>()).results.map((r) => r.id);
    await env.DB.exec("CREATE TRIGGER fail_audit_all BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END");
    await chainSql("default", "CREATE TRIGGER IF NOT EXISTS fail_append BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END");
    const failures: string[] = [];
    try {
      for (const [method, url, body] of requests) {
        const res = await api(method, url, body === undefined ? {} : { body });
        faultsInjected++;
        if (res.status < 500) failures.push(`${method} ${url} -> ${res.status} ${res.text.slice(0, 160)}`);
        if (res.text.includes("never-without-audit") || res.text.includes("audited-share")) failures.push(`${method} ${url} returned a value unaudited`);
      }
    } finally {
      await env.DB.exec("DROP TRIGGER fail_audit_all");
      await chainSql("default", "DROP TRIGGER IF EXISTS fail_append");
    }
    expect(failures).toEqual([]);
    expect(await fingerprint()).toBe(before);
    // The only lease rows added are write-ahead records: never handed out (no external id recorded), due to expire.
    const added = await env.DB.prepare(`SELECT state, external_id FROM leases WHERE id NOT IN (${leasesBefore.map(() => "?").join(",") || "''"})`)
      .bind(...leasesBefore)
      .all();
    expect(
      added.results.every((r) => r.state === "issued" && r.external_id === null),
      JSON.stringify(added.results),
    ).toBe(true);
    // Nothing was consumed or revoked behind the failure: the share still reveals, the lease is live.
    expect((await api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: share.token } })).body.value).toBe("audited-share");
    expect((await leaseRow(lease.lease_id)).state).toBe("issued");
    expectProblem(await api("GET", `/api/v1/secrets/store/${path}`), 404);
  });
});

describe("a share reveal when the audit write fails", () => {
  it("fails closed (5xx, no value) and gives the view back: the last view and a middle one", async () => {
    for (const maxViews of [1, 2]) {
      const value = `audited-share-${maxViews}`;
      const share = (await api("POST", "/api/v1/secrets/shares", { body: { value, max_views: maxViews } })).body;
      await env.DB.exec("CREATE TRIGGER fail_audit_share BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END");
      await chainSql("default", "CREATE TRIGGER IF NOT EXISTS fail_append BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END");
      try {
        const res = await api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: share.token } });
        faultsInjected++;
        expect(res.status).toBeGreaterThanOrEqual(500);
        expect(res.text).not.toContain(value);
      } finally {
        await env.DB.exec("DROP TRIGGER fail_audit_share");
        await chainSql("default", "DROP TRIGGER IF EXISTS fail_append");
      }
      // Every view is still there for the recipient, and exactly max_views reveals succeed.
      for (let view = maxViews - 1; view >= 0; view--) {
        const again = await api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: share.token } });
        expect(again.body).toEqual({ value, views_left: view });
      }
      expect((await api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: share.token } })).status).toBe(410);
    }
  });

  it("an end-to-end reveal whose audit fails gives its view back too", async () => {
    const { ciphertext } = await encryptForShare("e2e-audited");
    const share = (await api("POST", "/api/v1/shares", { token: null, body: { ciphertext } })).body;
    const nonce = async () => (await api("POST", `/api/v1/shares/${share.id}/nonce`, { token: null })).body.nonce as string;
    await env.DB.exec("CREATE TRIGGER fail_audit_e2e BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END");
    await chainSql("default", "CREATE TRIGGER IF NOT EXISTS fail_append BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END");
    try {
      const res = await api("POST", `/api/v1/shares/${share.id}/reveal`, { token: null, body: { nonce: await nonce() } });
      faultsInjected++;
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.text).not.toContain(ciphertext);
    } finally {
      await env.DB.exec("DROP TRIGGER fail_audit_e2e");
      await chainSql("default", "DROP TRIGGER IF EXISTS fail_append");
    }
    const revealed = await api("POST", `/api/v1/shares/${share.id}/reveal`, { token: null, body: { nonce: await nonce() } });
    expect(revealed.body).toEqual({ ciphertext, views_left: 0 });
  });
});
