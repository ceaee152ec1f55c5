import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { syncBindings, syncOutbox } from "../../src/db/schema";
import { sendSync, sweepSyncOutbox, type SyncMessage } from "../../src/sync/deliver";
import { retryDelaySeconds } from "../../src/leases/revocations";
import { tokenWith } from "../helpers";
import { api, db, deliver, F, remote, server, serverRequests, target, uniquePath, waitFor, write } from "./helpers";

vi.setConfig({ testTimeout: 30_000 });

const binding = (syncId: string, path: string) =>
  db()
    .select()
    .from(syncBindings)
    .where(and(eq(syncBindings.syncId, syncId), eq(syncBindings.path, path)))
    .get();

describe("who may push values out", () => {
  it("a token with read on app/* cannot create a sync over db/* (path or prefix)", async () => {
    const t = await target("webhook");
    const { token } = await tokenWith(["secrets:read"], { paths: ["app/*"] });
    const db1 = uniquePath("db");
    await write(db1, "db-value");
    const byPath = await api("POST", "/api/v1/secrets/syncs", { token, body: { target: t, path: db1, remote_key: "X" } });
    expect(byPath.status).toBe(403);
    const byPrefix = await api("POST", "/api/v1/secrets/syncs", { token, body: { target: t, prefix: "db/", remote_prefix: "" } });
    expect(byPrefix.status).toBe(403);
    // The whole tree under a prefix it only partly holds: also refused.
    const wider = await api("POST", "/api/v1/secrets/syncs", { token, body: { target: t, prefix: "app/../", remote_prefix: "" } });
    expect(wider.status).toBe(400);
    const ok = await api("POST", "/api/v1/secrets/syncs", { token, body: { target: t, prefix: "app/", remote_prefix: "", run: false } });
    expect(ok.status).toBe(201);
    expect((await api("DELETE", `/api/v1/secrets/syncs/${ok.body.id}`, { token })).status).toBe(204);
  });

  it("configuring targets is tenant administration (providers:admin)", async () => {
    const { token } = await tokenWith(["secrets:read", "secrets:write"]);
    const res = await api("POST", "/api/v1/secrets/sync-targets", {
      token,
      body: { name: "nope", kind: "webhook", config: { url: `${server()}/wh/ok`, signing_key: F.webhookKey } },
    });
    expect(res.status).toBe(403);
    expect((await api("GET", "/api/v1/secrets/sync-targets", { token })).status).toBe(403);
  });

  it("a sync whose creator's token is revoked pushes nothing more", async () => {
    const path = uniquePath("app");
    await write(path, "before-revoke");
    const t = await target("webhook");
    const creator = await tokenWith(["secrets:read"], { paths: ["app/*"] });
    const res = await api("POST", "/api/v1/secrets/syncs", { token: creator.token, body: { target: t, path, remote_key: `REV_${path.replace(/\W/g, "_")}` } });
    expect(res.status).toBe(201);
    const key = res.body.remote_key as string;
    await waitFor("first copy", async () => (await remote(`wh:ok:${key}`))?.value === "before-revoke");
    expect((await api("DELETE", `/api/v1/tokens/${creator.id}`)).status).toBeLessThan(300);
    await write(path, "after-revoke");
    const b = await waitFor(
      "refused",
      async () => (await binding(res.body.id, path))?.lastError?.includes("creator-token-revoked") && (await binding(res.body.id, path)),
    );
    expect(b!.lastVersion).toBe(1);
    expect((await remote(`wh:ok:${key}`))?.value).toBe("before-revoke");
    const audit = await api("GET", `/api/v1/audit?resource=sync:${res.body.id}`);
    expect(audit.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ action: "sync.deliver", outcome: "denied" })]));
  });

  it("decides each item of a prefix by the read rule: a deny policy on one path skips it", async () => {
    const prefix = `${uniquePath("app")}/`;
    await write(`${prefix}open`, "open-value");
    await write(`${prefix}closed`, "closed-value");
    const policy = `p-${Date.now().toString(36)}`;
    const created = await api("PUT", `/api/v1/auth/policies/${policy}`, {
      body: {
        rules: [
          { paths: ["app/*"], capabilities: ["read", "list"] },
          { paths: [`${prefix}closed`], capabilities: ["read"], effect: "deny" },
        ],
      },
    });
    expect(created.status, created.text).toBe(200);
    const { token } = await tokenWith([], { policies: [policy] } as never);
    const t = await target("webhook");
    const res = await api("POST", "/api/v1/secrets/syncs", { token, body: { target: t, prefix, remote_prefix: "item-" } });
    expect(res.status).toBe(201);
    expect(res.body.skipped).toEqual([{ path: `${prefix}closed`, reason: "access" }]);
    await waitFor("open delivered", async () => (await remote("wh:ok:item-open"))?.value === "open-value");
    expect(await remote("wh:ok:item-closed")).toBeNull();
  });

  it("refuses target URLs on internal addresses (loopback only, for tests)", async () => {
    for (const url of [
      "https://10.0.0.5/hook",
      "https://169.254.169.254/latest",
      "https://192.168.1.1/",
      "https://metadata.internal/",
      "http://example.com/hook",
      "https://[fd00::1]/",
      "https://0xa000001/",
      "https://user:pw@example.com/",
    ]) {
      const res = await api("POST", "/api/v1/secrets/sync-targets", {
        body: { name: "internal", kind: "webhook", config: { url, signing_key: F.webhookKey } },
      });
      expect(res.status, url).toBe(400);
    }
    const k8s = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { name: "internal", kind: "kubernetes", config: { api_url: "https://172.16.0.1:6443", token: F.k8sToken, namespace: "a", secret_name: "b" } },
    });
    expect(k8s.status).toBe(400);
  });
});

describe("delivery: retries, dead letters, no value anywhere", () => {
  afterEach(() => vi.restoreAllMocks());

  /** A sync with one undelivered row that only the test's own consumer calls see. */
  async function parked(scenario: string, value: string) {
    const path = uniquePath("syncq");
    await write(path, value);
    const t = await target("webhook", scenario);
    const res = await api("POST", "/api/v1/secrets/syncs", { body: { target: t, path, remote_key: `Q_${path.replace(/\W/g, "_")}`, run: false } });
    expect(res.status).toBe(201);
    const id = `${res.body.id}:${path}:1:test`;
    await db()
      .insert(syncOutbox)
      .values({
        id,
        tenantId: "default",
        syncId: res.body.id,
        path,
        version: 1,
        op: "put",
        force: true,
        createdAt: Date.now(),
        lastSentAt: Date.now(),
        sends: 1,
      })
      .run();
    const message: SyncMessage = { outbox_id: id, sync_id: res.body.id, tenant_id: "default" };
    return { path, key: res.body.remote_key as string, syncId: res.body.id as string, message, id };
  }

  it("retries 503, 503 and 429 with backoff, then delivers", async () => {
    const { message, key, syncId, path } = await parked("flaky", "flaky-value");
    for (const attempt of [1, 2, 3]) {
      const result = await deliver("hush-sync", message, attempt);
      // (getQueueResult does not report delaySeconds; the consumer asks retryDelaySeconds(attempts): 2, 4, 8 s.)
      expect(result.retryMessages).toHaveLength(1);
      expect(retryDelaySeconds(attempt)).toBe(2 ** attempt);
      expect((await binding(syncId, path))!.lastError).toMatch(attempt === 3 ? /429/ : /503/);
    }
    const last = await deliver("hush-sync", message, 4);
    expect(last.explicitAcks).toHaveLength(1);
    expect((await remote(`wh:flaky:${key}`))?.value).toBe("flaky-value");
    expect(await binding(syncId, path)).toMatchObject({ lastVersion: 1, lastError: null });
    // A duplicate message never reaches the target twice.
    const again = await deliver("hush-sync", message, 1);
    expect(again.explicitAcks).toHaveLength(1);
    expect((await remote(`wh:flaky:${key}`))?.writes).toBe(1);
  });

  it("dead-letters after the last retry: the row is dead, the binding says so, the failure is audited", async () => {
    const { message, syncId, path, id } = await parked("down", "down-value");
    expect((await deliver("hush-sync", message, 5)).retryMessages).toHaveLength(1);
    const dlq = await deliver("hush-sync-dlq", message, 1);
    expect(dlq.explicitAcks).toHaveLength(1);
    const row = await db().select().from(syncOutbox).where(eq(syncOutbox.id, id)).get();
    expect(row!.deadAt).toBeGreaterThan(0);
    expect((await binding(syncId, path))!.lastError).toMatch(/^Retries exhausted: webhook: the target answered 503/);
    const status = await api("GET", `/api/v1/secrets/syncs/${syncId}`);
    expect(status.body.dead).toBe(1);
    const audit = await api("GET", `/api/v1/audit?resource=sync:${syncId}`);
    expect(audit.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ action: "sync.delivery_failed", outcome: "failure" })]));
    // A dead row is never delivered again.
    expect((await deliver("hush-sync", message, 1)).explicitAcks).toHaveLength(1);
  });

  it("a 4xx other than 429 is final: no retry, audited", async () => {
    const { message, syncId, path } = await parked("reject", "reject-value");
    const result = await deliver("hush-sync", message, 1);
    expect(result.retryMessages).toEqual([]);
    expect((await binding(syncId, path))!.lastError).toMatch(/403/);
  });

  it("canary: the value is in no log, queue message, outbox row, audit event or response", async () => {
    const canary = `CANARY-${crypto.randomUUID()}`;
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
    }
    const path = uniquePath("canary");
    const responses: string[] = [];
    const put = await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: canary } });
    expect(put.status).toBeLessThan(300);
    const t = await target("webhook", "flaky");
    const created = await api("POST", "/api/v1/secrets/syncs", { body: { target: t, path, remote_key: "CANARY" } });
    responses.push(created.text);
    responses.push((await api("POST", `/api/v1/secrets/syncs/${created.body.id}/run`)).text);
    responses.push((await api("POST", "/api/v1/secrets/syncs/run", { body: { name: path, target: t, remote_key: "CANARY" } })).text);
    responses.push((await api("GET", `/api/v1/secrets/syncs/${created.body.id}`)).text);
    responses.push((await api("GET", "/api/v1/secrets/syncs")).text);
    // Through the flaky target: failures are logged and stored, and must not carry the value either.
    await waitFor("delivered", async () => (await remote("wh:flaky:CANARY"))?.value === canary, 25_000);
    responses.push((await api("GET", `/api/v1/secrets/syncs/${created.body.id}`)).text);
    responses.push((await api("GET", `/api/v1/audit?resource=sync:${created.body.id}`)).text);
    // The messages a send produces.
    const sent: unknown[] = [];
    const rows = await db().select().from(syncOutbox).where(eq(syncOutbox.syncId, created.body.id)).all();
    for (const row of rows)
      await sendSync({ ...env, SYNC_QUEUE: { send: async (m: unknown) => void sent.push(m) } } as unknown as Env, db(), { ...row, lastSentAt: row.lastSentAt });
    const tables = await Promise.all(
      ["sync_outbox", "sync_bindings", "syncs", "sync_targets", "audit_events", "idempotency_keys"].map(async (table) =>
        JSON.stringify((await env.DB.prepare(`SELECT * FROM ${table}`).all()).results),
      ),
    );
    for (const text of [...responses, ...logged, JSON.stringify(sent), ...tables]) expect(text).not.toContain(canary);
    expect(sent.length).toBeGreaterThan(0);
    // What did reach the target: the value only in the signed body, never in a header or the URL.
    const requests = (await serverRequests()).filter((r) => r.includes(canary));
    for (const r of requests) expect(r.split("\n").slice(0, 2).join("\n")).not.toContain(canary);
  });

  it("the sweeper sends rows that a system writer queued without a send", async () => {
    const { id } = await parked("ok", "swept");
    await db().update(syncOutbox).set({ lastSentAt: null, sends: 0 }).where(eq(syncOutbox.id, id)).run();
    expect(await sweepSyncOutbox(env)).toBeGreaterThanOrEqual(1);
    await waitFor("delivered by the swept send", async () => (await db().select().from(syncOutbox).where(eq(syncOutbox.id, id)).get())?.deliveredAt);
  });
});

describe("a sync is a standing export", () => {
  it("needs the export approval where a policy guards it; an unapproved prefix sync is refused per item", async () => {
    const path = uniquePath("guarded");
    await write(path, "guarded-value");
    const t = await target("webhook");
    // An unapproved prefix sync over the same tree, created before the policy.
    const prefix = `${path.split("/")[0]}/`;
    const early = await api("POST", "/api/v1/secrets/syncs", { body: { target: t, prefix, remote_prefix: "early-", run: false } });
    expect(early.status).toBe(201);
    const policy = await api("POST", "/api/v1/secrets/approvals/policies", {
      body: { paths: [path], actions: ["export"], approvals_required: 1, approvers: { subjects: ["sync-approver"] } },
    });
    expect(policy.status, policy.text).toBe(201);
    try {
      const first = await api("POST", "/api/v1/secrets/syncs", { body: { target: t, path, remote_key: "GUARDED" } });
      expect(first.status).toBe(403);
      const requestId = first.body.approval_request_id as string;
      expect(requestId).toBeTruthy();
      const approver = await tokenWith(["secrets:read"], { subject: "sync-approver" });
      expect((await api("POST", `/api/v1/secrets/approvals/${requestId}/approve`, { token: approver.token, body: {} })).status).toBeLessThan(300);
      const second = await api("POST", "/api/v1/secrets/syncs", { body: { target: t, path, remote_key: "GUARDED" } });
      expect(second.status, second.text).toBe(201);
      await waitFor("approved sync delivers", async () => (await remote("wh:ok:GUARDED"))?.value === "guarded-value");
      // The early prefix sync consumed no approval: the new version is refused for it.
      await write(path, "guarded-v2");
      await waitFor("approved sync follows", async () => (await remote("wh:ok:GUARDED"))?.value === "guarded-v2");
      const refused = await waitFor("early refused", async () => (await binding(early.body.id, path))?.lastError);
      expect(refused).toBe("Refused: approval-required");
    } finally {
      await api("DELETE", `/api/v1/secrets/approvals/policies/${policy.body.id}`);
      await api("DELETE", `/api/v1/secrets/syncs/${early.body.id}`);
    }
  });

  it("stops at the read rule at delivery: an expired secret is not pushed", async () => {
    const path = uniquePath("expiring");
    await write(path, "exp-v1");
    const t = await target("webhook");
    const s = await api("POST", "/api/v1/secrets/syncs", { body: { target: t, path, remote_key: "EXPIRING", run: false } });
    await env.DB.prepare("UPDATE secrets SET expires_at = ? WHERE tenant_id = 'default' AND path = ?")
      .bind(Date.now() - 1000, path)
      .run();
    const run = await api("POST", `/api/v1/secrets/syncs/${s.body.id}/run`);
    expect(run.body.skipped).toEqual([{ path, reason: "secret-expired" }]);
    // A row queued anyway (e.g. before expiry) is refused by the consumer for the creator too.
    const id = `${s.body.id}:${path}:1:exp`;
    await db()
      .insert(syncOutbox)
      .values({ id, tenantId: "default", syncId: s.body.id, path, version: 1, op: "put", force: true, createdAt: Date.now(), lastSentAt: Date.now(), sends: 1 })
      .run();
    expect((await deliver("hush-sync", { outbox_id: id, sync_id: s.body.id, tenant_id: "default" })).explicitAcks).toHaveLength(1);
    expect((await binding(s.body.id, path))!.lastError).toBe("Refused: secret-expired");
    expect(await remote("wh:ok:EXPIRING")).toBeNull();
  });
});
