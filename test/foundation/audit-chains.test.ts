import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chainHash } from "../../src/audit/chain";
import { appendEvents, chainOf as chainFor, copyInsert, newEvent } from "../../src/audit/log";
import { auditChainCount, forgetAuditChainCount } from "../../src/db/directory";
import { SCOPES } from "../../src/auth/access";
import { database } from "../../src/db/client";
import { api, type ApiResponse, createTenant, expectProblem, tokenWith, uniquePath } from "../helpers";
import { chainEventsAt, chainOf, chainSqlAt } from "../support/audit-store";

/** A tenant whose audit log spreads over several chains (issue 13 §1, last bullet; docs/decisions.md "Several audit chains"). */

const store = (path: string) => `/api/v1/secrets/store/${path}`;
const CHAINS = 4;

async function tenant(name: string, chains: number) {
  const id = `${name}-${crypto.randomUUID().slice(0, 8)}`;
  await createTenant(id);
  if (chains > 1) {
    const set = await api("PATCH", `/api/v1/tenants/${id}`, { body: { audit_chains: chains } });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toMatchObject({ id, audit_chains: chains });
  }
  const { token } = await tokenWith(["secrets:read", "secrets:write", "audit:read"], { tenant: id, subject: "chains-admin" });
  const verify = async () => (await api("GET", "/api/v1/audit/verify", { token })).body;
  return { id, token, verify };
}

/** The same workload on any tenant: `writes` secrets created at once, each read twice at once, and a few failed reads. */
async function burst(token: string, writes = 12, folder = "burst") {
  const paths = Array.from({ length: writes }, (_, i) => `${folder}/s${i}`);
  const created = await Promise.all(paths.map((p, i) => api("POST", store(p), { token, body: { value: `v${i}` } })));
  expect(created.map((r) => r.status)).toEqual(paths.map(() => 201));
  const reads = await Promise.all([...paths, ...paths].map((p) => api("GET", store(p), { token })));
  expect(reads.every((r) => r.status === 200)).toBe(true);
  const missing = await Promise.all([1, 2, 3].map((i) => api("GET", store(`burst/missing${i}`), { token })));
  expect(missing.map((r) => r.status)).toEqual([404, 404, 404]);
}

/** Every event of the tenant's chains, as the objects hold them. */
async function allEvents(id: string, chains = CHAINS) {
  const per = await Promise.all(Array.from({ length: chains }, (_, k) => chainEventsAt(id, k)));
  return per.map((events, chain) => events.map((e): Record<string, any> => ({ ...e, chain })));
}

/** Every listed event, page by page (`limit` each), following next_cursor. */
async function listAll(token: string, query = "", limit = 7) {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: ApiResponse = await api("GET", `/api/v1/audit?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    items.push(...res.body.items);
    cursor = res.body.next_cursor;
    if (++pages > 200) throw new Error("listing does not end");
  } while (cursor);
  return items;
}

describe("a tenant set to several audit chains", { timeout: 60_000 }, () => {
  it("spreads a burst over more than one chain, each request on one; lists every event once, in order; filters count as with one chain; verifies", async () => {
    const many = await tenant("chains-4", CHAINS);
    const one = await tenant("chains-1", 1);
    await Promise.all([burst(many.token), burst(one.token)]);
    await new Promise((r) => setTimeout(r, 300)); // the settles ride after the responses

    const per = await allEvents(many.id);
    const used = per.filter((events) => events.length > 0).length;
    expect(used, JSON.stringify(per.map((e) => e.length))).toBeGreaterThan(1);
    // A request's events (intent, then any outcome) never split over chains.
    const chainOfRequest = new Map<string, Set<number>>();
    for (const e of per.flat()) chainOfRequest.set(e.request_id, (chainOfRequest.get(e.request_id) ?? new Set()).add(e.chain));
    expect([...chainOfRequest.values()].every((chains) => chains.size === 1)).toBe(true);
    // Every chain is numbered on its own from 1 and hashed under its own name.
    for (const events of per) expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));

    // Listing: every event exactly once, across pages, newest first by time, then chain, then seq.
    const listed = await listAll(many.token);
    const expected = per.flat().filter((e) => e.state !== "aborted");
    expect(listed).toHaveLength(expected.length);
    expect(new Set(listed.map((e) => `${e.chain}:${e.seq}`)).size).toBe(expected.length);
    expect(new Set(listed.map((e) => e.id))).toEqual(new Set(expected.map((e) => e.id)));
    // Each chain in its own order; where the listing passes from one chain to another, the newer
    // by time, then chain, then seq comes first (the merge takes the newest of the chains' next events).
    for (let i = 1; i < listed.length; i++) {
      const [a, b] = [listed[i - 1], listed[i]];
      if (a.chain === b.chain) continue;
      const order = Date.parse(a.at) - Date.parse(b.at) || a.chain - b.chain || a.seq - b.seq;
      expect(order, JSON.stringify([a, b])).toBeGreaterThan(0);
    }
    for (let k = 0; k < CHAINS; k++) {
      const seqs = listed.filter((e) => e.chain === k).map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    }
    // One page of everything says the same as the pages.
    expect((await listAll(many.token, "", 1000)).map((e) => e.id)).toEqual(listed.map((e) => e.id));

    // Filters and the summary's counts are those of the one-chain tenant with the same workload.
    const summary = (items: any[]) => ({
      events: items.length,
      failed: items.filter((e) => e.outcome !== "success").length,
      actions: Object.fromEntries([...new Set(items.map((e) => e.action))].sort().map((a) => [a, items.filter((e) => e.action === a).length])),
    });
    for (const query of ["", "&failed_only=true", "&path=burst/s3", "&action=secret.read", "&actor=chains-admin", "&actor=chains-admin&failed_only=true"]) {
      const [a, b] = await Promise.all([listAll(many.token, query, 5), listAll(one.token, query, 5)]);
      expect(summary(a), query).toEqual(summary(b));
      expect(a.length, query).toBeGreaterThan(0);
    }

    const verified = await many.verify();
    expect(verified).toMatchObject({ ok: true, checked: per.flat().length });
    expect(verified.chains.map((c: any) => [c.chain, c.ok, c.checked])).toEqual(per.map((events, k) => [k, true, events.length]));
    expect(await one.verify()).toEqual({ ok: true, checked: expected.length });
  });

  it("a cursor is checked: a forged one is a 400, and one from another tenant shows only the caller's events", async () => {
    const a = await tenant("cursor-a", CHAINS);
    const b = await tenant("cursor-b", 1);
    await burst(a.token, 4);
    await api("POST", store(uniquePath("b")), { token: b.token, body: { value: "b" } });
    const page = (await api("GET", "/api/v1/audit?limit=3", { token: a.token })).body;
    expect(page.next_cursor).toMatch(/^c1\./);
    const forge = (positions: unknown) => `c1.${btoa(JSON.stringify(positions)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
    for (const cursor of ["garbage", "c1.!!", forge([1, 2, 3, 4, 5]), forge([-1]), forge(["1"]), forge([]), forge({ a: 1 }), "0", `c1.${"A".repeat(1100)}`]) {
      const res: ApiResponse = await api("GET", `/api/v1/audit?cursor=${encodeURIComponent(cursor)}`, { token: a.token });
      expectProblem(res, 400);
    }
    // A's cursor (4 positions) is more chains than B has: refused. A cursor within B's chains lists B's events only.
    expectProblem(await api("GET", `/api/v1/audit?cursor=${encodeURIComponent(page.next_cursor)}`, { token: b.token }), 400);
    const mine = (await api("GET", `/api/v1/audit?cursor=${encodeURIComponent(forge([100]))}`, { token: b.token })).body.items;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e: any) => e.actor === "chains-admin" || e.actor === "root")).toBe(true);
    const aIds = new Set((await listAll(a.token)).map((e) => e.id));
    expect(mine.some((e: any) => aIds.has(e.id))).toBe(false);
    // The old numeric cursor (chain 0 below that seq) still works.
    expect((await api("GET", "/api/v1/audit?cursor=3", { token: b.token })).body.items.map((e: any) => e.seq)).toEqual([2, 1]);
  });

  it("a directory row lowered in D1 hides no chain: chain 0 remembers the count", async () => {
    const t = await tenant("chains-lowered", CHAINS);
    await burst(t.token, 6);
    const before = await listAll(t.token);
    await env.DB.prepare("UPDATE tenants SET audit_chains = 1 WHERE id = ?").bind(t.id).run();
    const after = await listAll(t.token);
    expect(after.map((e) => e.id)).toEqual(before.map((e) => e.id));
    expect(new Set(after.map((e) => e.chain)).size).toBeGreaterThan(1);
    const verified = await t.verify();
    expect(verified.ok).toBe(true);
    expect(verified.chains).toHaveLength(CHAINS);
  });
});

/**
 * A 4-chain tenant with events on a chain other than 0: the chain k (> 0) with the most events,
 * at least 3 of them and one an intent (its D1 copy carries chain k).
 */
async function tenantOnChains(name: string) {
  const t = await tenant(name, CHAINS);
  for (let round = 0; round < 5; round++) {
    // A new folder each round: the request ids, so the chains, fall where they may.
    await burst(t.token, 6, `burst${round}`);
    const per = await allEvents(t.id);
    const k = [1, 2, 3].sort((x, y) => per[y]!.length - per[x]!.length)[0]!;
    const events = per[k]!;
    if (events.length >= 3 && events.some((e) => e.kind === "intent")) {
      await new Promise((r) => setTimeout(r, 300));
      expect(await t.verify()).toMatchObject({ ok: true });
      return { ...t, k, newest: events.length, events };
    }
  }
  throw new Error("no chain other than 0 got three events");
}

describe("tampering with a chain other than 0 is named with its chain", { timeout: 60_000 }, () => {
  const sqlOn = (t: { id: string; k: number }, query: string, ...binds: SqlStorageValue[]) => chainSqlAt(t.id, t.k, query, ...binds);

  for (const which of ["oldest", "newest"] as const) {
    it(`an altered ${which} event, also with its hash recomputed`, async () => {
      const t = await tenantOnChains(`chains-alter-${which}`);
      const seq = which === "oldest" ? 1 : t.newest;
      await sqlOn(t, "UPDATE events SET actor = 'someone-else' WHERE seq = ?", seq);
      expect(await t.verify()).toMatchObject({ ok: false, chain: t.k, first_bad_seq: seq, reason: "hash-mismatch" });
      const row = t.events[seq - 1]!;
      const forged = { ...row, actor: "someone-else" };
      await sqlOn(t, "UPDATE events SET hash = ? WHERE seq = ?", chainHash(row.prev, `${t.id}#${t.k}`, forged as any), seq);
      expect(await t.verify()).toMatchObject({ ok: false, chain: t.k, first_bad_seq: seq, reason: "hash-mismatch" });
    });

    it(`a deleted ${which} event`, async () => {
      const t = await tenantOnChains(`chains-del-${which}`);
      const seq = which === "oldest" ? 1 : t.newest;
      await sqlOn(t, "DELETE FROM events WHERE seq = ?", seq);
      expect(await t.verify()).toMatchObject({ ok: false, chain: t.k, first_bad_seq: seq });
    });
  }

  it("two events swapped, and an event inserted (in the middle, or as a new newest)", async () => {
    const t = await tenantOnChains("chains-swap");
    await sqlOn(t, "UPDATE events SET seq = -1 WHERE seq = 1");
    await sqlOn(t, "UPDATE events SET seq = 1 WHERE seq = 2");
    await sqlOn(t, "UPDATE events SET seq = 2 WHERE seq = -1");
    expect(await t.verify()).toMatchObject({ ok: false, chain: t.k, first_bad_seq: 1, reason: "hash-mismatch" });

    const u = await tenantOnChains("chains-insert-newest");
    await sqlOn(
      u,
      "INSERT INTO events SELECT seq + 1, id, at, actor, action, resource, outcome, status, request_id, detail, kind, hash, hash, mac, key_id, state FROM events WHERE seq = ?",
      u.newest,
    );
    expect(await u.verify()).toMatchObject({ ok: false, chain: u.k, first_bad_seq: u.newest + 1, reason: "hash-mismatch" });

    const v = await tenantOnChains("chains-insert-middle");
    await sqlOn(v, "UPDATE events SET seq = -seq WHERE seq >= 2");
    await sqlOn(v, "UPDATE events SET seq = -seq + 1 WHERE seq < 0");
    await sqlOn(
      v,
      "INSERT INTO events SELECT 2, id, at, actor, action, resource, outcome, status, request_id, detail, kind, prev, hash, mac, key_id, state FROM events WHERE seq = 1",
    );
    expect(await v.verify()).toMatchObject({ ok: false, chain: v.k, first_bad_seq: 2, reason: "hash-mismatch" });
  });

  it("chain k's events copied whole into a chain never written do not verify there (each chain hashes under its own name)", async () => {
    const t = await tenantOnChains("chains-copy");
    // A fifth chain, not yet written: its witness has seen nothing, so only the hash's chain name can tell.
    expect((await api("PATCH", `/api/v1/tenants/${t.id}`, { body: { audit_chains: CHAINS + 1 } })).status).toBe(200);
    const fresh = CHAINS;
    expect(await chainEventsAt(t.id, fresh)).toEqual([]);
    for (const row of t.events) {
      await chainSqlAt(
        t.id,
        fresh,
        "INSERT INTO events (seq, id, at, actor, action, resource, outcome, status, request_id, detail, kind, prev, hash, mac, key_id, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ...([
          "seq",
          "id",
          "at",
          "actor",
          "action",
          "resource",
          "outcome",
          "status",
          "request_id",
          "detail",
          "kind",
          "prev",
          "hash",
          "mac",
          "key_id",
          "state",
        ].map((k) => row[k]) as SqlStorageValue[]),
      );
    }
    expect(await t.verify()).toMatchObject({ ok: false, chain: fresh, first_bad_seq: 1, reason: "hash-mismatch" });
    // And listed, they would show each event twice: the chain is listed (the tenant has 5), verify is what catches it.
    expect((await listAll(t.token)).filter((e) => e.chain === fresh)).toHaveLength(t.events.filter((e) => e.state !== "aborted").length);
  });

  it("a D1 copy of chain k's intent altered, deleted or moved to chain 0 is named with chain k", async () => {
    const t = await tenantOnChains("chains-d1");
    const intent = t.events.find((e) => e.kind === "intent")!;
    const copy = () => env.DB.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ? AND chain = ? AND seq = ?").bind(t.id, t.k, intent.seq);
    expect((await copy().first<{ n: number }>())!.n).toBe(1);
    await env.DB.prepare("UPDATE audit_events SET actor = 'someone-else' WHERE tenant_id = ? AND chain = ? AND seq = ?").bind(t.id, t.k, intent.seq).run();
    expect(await t.verify()).toMatchObject({ ok: false, chain: t.k, first_bad_seq: intent.seq, reason: "hash-mismatch" });
    await env.DB.prepare("UPDATE audit_events SET actor = ? WHERE tenant_id = ? AND chain = ? AND seq = ?").bind(intent.actor, t.id, t.k, intent.seq).run();
    expect(await t.verify()).toMatchObject({ ok: true });
    // Moved to chain 0 (whose own copies are numbered on their own): missing from chain k.
    await env.DB.prepare("UPDATE audit_events SET chain = 0, seq = seq + 100000 WHERE tenant_id = ? AND chain = ? AND seq = ?")
      .bind(t.id, t.k, intent.seq)
      .run();
    const moved = await t.verify();
    expect(moved.ok).toBe(false);
    expect(moved.chains.find((c: any) => c.chain === t.k).ok).toBe(false);
  });

  it("an intent left pending on chain k is resolved by that chain's alarm from its own D1 copies", async () => {
    const t = await tenantOnChains("chains-alarm");
    const chain = chainOf(t.id, t.k);
    const who = { tenantId: t.id, actor: "crash-admin", requestId: "req-crash" };
    const old = Date.now() - 120_000;
    const lost = newEvent(who, { action: "secret.write", resource: "secret:lost" }, old);
    await chain.append(t.id, [lost], "intent", undefined, t.k);
    const landed = newEvent(who, { action: "secret.write", resource: "secret:landed" }, old);
    const [placed] = await chain.append(t.id, [landed], "intent", undefined, t.k);
    const db = database(env.DB);
    await db.batch([copyInsert(db, t.id, landed, { ...placed!, chain: t.k })]);
    await runDurableObjectAlarm(chain);
    const events = await chainEventsAt(t.id, t.k);
    expect(events.find((e) => e.resource === "secret:lost" && e.kind === "intent")!.state).toBe("aborted");
    expect(events.find((e) => e.resource === "secret:landed")!.state).toBe("committed");
    expect(await t.verify()).toMatchObject({ ok: true });
  });
});

describe("a chain count cached by an isolate", { timeout: 60_000 }, () => {
  it("that is stale only sends events to a lower chain: all are listed and verified", async () => {
    const t = await tenant("chains-stale", 1);
    const rids = Array.from({ length: 40 }, (_, i) => `req-stale-${i}`);
    expect(new Set(await Promise.all(rids.map((r) => chainFor(env, t.id, r))))).toEqual(new Set([0])); // N = 1, now cached
    // Another isolate raised it (directory and chain 0): this one still says 1 for a while.
    await chainOf(t.id, 0).grow(CHAINS);
    await env.DB.prepare("UPDATE tenants SET audit_chains = ? WHERE id = ?").bind(CHAINS, t.id).run();
    const who = { tenantId: t.id, actor: "stale-isolate", requestId: "" };
    const stale = await Promise.all(rids.map((requestId) => appendEvents(env, t.id, [newEvent({ ...who, requestId }, { action: "secret.read" })], "event")));
    expect(stale.every(([p]) => (p!.chain ?? 0) === 0)).toBe(true);
    // Once it reads the count again, the same request ids spread over the four chains.
    forgetAuditChainCount(t.id);
    const fresh = await Promise.all(rids.map((requestId) => appendEvents(env, t.id, [newEvent({ ...who, requestId }, { action: "secret.read" })], "event")));
    expect(new Set(fresh.map(([p]) => p!.chain ?? 0)).size).toBeGreaterThan(1);
    const listed = await listAll(t.token, "&actor=stale-isolate", 9);
    expect(listed).toHaveLength(2 * rids.length);
    expect(listed.filter((e) => e.chain === 0).length).toBeGreaterThanOrEqual(rids.length);
    expect(await t.verify()).toMatchObject({ ok: true });
  });
});

describe("reading the chain count while other requests need it", { timeout: 60_000 }, () => {
  // Regression: the first request to find the count expired read it, and every request meanwhile
  // awaited that same read. A promise whose I/O belongs to another request is one workerd may
  // cancel for the waiters: under wrk load about 1 read in 13,000 answered 500 "the Worker's code
  // had hung" (bench/RESULTS.md, 2026-12-02 "A read hung on another request's I/O"). So a caller
  // gets a number, or a read of its own, never another caller's read in flight.
  it("two callers never share one read in flight: the second gets its own read, or the count it had", async () => {
    const t = await tenant("chains-shared-read", 2);
    forgetAuditChainCount(t.id);
    const first = auditChainCount(env, t.id);
    const second = auditChainCount(env, t.id);
    expect(first).toBeInstanceOf(Promise); // nothing cached: this caller reads
    expect(second).not.toBe(first);
    expect(await second).toBe(2);
    expect(await first).toBe(2);
    // Once read, the count is kept: a number, no read of its own.
    expect(auditChainCount(env, t.id)).toBe(2);
  });
});

describe("who may change a tenant's chain count", { timeout: 60_000 }, () => {
  it("not a token with every scope (403, audited); never lower (400); only within 1..64; 404 for no tenant", async () => {
    const t = await tenant("chains-acl", 2);
    const everything = await tokenWith([...SCOPES], { tenant: t.id, subject: "almost-root" });
    const denied = await api("PATCH", `/api/v1/tenants/${t.id}`, { token: everything.token, body: { audit_chains: 8 } });
    expectProblem(denied, 403);
    const log = (await api("GET", "/api/v1/audit?action=tenant.update", { token: everything.token })).body.items;
    expect(log.map((e: any) => [e.actor, e.outcome])).toEqual([["almost-root", "denied"]]);
    expect((await api("GET", "/api/v1/tenants", {})).body.items.find((r: any) => r.id === t.id)).toMatchObject({ audit_chains: 2 });

    expectProblem(await api("PATCH", `/api/v1/tenants/${t.id}`, { body: { audit_chains: 1 } }), 400);
    for (const audit_chains of [0, 65, 2.5, "4"]) expectProblem(await api("PATCH", `/api/v1/tenants/${t.id}`, { body: { audit_chains } }), 400);
    expectProblem(await api("PATCH", "/api/v1/tenants/no-such-tenant", { body: { audit_chains: 2 } }), 404);
    const same = await api("PATCH", `/api/v1/tenants/${t.id}`, { body: { audit_chains: 2 } });
    expect([same.status, same.body.audit_chains]).toEqual([200, 2]);
    const grown = await api("PATCH", `/api/v1/tenants/${t.id}`, { body: { audit_chains: 64 } });
    expect([grown.status, grown.body.audit_chains]).toEqual([200, 64]);
  });
});
