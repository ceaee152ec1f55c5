import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/crypto/encoding";
import { Hono } from "hono";
import type { AppEnv } from "../../src/http/context";
import { loggable } from "../../src/http/errors";
import { apiHeaders } from "../../src/http/middleware";
import { storedResponse } from "./stored-response";
import { api, BASE, expectProblem, uniquePath } from "../helpers";
import { version as packageVersion } from "../../package.json";

const store = (path: string) => `/api/v1/secrets/store/${path}`;
/** A JSON body past the default 1 MiB cap, sent with `method` to a new path: 413. */
const overOneMiB = (method: string) => ({
  method,
  path: store(uniquePath()),
  raw: JSON.stringify({ value: "x".repeat(1_100_000) }),
  headers: { "content-type": "application/json" },
  status: 413,
});

describe("bad input always gets a 4xx problem document", () => {
  const cases: { name: string; method: string; path: string; body?: unknown; raw?: string; headers?: Record<string, string>; status: number }[] = [
    // URL parsers resolve a literal /../ before sending, so the hostile forms arrive encoded.
    { name: "a path with .. behind encoded slashes", method: "POST", path: store("app%2F..%2Fetc"), body: { value: "x" }, status: 400 },
    { name: "a path with an empty segment", method: "POST", path: store("app//x"), body: { value: "x" }, status: 400 },
    { name: "a path with a leading slash", method: "POST", path: store("/app"), body: { value: "x" }, status: 400 },
    { name: "a path with a trailing slash", method: "POST", path: store("app/"), body: { value: "x" }, status: 400 },
    { name: "a path with spaces", method: "POST", path: store("app/my%20key"), body: { value: "x" }, status: 400 },
    { name: "a path with percent-encoded dots", method: "POST", path: store("app%2F%2E%2E%2Fx"), body: { value: "x" }, status: 400 },
    { name: "a path of 257 characters", method: "POST", path: store("a".repeat(257)), body: { value: "x" }, status: 400 },
    { name: "a path of unicode", method: "POST", path: store("app/ключ"), body: { value: "x" }, status: 400 },
    { name: "a reserved first segment", method: "POST", path: store("history/x"), body: { value: "x" }, status: 400 },
    { name: "a value of 64 KiB + 1", method: "POST", path: store(uniquePath()), body: { value: "x".repeat(65537) }, status: 413 },
    { name: "a body over 1 MiB", ...overOneMiB("POST") },
    // The body checks run for every method that may carry a body (src/app.ts WITH_BODY), DELETE too.
    { name: "a DELETE body over 1 MiB", ...overOneMiB("DELETE") },
    { name: "a number as the value", method: "POST", path: store(uniquePath()), body: { value: 42 }, status: 400 },
    { name: "an empty value", method: "POST", path: store(uniquePath()), body: { value: "" }, status: 400 },
    { name: "a missing value", method: "POST", path: store(uniquePath()), body: { type: "API_KEY" }, status: 400 },
    { name: "an extra field", method: "POST", path: store(uniquePath()), body: { value: "x", tenant_id: "other" }, status: 400 },
    { name: "an attempt to set the version", method: "POST", path: store(uniquePath()), body: { value: "x", version: 9 }, status: 400 },
    { name: "an unknown type", method: "POST", path: store(uniquePath()), body: { value: "x", type: "PASSWORD" }, status: 400 },
    { name: "a bad expires_at", method: "POST", path: store(uniquePath()), body: { value: "x", expires_at: "tomorrow" }, status: 400 },
    { name: "tags that are not strings", method: "POST", path: store(uniquePath()), body: { value: "x", tags: [1, 2] }, status: 400 },
    { name: "a JSON array body", method: "POST", path: store(uniquePath()), body: ["x"], status: 400 },
    { name: "a JSON null body", method: "POST", path: store(uniquePath()), raw: "null", headers: { "content-type": "application/json" }, status: 400 },
    { name: "malformed JSON", method: "POST", path: store(uniquePath()), raw: '{"value": "x"', headers: { "content-type": "application/json" }, status: 400 },
    { name: "a text/plain body", method: "POST", path: store(uniquePath()), raw: "value=x", headers: { "content-type": "text/plain" }, status: 415 },
    {
      name: "a form body",
      method: "POST",
      path: store(uniquePath()),
      raw: "value=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      status: 415,
    },
    { name: "a body without content type", method: "PUT", path: store(uniquePath()), raw: '{"value":"x"}', status: 415 },
    { name: "a negative cas", method: "PUT", path: store(uniquePath()), body: { value: "x", cas: -1 }, status: 400 },
    { name: "a version of zero", method: "GET", path: `${store("app/x")}?version=0`, status: 400 },
    { name: "a version that is not a number", method: "GET", path: `${store("app/x")}?version=latest`, status: 400 },
    { name: "a list limit of 5000", method: "GET", path: "/api/v1/secrets/store?limit=5000", status: 400 },
    { name: "a bad token id", method: "DELETE", path: "/api/v1/tokens/../../x", status: 404 },
    { name: "an unknown scope", method: "POST", path: "/api/v1/tokens", body: { subject: "x", scopes: ["root"] }, status: 400 },
    { name: "a token TTL of 1 second", method: "POST", path: "/api/v1/tokens", body: { subject: "x", scopes: ["secrets:read"], ttl_seconds: 1 }, status: 400 },
    {
      name: "an Idempotency-Key with spaces",
      method: "POST",
      path: store(uniquePath()),
      body: { value: "x" },
      headers: { "idempotency-key": "a b" },
      status: 400,
    },
    {
      name: "an Idempotency-Key with spaces on a DELETE",
      method: "DELETE",
      path: store(uniquePath()),
      headers: { "idempotency-key": "a b" },
      status: 400,
    },
    { name: "an unknown route", method: "GET", path: "/api/v1/nothing-here", status: 404 },
    { name: "an unsupported method", method: "PATCH", path: "/api/v1/tokens", body: {}, status: 405 },
  ];

  for (const c of cases) {
    it(`${c.name} -> ${c.status}`, async () => {
      const res = await api(c.method, c.path, { body: c.body, rawBody: c.raw, headers: c.headers });
      expectProblem(res, c.status);
      expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
    });
  }

  it("lists every invalid field in a validation error", async () => {
    const res = await api("POST", store(uniquePath()), { body: { value: 1, type: "NOPE", extra: true } });
    expectProblem(res, 400);
    const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(expect.arrayContaining(["type", "value"]));
    expect(res.body.errors.length).toBeGreaterThanOrEqual(3);
  });

  it("405 names the allowed methods", async () => {
    const res = await api("PATCH", "/api/v1/tokens", { body: {} });
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST");
  });
});

describe("request ids", () => {
  it("echoes a well-formed X-Request-Id and makes one otherwise", async () => {
    const echoed = await api("GET", "/api/v1/tokens/self", { headers: { "x-request-id": "trace-123" } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-123");
    const made = await api("GET", "/api/v1/tokens/self", { headers: { "x-request-id": "bad id with spaces" } });
    expect(made.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{24}$/);
    const problem = await api("GET", "/api/v1/nope", { headers: { "x-request-id": "trace-404" } });
    expect(problem.body.request_id).toBe("trace-404");
    expect(problem.headers.get("x-request-id")).toBe("trace-404");
  });

  it("API responses are never cached", async () => {
    const res = await api("GET", "/api/v1/tokens/self");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("every API answer carries the whole header set, errors and secret reads included", async () => {
    const path = uniquePath();
    await api("PUT", store(path), { body: { value: "v" } });
    for (const res of [await api("GET", store(path)), await api("GET", store(`${path}-missing`)), await api("GET", "/api/v1/nope")]) {
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("x-robots-tag")).toBe("noindex");
      expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    }
  });

  it("headers land on a response whose own headers are immutable (one copy, nothing lost)", async () => {
    const app = new Hono<AppEnv>();
    app.use("*", apiHeaders);
    app.get("/moved", () => Response.redirect("https://example.test/elsewhere", 302));
    const res = await app.request("/moved");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://example.test/elsewhere");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("Idempotency-Key", () => {
  it("replays the stored response without a second write", async () => {
    const path = uniquePath("idem");
    await api("POST", store(path), { body: { value: "v1" } });
    const headers = { "idempotency-key": `rotate-${path}` };
    const first = await api("PUT", store(path), { body: { value: "v2" }, headers });
    const second = await api("PUT", store(path), { body: { value: "v2" }, headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect((await api("GET", store(path))).body.current_version).toBe(2);
    const events = await api("GET", `/api/v1/audit?path=${path}&action=secret.write`);
    expect(events.body.items).toHaveLength(1);
  });

  it("a replayed token creation does not return the token again", async () => {
    const headers = { "idempotency-key": `token-${crypto.randomUUID()}` };
    const subject = `idem-${crypto.randomUUID()}`;
    const first = await api("POST", "/api/v1/tokens", { body: { subject, scopes: ["secrets:read"] }, headers });
    expect(first.status).toBe(201);
    expect(first.body.token).toMatch(/^hush_/);
    const again = await api("POST", "/api/v1/tokens", { body: { subject, scopes: ["secrets:read"] }, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    // The metadata of the one token that was made, and no token: it was shown once.
    const { token: _, ...metadata } = first.body;
    expect(again.body).toEqual({ ...metadata, credential_already_issued: true });
    expect(again.text).not.toContain(first.body.token);
    // Not kept at all, not even sealed: the opened record holds no token.
    expect(await storedResponse(headers["idempotency-key"])).not.toContain(first.body.token);
    const made = await env.DB.prepare("SELECT COUNT(*) n FROM api_tokens WHERE subject = ?").bind(subject).first<{ n: number }>();
    expect(made?.n).toBe(1);
  });

  it("the same key with another body is 422", async () => {
    const path = uniquePath("idem");
    const headers = { "idempotency-key": `k-${path}` };
    expect((await api("POST", store(path), { body: { value: "a" }, headers })).status).toBe(201);
    expectProblem(await api("POST", store(path), { body: { value: "b" }, headers }), 422);
  });

  it("a request still in flight with the same key is 409; a claim left by a dead request is taken over", async () => {
    const path = uniquePath("idem");
    const key = `inflight-${path}`;
    const body = JSON.stringify({ value: "a" });
    const fingerprint = await sha256Hex(JSON.stringify(["POST", store(path), "root", body]));
    const claim = env.DB.prepare(
      "INSERT OR REPLACE INTO idempotency_keys (tenant_id, key, fingerprint, state, created_at) VALUES ('default', ?, ?, 'in_flight', ?)",
    );
    await claim.bind(key, fingerprint, Date.now()).run();
    const busy = await api("POST", store(path), { rawBody: body, headers: { "idempotency-key": key, "content-type": "application/json" } });
    expectProblem(busy, 409);
    expect(busy.headers.get("retry-after")).toBe("1");
    expectProblem(await api("GET", store(path)), 404);

    await claim.bind(key, fingerprint, Date.now() - 120_000).run();
    const retried = await api("POST", store(path), { rawBody: body, headers: { "idempotency-key": key, "content-type": "application/json" } });
    expect(retried.status).toBe(201);
    expect((await api("GET", store(path))).body.value).toBe("a");
  });

  it("a failed request releases its key so a retry runs", async () => {
    const path = uniquePath("idem");
    const headers = { "idempotency-key": `retry-${path}` };
    await api("POST", store(path), { body: { value: "exists" } });
    expectProblem(await api("PUT", store(path), { body: { value: "b", cas: 5 }, headers }), 409);
    expect((await api("PUT", store(path), { body: { value: "b", cas: 5 }, headers })).status).toBe(409);
    const ok = await api("PUT", store(path), { body: { value: "b", cas: 1 }, headers: { "idempotency-key": `retry2-${path}` } });
    expect(ok.body.version).toBe(2);
  });
});

describe("logging of unexpected errors", () => {
  it("drops the bound parameters that drizzle quotes in its messages", () => {
    const err = new Error('Failed query: insert into "x" values (?)\nparams: super-secret-value');
    const logged = JSON.stringify(loggable(err));
    expect(logged).toContain("Failed query");
    expect(logged).not.toContain("super-secret-value");
  });
});

describe("documentation and health", () => {
  it("/openapi.json describes every route from the zod schemas", async () => {
    const res = await api("GET", "/openapi.json", { token: null });
    expect(res.status).toBe(200);
    const paths = Object.keys(res.body.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/api/v1/secrets/store",
        "/api/v1/secrets/store/{path}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/tokens/self",
        "/api/v1/tenants",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/healthz",
      ]),
    );
    expect(Object.keys(res.body.paths["/api/v1/secrets/store/{path}"]).sort()).toEqual(["delete", "get", "post", "put"]);
    // One of value or generate (issue 3), so neither is listed as required.
    expect(Object.keys(res.body.components.schemas.CreateSecret.properties)).toEqual(expect.arrayContaining(["value", "generate"]));
  });

  it("/docs is Swagger UI from this origin: same-origin scripts and styles, no inline code, no third party", async () => {
    const res = await api("GET", "/docs", { token: null });
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const scripts = [...res.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => /src="([^"]+)"/.exec(m[1]!)?.[1])).toEqual(["/docs/vendor/swagger-ui-bundle.js", "/docs/init.js"]);
    expect(scripts.every((m) => m[2] === "")).toBe(true);
    expect(res.text).not.toMatch(/\s(?:src|href)="(?:https?:)?\/\//);
    expect(res.text).not.toMatch(/\sstyle=/);
  });

  it("declares bearer auth in /openapi.json and applies it to every authenticated route, not to the public ones", async () => {
    const doc = (await api("GET", "/openapi.json", { token: null })).body;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const op = (path: string, method: string) => doc.paths[path][method];
    expect(op("/api/v1/secrets/store/{path}", "get").security).toBeUndefined(); // the document's default: bearer
    for (const [path, method] of [
      ["/api/v1/auth/login", "post"],
      ["/api/v1/shares", "post"],
      ["/api/v1/secrets/shares/redeem", "post"],
      ["/healthz", "get"],
    ] as const) {
      expect(op(path, method)?.security, `${method} ${path}`).toEqual([]);
    }
    // Every operation is grouped under a tag.
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { tags?: string[] }>>)) {
      for (const [method, operation] of Object.entries(methods)) expect(operation.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
    }
  });

  it("problem type URLs open a page on this deployment that explains them (HTML, or JSON when asked)", async () => {
    const problem = await api("GET", "/api/v1/secrets/store/app/none", { token: null });
    expect(problem.body.type).toBe(`${BASE}/problems/unauthorized`);
    const page = await api("GET", new URL(problem.body.type).pathname, { token: null, headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.text).toContain("No valid credential");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const json = await api("GET", "/problems/rotation-period-required", { token: null, headers: { accept: "application/json" } });
    expect(json.body).toMatchObject({ type: `${BASE}/problems/rotation-period-required`, status: [422] });
    expect((await api("GET", "/problems", { token: null, headers: { accept: "text/html" } })).text).toContain('href="/problems/version-conflict"');
    const unknown = await api("GET", "/problems/no-such-type", { token: null, headers: { accept: "text/html" } });
    expect(unknown.status).toBe(404);
    expectProblem(await api("GET", "/problems/no-such-type", { token: null }), 404);
  });

  it("/healthz reports store, master key and version", async () => {
    const res = await api("GET", "/healthz", { token: null });
    expect(res.body).toEqual({ status: "ok", store: "ok", master_key: "configured", version: packageVersion });
  });
});
