import { beforeAll, describe, expect, it } from "vitest";
import { api, expectProblem, sendUntilLimited, tokenWith, uniquePath, type ApiResponse } from "../helpers";
import { auditDb } from "../support/audit-store";
import { AUDIENCE, ISSUER, signingKey, signJwt, uniqueName, type SigningKey } from "../identity/helpers";
import { tenantWithAdmin } from "./tenant-fixture";

/**
 * Work an input can cause is bounded before it is done (issue 12, "Bounded work"):
 * globs, reference expansion and failed logins.
 */

const store = (path: string) => `/api/v1/secrets/store/${path}`;
const ref = (path: string) => `\${secret.${path}}`;
const LARGE = 60 * 1024;

async function put(path: string, value: string) {
  const res = await api("PUT", store(path), { body: { value } });
  expect(res.status, res.text).toBe(200);
}

/** A value of about `size` characters made of references to `path`, separated by a comma. */
const manyRefs = (path: string, size: number) => Array.from({ length: Math.floor(size / (ref(path).length + 1)) }, () => ref(path)).join(",");

describe("reference expansion is sized before it is built", () => {
  it("a value with thousands of references to a large value is refused with 422 before it is built", async () => {
    const base = uniquePath("refsize");
    await put(`${base}/large`, "x".repeat(LARGE));
    // ~2,000 references to a 60 KiB value: 120 MB if built. A reference to a secret that does
    // not exist comes last: the size decides before it is even looked up.
    await put(`${base}/bomb`, `${manyRefs(`${base}/large`, LARGE)},${ref(`${base}/missing`)}`);
    const started = performance.now();
    const res = await api("GET", `${store(`${base}/bomb`)}?resolve=true`);
    const elapsed = performance.now() - started;
    expectProblem(res, 422);
    expect(res.body.type).toMatch(/reference-too-large$/);
    expect(res.body.max_size).toBe(1024 * 1024);
    expect(elapsed).toBeLessThan(2000);
  });

  it("is refused at a nested level too, and the outer value is never built", async () => {
    const base = uniquePath("refsize");
    await put(`${base}/large`, "y".repeat(LARGE));
    await put(`${base}/inner`, `${manyRefs(`${base}/large`, LARGE)},${ref(`${base}/missing`)}`);
    await put(`${base}/outer`, manyRefs(`${base}/inner`, LARGE));
    const res = await api("GET", `${store(`${base}/outer`)}?resolve=true`);
    expectProblem(res, 422);
    expect(res.body.type).toMatch(/reference-too-large$/);
    expect(res.body.detail).toContain(`${base}/inner`);
  });

  it("still expands a result just under 1 MiB, and refuses one just over", async () => {
    const base = uniquePath("refsize");
    await put(`${base}/large`, "z".repeat(64 * 1024));
    // 16 x 64 KiB is exactly 1 MiB: the separators push it over; 15 and a literal fit.
    await put(`${base}/fits`, `${Array.from({ length: 15 }, () => ref(`${base}/large`)).join("")}tail`);
    const ok = await api("GET", `${store(`${base}/fits`)}?resolve=true`);
    expect(ok.status, ok.text.slice(0, 200)).toBe(200);
    expect(ok.body.value.length).toBe(15 * 64 * 1024 + 4);
    await put(`${base}/over`, `${Array.from({ length: 16 }, () => ref(`${base}/large`)).join("")}!`);
    const over = await api("GET", `${store(`${base}/over`)}?resolve=true`);
    expectProblem(over, 422);
    expect(over.body.type).toMatch(/reference-too-large$/);
  });
});

describe("path globs match in linear time and are capped at creation", () => {
  it("a many-star glob against a long path answers in milliseconds", async () => {
    // On a backtracking regex this glob against 120 characters of `a` pins the isolate for minutes.
    const { token } = await tokenWith(["secrets:read"], { paths: ["*a*a*a*a*a*a*a*b"] });
    const started = performance.now();
    const res = await api("GET", store(`a${"a".repeat(119)}`), { token });
    const elapsed = performance.now() - started;
    expectProblem(res, 403);
    expect(elapsed).toBeLessThan(1000);
  });

  it("a glob with more than 8 stars or over 256 characters is a 400 naming the rule, wherever globs are created", async () => {
    const nineStars = "*a".repeat(9);
    const long = `app/${"x".repeat(253)}`;
    const rejected = async (path: string, body: unknown, message: RegExp) => {
      const res = await api(path.startsWith("/api/v1/auth/policies") ? "PUT" : "POST", path, { body });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { message: string }) => e.message).join("; "), path).toMatch(message);
    };
    await rejected("/api/v1/tokens", { subject: "globber", scopes: ["secrets:read"], paths: [nineStars] }, /at most 8 \*/);
    await rejected("/api/v1/tokens", { subject: "globber", scopes: ["secrets:read"], paths: [long] }, /at most 256 characters/);
    await rejected("/api/v1/auth/policies/globby", { rules: [{ paths: [nineStars], capabilities: ["read"] }] }, /at most 8 \*/);
    await rejected("/api/v1/ephemeral/api-keys", { subject: "globber", scopes: ["secrets:read"], paths: [nineStars] }, /at most 8 \*/);
    await rejected(
      "/api/v1/secrets/approvals/policies",
      { paths: [nineStars], actions: ["delete"], approvals_required: 1, approvers: { subjects: ["alice"] } },
      /at most 8 \*/,
    );
    const role = {
      name: "globby",
      issuer: "https://issuer.example",
      audience: "hush",
      jwks: { keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] },
      policies: ["globby-ok"],
    };
    await rejected("/api/v1/auth/roles", { ...role, bound_claims: { sub: nineStars } }, /at most 8 \*/);
    // Eight stars and 256 characters are still fine.
    const ok = await api("POST", "/api/v1/tokens", {
      body: { subject: "globber", scopes: ["secrets:read"], paths: ["*a".repeat(8), `app/${"x".repeat(252)}`] },
    });
    expect(ok.status, ok.text).toBe(201);
  });
});

describe("failed machine logins are rate-limited and cannot flood the audit log", () => {
  let tenant: string;
  let key: SigningKey;
  let role: string;
  const loginAs = (jwt: string, extra: { role?: string; ip?: string; tenant?: string } = {}) =>
    api("POST", "/api/v1/auth/login", {
      token: null,
      headers: extra.ip ? { "cf-connecting-ip": extra.ip } : {},
      body: { role: extra.role ?? role, jwt, tenant: extra.tenant ?? tenant },
    });
  const loginEvents = async (tenantId: string) =>
    (
      await auditDb
        .prepare("SELECT status, outcome, request_id, detail FROM audit_events WHERE tenant_id = ? AND action = 'auth.login'")
        .bind(tenantId)
        .all<{ status: number; outcome: string; request_id: string; detail: string }>()
    ).results;
  const count = (responses: ApiResponse[], status: number) => responses.filter((r) => r.status === status).length;

  beforeAll(async () => {
    let admin: string;
    ({ tenant, token: admin } = await tenantWithAdmin("login"));
    key = await signingKey("EdDSA");
    const policy = uniqueName("login-p");
    expect((await api("PUT", `/api/v1/auth/policies/${policy}`, { token: admin, body: { rules: [{ paths: ["ci/*"], capabilities: ["read"] }] } })).status).toBe(
      200,
    );
    role = uniqueName("gha");
    const created = await api("POST", "/api/v1/auth/roles", {
      token: admin,
      body: { name: role, issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] }, bound_claims: { repository: "acme/api" }, policies: [policy] },
    });
    expect(created.status, created.text).toBe(201);
  });

  it("failed logins past the limit answer 429 and stop writing audit events", async () => {
    const bad = await signJwt(key, { repository: "acme/other" });
    // From a different client address each time: the per-role limit (30 a minute) bites.
    const { passed, limited } = await sendUntilLimited(30, () => loginAs(bad));
    expect(passed.length).toBeGreaterThanOrEqual(30);
    expect(new Set(passed)).toEqual(new Set([401]));
    expectProblem(limited, 429);
    expect(limited.headers.get("retry-after")).toBe("60");
    const more: ApiResponse[] = [];
    for (let i = 0; i < 10; i++) more.push(await loginAs(bad));
    expect(count(more, 429)).toBeGreaterThan(0);

    const events = await loginEvents(tenant);
    // One event per 401; the refusals wrote one event for the window (two if a window boundary split the run).
    expect(events.filter((e) => e.status === 401).length).toBe(passed.length + count(more, 401));
    const refusals = events.filter((e) => e.status === 429);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(2);
    expect(JSON.parse(refusals[0]!.detail)).toMatchObject({ reason: "bound-claim", rate_limited: "role-limit" });

    // A good login is not limited, and is audited.
    const ok = await loginAs(await signJwt(key));
    expect(ok.status, ok.text).toBe(200);
    const success = (await loginEvents(tenant)).filter((e) => e.request_id === ok.headers.get("x-request-id"));
    expect(success).toMatchObject([{ outcome: "success", status: 200 }]);
  });

  it("failed logins from one client address are limited across role names", async () => {
    const { tenant: other } = await tenantWithAdmin("login-ip");
    const ip = "203.0.113.77";
    const jwt = await signJwt(key);
    // A fresh (unknown) role name each time: only the per-IP limit (10 a minute) applies.
    const { passed, limited } = await sendUntilLimited(10, () => loginAs(jwt, { role: uniqueName("nope"), ip, tenant: other }));
    expect(passed.length).toBeGreaterThanOrEqual(10);
    expect(new Set(passed)).toEqual(new Set([401]));
    expectProblem(limited, 429);
    const events = await loginEvents(other);
    expect(events.filter((e) => e.status === 401).length).toBe(passed.length);
    expect(events.filter((e) => e.status === 429).length).toBeLessThanOrEqual(2);
    // Another address is not limited.
    expectProblem(await loginAs(jwt, { role: uniqueName("nope"), ip: "203.0.113.78", tenant: other }), 401);
  });

  it("many addresses and role names together write at most 100 failed-login events a minute per tenant", async () => {
    const { tenant: other } = await tenantWithAdmin("login-flood");
    const jwt = await signJwt(key);
    const answers: ApiResponse[] = [];
    // 210 attempts span at most two rate-limit windows, so at least one window goes past 100.
    for (let i = 0; i < 210; i++) answers.push(await loginAs(jwt, { role: uniqueName("flood"), tenant: other }));
    expect(count(answers, 401)).toBeGreaterThan(200);
    const events = await loginEvents(other);
    expect(events.length).toBeLessThan(count(answers, 401));
    expect(events.filter((e) => JSON.parse(e.detail).rate_limited === undefined).length).toBeLessThanOrEqual(200);
    const notices = events.filter((e) => JSON.parse(e.detail).rate_limited === "audit-limit");
    expect(notices.length).toBeGreaterThanOrEqual(1);
    expect(notices.length).toBeLessThanOrEqual(2);
  }, 30_000);

  it("a revoked token used past the limit answers 429 and stops writing auth.reject events", async () => {
    const { token, id } = await tokenWith(["secrets:read"]);
    expect((await api("DELETE", `/api/v1/tokens/${id}`)).status).toBe(200);
    // Random client addresses, one token: its prefix is what gets limited.
    const { passed, limited } = await sendUntilLimited(10, () => api("GET", "/api/v1/tokens/self", { token }));
    expect(new Set(passed)).toEqual(new Set([401]));
    expectProblem(limited, 429);
    const more: ApiResponse[] = [];
    for (let i = 0; i < 10; i++) more.push(await api("GET", "/api/v1/tokens/self", { token }));
    expect(count(more, 429)).toBeGreaterThan(0);
    const events = (
      await auditDb
        .prepare("SELECT status, detail FROM audit_events WHERE action = 'auth.reject' AND resource = ?")
        .bind(`token:${id}`)
        .all<{ status: number; detail: string }>()
    ).results;
    expect(events.filter((e) => e.status === 401).length).toBe(passed.length + count(more, 401));
    const refusals = events.filter((e) => e.status === 429);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(2);
    expect(JSON.parse(refusals[0]!.detail)).toEqual({ reason: "revoked", rate_limited: true });
  });
});
