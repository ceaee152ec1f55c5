import { createExecutionContext, evictDurableObject, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { copyInsert, newEvent } from "../../src/audit/log";
import { database } from "../../src/db/client";
import worker from "../../src/index";
import { api, BASE, createTenant, tokenWith, uniquePath } from "../helpers";
import { chainEvents, chainOf, chainSql } from "../support/audit-store";

const store = (path: string) => `/api/v1/secrets/store/${path}`;

/**
 * A fresh tenant with `writes` secrets written and each read once. Event 1 is root's creation of
 * the tenant's token (root acts in the tenant: src/db/directory.ts), then 2..2*writes+1: intents
 * even, reads odd.
 */
async function tenantWithEvents(name: string, writes = 3) {
  const id = `${name}-${crypto.randomUUID().slice(0, 8)}`;
  await createTenant(id);
  const { token } = await tokenWith(["secrets:read", "secrets:write", "audit:read"], { tenant: id, subject: `${name}-admin` });
  for (let i = 0; i < writes; i++) {
    const path = uniquePath("chain");
    expect((await api("POST", store(path), { token, body: { value: `v${i}` } })).status).toBe(201);
    expect((await api("GET", store(path), { token })).status).toBe(200);
  }
  const verify = async () => (await api("GET", "/api/v1/audit/verify", { token })).body;
  expect(await verify()).toEqual({ ok: true, checked: 2 * writes + 1 });
  return { id, token, verify };
}

describe("the chain object's own storage, edited by an insider without the master keys", () => {
  for (const [which, seq] of [
    ["oldest", 1],
    ["newest", 7],
  ] as const) {
    it(`an altered ${which} event is named`, async () => {
      const t = await tenantWithEvents(`chain-alter-${which}`);
      await chainSql(t.id, "UPDATE events SET actor = 'someone-else' WHERE seq = ?", seq);
      expect(await t.verify()).toMatchObject({ ok: false, first_bad_seq: seq, reason: "hash-mismatch" });
    });

    it(`an altered ${which} event with its hash recomputed is named (the MAC does not match)`, async () => {
      const t = await tenantWithEvents(`chain-rehash-${which}`);
      const { chainHash } = await import("../../src/audit/chain");
      const row = (await chainEvents(t.id, "seq = ?", seq))[0]!;
      const forged = { ...row, actor: "someone-else" } as any;
      await chainSql(t.id, "UPDATE events SET actor = ?, hash = ? WHERE seq = ?", forged.actor, chainHash(row.prev, t.id, forged), seq);
      expect(await t.verify()).toMatchObject({ ok: false, first_bad_seq: seq, reason: "hash-mismatch" });
    });

    it(`a deleted ${which} event is named, also after the object restarts`, async () => {
      const t = await tenantWithEvents(`chain-del-${which}`);
      await chainSql(t.id, "DELETE FROM events WHERE seq = ?", seq);
      expect(await t.verify()).toMatchObject({ ok: false, first_bad_seq: seq });
      await evictDurableObject(chainOf(t.id));
      expect(await t.verify()).toMatchObject({ ok: false, first_bad_seq: seq });
    });
  }

  it("a deleted newest read, after a restart and new appends reuse its number, is caught by the witness", async () => {
    const t = await tenantWithEvents("chain-reuse");
    await chainSql(t.id, "DELETE FROM events WHERE seq = 7");
    await evictDurableObject(chainOf(t.id));
    await api("GET", store("nothing/here"), { token: t.token }); // appended as seq 7 again
    expect(await t.verify()).toMatchObject({ ok: false, first_bad_seq: 1, reason: "hash-mismatch" });
  });

  it("two events swapped are named at the first", async () => {
    const t = await tenantWithEvents("chain-swap");
    await chainSql(t.id, "UPDATE events SET seq = -1 WHERE seq = 2");
    await chainSql(t.id, "UPDATE events SET seq = 2 WHERE seq = 3");
    await chainSql(t.id, "UPDATE events SET seq = 3 WHERE seq = -1");
    expect(await t.verify()).toMatchObject({ ok: false, first_bad_seq: 2, reason: "hash-mismatch" });
  });

  it("an inserted event (a copy of a real one, or a new newest) is named", async () => {
    const t = await tenantWithEvents("chain-insert");
    await chainSql(t.id, "UPDATE events SET seq = -seq WHERE seq >= 4");
    await chainSql(t.id, "UPDATE events SET seq = -seq + 1 WHERE seq < 0");
    await chainSql(
      t.id,
      "INSERT INTO events SELECT 4, id, at, actor, action, resource, outcome, status, request_id, detail, kind, prev, hash, mac, key_id, state FROM events WHERE seq = 3",
    );
    expect(await t.verify()).toMatchObject({ ok: false, first_bad_seq: 4, reason: "hash-mismatch" });

    const u = await tenantWithEvents("chain-insert-newest");
    await chainSql(
      u.id,
      "INSERT INTO events SELECT 8, id, at, actor, action, resource, outcome, status, request_id, detail, kind, hash, hash, mac, key_id, state FROM events WHERE seq = 7",
    );
    expect(await u.verify()).toMatchObject({ ok: false, first_bad_seq: 8, reason: "hash-mismatch" });
  });
});

describe("the D1 copies of changes' events, edited directly", () => {
  it("an altered oldest copy, a deleted newest copy and an inserted copy are named", async () => {
    const a = await tenantWithEvents("d1-alter-oldest");
    await env.DB.prepare("UPDATE audit_events SET resource = 'secret:elsewhere' WHERE tenant_id = ? AND seq = 1").bind(a.id).run();
    expect(await a.verify()).toMatchObject({ ok: false, first_bad_seq: 1, reason: "hash-mismatch" });

    const b = await tenantWithEvents("d1-del-newest");
    await env.DB.prepare("DELETE FROM audit_events WHERE tenant_id = ? AND seq = 6").bind(b.id).run();
    expect(await b.verify()).toMatchObject({ ok: false, first_bad_seq: 6, reason: "truncated" });

    const c = await tenantWithEvents("d1-insert");
    // A copy claiming the place of a read (seq 3), and one past the head.
    await env.DB.prepare(
      "INSERT INTO audit_events (tenant_id, seq, id, at, actor, action, resource, outcome, status, request_id, hash) SELECT tenant_id, 3, 'x', at, actor, action, resource, outcome, status, request_id, hash FROM audit_events WHERE tenant_id = ? AND seq = 2",
    )
      .bind(c.id)
      .run();
    expect(await c.verify()).toMatchObject({ ok: false, first_bad_seq: 3, reason: "hash-mismatch" });
    const d = await tenantWithEvents("d1-insert-newest");
    await env.DB.prepare(
      "INSERT INTO audit_events (tenant_id, seq, id, at, actor, action, resource, outcome, status, request_id, hash) SELECT tenant_id, 8, 'x', at, actor, action, resource, outcome, status, request_id, hash FROM audit_events WHERE tenant_id = ? AND seq = 6",
    )
      .bind(d.id)
      .run();
    expect(await d.verify()).toMatchObject({ ok: false, first_bad_seq: 8, reason: "hash-mismatch" });
  });
});

describe("a crash between any two writes of a change", () => {
  it("leaves appends, verify and later changes working; the alarm settles what was left", async () => {
    const t = await tenantWithEvents("crash", 1);
    const chain = chainOf(t.id);
    const who = { tenantId: t.id, actor: "crash-admin", requestId: "req-crash" };
    const old = Date.now() - 120_000;
    const db = database(env.DB);
    // 1. Died after the intent was appended, before its D1 batch.
    const lost = newEvent(who, { action: "secret.write", resource: "secret:lost" }, old);
    await chain.append(t.id, [lost], "intent");
    expect((await api("POST", store(uniquePath("after-crash-1")), { token: t.token, body: { value: "x" } })).status).toBe(201);
    // 2. Died after the D1 batch (the copy landed), before the settle.
    const landed = newEvent(who, { action: "secret.write", resource: "secret:landed" }, old);
    const [placed] = await chain.append(t.id, [landed], "intent");
    await db.batch([copyInsert(db, t.id, landed, placed!)]);
    expect((await api("POST", store(uniquePath("after-crash-2")), { token: t.token, body: { value: "y" } })).status).toBe(201);
    // 3. Died after the settle (nothing left to do) and 4. between an append and its witness (the witness lags, never leads).
    expect((await api("GET", store("nothing/here"), { token: t.token })).status).toBe(404);
    expect(await t.verify()).toMatchObject({ ok: true });

    await runDurableObjectAlarm(chain);
    const events = await chainEvents(t.id);
    expect(events.find((e) => e.resource === "secret:lost")!.state).toBe("aborted");
    expect(events.find((e) => e.resource === "secret:landed")!.state).toBe("committed");
    const outcome = events.find((e) => e.kind === "event" && e.resource === "secret:lost")!;
    expect([outcome.outcome, outcome.status, JSON.parse(outcome.detail)]).toEqual(["failure", 500, { intent_seq: 4, problem: "abandoned" }]);
    expect((await api("POST", store(uniquePath("after-alarm")), { token: t.token, body: { value: "z" } })).status).toBe(201);
    const verified = (await api("GET", "/api/v1/audit/verify", { token: t.token })).body;
    expect(verified).toEqual({ ok: true, checked: events.length + 1 });
    // The listing shows the abandoned attempt as its failure outcome, not as a write.
    const failed = (await api("GET", "/api/v1/audit?failed_only=true&resource=secret:lost", { token: t.token })).body.items;
    expect(failed.map((e: any) => [e.action, e.outcome])).toEqual([["secret.write", "failure"]]);
  });

  it("a D1 batch that fails is a failure outcome in the chain, not a missing event", async () => {
    const t = await tenantWithEvents("batch-fails", 1);
    const path = uniquePath("cas");
    await api("POST", store(path), { token: t.token, body: { value: "v1" } });
    const results = await Promise.all([1, 2, 3].map((i) => api("PUT", store(path), { token: t.token, body: { value: `w${i}`, cas: 1 } })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const items = (await api("GET", `/api/v1/audit?path=${path}`, { token: t.token })).body.items as any[];
    expect(items.map((e) => `${e.action}:${e.outcome}`).sort()).toEqual([
      "secret.create:success",
      "secret.write:failure",
      "secret.write:failure",
      "secret.write:success",
    ]);
    expect(await t.verify()).toMatchObject({ ok: true });
  });
});

describe("a write whose intent is appended ahead of its batch (beginChange)", () => {
  it("commits as one secret.write event; refused after the append, it is a failure outcome with the refusal's status", async () => {
    const { token } = await tokenWith(["secrets:read", "secrets:write", "audit:read"], { subject: "begun-writer" });
    const t = { token, id: "default", verify: async () => (await api("GET", "/api/v1/audit/verify", { token })).body };
    const path = uniquePath("begun");
    expect((await api("POST", store(path), { token: t.token, body: { value: "v1" } })).status).toBe(201);
    expect((await api("PUT", store(path), { token: t.token, body: { value: "v2" } })).status).toBe(200);
    // A rotation refused by dual control, after its intent was appended.
    const policy = await api("POST", "/api/v1/secrets/approvals/policies", {
      body: { paths: [path], actions: ["rotate"], approvals_required: 1, approvers: { subjects: ["someone-else"] } },
    });
    expect(policy.status, policy.text).toBe(201);
    const refused = await api("PUT", store(path), { token: t.token, body: { value: "v3" } });
    expect(refused.status).toBe(403);
    await new Promise((r) => setTimeout(r, 300)); // the settle runs after the response
    const listed = (await api("GET", `/api/v1/audit?resource=secret:${path}`, { token: t.token })).body.items;
    expect(listed.map((e: any) => [e.action, e.outcome, e.status]).reverse()).toEqual([
      ["secret.create", "success", 201],
      ["secret.write", "success", 200],
      ["secret.write", "failure", 403],
    ]);
    const events = await chainEvents(t.id, "resource = ?", `secret:${path}`);
    expect(events.filter((e) => e.kind === "intent").map((e) => e.state)).toEqual(["committed", "committed", "aborted"]);
    expect(await t.verify()).toMatchObject({ ok: true });
  });
});

describe("reads through D1 sessions", () => {
  it("answers with an x-hush-bookmark, and a request that sends one back sees that write", async () => {
    const path = uniquePath("bookmark");
    const written = await api("POST", store(path), { body: { value: "fresh" } });
    expect(written.status).toBe(201);
    const bookmark = written.headers.get("x-hush-bookmark");
    expect(bookmark).toMatch(/^[A-Za-z0-9-]+$/);
    const read = await api("GET", store(path), { headers: { "x-hush-bookmark": bookmark! } });
    expect(read.body.value).toBe("fresh");
    expect(read.headers.get("x-hush-bookmark")).toBeTruthy();
    // A malformed bookmark is ignored, not an error.
    expect((await api("GET", store(path), { headers: { "x-hush-bookmark": "not a bookmark!" } })).status).toBe(200);
  });

  it("looks the token up at the primary whatever bookmark a read sends, the secret with it; writes start at the primary", async () => {
    const path = uniquePath("sessions");
    const { token } = await tokenWith(["secrets:read", "secrets:write"], { subject: "session-reader" });
    const bookmark = (await api("POST", store(path), { token, body: { value: "v" } })).headers.get("x-hush-bookmark")!;
    const send = async (method: string, headers: Record<string, string>, body?: unknown) => {
      const opened: { constraint: string | undefined; sql: string[] }[] = [];
      const d1 = new Proxy(env.DB, {
        get(target, key) {
          if (key !== "withSession") return Reflect.get(target, key);
          return (constraint?: string) => {
            const session = target.withSession(constraint);
            const seen = { constraint, sql: [] as string[] };
            opened.push(seen);
            return new Proxy(session, {
              get(s, k) {
                if (k === "prepare") return (sql: string) => (seen.sql.push(sql), s.prepare(sql));
                const value = Reflect.get(s, k);
                return typeof value === "function" ? value.bind(s) : value;
              },
            });
          };
        },
      });
      const ctx = createExecutionContext();
      const response = await worker.fetch(
        new Request(`${BASE}${store(path)}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...headers, ...(body !== undefined && { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        { ...env, DB: d1 },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      const where = (pattern: RegExp) => opened.filter((o) => o.sql.some((q) => pattern.test(q))).map((o) => o.constraint);
      return { status: response.status, tokenLookup: where(/from "api_tokens"/), secretRead: where(/(from|join) "secrets"/) };
    };
    // A read with an old bookmark (or none): the token row comes from the primary, and the secret with it, in the
    // token lookup's own statement (src/auth/tokens.ts `Prefetch`): never older than the bookmark.
    for (const headers of [{ "x-hush-bookmark": bookmark }, {}] as Record<string, string>[]) {
      const read = await send("GET", headers);
      expect(read.status).toBe(200);
      expect(read.tokenLookup).toEqual(["first-primary"]);
      expect(read.secretRead).toEqual(["first-primary"]);
    }
    // A write starts at the primary even when it sends a bookmark (its reads decide what it writes).
    const write = await send("PUT", { "x-hush-bookmark": bookmark }, { value: "w" });
    expect(write.status).toBe(200);
    expect(new Set([...write.tokenLookup, ...write.secretRead])).toEqual(new Set(["first-primary"]));
  });
});

describe("events written before the chain (migration 0016_audit_chain moved them to audit_events_legacy)", () => {
  it("are imported into the tenant's chain on its first use: listed first, filtered, verified, and tampering with them is named", async () => {
    const id = `legacy-${crypto.randomUUID().slice(0, 8)}`;
    const old = Date.now() - 86_400_000;
    // Rows as main's sealer left them: sealed (seq, hash) and one still unsealed (seq NULL), in commit order n.
    const rows = [
      [1, "secret.write", "secret:old/a", "success", 201, '{"version":1}', "h1"],
      [2, "secret.read", "secret:old/a", "success", 200, null, "h2"],
      [null, "secret.read", "secret:old/b", "denied", 403, '{"reason":"scope"}', null],
    ] as const;
    const top = (await env.DB.prepare("SELECT COALESCE(MAX(n), 0) AS n FROM audit_events_legacy").first<{ n: number }>())!.n;
    for (const [i, [seq, action, resource, outcome, status, detail, hash]] of rows.entries()) {
      await env.DB.prepare(
        "INSERT INTO audit_events_legacy (n, tenant_id, seq, id, at, actor, action, resource, outcome, status, request_id, detail, hash) VALUES (?, ?, ?, ?, ?, 'old-admin', ?, ?, ?, ?, ?, ?, ?)",
      )
        .bind(top + 1 + i, id, seq, `legacy-${i}`, old + i, action, resource, outcome, status, `req-old-${i}`, detail, hash)
        .run();
    }
    await createTenant(id);
    const { token } = await tokenWith(["secrets:read", "secrets:write", "audit:read"], { tenant: id, subject: "new-admin" });
    const path = uniquePath("after-legacy");
    expect((await api("POST", store(path), { token, body: { value: "v" } })).status).toBe(201);

    const all = (await api("GET", "/api/v1/audit?limit=100", { token })).body;
    const legacy = all.items.filter((e: any) => e.actor === "old-admin").reverse();
    expect(legacy.map((e: any) => [e.seq, e.id, e.action, e.resource, e.outcome, e.status, e.detail, e.at])).toEqual([
      [1, "legacy-0", "secret.write", "secret:old/a", "success", 201, { version: 1 }, new Date(old).toISOString()],
      [2, "legacy-1", "secret.read", "secret:old/a", "success", 200, null, new Date(old + 1).toISOString()],
      [3, "legacy-2", "secret.read", "secret:old/b", "denied", 403, { reason: "scope" }, new Date(old + 2).toISOString()],
    ]);
    // The chain's own events follow them.
    expect(Math.min(...all.items.filter((e: any) => e.actor !== "old-admin").map((e: any) => e.seq))).toBe(4);
    // Filters and pagination reach them.
    const byPath = (await api("GET", "/api/v1/audit?path=old/a&limit=1", { token })).body;
    expect(byPath.items.map((e: any) => e.id)).toEqual(["legacy-1"]);
    const next = (await api("GET", `/api/v1/audit?path=old/a&limit=1&cursor=${byPath.next_cursor}`, { token })).body;
    expect(next.items.map((e: any) => e.id)).toEqual(["legacy-0"]);
    expect((await api("GET", "/api/v1/audit?failed_only=true&actor=old-admin", { token })).body.items.map((e: any) => e.id)).toEqual(["legacy-2"]);

    // Imported once: a restart does not import them again.
    await evictDurableObject(chainOf(id));
    expect((await api("GET", store(path), { token })).status).toBe(200);
    const verify = async () => (await api("GET", "/api/v1/audit/verify", { token })).body;
    const events = await chainEvents(id);
    expect(events.filter((e) => e.actor === "old-admin")).toHaveLength(3);
    expect(await verify()).toEqual({ ok: true, checked: events.length });
    // From the import on they are chained and MACed like any event: altering the oldest is named.
    await chainSql(id, "UPDATE events SET actor = 'someone-else' WHERE seq = 1");
    expect(await verify()).toMatchObject({ ok: false, first_bad_seq: 1, reason: "hash-mismatch" });
  });
});
