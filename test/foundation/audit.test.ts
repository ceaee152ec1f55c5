import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createTenant, expectProblem, tokenWith, uniquePath } from "../helpers";
import { chainSql, withAuditDown } from "../support/audit-store";

const store = (path: string) => `/api/v1/secrets/store/${path}`;

/**
 * A fresh tenant per test, so chains and sequence numbers are predictable: event 1 is root
 * creating the tenant's token (root acting in a tenant is audited in that tenant's log).
 */
async function freshTenant(name: string) {
  const id = `${name}-${crypto.randomUUID().slice(0, 8)}`;
  await createTenant(id);
  const { token } = await tokenWith(["secrets:read", "secrets:write", "secrets:delete", "audit:read"], { tenant: id, subject: `${name}-admin` });
  return { id, token };
}

describe("audit log", () => {
  it("records writes, reads and deletes with actor, request id and outcome, never values", async () => {
    const { token } = await freshTenant("audit-rec");
    const path = uniquePath("audited");
    await api("POST", store(path), { token, body: { value: "audit-canary-1" }, headers: { "x-request-id": "req-create-1" } });
    await api("GET", store(path), { token });
    await api("PUT", store(path), { token, body: { value: "audit-canary-2" } });
    await api("GET", `${store(path)}?version=1`, { token });
    await api("DELETE", store(path), { token });
    await api("GET", store(path), { token });

    const res = await api("GET", `/api/v1/audit?path=${path}`, { token });
    expect(res.status).toBe(200);
    const events = res.body.items as { seq: number; action: string; outcome: string; actor: string; request_id: string; detail: unknown }[];
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ["secret.read", "failure"],
      ["secret.delete", "success"],
      ["secret.read", "success"],
      ["secret.write", "success"],
      ["secret.read", "success"],
      ["secret.create", "success"],
    ]);
    expect(events.every((e) => e.actor === "audit-rec-admin")).toBe(true);
    expect(events.at(-1)!.request_id).toBe("req-create-1");
    expect(events.map((e) => e.seq)).toEqual([7, 6, 5, 4, 3, 2]);
    expect(res.text).not.toContain("audit-canary");

    const page1 = await api("GET", "/api/v1/audit?limit=4", { token });
    const page2 = await api("GET", `/api/v1/audit?limit=4&cursor=${page1.body.next_cursor}`, { token });
    expect([...page1.body.items, ...page2.body.items].map((e: { seq: number }) => e.seq)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(page2.body.next_cursor).toBeNull();
    expect((await api("GET", "/api/v1/audit?actor=nobody", { token })).body.items).toEqual([]);
  });

  it("verify passes on an untouched chain", async () => {
    const { token } = await freshTenant("audit-ok");
    for (let i = 0; i < 5; i++) await api("POST", store(uniquePath("chain")), { token, body: { value: `v${i}` } });
    const res = await api("GET", "/api/v1/audit/verify", { token });
    expect(res.body).toEqual({ ok: true, checked: 6 });
    const hashes = await env.DB.prepare(
      "SELECT hash FROM audit_events WHERE tenant_id = (SELECT tenant_id FROM api_tokens WHERE subject = 'audit-ok-admin') ORDER BY n",
    ).all<{ hash: string }>();
    expect(hashes.results.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
  });

  it("verify names the first bad event after a row is edited in D1", async () => {
    const { id, token } = await freshTenant("audit-edit");
    for (let i = 0; i < 6; i++) await api("POST", store(uniquePath("chain")), { token, body: { value: `v${i}` } });
    expect((await api("GET", "/api/v1/audit/verify", { token })).body.ok).toBe(true);
    await env.DB.prepare("UPDATE audit_events SET actor = 'someone-else' WHERE tenant_id = ? AND seq = 3").bind(id).run();
    expect((await api("GET", "/api/v1/audit/verify", { token })).body).toMatchObject({ ok: false, first_bad_seq: 3, checked: 2, reason: "hash-mismatch" });
  });

  it("verify names the first bad event after a row is deleted in D1", async () => {
    const { id, token } = await freshTenant("audit-del");
    for (let i = 0; i < 6; i++) await api("POST", store(uniquePath("chain")), { token, body: { value: `v${i}` } });
    expect((await api("GET", "/api/v1/audit/verify", { token })).body.ok).toBe(true);
    await env.DB.prepare("DELETE FROM audit_events WHERE tenant_id = ? AND seq = 4").bind(id).run();
    expect((await api("GET", "/api/v1/audit/verify", { token })).body).toMatchObject({ ok: false, first_bad_seq: 4, reason: "missing-event" });
  });

  it("verify detects the newest events being cut off", async () => {
    const { id, token } = await freshTenant("audit-trunc");
    for (let i = 0; i < 4; i++) await api("POST", store(uniquePath("chain")), { token, body: { value: `v${i}` } });
    expect((await api("GET", "/api/v1/audit/verify", { token })).body.ok).toBe(true);
    await env.DB.prepare("DELETE FROM audit_events WHERE tenant_id = ? AND seq >= 3").bind(id).run();
    expect((await api("GET", "/api/v1/audit/verify", { token })).body).toMatchObject({ ok: false, first_bad_seq: 3, reason: "truncated" });
  });

  it("verify detects a chain rewritten with recomputed hashes", async () => {
    const { id, token } = await freshTenant("audit-rewrite");
    for (let i = 0; i < 3; i++) await api("POST", store(uniquePath("chain")), { token, body: { value: `v${i}` } });
    expect((await api("GET", "/api/v1/audit/verify", { token })).body.ok).toBe(true);
    // An attacker with D1 access edits event 2 and recomputes every hash after it.
    await env.DB.prepare("UPDATE audit_events SET actor = 'forged' WHERE tenant_id = ? AND seq = 2").bind(id).run();
    const { copyHash, GENESIS } = await import("../../src/audit/chain");
    const rows = (await env.DB.prepare("SELECT * FROM audit_events WHERE tenant_id = ? ORDER BY n").bind(id).all()).results as any[];
    let previous = GENESIS;
    for (const row of rows) {
      previous = copyHash(previous, row);
      await env.DB.prepare("UPDATE audit_events SET hash = ? WHERE tenant_id = ? AND seq = ?").bind(previous, id, row.seq).run();
    }
    const res = await api("GET", "/api/v1/audit/verify", { token });
    expect(res.body).toMatchObject({ ok: false, first_bad_seq: 2, reason: "hash-mismatch" });
  });

  it("needs audit:read", async () => {
    const { token } = await tokenWith(["secrets:read"]);
    expectProblem(await api("GET", "/api/v1/audit/verify", { token }), 403);
  });

  it("a write whose audit event cannot be written fails and leaves nothing behind", async () => {
    const path = uniquePath("audit-fails");
    const readable = uniquePath("audit-fails-read");
    await api("POST", store(readable), { body: { value: "never-without-audit-read" } });
    await withAuditDown(async () => {
      const res = await api("POST", store(path), { body: { value: "never-without-audit" } });
      expectProblem(res, 500);
      const read = await api("GET", store(readable));
      expect(read.status).toBe(500); // the read's own audit fails too: no value leaves unaudited
      expect(read.text).not.toContain("never-without-audit");
    });
    // Only the chain object down: the D1 batch never runs.
    await chainSql("default", "CREATE TRIGGER fail_chain BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'chain unavailable'); END");
    try {
      expectProblem(await api("POST", store(path), { body: { value: "never-without-audit" } }), 500);
    } finally {
      await chainSql("default", "DROP TRIGGER fail_chain");
    }
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM secret_versions WHERE path = ?").bind(path).first<{ n: number }>();
    expect(rows?.n).toBe(0);
    expectProblem(await api("GET", store(path)), 404);
  });
});
