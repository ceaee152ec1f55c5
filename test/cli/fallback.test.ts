// Fallback against the real `wrangler dev`, reached through a proxy this test can stop (the dev
// server is shared by every suite, so "the server goes down" is the proxy going away, mid-run when
// it stops after a given number of requests): reads along the chain, `hush run --fallback` and its
// encrypted snapshot, its maximum age, and `hush health`.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { hush as run, unique, type RunOptions } from "./helpers";

const KEY = "fallback-test-key-1b2c3d4e5f";
const node = process.execPath;

/** An HTTP proxy to the dev server that answers `limit` requests, then stops listening and drops every connection. */
async function stoppableProxy(limit = Infinity) {
  const target = inject("hushAddr");
  let served = 0;
  let server: Server;
  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  server = createServer(async (req, res) => {
    if (served >= limit) {
      req.socket.destroy();
      return stop();
    }
    served++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k))) as Record<
      string,
      string
    >;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    res.writeHead(
      upstream.status,
      Object.fromEntries([...upstream.headers].filter(([k]) => !["content-encoding", "transfer-encoding", "content-length"].includes(k))),
    );
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { addr, stop, setLimit: (n: number) => (limit = served + n) };
}

function workspace(addr: string) {
  const dir = mkdtempSync(join(tmpdir(), "hush-fallback-"));
  const env = { XDG_CONFIG_HOME: join(dir, "config"), HUSH_ADDR: addr, HUSH_RETRIES: "0", HUSH_LOCAL_KEY: KEY };
  const hush = (args: string[], options: RunOptions = {}) => run(args, { cwd: dir, ...options, env: { ...env, ...options.env } });
  const snapshots = () => {
    const d = join(dir, "config", "hush", "snapshots");
    return existsSync(d)
      ? readdirSync(d)
          .filter((f) => f.endsWith(".enc"))
          .map((f) => join(d, f))
      : [];
  };
  return { dir, hush, snapshots };
}

/** Writes a secret on the real server (not through the proxy). */
async function onServer(path: string, value: string) {
  const result = await run(["set", path, "--stdin"], { input: value });
  if (result.code !== 0) throw new Error(result.stderr);
}

const report = (file: string) => `require("fs").writeFileSync(${JSON.stringify(file)}, JSON.stringify({ a: process.env.A, b: process.env.B }))`;

describe("reads along the chain", () => {
  it("are answered by Hush while it is up, then by local, then by env once it stops, with stderr naming who answered", async () => {
    const proxy = await stoppableProxy();
    const { dir, hush } = workspace(proxy.addr);
    writeFileSync(join(dir, ".hush.yaml"), "chain: [hush, local, env]\n");
    const path = unique("chain/api-key");
    await onServer(path, "from-hush-server");
    await hush(["set", path, "from-local-store", "--provider", "local"]);

    const up = await hush(["get", path, "--raw"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toBe("from-hush-server");
    expect(up.stderr).toBe("");

    proxy.stop();
    const down = await hush(["get", path, "--raw"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toBe("from-local-store");
    expect(down.stderr).toBe(`Note: ${path} came from local (hush failed: Could not reach Hush at ${proxy.addr}: ECONNREFUSED)\n`);

    await hush(["delete", path, "--provider", "local", "--yes"]);
    const envName = `HUSH_SECRET_${path.replace(/[^A-Za-z0-9]/g, "_").toUpperCase()}`;
    const fromEnv = await hush(["get", path, "--raw"], { env: { [envName]: "from-environment" } });
    expect(fromEnv.stdout).toBe("from-environment");
    expect(fromEnv.stderr).toMatch(
      new RegExp(`^Note: .* came from env \\(hush failed: Could not reach Hush .*; local failed: no secret at ${path} \\(deleted\\)\\)\\n$`),
    );

    const none = await hush(["get", path]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe("");
    expect(none.stderr).toBe(
      `Error: No provider in the chain hush → local → env could read ${path}\n` +
        `  hush: Could not reach Hush at ${proxy.addr}: ECONNREFUSED\n  local: no secret at ${path} (deleted)\n  env: ${envName} is not set\n` +
        "How to fix: Check the address (`hush status` shows it; set HUSH_ADDR or run `hush login`) and that the server is running\n",
    );

    const health = await hush(["health"]);
    expect(health.code).toBe(1);
    expect(health.stdout).toMatch(
      /^PROVIDER\s+STATUS\s+PRIORITY\s+LAST CHECK\s+DETAIL\nhush \(default\)\s+unhealthy\s+1\s+.*ECONNREFUSED\nlocal\s+healthy\s+2\s/,
    );
    expect(health.stdout).toMatch(/\nFallback chain: hush → local → env\n$/);
    expect(health.stderr).toMatch(/^Error: hush in the chain is not healthy\nHow to fix: hush: Check the address/);
  });

  it("lists every provider of the chain with a provider column, warning about one that is down", async () => {
    const proxy = await stoppableProxy();
    const { dir, hush } = workspace(proxy.addr);
    writeFileSync(join(dir, ".hush.yaml"), "chain: [hush, local]\n");
    const top = unique("list").split("/")[0]!;
    await onServer(`${top}/on-server`, "server-value-1");
    await hush(["set", `${top}/on-laptop`, "laptop-value-1", "--provider", "local"]);
    const both = await hush(["list", "--prefix", `${top}/`]);
    expect(both.stdout).toMatch(new RegExp(`\\n${top}/on-server\\s+1\\s+CUSTOM.*\\s+hush\\n${top}/on-laptop\\s+1\\s+CUSTOM.*\\s+local\\n$`));
    proxy.stop();
    const down = await hush(["list", "--prefix", `${top}/`, "--json"]);
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout).items.map((s: { path: string; provider: string }) => `${s.provider}:${s.path}`)).toEqual([`local:${top}/on-laptop`]);
    expect(down.stderr).toMatch(/^Warning: hush could not be listed: Could not reach Hush/);
  });
});

describe("hush run --fallback", () => {
  it("uses the encrypted snapshot when the server stops in the middle of a run, and says so on stderr", async () => {
    const proxy = await stoppableProxy();
    const { dir, hush, snapshots } = workspace(proxy.addr);
    const [a, b] = [unique("run/a"), unique("run/b")];
    await onServer(a, "snapshot-value-a-5c1e");
    await onServer(b, "snapshot-value-b-9d2f");
    const args = ["run", "--fallback", "--secret", `A=${a}`, "--secret", `B=${b}`, "--"];

    const out1 = join(dir, "first.json");
    const first = await hush([...args, node, "-e", report(out1)]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe("");
    expect(JSON.parse(readFileSync(out1, "utf8"))).toEqual({ a: "snapshot-value-a-5c1e", b: "snapshot-value-b-9d2f" });
    const [snapshot] = snapshots();
    expect(statSync(snapshot!).mode & 0o777).toBe(0o600);
    const text = readFileSync(snapshot!, "utf8");
    expect(text).not.toMatch(/snapshot-value|run\/a/);

    // The next run gets one answer, then the server is gone.
    proxy.setLimit(1);
    const out2 = join(dir, "second.json");
    const second = await hush([...args, node, "-e", report(out2)]);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out2, "utf8"))).toEqual({ a: "snapshot-value-a-5c1e", b: "snapshot-value-b-9d2f" });
    expect(second.stderr).toMatch(
      /^Warning: [AB]: cannot read .*: Could not reach Hush at .*\nWarning: using the fallback snapshot from \d{4}-\d\d-\d\dT\S+Z \(\d+s old; maximum 1d\): these values may be stale\n$/,
    );
    expect(second.stdout + second.stderr).not.toContain("snapshot-value");
  });

  it("refuses an expired snapshot (and deletes it), and one copied back past its maximum age", async () => {
    const proxy = await stoppableProxy();
    const { dir, hush, snapshots } = workspace(proxy.addr);
    const a = unique("expire/a");
    await onServer(a, "expiring-value-1");
    const args = ["run", "--fallback", "--fallback-max-age", "2s", "--secret", `A=${a}`, "--"];
    const marker = join(dir, "child-ran");
    const child = [node, "-e", `require("fs").writeFileSync(${JSON.stringify(marker)}, "yes")`];
    expect((await hush([...args, ...child])).code).toBe(0);
    const [snapshot] = snapshots();
    const old = join(dir, "old-snapshot.enc");
    copyFileSync(snapshot!, old);

    await new Promise((r) => setTimeout(r, 2500));
    expect((await hush([...args, ...child])).code).toBe(0); // server up: a fresh snapshot replaces the old one
    proxy.stop();
    // Put the old file back with a fresh mtime: its age is read from inside the ciphertext.
    copyFileSync(old, snapshot!);
    utimesSync(snapshot!, new Date(), new Date());
    writeFileSync(marker, "");
    const replayed = await hush([...args, ...child]);
    expect(replayed.code).toBe(1);
    expect(replayed.stdout).toBe("");
    expect(readFileSync(marker, "utf8")).toBe(""); // the command never ran
    expect(replayed.stderr).toMatch(
      /^Error: A: cannot read .*: Could not reach Hush at .*; and the fallback snapshot is \d+s old, past its maximum age of 2s, so it was not used \(and is deleted\)\nHow to fix: Bring the server back/,
    );
    expect(existsSync(snapshot!)).toBe(false);

    const none = await hush([...args, ...child]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/; and --fallback has no snapshot for this command yet\nHow to fix: Run it once with --fallback while the server is up/);
  });

  it("does not cover a denied token or a missing secret, and a wrong key fails clearly", async () => {
    const proxy = await stoppableProxy();
    const { hush } = workspace(proxy.addr);
    const a = unique("deny/a");
    await onServer(a, "deny-value-1");
    const args = ["run", "--fallback", "--secret", `A=${a}`, "--", node, "-e", "0"];
    expect((await hush(args)).code).toBe(0);
    const denied = await hush(args, { token: "hush_not_a_real_token_at_all_000000000000" });
    expect(denied.code).toBe(4);
    expect(denied.stderr).not.toMatch(/snapshot/);
    const missing = await hush(["run", "--fallback", "--secret", `A=${a}-gone`, "--", node, "-e", "0"]);
    expect(missing.code).toBe(3);
    proxy.stop();
    const wrongKey = await hush(args, { env: { HUSH_LOCAL_KEY: "another-key-entirely-0000" } });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(
      /^Error: The fallback snapshot .* could not be decrypted with the key from HUSH_LOCAL_KEY: a wrong key, or the file was changed\n/,
    );
  });

  it("warns, and still runs, when there is no key to encrypt a snapshot with", async () => {
    const { hush } = workspace(inject("hushAddr"));
    const a = unique("nokey/a");
    await onServer(a, "no-key-value-1");
    const result = await hush(["run", "--fallback", "--secret", `A=${a}`, "--", node, "-e", "process.stdout.write(process.env.A)"], {
      env: { HUSH_LOCAL_KEY: undefined, PATH: "/usr/bin:/bin" },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("no-key-value-1");
    expect(result.stderr).toMatch(/^Warning: --fallback could not save a snapshot \(No key for the fallback snapshot: HUSH_LOCAL_KEY is not set/);
  });

  it("takes its mappings from .hush.yaml's run section, under the project prefix", async () => {
    const { dir, hush } = workspace(inject("hushAddr"));
    const top = unique("proj").split("/")[0]!;
    await onServer(`${top}/db/url`, "project-mapped-url");
    writeFileSync(join(dir, ".hush.yaml"), `prefix: ${top}\nrun:\n  secrets:\n    DATABASE_URL: db/url\n  fallbackMaxAge: 1h\n`);
    const result = await hush(["run", "--", node, "-e", "process.stdout.write(process.env.DATABASE_URL)"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("project-mapped-url");
  });
});
