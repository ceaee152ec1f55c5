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
