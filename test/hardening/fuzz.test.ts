import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { api, BASE, ROOT } from "../helpers";
import { exports } from "cloudflare:workers";

/**
 * Property-based fuzzing of every route in the OpenAPI document: hostile paths,
 * bodies and headers must get a 4xx problem document, never a 5xx, and must not
 * change stored state. New routes are covered as soon as they are documented.
 */

interface Operation {
  method: string;
  template: string;
  hasBody: boolean;
}

const RUNS_PER_PROPERTY = Number(process.env.FUZZ_RUNS ?? 12);
let casesRun = 0;

async function operations(): Promise<Operation[]> {
  const doc = (await api("GET", "/openapi.json", { token: null })).body as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  return Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), template, hasBody: op.requestBody !== undefined })),
  );
}

/** Everything a request could have changed, as one comparable string. */
async function stateFingerprint(): Promise<string> {
  // One statement for every table's count (built once): two per case instead of one per table,
  // which made this suite take minutes.
  fingerprintSql ??= (async () => {
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('d1_migrations', 'audit_events', 'idempotency_keys') ORDER BY name",
    ).all<{ name: string }>();
    const counts = tables.results.map(({ name }) => `'${name}:' || (SELECT COUNT(*) FROM "${name}")`).join(" || ',' || ");
    return `SELECT ${counts} || '|' || (SELECT COALESCE(SUM(current_version), 0) || ':' || COUNT(deleted_at) FROM secrets) AS fingerprint`;
  })();
  return (await env.DB.prepare(await fingerprintSql).first<{ fingerprint: string }>())!.fingerprint;
}
let fingerprintSql: Promise<string> | undefined;

const hostileSegment = fc.oneof(
  fc.constantFrom("..", "%2e%2e", "%2F..%2F", "a%2F%2Fb", "%00", "a%00b", "%ff%fe", "%E2%80%AE", "..%5C..", " ", "%20", "~", "*", "{path}", "a".repeat(300)),
  fc.string({ unit: "binary", maxLength: 40 }).map(encodeURIComponent),
  fc.constant("x".repeat(1_000_000)),
);

const jsonValue = fc.jsonValue({ maxDepth: 4 });
const hostileBody = fc.oneof(
  // An object that can never be valid: strict schemas reject unknown fields.
  fc.dictionary(fc.string({ maxLength: 12 }), jsonValue, { maxKeys: 5 }).map((d) => JSON.stringify({ ...d, __fuzz__: true })),
  jsonValue.filter((v) => typeof v !== "object" || v === null || Array.isArray(v)).map((v) => JSON.stringify(v)),
  fc.constantFrom(
    "",
    "{",
    '{"value": "x"',
    "[".repeat(20_000),
    '{"a":'.repeat(5_000),
    "\u0000",
    '{"value": "\\ud800"}',
    JSON.stringify({ value: "x".repeat(2_000_000) }),
  ),
);

const hostileHeaders = fc.record({
  authorization: fc.constantFrom(
    `Bearer ${ROOT}`,
    `bearer ${ROOT}`,
    `Bearer  ${ROOT}`,
    `Basic ${ROOT}`,
    "Bearer",
    "Bearer hush_" + "a".repeat(600),
    `Bearer ${ROOT}\u0000`,
    "",
  ),
  "content-type": fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
  ),
  "idempotency-key": fc.constantFrom(undefined, "", "k".repeat(300), "key with spaces", "ok-key-1"),
});

function fill(template: string, segment: string): string {
  return template.replace(/\{[A-Za-z_]+\}/g, segment);
}

async function send(method: string, url: string, headers: Record<string, string | undefined>, body?: string | Uint8Array) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v) clean[k] = v.replace(/[\u0000\r\n]/g, "");
  const response = await exports.default.fetch(new Request(`${BASE}${url}`, { method, headers: clean, body }));
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type") ?? "", text };
}

function expectSafe(res: { status: number; type: string; text: string }, context: string) {
  if (res.status >= 500) throw new Error(`${context} -> ${res.status}: ${res.text.slice(0, 300)}`);
  if (res.status >= 400 && !res.type.startsWith("application/problem+json")) {
    throw new Error(`${context} -> ${res.status} without a problem document (${res.type})`);
  }
  expect(res.text).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
}

describe("fuzzing every documented route", async () => {
  const ops = await operations();

  afterAll(() => {
    console.log(`fuzz: ${casesRun} generated requests over ${ops.length} operations`);
  });

  it("covers the documented routes", () => {
    expect(ops.length).toBeGreaterThan(10);
  });

  for (const op of ops) {
    it(`${op.method} ${op.template}: hostile path segments never 5xx`, async () => {
      await fc.assert(
        fc.asyncProperty(hostileSegment, async (segment) => {
          const before = await stateFingerprint();
          const res = await send(
            op.method,
            fill(op.template, segment),
            { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
            op.hasBody ? "{}" : undefined,
          );
          casesRun++;
          expectSafe(res, `${op.method} ${op.template} [${segment.slice(0, 40)}]`);
          if (res.status >= 400) expect(await stateFingerprint()).toBe(before);
        }),
        { numRuns: RUNS_PER_PROPERTY },
      );
    });

    if (op.hasBody) {
      it(`${op.method} ${op.template}: invalid bodies and headers get 4xx and change nothing`, async () => {
        await fc.assert(
          fc.asyncProperty(hostileBody, hostileHeaders, async (body, headers) => {
            const before = await stateFingerprint();
            const url = fill(op.template, `fuzz-${casesRun}`);
            const res = await send(op.method, url, headers, body);
            casesRun++;
            expectSafe(res, `${op.method} ${url} body=${body.slice(0, 60)}`);
            expect(res.status, `${op.method} ${url} accepted ${body.slice(0, 80)}`).toBeGreaterThanOrEqual(400);
            if (body.length > 1_048_576 && headers.authorization === `Bearer ${ROOT}`) expect([400, 413, 415]).toContain(res.status);
            expect(await stateFingerprint()).toBe(before);
          }),
          { numRuns: RUNS_PER_PROPERTY },
        );
      });

      it(`${op.method} ${op.template}: invalid UTF-8 is a 4xx`, async () => {
        const res = await send(
          op.method,
          fill(op.template, "fuzz-utf8"),
          { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
          new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
        );
        casesRun++;
        expectSafe(res, `${op.method} ${op.template} invalid utf-8`);
        expect(res.status).toBeGreaterThanOrEqual(400);
      });
    }
  }
});
