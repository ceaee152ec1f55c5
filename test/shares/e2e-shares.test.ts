import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { api, BASE, expectProblem, tokenWith, sendUntilLimited } from "../helpers";
import { createE2e, decryptShare, encryptForShare, freshIp, indexRow, nonceFor, reveal, storedRow } from "./share-helpers";
import { auditDb } from "../support/audit-store";

/** `ratelimits` SHARE_CREATE_LIMITER in wrangler.jsonc. */
const ANONYMOUS_LIMIT_PER_MINUTE = 20;

describe("POST /api/v1/shares (end-to-end mode)", () => {
  it("stores ciphertext and returns the id, the page url and the expiry", async () => {
    const before = Date.now();
    const { id, created } = await createE2e("hunter2");
    expect(id).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(created.url).toBe(`${BASE}/s/${id}`);
    const expires = Date.parse(created.expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 86_400_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 86_400_000 + 1000);
    const row = await indexRow(id);
    expect(row).toMatchObject({ id, tenant_id: "default", mode: "e2e", created_by: "anonymous", state: "active", views_left: 1, max_views: 1 });
  });

  it("rejects bad input with a problem document", async () => {
    const { ciphertext } = await encryptForShare("x");
    const cases: unknown[] = [
      {},
      { ciphertext: "not base64!" },
      { ciphertext: "abc" },
      { ciphertext, extra: 1 },
      { ciphertext, expires_in_seconds: 299 },
      { ciphertext, expires_in_seconds: 2_592_001 },
      { ciphertext, max_views: 0 },
      { ciphertext, max_views: 11 },
      { ciphertext, passphrase: "" },
    ];
    for (const body of cases) {
      const res = await api("POST", "/api/v1/shares", { token: null, body, headers: { "cf-connecting-ip": freshIp() } });
      expectProblem(res, 400);
    }
    const text = await api("POST", "/api/v1/shares", { token: null, rawBody: "ciphertext=x", headers: { "content-type": "text/plain" } });
    expectProblem(text, 415);
  });

  it("caps anonymous shares at 32 KiB but lets a token holder share 64 KiB", async () => {
    const big = "a".repeat(32 * 1024 + 1);
    const { ciphertext } = await encryptForShare(big);
    const anonymous = await api("POST", "/api/v1/shares", { token: null, body: { ciphertext }, headers: { "cf-connecting-ip": freshIp() } });
    expectProblem(anonymous, 413);
    const { token } = await tokenWith(["secrets:write", "secrets:read"], { subject: "alice" });
    const withToken = await api("POST", "/api/v1/shares", { token, body: { ciphertext } });
    expect(withToken.status, withToken.text).toBe(201);
    expect((await indexRow(withToken.body.id))?.created_by).toBe("alice");
    const huge = await encryptForShare("a".repeat(64 * 1024 + 1));
    expectProblem(await api("POST", "/api/v1/shares", { token, body: { ciphertext: huge.ciphertext } }), 413);
  });

  it("rate-limits anonymous creation per client IP, not token holders", async () => {
    const ip = freshIp();
    const { ciphertext } = await encryptForShare("rate");
    const { passed, limited } = await sendUntilLimited(ANONYMOUS_LIMIT_PER_MINUTE, () =>
      api("POST", "/api/v1/shares", { token: null, body: { ciphertext }, headers: { "cf-connecting-ip": ip } }),
    );
    expect(passed.length).toBeGreaterThanOrEqual(ANONYMOUS_LIMIT_PER_MINUTE);
    expect(new Set(passed)).toEqual(new Set([201]));
    expectProblem(limited, 429);
    expect(limited.headers.get("retry-after")).toBe("60");
    const other = await api("POST", "/api/v1/shares", { token: null, body: { ciphertext }, headers: { "cf-connecting-ip": freshIp() } });
    expect(other.status).toBe(201);
    const { token } = await tokenWith(["secrets:write"]);
    for (let i = 0; i < 3; i++) {
      const res = await api("POST", "/api/v1/shares", { token, body: { ciphertext }, headers: { "cf-connecting-ip": ip } });
      expect(res.status, res.text).toBe(201);
    }
  });

  it("refuses a bad or under-scoped token instead of falling back to anonymous", async () => {
    const { ciphertext } = await encryptForShare("x");
    expectProblem(await api("POST", "/api/v1/shares", { token: "hush_nope", body: { ciphertext } }), 401);
    const { token } = await tokenWith(["secrets:read"]);
    expectProblem(await api("POST", "/api/v1/shares", { token, body: { ciphertext } }), 403);
  });

  it("requires a token when the operator sets SHARES_REQUIRE_TOKEN", async () => {
    const strict = { ...env, SHARES_REQUIRE_TOKEN: "true" } as unknown as Env;
    const { ciphertext } = await encryptForShare("x");
    const call = async (headers: Record<string, string>) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`${BASE}/api/v1/shares`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ ciphertext }),
        }),
        strict,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    const anonymous = await call({ "cf-connecting-ip": freshIp() });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { detail: string }).detail).toMatch(/requires an API token/);
    const { token } = await tokenWith(["secrets:write"]);
    expect((await call({ authorization: `Bearer ${token}` })).status).toBe(201);
    const ctx = createExecutionContext();
    const page = await app.fetch(new Request(`${BASE}/`), strict, ctx);
    expect(await page.text()).toContain('id="token"');
  });

  it("ignores an Idempotency-Key on the public route instead of failing", async () => {
    const { ciphertext } = await encryptForShare("x");
    const res = await api("POST", "/api/v1/shares", {
      token: null,
      body: { ciphertext },
      headers: { "cf-connecting-ip": freshIp(), "idempotency-key": "k-1" },
    });
    expect(res.status, res.text).toBe(201);
  });
});

describe("POST /api/v1/shares/{id}/nonce and /reveal", () => {
  it("reveals the exact ciphertext once, then answers 410 everywhere", async () => {
    const secret = "pässwörd 🔑\nline two";
    const { id, key } = await createE2e(secret);
    const nonce = await api("POST", `/api/v1/shares/${id}/nonce`, { token: null });
    expect(nonce.status).toBe(200);
    expect(nonce.body).toMatchObject({ passphrase_required: false, views_left: 1, mode: "e2e" });
    expect(typeof nonce.body.expires_at).toBe("string");
    const first = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce: nonce.body.nonce } });
    expect(first.status, first.text).toBe(200);
    expect(first.body.views_left).toBe(0);
    expect(await decryptShare(key, first.body.ciphertext)).toBe(secret);
    expect(first.headers.get("cache-control")).toBe("no-store");

    const again = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce: nonce.body.nonce } });
    expectProblem(again, 410);
    expect(again.body).toMatchObject({ state: "viewed" });
    expect(again.body.viewed_at).not.toBeNull();
    expectProblem(await api("POST", `/api/v1/shares/${id}/nonce`, { token: null }), 410);
    expect((await storedRow(id))?.payload).toBeNull();
    expect(await indexRow(id)).toMatchObject({ state: "viewed", views_left: 0 });
  });

  it("allows exactly max_views reveals, one per nonce", async () => {
    const { id, key } = await createE2e("shared thrice", { max_views: 3 });
    const nonce = await nonceFor(id);
    const first = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce } });
    expect(first.body.views_left).toBe(2);
    expectProblem(await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce } }), 403);
    const second = await reveal(id);
    const third = await reveal(id);
    expect([second.status, third.status]).toEqual([200, 200]);
    expect([second.body.views_left, third.body.views_left]).toEqual([1, 0]);
    expect(await decryptShare(key, third.body.ciphertext)).toBe("shared thrice");
    expectProblem(await api("POST", `/api/v1/shares/${id}/nonce`, { token: null }), 410);
    expect(await indexRow(id)).toMatchObject({ state: "viewed", views_left: 0 });
  });

  it("reveals exactly once under 50 concurrent reveals with 50 valid nonces", async () => {
    const { id } = await createE2e("race");
    const nonces = await Promise.all(Array.from({ length: 50 }, () => nonceFor(id)));
    const results = await Promise.all(nonces.map((nonce) => api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce } })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 410)).toHaveLength(49);
  });

  it("refuses a missing, unknown or expired nonce", async () => {
    const { id } = await createE2e("nonce");
    expectProblem(await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: {} }), 400);
    const unknown = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce: "made-up" } });
    expectProblem(unknown, 403);
    expect(unknown.body.type).toMatch(/invalid-nonce$/);
    const nonce = await nonceFor(id);
    await import("cloudflare:test").then(({ runInDurableObject }) =>
      runInDurableObject(env.SHARE.get(env.SHARE.idFromName(id)), (_i, state) => {
        state.storage.sql.exec("UPDATE nonces SET expires_at = ?", Date.now() - 1);
      }),
    );
    const stale = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce } });
    expectProblem(stale, 403);
    expect(stale.body.type).toMatch(/nonce-expired$/);
    expect((await reveal(id)).status).toBe(200);
  });

  it("answers 404 for an unknown id and 400 for a malformed one", async () => {
    expectProblem(await api("POST", "/api/v1/shares/AAAAAAAAAAAAAAAAAAAAAA/nonce", { token: null }), 404);
    expectProblem(await api("POST", "/api/v1/shares/AAAAAAAAAAAAAAAAAAAAAA/reveal", { token: null, body: { nonce: "x" } }), 404);
    expectProblem(await api("POST", "/api/v1/shares/short/nonce", { token: null }), 400);
    expectProblem(await api("GET", "/api/v1/shares/AAAAAAAAAAAAAAAAAAAAAA/reveal", { token: null }), 405);
  });
});

describe("passphrases", () => {
  it("needs the passphrase; wrong ones count and do not spend the nonce", async () => {
    const { id, key } = await createE2e("behind a passphrase", { passphrase: "correct horse" });
    const nonce = await api("POST", `/api/v1/shares/${id}/nonce`, { token: null });
    expect(nonce.body.passphrase_required).toBe(true);
    const missing = await api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce: nonce.body.nonce } });
    expectProblem(missing, 403);
    expect(missing.body.type).toMatch(/passphrase-required$/);
    for (const left of [4, 3, 2, 1]) {
      const wrong = await api("POST", `/api/v1/shares/${id}/reveal`, {
        token: null,
        body: { nonce: nonce.body.nonce, passphrase: "battery staple" },
      });
      expectProblem(wrong, 403);
      expect(wrong.body).toMatchObject({ attempts_left: left });
    }
    const right = await api("POST", `/api/v1/shares/${id}/reveal`, {
      token: null,
      body: { nonce: nonce.body.nonce, passphrase: "correct horse" },
    });
    expect(right.status, right.text).toBe(200);
    expect(await decryptShare(key, right.body.ciphertext)).toBe("behind a passphrase");
  });

  it("destroys the share on the fifth wrong passphrase", async () => {
    const { id } = await createE2e("doomed", { passphrase: "right" });
    const nonce = await nonceFor(id);
    const attempt = (passphrase: string) => api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce, passphrase } });
    for (let i = 0; i < 4; i++) expect((await attempt("wrong")).status).toBe(403);
    const fifth = await attempt("wrong");
    expectProblem(fifth, 403);
    expect(fifth.body.attempts_left).toBe(0);
    expect(fifth.body.detail).toMatch(/destroyed/);
    const after = await attempt("right");
    expectProblem(after, 410);
    expect(after.body.state).toBe("destroyed");
    expect((await storedRow(id))?.payload).toBeNull();
    expect(await indexRow(id)).toMatchObject({ state: "destroyed" });
    const events = await auditDb
      .prepare("SELECT action, outcome, detail FROM audit_events WHERE resource = ? ORDER BY n")
      .bind(`share:${id}`)
      .all<{ action: string; outcome: string; detail: string }>();
    expect(events.results.filter((e) => e.action === "share.reveal" && e.outcome === "denied")).toHaveLength(5);
  });

  it("stores only a salted verifier, never the passphrase", async () => {
    const { id } = await createE2e("x", { passphrase: "plain passphrase" });
    const row = (await storedRow(id))!;
    expect(row.pass_hash).toBeInstanceOf(ArrayBuffer);
    const dump = JSON.stringify(row, (_k, v) => (v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v));
    expect(dump).not.toContain("plain passphrase");
  });
});
