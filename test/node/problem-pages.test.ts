// Every problem `type` the code emits has a page at /problems/<type> on the deployment.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { PROBLEM_TYPES } from "../../src/http/problem-types";

const addr = inject("hushAddr");
const src = join(import.meta.dirname, "..", "..", "src");

/** Problem types written in the source: `new Problem(status, "type"` and the few helpers that build one. */
function emittedTypes(): Set<string> {
  const types = new Set<string>();
  const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
  for (const file of files) {
    const text = readFileSync(join(src, file), "utf8");
    for (const m of text.matchAll(/Problem\(\s*[^,()]+,\s*([`"])([^`"]+)\1/g)) {
      const type = m[2]!;
      // `invalid-${what}` in transit: what is "ciphertext" | "hmac" | "signature" (typed there).
      if (type === "invalid-${what}") ["invalid-ciphertext", "invalid-hmac", "invalid-signature"].forEach((t) => types.add(t));
      else types.add(type);
    }
    for (const m of text.matchAll(/status === \d+ \? "([a-z-]+)"|: "([a-z-]+)";/g)) if (file.endsWith("errors.ts")) types.add((m[1] ?? m[2])!);
  }
  return types;
}

describe("GET /problems/<type>", () => {
  it("the catalogue names every type the code emits (and nothing else)", () => {
    const emitted = emittedTypes();
    expect(emitted.size).toBeGreaterThan(80);
    expect([...emitted].filter((t) => !(t in PROBLEM_TYPES))).toEqual([]);
    // helpers: notFound, forbidden, badRequest build these
    const helperTypes = ["not-found", "forbidden", "invalid-request"];
    expect(Object.keys(PROBLEM_TYPES).filter((t) => !emitted.has(t) && !helperTypes.includes(t))).toEqual([]);
  });

  it("serves a page for every type, in HTML and in JSON", async () => {
    for (const [type, doc] of Object.entries(PROBLEM_TYPES)) {
      const page = await fetch(`${addr}/problems/${type}`, { headers: { accept: "text/html" } });
      expect(page.status, type).toBe(200);
      const html = await page.text();
      expect(html, type).toContain(`<code>${addr}/problems/${type}</code>`);
      const json = await fetch(`${addr}/problems/${type}`, { headers: { accept: "application/json" } });
      expect(await json.json(), type).toMatchObject({ type: `${addr}/problems/${type}`, summary: doc.summary });
    }
  });
});
