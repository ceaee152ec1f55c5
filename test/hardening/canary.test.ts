import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, type ApiResponse, uniquePath } from "../helpers";
import { userTables } from "./tenant-fixture";

/**
 * One canary value driven through every route that can touch it, including error paths. It may
 * come back only from the routes whose job is to return it; never from a listing, an error or
 * the audit log, never in an audit row, a D1 column in clear, a queue message or a log line.
 */

const canary = `CANARY-${crypto.randomUUID()}`;
const bytes = new TextEncoder().encode(canary);
const b64 = btoa(canary);
/** Every encoding in which the canary could leak. */
const forms = [canary, b64, b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""), [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")];
const leaks = (text: string) => forms.some((form) => text.includes(form));

const store = (path: string) => `/api/v1/secrets/store/${path}`;
const logged: string[] = [];
const sent: unknown[] = [];
let locationsChecked = 0;

afterEach(() => vi.restoreAllMocks());

describe("a canary secret value", () => {
  it("appears only where a route's job is to return it: never in listings, errors, audit, D1, queues or logs", async () => {
    for (const level of ["log", "info", "warn", "error", "debug", "trace"] as const) {
      vi.spyOn(console, level).mockImplementation(
        (...args: unknown[]) => void logged.push(args.map((a) => (typeof a === "string" ? a : (JSON.stringify(a) ?? String(a)))).join(" ")),
      );
    }
    for (const queue of [env.REVOCATIONS, env.REWRAP_QUEUE]) {
      const real = queue.send.bind(queue);
      vi.spyOn(queue, "send").mockImplementation(async (body: unknown, options?: QueueSendOptions) => {
        sent.push(body);
        return real(body, options);
      });
    }

    const base = uniquePath("canary");
    const path = `${base}/value`;
    const reveal: ApiResponse[] = [];
    const conceal: [string, ApiResponse][] = [];
    const must = async (label: string, p: Promise<ApiResponse>) => {
      const res = await p;
      expect(res.status, `${label}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
      reveal.push(res);
      return res;
    };
    const mustNot = async (label: string, p: Promise<ApiResponse>) => {
      const res = await p;
      conceal.push([label, res]);
      return res;
    };
    const raw = (method: string, url: string, text: string, headers: Record<string, string> = {}) =>
      api(method, url, { rawBody: text, headers: { "content-type": "application/json", ...headers } });

    // Writes (with an Idempotency-Key, so the stored response is exercised) and their replay.
    await mustNot("create", api("POST", store(path), { body: { value: canary }, headers: { "idempotency-key": `c-${base}` } }));
    await mustNot("create replay", api("POST", store(path), { body: { value: canary }, headers: { "idempotency-key": `c-${base}` } }));
    await mustNot("idempotency mismatch", api("POST", store(path), { body: { value: `${canary}!` }, headers: { "idempotency-key": `c-${base}` } }));
    await mustNot("put", api("PUT", store(path), { body: { value: canary, description: "canary" } }));
    await mustNot("rotate", api("POST", `${store(path)}/rotate`, { body: { value: canary } }));
    await mustNot("import", api("POST", "/api/v1/secrets/store/import", { body: { prefix: `${base}/imp`, values: { a: { value: canary } } } }));
    await mustNot("reference", api("POST", store(`${base}/ref`), { body: { value: `x-\${secret.${path}}` } }));
    // Error paths that carry the value.
    await mustNot("bad cas", api("PUT", store(path), { body: { value: canary, cas: 1 } }));
    await mustNot("oversized", api("PUT", store(path), { body: { value: canary + "x".repeat(64 * 1024) } }));
    await mustNot("wrong type", raw("PUT", store(path), JSON.stringify({ value: [canary] })));
    // (Validation errors name unknown fields, so the canary goes in a value, where secrets live.)
    await mustNot("unknown field", raw("PUT", store(path), JSON.stringify({ value: canary, extra: canary })));
    await mustNot("value too short type", raw("PUT", store(path), JSON.stringify({ value: canary, cas: canary })));
    await mustNot("exists", api("POST", store(path), { body: { value: canary } }));
    await mustNot("bad json", raw("PUT", store(path), `{"value":"${canary}"`));
    await mustNot("bad import", api("POST", "/api/v1/secrets/store/import", { body: { prefix: `${base}/bad`, values: { a: { value: canary, x: 1 } } } }));
    await mustNot("vault bad cas", api("POST", `/v1/secret/data/${base}/vault`, { body: { data: { k: canary }, options: { cas: 7 } } }));
    // Reads whose job is to return it.
    await must("read", api("GET", store(path)));
    await must("history", api("GET", `/api/v1/secrets/store/history/${path}?version=1`));
    await must("resolve", api("GET", `${store(`${base}/ref`)}?resolve=true`));
    await must("export", api("GET", `/api/v1/secrets/export?prefix=${base}/&include_values=true`));
    // Metadata and listings.
    await mustNot("export metadata", api("GET", `/api/v1/secrets/export?prefix=${base}/`));
    await mustNot("list", api("GET", `/api/v1/secrets/store?prefix=${base}/`));
    await mustNot("versions", api("GET", `${store(path)}/versions`));
    await mustNot("patch", api("PATCH", `${store(path)}/metadata`, { body: { description: "still canary" } }));
    await mustNot("stats", api("GET", "/api/v1/secrets/stats"));
    // Vault subset.
    await mustNot("vault write", api("POST", `/v1/secret/data/${base}/vault`, { body: { data: { k: canary } } }));
    await must("vault read", api("GET", `/v1/secret/data/${base}/vault`));
    await mustNot("vault metadata", api("GET", `/v1/secret/metadata/${base}/vault`));
    await mustNot("vault list", api("GET", `/v1/secret/metadata/${base}?list=true`));
    // A server-sealed share of the canary, redeemed once; then a second redeem fails.
    const share = await mustNot("share create", api("POST", "/api/v1/secrets/shares", { body: { value: canary } }));
    await mustNot("share metadata", api("GET", `/api/v1/secrets/shares/${share.body.id}`));
    await must("share redeem", api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: share.body.token } }));
    await mustNot("share redeem again", api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: { token: share.body.token } }));
    // Transit: the canary's bytes encrypted and decrypted.
    const key = `canary-${base.replace(/\W/g, "")}`;
    await mustNot("transit key", api("POST", `/api/v1/transit/keys/${key}`, { body: { type: "aes256-gcm" } }));
    const encrypted = await mustNot("transit encrypt", api("POST", `/api/v1/transit/encrypt/${key}`, { body: { plaintext: b64 } }));
    await must("transit decrypt", api("POST", `/api/v1/transit/decrypt/${key}`, { body: { ciphertext: encrypted.body.ciphertext } }));
    await mustNot("transit hmac", api("POST", `/api/v1/transit/hmac/${key}`, { body: { input: b64 } }));
    await mustNot("transit bad ciphertext", api("POST", `/api/v1/transit/decrypt/${key}`, { body: { ciphertext: `hush:v1:${b64}` } }));
    // A lease revoked (revocation queue message) and a master-key rewrap started (rewrap queue message).
    const lease = await mustNot(
      "lease",
      api("POST", "/api/v1/ephemeral/api-keys", { body: { subject: "canary-lease", scopes: ["secrets:read"], ttl_seconds: 60 } }),
    );
    await mustNot("lease revoke", api("POST", `/api/v1/secrets/leases/${lease.body.lease_id}/revoke`));
    await mustNot("rewrap", api("POST", "/api/v1/sys/rewrap"));
    // The audit log, after everything.
    await mustNot("audit", api("GET", `/api/v1/audit?limit=200`));

    // The reveal routes did return it (otherwise this test proves nothing).
    expect(
      reveal.every((res) => leaks(res.text)),
      reveal.map((r) => r.text.slice(0, 80)).join("\n"),
    ).toBe(true);
    for (const [label, res] of conceal) {
      locationsChecked++;
      expect(leaks(res.text), `${label} (${res.status}) echoed the canary: ${res.text.slice(0, 300)}`).toBe(false);
    }

    // Every text and blob column of every D1 table.
    for (const { name, columns } of await userTables()) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all<Record<string, unknown>>();
      for (const row of rows.results) {
        for (const column of columns) {
          const value = row[column.name];
          locationsChecked++;
          if (value === null || typeof value === "number") continue;
          const text = value instanceof ArrayBuffer ? new TextDecoder("latin1").decode(value) : String(value);
          expect(leaks(text), `${name}.${column.name} holds the canary in clear`).toBe(false);
        }
      }
    }
    expect(sent.length, "the lease revoke and the rewrap each sent a queue message").toBeGreaterThanOrEqual(2);
    for (const message of sent) {
      locationsChecked++;
      expect(leaks(JSON.stringify(message)), `queue message ${JSON.stringify(message)}`).toBe(false);
      // Ids only: every field is an identifier or a step number.
      for (const [field, value] of Object.entries(message as Record<string, unknown>)) {
        expect(["outbox_id", "lease_id", "tenant_id", "job", "step"], field).toContain(field);
        expect(typeof value === "number" || (typeof value === "string" && value.length < 100)).toBe(true);
      }
    }
    for (const line of logged) expect(leaks(line), `log line: ${line.slice(0, 200)}`).toBe(false);
    locationsChecked += logged.length;
    vi.restoreAllMocks();
    console.info(`canary: ${conceal.length + reveal.length} requests, ${locationsChecked} locations checked (responses, D1 cells, queue messages, log lines)`);
  }, 60_000);
});
