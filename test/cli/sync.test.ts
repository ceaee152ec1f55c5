// `hush sync create|list|run|status|delete` against the suite's `wrangler dev`, pushing to a signed
// webhook receiver in this process: the real CLI, API, queue and consumer.
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hush, unique, type RunResult } from "./helpers";

const SIGNING_KEY = "cli-sync-signing-key-0123456789abcdefgh";
const received = new Map<string, string | null>();
let receiver: Server;
let hookUrl = "";
const outputs: RunResult[] = [];

async function run(args: string[], options: Parameters<typeof hush>[1] = {}) {
  const result = await hush(args, options);
  outputs.push(result);
  return result;
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${inject("hushAddr")}${path}`, {
    method,
    headers: { authorization: `Bearer ${inject("hushRootToken")}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
}

async function until(what: string, probe: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const ts = String(req.headers["x-hush-timestamp"]);
    const ok = req.headers["x-hush-signature"] === `sha256=${createHmac("sha256", SIGNING_KEY).update(`${ts}.${raw}`).digest("hex")}`;
    if (ok) {
      const body = JSON.parse(raw) as { action: string; key: string; value?: string };
      received.set(body.key, body.action === "put" ? body.value! : null);
    }
    res.writeHead(ok ? 200 : 401).end("{}");
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
});

afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

describe("hush sync", () => {
  it("creates, lists, shows status, runs and deletes a sync; the copy follows a new version", async () => {
    const target = `cli-${Date.now().toString(36)}`;
    expect(
      (await api("POST", "/api/v1/secrets/sync-targets", { name: target, kind: "webhook", config: { url: hookUrl, signing_key: SIGNING_KEY } })).status,
    ).toBe(200);
    const path = unique("sync/db-password");
    const canary = `CANARY-${randomUUID()}`;
    const key = `CLI_${Date.now().toString(36).toUpperCase()}`;
    expect((await run(["set", path, `${canary}-v1`])).code).toBe(0);

    const created = await run(["sync", "create", path, "--target", target, "--remote-key", key, "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const sync = JSON.parse(created.stdout) as { id: string; queued: number };
    expect(sync).toMatchObject({ target, path, remote_key: key, queued: 1, continued: false });
    await until("v1 at the receiver", () => received.get(key) === `${canary}-v1`);

    expect((await run(["set", path, `${canary}-v2`])).code).toBe(0);
    await until("v2 follows", () => received.get(key) === `${canary}-v2`);

    const list = await run(["sync", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(sync.id);
    expect(list.stdout).toContain(target);
    const listed = JSON.parse((await run(["sync", "list", "--json"])).stdout) as { items: { id: string }[] };
    expect(listed.items.map((i) => i.id)).toContain(sync.id);

    // The copy arrived; the binding's row commits just after the push.
    let status: any;
    for (let i = 0; i < 50 && status?.bindings?.[0]?.last_synced_version !== 2; i++) {
      status = JSON.parse((await run(["sync", "status", sync.id, "--json"])).stdout);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toMatchObject({ id: sync.id, pending: 0, dead: 0 });
    expect(status.bindings[0]).toMatchObject({ path, remote_key: key, last_synced_version: 2, last_error: null });
    const human = await run(["sync", "status", sync.id]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`${path.replace(/[/.]/g, "\\$&")}\\s+${key}\\s+2`));

    received.delete(key);
    const rerun = await run(["sync", "run", sync.id]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/queued\s+1/);
    await until("re-pushed by run", () => received.get(key) === `${canary}-v2`);

    const deleted = await run(["sync", "delete", sync.id]);
    expect(deleted.code).toBe(0);
    expect(deleted.stderr + deleted.stdout).toContain("deleted");
    const gone = await run(["sync", "status", sync.id]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).not.toContain("at ");

    // The value never appears in anything the CLI printed.
    for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(canary);
  });

  it("a token with read on one tree cannot sync another (exit 4); a path without --remote-key is a usage error (exit 2)", async () => {
    const target = `cli-deny-${Date.now().toString(36)}`;
    expect(
      (await api("POST", "/api/v1/secrets/sync-targets", { name: target, kind: "webhook", config: { url: hookUrl, signing_key: SIGNING_KEY } })).status,
    ).toBe(200);
    const mine = unique("mine/x");
    const theirs = unique("theirs/y");
    for (const p of [mine, theirs]) expect((await run(["set", p, "value"])).code).toBe(0);
    const token = await api("POST", "/api/v1/tokens", { subject: "cli-sync-narrow", scopes: ["secrets:read"], paths: [`${mine.split("/")[0]}/mine/*`] });
    expect(token.status).toBe(201);
    const denied = await run(["sync", "create", theirs, "--target", target, "--remote-key", "THEIRS"], { token: token.body.token });
    expect(denied.code).toBe(4);
    expect(denied.stderr).toMatch(/403|denied|not allowed|permission/i);
    const prefix = await run(["sync", "create", `${theirs.split("/")[0]}/`, "--target", target], { token: token.body.token });
    expect(prefix.code).toBe(4);
    const allowed = await run(["sync", "create", mine, "--target", target, "--remote-key", "MINE", "--no-run", "--json"], { token: token.body.token });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout).queued).toBe(0);
    const usage = await run(["sync", "create", mine, "--target", target]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--remote-key");
    // Configuring targets is not something this token can do through the API either.
    const res = await fetch(`${inject("hushAddr")}/api/v1/secrets/sync-targets`, { headers: { authorization: `Bearer ${token.body.token}` } });
    expect(res.status).toBe(403);
  });
});
