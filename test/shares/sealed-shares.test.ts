import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE, createTenant, expectProblem, tokenWith } from "../helpers";
import { storedResponse } from "../foundation/stored-response";
import { backdateExpiry, createE2e, createSealed, indexRow, nonceFor, redeem, shareObject, storedRow } from "./share-helpers";
import { auditDb } from "../support/audit-store";

describe("POST /api/v1/secrets/shares (server-sealed)", () => {
  it("returns the id, a bearer token shown once, a url and the expiry", async () => {
    const created = await createSealed("db-password", { expires_in_seconds: 600 });
    expect(created.token).toMatch(new RegExp(`^hshr_${created.id}\\.[A-Za-z0-9]{32}$`));
    expect(created.url).toBe(`${BASE}/s/${created.id}#${created.token}`);
    expect(Date.parse(created.expires_at) - Date.now()).toBeGreaterThan(590_000);
    const meta = await api("GET", `/api/v1/secrets/shares/${created.id}`);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ id: created.id, mode: "sealed", state: "active", max_views: 1, views_left: 1, created_by: "root" });
    expect(meta.text).not.toContain(created.token);
  });

  it("needs an API token with secrets:write", async () => {
    expectProblem(await api("POST", "/api/v1/secrets/shares", { token: null, body: { value: "x" } }), 401);
    const { token } = await tokenWith(["secrets:read"]);
    expectProblem(await api("POST", "/api/v1/secrets/shares", { token, body: { value: "x" } }), 403);
    expectProblem(await api("POST", "/api/v1/secrets/shares", { body: { value: "" } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/shares", { rawBody: '{"value": "\\ud800"}', headers: { "content-type": "application/json" } }), 400);
    expectProblem(await api("POST", "/api/v1/secrets/shares", { body: { value: "x".repeat(64 * 1024 + 1) } }), 413);
  });

  it("a replayed sealed share creation does not return the share token again", async () => {
    const headers = { "idempotency-key": `share-${crypto.randomUUID()}` };
    const first = await api("POST", "/api/v1/secrets/shares", { body: { value: "once" }, headers });
    const second = await api("POST", "/api/v1/secrets/shares", { body: { value: "once" }, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    // The same share (one was made), without its token or the link that carries it.
    expect(second.body).toEqual({ id: first.body.id, expires_at: first.body.expires_at, credential_already_issued: true });
    const secretPart = first.body.token.split(".")[1];
    expect(second.text).not.toContain(secretPart);
    expect(await storedResponse(headers["idempotency-key"])).not.toContain(secretPart);
    // The token shown the first time still redeems.
    expect((await redeem(first.body.token)).body.value).toBe("once");
  });
});

describe("POST /api/v1/secrets/shares/redeem", () => {
  it("returns the value once without an API token, then 410", async () => {
    const { token, id } = await createSealed("s3cr3t ✓");
    const first = await redeem(token);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ value: "s3cr3t ✓", views_left: 0 });
    const second = await redeem(token);
    expectProblem(second, 410);
    expect(second.body.state).toBe("viewed");
    expect((await storedRow(id))?.payload).toBeNull();
    const meta = await api("GET", `/api/v1/secrets/shares/${id}`);
    expect(meta.body).toMatchObject({ state: "viewed", views_left: 0 });
    expect(meta.body.viewed_at).not.toBeNull();
  });

  it("gives exactly one 200 and 49 410s under 50 concurrent redeems", async () => {
    const { token } = await createSealed("only one of you gets this");
    const results = await Promise.all(Array.from({ length: 50 }, () => redeem(token)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(ok[0]!.body.value).toBe("only one of you gets this");
    expect(results.filter((r) => r.status === 410)).toHaveLength(49);
  });

  it("serves views > 1 and counts them down", async () => {
    const { token, id } = await createSealed("team", { max_views: 3 });
    const lefts = [];
    for (let i = 0; i < 3; i++) lefts.push((await redeem(token)).body.views_left);
    expect(lefts).toEqual([2, 1, 0]);
    expectProblem(await redeem(token), 410);
    expect(await indexRow(id)).toMatchObject({ views_left: 0, state: "viewed" });
  });

  it("refuses a malformed token, a wrong token and an unknown share", async () => {
    const { token, id } = await createSealed("x");
    expectProblem(await redeem("not-a-token"), 400);
    expectProblem(await redeem(`hshr_${id}.${"A".repeat(32)}`), 403);
    expectProblem(await redeem(`hshr_${"B".repeat(22)}.${"A".repeat(32)}`), 404);
    const e2e = await createE2e("no token for this one");
    expectProblem(await redeem(`hshr_${e2e.id}.${"A".repeat(32)}`), 403);
    expectProblem(await api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token, extra: 1 } }), 400);
    expect((await redeem(token)).status).toBe(200);
  });

  it("counts wrong passphrases and destroys the share on the fifth", async () => {
    const { token } = await createSealed("guarded", { passphrase: "open sesame" });
    expectProblem(await redeem(token), 403);
    const wrong = await redeem(token, "nope");
    expect(wrong.body.attempts_left).toBe(4);
    expect((await redeem(token, "open sesame")).body.value).toBe("guarded");

    const doomed = await createSealed("doomed", { passphrase: "open sesame" });
    for (let i = 0; i < 5; i++) expectProblem(await redeem(doomed.token, "nope"), 403);
    const after = await redeem(doomed.token, "open sesame");
    expectProblem(after, 410);
    expect(after.body.state).toBe("destroyed");
  });

  it("answers 503 and spends nothing when the master key is missing", async () => {
    const { token, id } = await createSealed("kept");
    const { app } = await import("../../src/app");
    const { createExecutionContext } = await import("cloudflare:test");
    const res = await app.fetch(
      new Request(`${BASE}/api/v1/secrets/shares/redeem`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) }),
      { ...env, MASTER_KEYS: undefined } as unknown as Env,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect((await storedRow(id))?.views_left).toBe(1);
    expect((await redeem(token)).status).toBe(200);
  });
});

describe("expiry", () => {
  it("arms an alarm at expiry that deletes the payload and marks the index", async () => {
    const { id, token } = await createSealed("short-lived", { expires_in_seconds: 300 });
    const stub = shareObject(id);
    const row = (await storedRow(id))!;
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(row.expires_at);
    expect(row.payload).toBeInstanceOf(ArrayBuffer);

    // Not yet due: the alarm re-arms and keeps the payload.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await storedRow(id))?.payload).toBeInstanceOf(ArrayBuffer);

    await backdateExpiry(id);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = (await storedRow(id))!;
    expect(after.payload).toBeNull();
    expect(after.state).toBe("expired");
    expect(await indexRow(id)).toMatchObject({ state: "expired" });
    const expiredEvents = await auditDb
      .prepare("SELECT count(*) AS n FROM audit_events WHERE resource = ? AND action = 'share.expire'")
      .bind(`share:${id}`)
      .first<{ n: number }>();
    expect(expiredEvents?.n).toBe(1);

    // Alarms are at-least-once: running it again changes nothing and writes no second event.
    await runInDurableObject(stub, (_i, state) => state.storage.setAlarm(Date.now()));
    await runDurableObjectAlarm(stub);
    const again = await auditDb
      .prepare("SELECT count(*) AS n FROM audit_events WHERE resource = ? AND action = 'share.expire'")
      .bind(`share:${id}`)
      .first<{ n: number }>();
    expect(again?.n).toBe(1);
    const gone = await redeem(token);
    expectProblem(gone, 410);
    expect(gone.body.state).toBe("expired");
  });

  it("is 410 after expiry even before the alarm has run, and deletes the payload then", async () => {
    const { id, token } = await createSealed("late");
    await backdateExpiry(id);
    expect((await storedRow(id))?.payload).toBeInstanceOf(ArrayBuffer);
    const res = await redeem(token);
    expectProblem(res, 410);
    expect(res.body.state).toBe("expired");
    expect((await storedRow(id))?.payload).toBeNull();
    expectProblem(await api("POST", `/api/v1/shares/${id}/nonce`, { token: null }), 410);
  });

  it("deletes the tombstone once the retention period has passed", async () => {
    const { id } = await createSealed("old");
    const stub = shareObject(id);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE share SET expires_at = ?", Date.now() - 31 * 24 * 3600_000);
    });
    await runDurableObjectAlarm(stub);
    const tables = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'share'").toArray(),
    );
    expect(tables).toHaveLength(0);
    expectProblem(await api("POST", `/api/v1/shares/${id}/nonce`, { token: null }), 404);
  });
});

describe("GET and DELETE /api/v1/secrets/shares/{id}", () => {
  it("revokes an active share: the payload goes at once and readers get 410", async () => {
    const { id, token } = await createSealed("revoke me");
    const res = await api("DELETE", `/api/v1/secrets/shares/${id}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.state).toBe("revoked");
    expect(res.body.ended_at).not.toBeNull();
    expect((await storedRow(id))?.payload).toBeNull();
    const gone = await redeem(token);
    expectProblem(gone, 410);
    expect(gone.body.state).toBe("revoked");
    expect((await api("DELETE", `/api/v1/secrets/shares/${id}`)).status).toBe(200);
    expect((await api("GET", `/api/v1/secrets/shares/${id}`)).body.state).toBe("revoked");
    expect(await indexRow(id)).toMatchObject({ state: "revoked" });
  });

  it("refuses to revoke a share that was already viewed", async () => {
    const { id, token } = await createSealed("read first");
    await redeem(token);
    const res = await api("DELETE", `/api/v1/secrets/shares/${id}`);
    expectProblem(res, 409);
    expect(res.body.state).toBe("viewed");
  });

  it("hides another tenant's share (404) and needs a token", async () => {
    const { id } = await createSealed("mine");
    await createTenant("share-other");
    const { token } = await tokenWith(["secrets:read", "secrets:write"], { tenant: "share-other" });
    expectProblem(await api("GET", `/api/v1/secrets/shares/${id}`, { token }), 404);
    expectProblem(await api("DELETE", `/api/v1/secrets/shares/${id}`, { token }), 404);
    expectProblem(await api("GET", `/api/v1/secrets/shares/${id}`, { token: null }), 401);
    expectProblem(await api("GET", "/api/v1/secrets/shares/redeem", { token: null }), 401);
    expectProblem(await api("GET", "/api/v1/secrets/shares/not-an-id"), 400);
  });

  it("lets a browser reveal a sealed share with its token from the link", async () => {
    const { id, token } = await createSealed("via the page");
    const nonce = await nonceFor(id);
    const without = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce } });
    expectProblem(without, 403);
    const res = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce, token } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ value: "via the page", views_left: 0 });
  });
});

describe("what is stored", () => {
  it("never writes the token, the value or the passphrase to D1 or the audit log", async () => {
    const value = `value-${crypto.randomUUID()}`;
    const passphrase = `pass-${crypto.randomUUID()}`;
    const { id, token } = await createSealed(value, { passphrase });
    await redeem(token, "wrong guess");
    expect((await redeem(token, passphrase)).body.value).toBe(value);
    await redeem(token, passphrase);

    const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all<{
      name: string;
    }>();
    const secretPart = token.split(".")[1]!;
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      const dump = JSON.stringify(rows.results, (_k, v) =>
        v instanceof ArrayBuffer
          ? new TextDecoder().decode(v)
          : Array.isArray(v) && typeof v[0] === "number"
            ? new TextDecoder().decode(Uint8Array.from(v))
            : v,
      );
      for (const needle of [token, secretPart, value, passphrase]) expect(dump, `${needle} found in ${name}`).not.toContain(needle);
    }
    const events = await auditDb.prepare("SELECT action, outcome FROM audit_events WHERE resource = ? ORDER BY n").bind(`share:${id}`).all();
    expect(events.results).toEqual([
      { action: "share.create", outcome: "success" },
      { action: "share.redeem", outcome: "denied" },
      { action: "share.redeem", outcome: "success" },
      { action: "share.redeem", outcome: "failure" },
    ]);
    // Only the token's hash reaches the object.
    const row = (await storedRow(id))!;
    expect(JSON.stringify(row)).not.toContain(secretPart);
  });
});
