// A newcomer's first hour with the CLI (issue 14, section 2): each test is named for the sharp
// edge it keeps away. All run the real `hush` against the suite's `wrangler dev`.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { CLI, cliEnv, freshConfigHome, hush, unique, type RunResult } from "./helpers";

const node = process.execPath;
const VERSION = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")).version as string;

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${inject("hushAddr")}${path}`, {
    method,
    headers: { authorization: `Bearer ${inject("hushRootToken")}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** A hush-api-key lease provider whose one role allows at most maxTtl seconds. */
async function provider(maxTtl: number): Promise<string> {
  const name = `fh-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  const res = await admin("POST", "/api/v1/secrets/providers", {
    name,
    kind: "hush-api-key",
    roles: { reader: { max_ttl_seconds: maxTtl, scopes: ["secrets:read"] } },
  });
  if (res.status !== 201) throw new Error(`provider: ${res.status} ${JSON.stringify(res.body)}`);
  return name;
}

const secondsUntil = (iso: string) => (Date.parse(iso) - Date.now()) / 1000;

/** Runs a shell pipeline with the CLI's environment (`hush` is the real CLI). */
function shell(script: string, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const child = spawn("bash", ["-c", `set -o pipefail; hush() { "${node}" "${CLI}" "$@"; }; ${script}`], {
    env: cliEnv({ env }) as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Every line of an error report: "Error: ..." first, a "How to fix: ..." line, never commander's "error:". */
function expectOneErrorStyle(result: RunResult) {
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/^Error: \S/);
  expect(result.stderr).toMatch(/\nHow to fix: \S/);
  expect(result.stderr).not.toMatch(/(^|\n)error:/);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe("leases without a TTL option", () => {
  it("lease issue without --ttl gets the role's maximum instead of a raw validation error", async () => {
    const name = await provider(600);
    const result = await hush(["lease", "issue", `${name}/reader`, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const lease = JSON.parse(result.stdout);
    expect(secondsUntil(lease.expires_at)).toBeGreaterThan(540);
    expect(secondsUntil(lease.expires_at)).toBeLessThanOrEqual(600);
  });

  it("lease issue without --ttl caps a long role maximum at 1 h", async () => {
    const name = await provider(7 * 86400);
    const lease = JSON.parse((await hush(["lease", "issue", `${name}/reader`, "--json"])).stdout);
    expect(secondsUntil(lease.expires_at)).toBeGreaterThan(3500);
    expect(secondsUntil(lease.expires_at)).toBeLessThanOrEqual(3600);
  });

  it("lease renew without --extend never asks past the role's maximum, and says when nothing is left", async () => {
    const name = await provider(600);
    const lease = JSON.parse((await hush(["lease", "issue", `${name}/reader`, "--ttl", "2m", "--json"])).stdout);
    const renewed = await hush(["lease", "renew", lease.lease_id, "--json"]);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(JSON.parse(renewed.stdout).expires_at).toBe(lease.max_expires_at);

    const again = await hush(["lease", "renew", lease.lease_id]);
    expectOneErrorStyle(again);
    expect(again.stderr).toContain("already lasts as long as its role allows");
    expect(again.stderr).toContain(`hush lease issue ${name}/reader`);
  });

  it("run --lease without --lease-ttl starts the child with a credential", async () => {
    const name = await provider(300);
    const result = await hush([
      "run",
      "--lease",
      `${name}/reader`,
      "--",
      node,
      "-e",
      "process.stdout.write(String(Boolean(process.env.HUSH_LEASE_ID && process.env.HUSH_LEASE_CREDENTIAL)))",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("true");
  });
});

describe("share open", () => {
  it("redeems a server-sealed #hshr_ link instead of rejecting it for having no key", async () => {
    const created = await admin("POST", "/api/v1/secrets/shares", { value: "sealed by the server", max_views: 1 });
    expect(created.status).toBe(201);
    expect(created.body.url).toContain("#hshr_");
    const opened = await hush(["share", "open", created.body.url], { token: null });
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toBe("sealed by the server");

    const twice = await hush(["share", "open", created.body.url], { token: null });
    expect(twice.code).toBe(3);
    expect(twice.stderr).toContain("already viewed");
  });

  it("says a cut sealed token is cut, without spending the view", async () => {
    const created = await admin("POST", "/api/v1/secrets/shares", { value: "still there", max_views: 1 });
    const cut = await hush(["share", "open", created.body.url.slice(0, -3)], { token: null });
    expect(cut.code).toBe(2);
    expect(cut.stderr).toContain("cut or changed");
    expect((await hush(["share", "open", created.body.url], { token: null })).stdout).toBe("still there");
  });
});

describe("pipes", () => {
  it("piping into head never crashes with EPIPE", async () => {
    const top = unique("pipe").split("/")[0]!;
    // Three large values: the export is far bigger than a pipe's buffer, so head closes it mid-write.
    for (const i of [1, 2, 3]) await hush(["set", `${top}/big${i}`, "--stdin"], { input: "x".repeat(60_000) });
    for (let i = 0; i < 3; i++) {
      const exported = await shell(`hush export --prefix ${top} --include-values | head -c 10 >/dev/null`);
      expect(exported.stderr).toBe("");
      expect(exported.code).toBe(0);
      const status = await shell("hush status | head -1 >/dev/null");
      expect(status.stderr).toBe("");
      expect(status.code).toBe(0);
    }
  });
});

describe("version and help", () => {
  it("--version and `hush version` print the version instead of an unknown option", async () => {
    const flag = await hush(["--version"]);
    expect(flag.code).toBe(0);
    expect(flag.stdout.trim()).toBe(VERSION);
    const command = await hush(["version", "--json"]);
    expect(command.code, command.stderr).toBe(0);
    expect(JSON.parse(command.stdout)).toMatchObject({ cli: VERSION, server: { addr: inject("hushAddr"), version: expect.any(String) } });
    // `get --version N` is still the secret's version.
    expect((await hush(["get", unique("none"), "--version", "1"])).code).toBe(3);
  });

  it("help share create prints that command's help, not its parent's", async () => {
    const help = await hush(["help", "share", "create"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: hush share create");
    expect(help.stdout).toContain("--views");
    const unknown = await hush(["help", "share", "nope"]);
    expectOneErrorStyle(unknown);
    expect(unknown.stderr).toContain("hush help share");
  });

  it("no command's --help is without examples", async () => {
    const commands = [
      "",
      "get",
      "set",
      "list",
      "rotate",
      "history",
      "recover",
      "delete",
      "undelete",
      "destroy",
      "audit",
      "audit verify",
      "import",
      "export",
      "run",
      "share",
      "share create",
      "share open",
      "lease",
      "lease issue",
      "lease get",
      "lease list",
      "lease renew",
      "lease revoke",
      "token",
      "token create",
      "token list",
      "token revoke",
      "login",
      "logout",
      "status",
      "health",
      "version",
      "init",
      "help",
    ];
    for (const words of commands) {
      const help = await hush([...words.split(" ").filter(Boolean), "--help"], { token: null });
      expect(help.code, words).toBe(0);
      expect(help.stdout, `hush ${words} --help`).toMatch(/\nExamples:\n {2}\$ hush /);
    }
  }, 180_000); // 35 CLI starts: on a loaded 2-core machine one takes 2 s

  it("nor the help of the commands for what was curl-only", async () => {
    const commands = [
      "completion",
      "policy",
      "policy put",
      "login-role",
      "login-role create",
      "tenant",
      "tenant create",
      "provider",
      "provider put",
      "provider revoke-leases",
      "approval",
      "approval approve",
      "approval policy create",
      "transit",
      "transit key",
      "transit key list",
      "transit key create",
      "transit encrypt",
      "transit decrypt",
      "transit verify",
    ];
    for (const words of commands) {
      const help = await hush([...words.split(" "), "--help"], { token: null });
      expect(help.code, words).toBe(0);
      expect(help.stdout, `hush ${words} --help`).toMatch(/\nExamples:\n {2}\$ (hush |echo |source )/);
    }
  }, 180_000);
});

describe("list --pattern", () => {
  it("a glob like 'api-key-*' also matches the last segment, so nested paths are found", async () => {
    const top = unique("pattern").split("/")[0]!;
    for (const path of ["svc/api-key-1", "svc/deep/api-key-2", "svc/not-an-api-key", "api-key-top"]) {
      await hush(["set", `${top}/${path}`, "--stdin"], { input: "v" });
    }
    const found = JSON.parse((await hush(["list", "--prefix", top, "--pattern", "api-key-*", "--json"])).stdout);
    expect(found.items.map((s: { path: string }) => s.path).sort()).toEqual([`${top}/api-key-top`, `${top}/svc/api-key-1`, `${top}/svc/deep/api-key-2`]);
    // A glob with a slash still matches the whole path, as the server does.
    const whole = JSON.parse((await hush(["list", "--pattern", `${top}/svc/*`, "--json"])).stdout);
    expect(whole.items).toHaveLength(3);
  });
});

describe("import", () => {
  const envFile = (text: string) => {
    const file = join(mkdtempSync(join(tmpdir(), "hush-import-")), "app.env");
    writeFileSync(file, text);
    return file;
  };

  it("one empty .env value does not reject the whole file", async () => {
    const prefix = unique("empty");
    const result = await hush(["import", envFile("FILLED=yes\nEMPTY=\nALSO=1\n"), "--prefix", prefix]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("Skipped 1 empty variable(s): EMPTY");
    expect((await hush(["get", `${prefix}/FILLED`, "--raw"])).stdout).toBe("yes");
    expect((await hush(["get", `${prefix}/EMPTY`])).code).toBe(3);
  });

  it("`hush import -` reads the file from stdin", async () => {
    const prefix = unique("stdin");
    const env = await hush(["import", "-", "--prefix", prefix], { input: "# from a pipe\nA=1\nexport B='two'\n" });
    expect(env.code, env.stderr).toBe(0);
    expect((await hush(["get", `${prefix}/B`, "--raw"])).stdout).toBe("two");
    const json = await hush(["import", "-", "--prefix", `${prefix}/j`], { input: '{"db": {"password": "pw"}}' });
    expect(json.code, json.stderr).toBe(0);
    expect((await hush(["get", `${prefix}/j/db/password`, "--raw"])).stdout).toBe("pw");
  });

  it("existing paths fail with a hint to --upsert, and --upsert writes new versions instead", async () => {
    const prefix = unique("upsert");
    await hush(["import", envFile("A=1\nB=2\n"), "--prefix", prefix]);
    const file = envFile("A=1b\nC=3\n");
    const plain = await hush(["import", file, "--prefix", prefix]);
    expectOneErrorStyle(plain);
    expect(plain.stderr).toContain("--upsert");
    expect((await hush(["get", `${prefix}/C`])).code).toBe(3); // all or nothing

    const upsert = await hush(["import", file, "--prefix", prefix, "--upsert", "--json"]);
    expect(upsert.code, upsert.stderr).toBe(0);
    expect(JSON.parse(upsert.stdout)).toMatchObject({ created: [{ path: `${prefix}/C`, version: 1 }], updated: [{ path: `${prefix}/A`, version: 2 }] });
    expect((await hush(["get", `${prefix}/A`, "--raw"])).stdout).toBe("1b");
  });

  it("--dry-run shows what would change and writes nothing", async () => {
    const prefix = unique("dry");
    await hush(["import", envFile("OLD=1\n"), "--prefix", prefix]);
    const file = envFile("OLD=2\nNEW=3\n");
    const dry = await hush(["import", file, "--prefix", prefix, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`${prefix}/OLD\\s+exists: would fail`));
    expect(dry.stdout).toMatch(new RegExp(`${prefix}/NEW\\s+create`));
    expect(dry.stderr).toContain("nothing written");
    const upsert = JSON.parse((await hush(["import", file, "--prefix", prefix, "--dry-run", "--upsert", "--json"])).stdout);
    expect(upsert.items).toContainEqual({ path: `${prefix}/OLD`, action: "new version (2)" });
    expect((await hush(["get", `${prefix}/NEW`])).code).toBe(3);
    expect((await hush(["get", `${prefix}/OLD`, "--raw"])).stdout).toBe("1");
  });
});

describe("hush run", () => {
  it("does not hand the caller's HUSH_TOKEN to the child (unless --pass-token)", async () => {
    const path = unique("run-token");
    await hush(["set", path, "--stdin"], { input: "v" });
    const show = "process.stdout.write(process.env.HUSH_TOKEN ?? 'unset')";
    const result = await hush(["run", "--secret", `X=${path}`, "--", node, "-e", show]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("unset");
    const passed = await hush(["run", "--pass-token", "--secret", `X=${path}`, "--", node, "-e", show]);
    expect(passed.stdout).toBe(inject("hushRootToken"));
  });

  it("names the variable and the path of a missing secret", async () => {
    const present = unique("run-present");
    const missing = unique("run-missing");
    await hush(["set", present, "--stdin"], { input: "v" });
    const result = await hush(["run", "--secret", `OK=${present}`, "--secret", `DB_PASSWORD=${missing}`, "--", node, "-e", ""]);
    expect(result.code).toBe(3);
    expectOneErrorStyle(result);
    expect(result.stderr).toContain(`DB_PASSWORD: no secret at ${missing}`);
  });
});

describe("small edges", () => {
  it("declining a delete is not reported as an error", async () => {
    const path = unique("decline");
    await hush(["set", path, "--stdin"], { input: "keep me" });
    // A terminal (script(1) gives the CLI a pty) that answers "n".
    const answered = await shell(`printf 'n\\n' | script -qec '"${node}" "${CLI}" delete ${path}' /dev/null`);
    expect(answered.stdout).toContain("Not deleted");
    expect(answered.stdout + answered.stderr).not.toContain("Error");
    expect((await hush(["get", path, "--raw"])).stdout).toBe("keep me");
  });

  it("logout keeps the address, so the next login does not ask for it", async () => {
    const home = freshConfigHome();
    const env = { XDG_CONFIG_HOME: home, HUSH_ADDR: undefined };
    await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], { token: null, env, input: inject("hushRootToken") });
    expect((await hush(["logout"], { token: null, env })).code).toBe(0);
    const file = join(home, "hush", "config.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ addr: inject("hushAddr") });
    const again = await hush(["login", "--token-stdin"], { token: null, env, input: inject("hushRootToken") });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`Logged in to ${inject("hushAddr")}`);
  });

  it("audit tables show seconds, so events of the same minute can be told apart", async () => {
    const path = unique("audit-seconds");
    await hush(["set", path, "--stdin"], { input: "v" });
    const table = await hush(["audit", path]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n")[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ /);
  });

  it("recover --at before the secret existed says so, not 'check the path'", async () => {
    const path = unique("recover-early");
    await hush(["set", path, "--stdin"], { input: "v" });
    const result = await hush(["recover", path, "--at", "2001-01-01T00:00:00Z"]);
    expectOneErrorStyle(result);
    expect(result.stderr).toContain("did not exist yet at 2001-01-01");
    expect(result.stderr).toContain(`hush history ${path}`);
    expect(result.stderr).not.toContain("Check the path");
  });

  it.each([
    ["an unknown option", ["get", "x", "--bogus"]],
    ["a missing argument", ["get"]],
    ["an unknown command", ["nope"]],
    ["a bad duration", ["token", "create", "--subject", "s", "--scopes", "secrets:read", "--ttl", "soon"]],
    ["an empty import", ["import", "-", "--format", "env"]],
  ])("one error style with a How to fix line for %s", async (_, args) => {
    expectOneErrorStyle(await hush(args, { input: "" }));
  });
});
