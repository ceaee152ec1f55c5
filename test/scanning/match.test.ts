import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, BASE, expectProblem, ROOT, sendUntilLimited, tokenWith, uniquePath, type ApiResponse } from "../helpers";
import { exports } from "cloudflare:workers";
import { backfillValueMacs } from "../../src/scanning/backfill";

/** What the CLI sends for a candidate: base64 SHA-256("hush-scan-v1:" || value). */
async function digest(value: string) {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`hush-scan-v1:${value}`)));
  return btoa(String.fromCharCode(...bytes));
}
const hex = (b64: string) => [...atob(b64)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");

let n = 0;
const fp = () => (n++).toString(16).padStart(32, "0");
const finding = async (value: string, rule = "hush/stored-value", extra: Record<string, unknown> = {}) => ({
  rule,
  file: "config/app.env",
  line: 3,
  column: 10,
  commit: null,
  fingerprint: fp(),
  preview: "********",
  candidate: await digest(value),
  ...extra,
});
const scan = (findings: unknown[], token: string = ROOT) =>
  api("POST", "/api/v1/secrets/scans", { token, body: { source: "working-tree", rules_active: ["hush/stored-value"], findings } });

const store = (path: string) => `/api/v1/secrets/store/${path}`;
async function secretWithHistory(prefix: string) {
  const path = uniquePath(prefix);
  const v1 = `old-${crypto.randomUUID()}`;
  const v2 = `cur-${crypto.randomUUID()}`;
  expect((await api("POST", store(path), { body: { value: v1 } })).status).toBe(201);
  expect((await api("PUT", store(path), { body: { value: v2 } })).status).toBe(200);
  return { path, v1, v2 };
}
const macRow = (path: string, version: number) =>
  env.DB.prepare("SELECT value_mac, value_mac_key_id, state FROM secret_versions WHERE tenant_id = 'default' AND path = ? AND version = ?")
    .bind(path, version)
    .first<{ value_mac: ArrayBuffer | null; value_mac_key_id: string | null; state: string }>();

afterEach(() => vi.restoreAllMocks());

describe("which stored secret leaked", () => {
  it("names the current value and an older version, and drops probes that match nothing", async () => {
    const { path, v1, v2 } = await secretWithHistory("scan-match");
    const res = await scan([
      await finding(v2),
      await finding(v1),
      await finding("never-stored-value-xyz"),
      await finding(v2, "aws-access-key-id", { preview: "AKIA********" }),
    ]);
    expect(res.status, res.text).toBe(201);
    expect(res.body.run_id).toMatch(/^scan_/);
    expect(res.body.rules_active).toEqual(["hush/stored-value"]);
    expect(res.body.findings.map((f: any) => [f.rule, f.matches])).toEqual([
      ["hush/stored-value", [{ path, version: 2, current: true }]],
      ["hush/stored-value", [{ path, version: 1, current: false }]],
      // the unmatched probe is gone; an ordinary finding stays, with its match
      ["aws-access-key-id", [{ path, version: 2, current: true }]],
    ]);
    const listed = await api("GET", `/api/v1/discovery/findings?run_id=${res.body.run_id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.findings).toEqual(res.body.findings);
    // Both are audited.
    const events = await api("GET", "/api/v1/audit?limit=20");
    const actions = events.body.items.map((e: any) => e.action);
    expect(actions).toContain("scan.create");
    expect(actions).toContain("scan.findings.list");
  });

  it("every write path stores a MAC (create, rotate, import, Vault, recover); destroy clears it", async () => {
    const { path } = await secretWithHistory("scan-writes");
    expect((await macRow(path, 1))!.value_mac).not.toBeNull();
    expect((await macRow(path, 2))!.value_mac_key_id).toBe("k1");
    const prefix = uniquePath("scan-imp");
    expect((await api("POST", "/api/v1/secrets/store/import", { body: { prefix, values: { a: "imported-value-123" } } })).status).toBe(201);
    expect((await macRow(`${prefix}/a`, 1))!.value_mac).not.toBeNull();
    const vpath = uniquePath("scan-vault");
    const vres = await exports.default.fetch(
      new Request(`${BASE}/v1/secret/data/${vpath}`, {
        method: "POST",
        headers: { "x-vault-token": ROOT, "content-type": "application/json" },
        body: JSON.stringify({ data: { k: "vault-value-123" } }),
      }),
    );
    expect(vres.status).toBe(200);
    expect((await macRow(vpath, 1))!.value_mac).not.toBeNull();
    const recovered = await api("POST", `/api/v1/secrets/store/recover/${path}`, { body: { at: new Date().toISOString() } });
    expect(recovered.status, recovered.text).toBeLessThan(300);
    expect((await macRow(path, 3))!.value_mac).not.toBeNull();

    const destroyed = await api("POST", `/api/v1/secrets/store/destroy/${path}`, { body: { versions: [1] } });
    expect(destroyed.status, destroyed.text).toBe(200);
    const row = (await macRow(path, 1))!;
    expect(row).toMatchObject({ state: "destroyed", value_mac: null, value_mac_key_id: null });
  });

  it("a destroyed version matches nothing; the backfill MACs versions that have none and never revives a destroyed one", async () => {
    const { path, v1, v2 } = await secretWithHistory("scan-backfill");
    await env.DB.prepare("UPDATE secret_versions SET value_mac = NULL, value_mac_key_id = NULL WHERE tenant_id = 'default' AND path = ?").bind(path).run();
    expect((await scan([await finding(v2)])).body.findings).toEqual([]);
    expect((await api("POST", `/api/v1/secrets/store/destroy/${path}`, { body: { versions: [1] } })).status).toBe(200);
    for (let i = 0; i < 50 && (await backfillValueMacs(env, 500)) > 0; i++);
    expect((await macRow(path, 2))!.value_mac_key_id).toBe("k1");
    expect((await macRow(path, 1))!.value_mac).toBeNull();
    const res = await scan([await finding(v2), await finding(v1)]);
    expect(res.body.findings.map((f: any) => f.matches)).toEqual([[{ path, version: 2, current: true }]]);
  });
});

describe("the match endpoint under attack", () => {
  it("a caller who cannot read the path learns nothing: the right guess answers exactly like a wrong one", async () => {
    const { path, v2 } = await secretWithHistory("scan-secret");
    const outsider = await tokenWith(["secrets:read"], { paths: ["elsewhere/*"], subject: "scan-outsider" });
    const right = await scan([await finding(v2, "hush/stored-value"), await finding(v2, "generic", { fingerprint: "a".repeat(32) })], outsider.token);
    const wrong = await scan(
      [await finding(`${v2}x`, "hush/stored-value"), await finding(`${v2}x`, "generic", { fingerprint: "a".repeat(32) })],
      outsider.token,
    );
    expect(right.status).toBe(201);
    const shape = (r: ApiResponse) => JSON.stringify({ ...r.body, run_id: 0, created_at: 0 });
    expect(shape(right)).toBe(shape(wrong));
    expect(right.body.findings).toEqual([expect.objectContaining({ rule: "generic", matches: [] })]);
    expect(right.text).not.toContain(path);
    // A reader of the run who may read the path does not see a match the scanner was not given either.
    const listed = await api("GET", `/api/v1/discovery/findings?run_id=${right.body.run_id}`);
    expect(listed.body.findings[0].matches).toEqual([]);
  });

  it("matches recorded for one reader are hidden from another who may not read the path", async () => {
    const { path, v2 } = await secretWithHistory("scan-shared");
    const res = await scan([await finding(v2, "generic", { preview: "cur-********" })]);
    expect(res.body.findings[0].matches).toHaveLength(1);
    const other = await tokenWith(["secrets:read"], { paths: ["elsewhere/*"], subject: "scan-other-reader" });
    const listed = await api("GET", `/api/v1/discovery/findings?run_id=${res.body.run_id}`, { token: other.token });
    expect(listed.status).toBe(200);
    expect(listed.body.findings[0].matches).toEqual([]);
    expect(listed.text).not.toContain(path);
  });

  it("needs secrets:read; other tenants' runs are 404", async () => {
    const writer = await tokenWith(["secrets:write"], { subject: "scan-no-read" });
    expectProblem(await scan([], writer.token), 403);
    expectProblem(await api("GET", "/api/v1/discovery/findings?run_id=scan_0123456789abcdef"), 404);
  });

  it("refuses an unredacted preview, a raw candidate and oversized batches", async () => {
    const secret = "AKIAIOSFODNN7EXAMPLE";
    expectProblem(await scan([{ ...(await finding("x")), preview: secret }]), 400);
    expectProblem(await scan([{ ...(await finding("x")), candidate: secret }]), 400);
    const many = await Promise.all(Array.from({ length: 2001 }, (_, i) => finding(`v${i}`)));
    const res = await scan(many);
    expect([400, 413]).toContain(res.status);
  });

  it("is rate limited per token", async () => {
    const t = await tokenWith(["secrets:read"], { subject: "scan-flood" });
    const body = [await finding("guess")];
    const { passed, limited } = await sendUntilLimited(10, () => scan(body, t.token));
    expect(passed.length).toBeGreaterThanOrEqual(10);
    expect(passed.length).toBeLessThan(20);
    expectProblem(limited, 429);
    expect(limited.headers.get("retry-after")).toBe("60");
  });
});

describe("a canary finding", () => {
  it("never reaches a response, a D1 cell or a log line, nor does its digest", async () => {
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation(
        (...args: unknown[]) => void logged.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")),
      );
    }
    const path = uniquePath("scan-canary");
    const canary = `CANARY-${crypto.randomUUID()}`;
    expect((await api("POST", store(path), { body: { value: canary } })).status).toBe(201);
    const d = await digest(canary);
    const forms = [canary, btoa(canary), d, hex(d), d.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")];
    const leaks = (text: string) => forms.find((form) => text.includes(form));
    const responses: ApiResponse[] = [];
    responses.push(await scan([await finding(canary, "hush/stored-value"), await finding(canary, "generic-secret", { preview: "CANA********" })]));
    expect(responses[0]!.body.findings).toHaveLength(2);
    responses.push(await api("GET", `/api/v1/discovery/findings?run_id=${responses[0]!.body.run_id}`));
    responses.push(await scan([{ ...(await finding(canary)), preview: canary }])); // refused: the error must not echo it
    responses.push(await api("GET", "/api/v1/audit?limit=50"));
    for (const r of responses) expect(leaks(r.text), r.text.slice(0, 200)).toBeUndefined();
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'",
    ).all<{ name: string }>();
    let cells = 0;
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all<Record<string, unknown>>();
      for (const row of rows.results) {
        for (const [column, cell] of Object.entries(row)) {
          cells++;
          const text =
            cell instanceof ArrayBuffer
              ? new TextDecoder().decode(cell) + [...new Uint8Array(cell)].map((b) => b.toString(16).padStart(2, "0")).join("")
              : String(cell);
          expect(leaks(text), `${name}.${column}`).toBeUndefined();
        }
      }
    }
    expect(cells).toBeGreaterThan(100);
    for (const line of logged) expect(leaks(line), line).toBeUndefined();
  });
});
