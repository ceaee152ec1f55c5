import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { finish, hush, start, unique } from "./helpers";

/** A hush-api-key lease provider with one role, configured through the API (operator only). */
async function apiKeyProvider(): Promise<string> {
  const name = `cli-keys-${Date.now().toString(36)}`;
  const res = await fetch(`${inject("hushAddr")}/api/v1/secrets/providers`, {
    method: "POST",
    headers: { authorization: `Bearer ${inject("hushRootToken")}`, "content-type": "application/json" },
    body: JSON.stringify({ name, kind: "hush-api-key", roles: { reader: { max_ttl_seconds: 3600, scopes: ["secrets:read"] } } }),
  });
  if (res.status !== 201) throw new Error(`provider: ${res.status} ${await res.text()}`);
  return name;
}

const node = process.execPath;

describe("hush run", () => {
  it("passes secrets in the child's environment, not argv, and never prints them", async () => {
    const path = unique("run/db-password");
    const value = "run-secret-value-7f3a9c";
    await hush(["set", path, "--stdin"], { input: value });
    const out = join(mkdtempSync(join(tmpdir(), "hush-run-")), "seen.json");
    // The child reports what it got to a file, so the CLI's own output can be checked for leaks.
    const script = `require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify({ env: process.env.DB_PASSWORD, argv: process.argv }))`;
    const result = await hush(["run", "--secret", `DB_PASSWORD=${path}`, "--", node, "-e", script]);
    expect(result.code, result.stderr).toBe(0);
    const seen = JSON.parse(readFileSync(out, "utf8"));
    expect(seen.env).toBe(value);
    expect(JSON.stringify(seen.argv)).not.toContain(value);
    expect(result.stdout + result.stderr).not.toContain(value);
  });

  it("injects every secret under --prefix, named from the rest of its path", async () => {
    const top = unique("svc").split("/")[0]!;
    await hush(["set", `${top}/db/password`, "--stdin"], { input: "prefix-db-pass" });
    await hush(["set", `${top}/api-key`, "--stdin"], { input: "prefix-api-key" });
    const result = await hush(["run", "--prefix", top, "--", node, "-e", "process.stdout.write(process.env.DB_PASSWORD + ' ' + process.env.API_KEY)"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("prefix-db-pass prefix-api-key");
  });

  it("passes stdin and stdout through and exits with the child's exit code", async () => {
    const path = unique("exit");
    await hush(["set", path, "--stdin"], { input: "exit-value" });
    const result = await hush(
      ["run", "--secret", `X=${path}`, "--", node, "-e", "process.stdin.pipe(process.stdout); process.stdin.on('end', () => process.exit(7))"],
      { input: "piped through" },
    );
    expect(result.stdout).toBe("piped through");
    expect(result.code).toBe(7);
  });

  // SIGINT too: outside a terminal it comes from a supervisor, not from Ctrl-C.
  it.each([
    ["SIGTERM", 42],
    ["SIGINT", 5],
  ] as const)("forwards %s to the child (no terminal) and returns its exit code", async (signal, code) => {
    const path = unique("signal");
    await hush(["set", path, "--stdin"], { input: "signal-value" });
    const child = start([
      "run",
      "--secret",
      `X=${path}`,
      "--",
      node,
      "-e",
      `process.on('${signal}', () => { console.log('child got ${signal}'); process.exit(${code}) }); console.log('ready'); setInterval(() => {}, 1000)`,
    ]);
    const done = finish(child);
    await new Promise<void>((resolve) => child.stdout!.on("data", (d) => String(d).includes("ready") && resolve()));
    child.kill(signal);
    const result = await done;
    expect(result.stdout).toContain(`child got ${signal}`);
    expect(result.code).toBe(code);
  });

  it("exits 128 + n when the child dies of signal n", async () => {
    const path = unique("killed");
    await hush(["set", path, "--stdin"], { input: "killed-value" });
    const result = await hush(["run", "--secret", `X=${path}`, "--", node, "-e", "process.kill(process.pid, 'SIGKILL')"]);
    expect(result.code).toBe(128 + 9);
  });

  it("does not start the child when a secret is missing (exit 3)", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "hush-run-")), "started");
    const result = await hush(["run", "--secret", `X=${unique("missing")}`, "--", node, "-e", `require("fs").writeFileSync(${JSON.stringify(out)}, "")`]);
    expect(result.code).toBe(3);
    expect(() => readFileSync(out)).toThrow();
  });

  it("rejects a malformed --secret and an unknown command clearly", async () => {
    expect((await hush(["run", "--secret", "no-equals", "--", node, "-e", "0"])).code).toBe(2);
    const path = unique("enoent");
    await hush(["set", path, "--stdin"], { input: "enoent-value" });
    const missing = await hush(["run", "--secret", `X=${path}`, "--", "hush-no-such-command-xyz"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("Could not start hush-no-such-command-xyz");
  });

  it("issues a lease for the child and revokes it when the child exits", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "hush-run-")), "lease.json");
    const script = `require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify({ id: process.env.HUSH_LEASE_ID, credential: process.env.HUSH_LEASE_CREDENTIAL, token: process.env.HUSH_LEASE_TOKEN }))`;
    const provider = await apiKeyProvider();
    const result = await hush(["run", "--lease", `${provider}/reader`, "--lease-ttl", "10m", "--", node, "-e", script]);
    expect(result.code, result.stderr).toBe(0);
    const seen = JSON.parse(readFileSync(out, "utf8"));
    expect(seen.id).toBeTruthy();
    expect(seen.token).toMatch(/^hush_/);
    expect(JSON.parse(seen.credential).token).toBe(seen.token);
    expect(result.stdout + result.stderr).not.toContain(seen.token);
    // The lease was revoked when the child exited; the provider revoke runs through the queue.
    const lease = JSON.parse((await hush(["lease", "get", seen.id, "--json"])).stdout);
    expect(["revoking", "revoked"]).toContain(lease.state);
    let denied = false;
    for (let i = 0; i < 20 && !denied; i++) {
      denied = (await hush(["list"], { token: seen.token })).code === 4;
      if (!denied) await new Promise((r) => setTimeout(r, 500));
    }
    expect(denied).toBe(true);
  });
});

describe("hush lease", () => {
  it("issues, shows, renews and revokes a lease", async () => {
    const provider = await apiKeyProvider();
    const issued = JSON.parse((await hush(["lease", "issue", `${provider}/reader`, "--ttl", "10m", "--json"])).stdout);
    const id = issued.lease_id;
    expect(issued.credential.token).toMatch(/^hush_/);
    expect(id).toBeTruthy();
    const got = await hush(["lease", "get", id, "--json"]);
    expect(JSON.parse(got.stdout).state).toBe("issued");
    expect(got.stdout).not.toContain(issued.credential.token);
    const human = await hush(["lease", "issue", `${provider}/reader`, "--ttl", "10m"]);
    expect(human.stdout).toMatch(/token\s+hush_/);
    expect((await hush(["lease", "renew", id, "--extend", "5m"])).code).toBe(0);
    expect((await hush(["lease", "revoke", id])).code).toBe(0);
    expect(["revoking", "revoked"]).toContain(JSON.parse((await hush(["lease", "get", id, "--json"])).stdout).state);
  });
});
