import { describe, expect, it } from "vitest";
import { api, expectProblem, tokenWith, uniquePath } from "../helpers";

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
    const role = { name: "globby", issuer: "https://issuer.example", audience: "hush", jwks: { keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] }, policies: ["globby-ok"] };
    await rejected("/api/v1/auth/roles", { ...role, bound_claims: { sub: nineStars } }, /at most 8 \*/);
    // Eight stars and 256 characters are still fine.
    const ok = await api("POST", "/api/v1/tokens", { body: { subject: "globber", scopes: ["secrets:read"], paths: ["*a".repeat(8), `app/${"x".repeat(252)}`] } });
    expect(ok.status, ok.text).toBe(201);
  });
});
