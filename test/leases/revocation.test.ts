import { createScheduledController, createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { leases, outbox } from "../../src/db/schema";
import worker from "../../src/index";
import { retryDelaySeconds } from "../../src/leases/revocations";
import { RESEND_AFTER_MS } from "../../src/leases/sweeper";
import { api } from "../helpers";
import { db, deliver, issue, leaseRow, messageFor, revocationWithLostSend, waitFor, webhookCalls, webhookProvider } from "./helpers";

// Revocations travel through the real queue (batch timeout 1 s): allow for a few rounds.
vi.setConfig({ testTimeout: 30_000 });

const outboxRows = (leaseId: string) => db().select().from(outbox).where(eq(outbox.leaseId, leaseId)).all();

/** As if the lease's time ran out: D1 says so (the object's alarm is left set, in the future). */
const backdate = (leaseId: string) =>
  db()
    .update(leases)
    .set({ expiresAt: Date.now() - 1000 })
    .where(eq(leases.id, leaseId))
    .run();

/** As if the lease's time ran out for its object too: its due row is past. */
async function timePasses(leaseId: string) {
  await backdate(leaseId);
  const stub = env.LEASE.get(env.LEASE.idFromName(leaseId));
  await runInDurableObject(stub, (_, state) => {
    state.storage.sql.exec("UPDATE due SET due_at = ? WHERE lease_id = ?", Date.now() - 1000, leaseId);
  });
  return stub;
}

describe("LeaseObject alarm", () => {
  it("expires the lease through the outbox, the queue and the provider's revoke", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider, "app", 600);
    const stub = env.LEASE.get(env.LEASE.idFromName(lease.lease_id));
    expect(await stub.dueAt(lease.lease_id)).toBe(Date.parse(lease.expires_at));
    await timePasses(lease.lease_id);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.dueAt(lease.lease_id)).toBeNull();
    expect((await leaseRow(lease.lease_id)).state).not.toBe("issued");
    const done = await waitFor("expired", async () => {
      const row = await leaseRow(lease.lease_id);
      return row.state === "expired" && row;
    });
    expect(done.revokedAt).toBeGreaterThan(0);
    expect(done.revokeReason).toBe("expired");
    expect((await webhookCalls(lease.lease_id)).revoked).toBe(1);
    const [row] = await outboxRows(lease.lease_id);
    expect(row!.deliveredAt).toBeGreaterThan(0);
    const audit = await api("GET", `/api/v1/audit?resource=lease:${lease.lease_id}`);
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["lease.issue", "lease.expire", "lease.revoked"]));
  });

  it("trusts D1 over its own due time: a lease renewed in D1 is re-armed, not revoked", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider, "app", 600);
    const stub = await timePasses(lease.lease_id);
    const renewedTo = Date.now() + 300_000;
    await db().update(leases).set({ expiresAt: renewedTo }).where(eq(leases.id, lease.lease_id)).run();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await leaseRow(lease.lease_id)).state).toBe("issued");
    expect(await stub.dueAt(lease.lease_id)).toBe(renewedTo);
    expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBe(renewedTo);
    expect(await outboxRows(lease.lease_id)).toHaveLength(0);
  });

  it("fired twice, revokes once", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider, "app", 600);
    const stub = await timePasses(lease.lease_id);
    // The same alarm delivered twice, concurrently (alarms are at least once).
    await Promise.all([runInDurableObject(stub, (i) => i.alarm()), runInDurableObject(stub, (i) => i.alarm())]);
    await runInDurableObject(stub, (i) => i.alarm());
    await waitFor("expired", async () => (await leaseRow(lease.lease_id)).state === "expired");
    await new Promise((r) => setTimeout(r, 1500));
    expect(await outboxRows(lease.lease_id)).toHaveLength(1);
    expect((await webhookCalls(lease.lease_id)).revoke_attempts).toBe(1);
  });
});

describe("revocations consumer", () => {
  it("takes ids only: a message carrying anything more is dropped without touching the provider", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    const row = await revocationWithLostSend(lease.lease_id);
    const withCredential = { ...messageFor(row), credential: lease.credential } as ReturnType<typeof messageFor>;
    const result = await deliver("hush-revocations", [withCredential]);
    expect(result.explicitAcks).toHaveLength(1);
    expect((await webhookCalls(lease.lease_id)).revoke_attempts).toBe(0);
    expect((await leaseRow(lease.lease_id)).state).toBe("revoking");
    expect(Object.keys(messageFor(row)).sort()).toEqual(["lease_id", "outbox_id", "tenant_id"]);
  });

  it("delivered the same message twice, revokes once and acks both", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    const row = await revocationWithLostSend(lease.lease_id);
    const result = await deliver("hush-revocations", [messageFor(row), messageFor(row)]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toHaveLength(0);
    const again = await deliver("hush-revocations", [messageFor(row)], 2);
    expect(again.explicitAcks).toHaveLength(1);
    expect((await webhookCalls(lease.lease_id)).revoke_attempts).toBe(1);
    expect((await leaseRow(lease.lease_id)).state).toBe("revoked");
  });

  it("retries a provider that fails three times, each message on its own, and ends revoked when it recovers", async () => {
    const provider = await webhookProvider("flaky3");
    const lease = await issue(provider);
    const row = await revocationWithLostSend(lease.lease_id);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const result = await deliver("hush-revocations", [messageFor(row)], attempt);
      expect(result.explicitAcks).toHaveLength(0);
      expect(result.retryMessages).toHaveLength(1);
      const failing = await leaseRow(lease.lease_id);
      expect(failing.state).toBe("revoking");
      expect(failing.attempts).toBe(attempt);
      expect(failing.lastError).toBe("The webhook answered 503 to revoke");
    }
    // (getQueueResult does not report delaySeconds, so the backoff is checked on its own below.)
    const last = await deliver("hush-revocations", [messageFor(row)], 4);
    expect(last.explicitAcks).toHaveLength(1);
    const done = await leaseRow(lease.lease_id);
    expect(done).toMatchObject({ state: "revoked", attempts: 4, lastError: null });
    expect(await webhookCalls(lease.lease_id)).toMatchObject({ revoke_attempts: 4, revoked: 1 });
  });

  it("a provider that always fails ends failed via the dead-letter queue, stays listed, and a manual revoke retries it", async () => {
    const provider = await webhookProvider("down");
    const lease = await issue(provider);
    const row = await revocationWithLostSend(lease.lease_id);
    for (let attempt = 1; attempt <= 6; attempt++) {
      const result = await deliver("hush-revocations", [messageFor(row)], attempt);
      expect(result.retryMessages).toHaveLength(1);
    }
    // The runtime moves the message to the dead-letter queue after max_retries.
    const dead = await deliver("hush-revocations-dlq", [messageFor(row)]);
    expect(dead.explicitAcks).toHaveLength(1);
    const failed = await leaseRow(lease.lease_id);
    expect(failed.state).toBe("failed");
    expect(failed.failedAt).toBeGreaterThan(0);
    const listed = await api("GET", `/api/v1/secrets/leases?state=failed&provider=${provider}`);
    expect(listed.body.items.map((l: { lease_id: string }) => l.lease_id)).toEqual([lease.lease_id]);
    const audit = await api("GET", `/api/v1/audit?resource=lease:${lease.lease_id}`);
    expect(audit.body.items.find((e: { action: string }) => e.action === "lease.revoke_failed")).toMatchObject({ outcome: "failure" });
    // A second dead letter for the same row changes nothing.
    await deliver("hush-revocations-dlq", [messageFor(row)]);
    const auditAgain = await api("GET", `/api/v1/audit?resource=lease:${lease.lease_id}`);
    expect(auditAgain.body.items.filter((e: { action: string }) => e.action === "lease.revoke_failed")).toHaveLength(1);

    const retried = await api("POST", `/api/v1/secrets/leases/${lease.lease_id}/revoke`);
    expect(retried.status).toBe(202);
    expect(retried.body.state).toBe("revoking");
    const rows = await outboxRows(lease.lease_id);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.id === row.id)!.deadAt).toBeGreaterThan(0);
  });
});

describe("retry backoff", () => {
  it("doubles from 2 seconds and stops at five minutes", () => {
    expect([1, 2, 3, 4, 5, 9, 20].map(retryDelaySeconds)).toEqual([2, 4, 8, 16, 32, 300, 300]);
  });
});

describe("cron sweeper", () => {
  async function runSweeper(at: number) {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "*/5 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
  }

  it("re-sends an outbox row whose queue send was lost", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    const row = await revocationWithLostSend(lease.lease_id);
    // Nothing was sent: the revocation waits in the outbox.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await leaseRow(lease.lease_id)).state).toBe("revoking");
    await runSweeper(row.lastSentAt + RESEND_AFTER_MS + 1);
    await waitFor("revoked", async () => (await leaseRow(lease.lease_id)).state === "revoked");
    const [after] = await outboxRows(lease.lease_id);
    expect(after!.sends).toBe(2);
    expect(after!.deliveredAt).toBeGreaterThan(0);
    expect((await webhookCalls(lease.lease_id)).revoked).toBe(1);
  });

  it("expires a lease whose alarm never fired", async () => {
    const provider = await webhookProvider("ok");
    const lease = await issue(provider);
    const stub = env.LEASE.get(env.LEASE.idFromName(lease.lease_id));
    await stub.cancel(lease.lease_id);
    await backdate(lease.lease_id);
    await runSweeper(Date.now() + 120_000);
    await waitFor("expired", async () => (await leaseRow(lease.lease_id)).state === "expired");
    expect((await webhookCalls(lease.lease_id)).revoked).toBe(1);
  });
});
