// The token `hush login` saves goes to the OS keychain where one exists, with the 0600 config file
// as the fallback (issue 14, section 5). This machine has no desktop keyring, so the keychain path
// is a contract test: a fake `secret-tool` on PATH, speaking libsecret's CLI (store reads the
// secret on stdin; lookup prints it; clear removes it), keeps entries in a temp file. The real
// tool is not exercised here; macOS `security` is not tested on this Linux machine.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { freshConfigHome, hush, tokenWith, unique } from "./helpers";

const FAKE_SECRET_TOOL = `#!/usr/bin/env node
// A stand-in for libsecret's secret-tool: entries in $FAKE_KEYRING (JSON), every argv in $FAKE_KEYRING.argv.
const fs = require("node:fs");
const file = process.env.FAKE_KEYRING;
const [cmd, ...rest] = process.argv.slice(2);
fs.appendFileSync(file + ".argv", JSON.stringify(process.argv.slice(2)) + "\\n");
if (process.env.FAKE_KEYRING_BROKEN) { process.stderr.write("Cannot autolaunch D-Bus without X11 $DISPLAY\\n"); process.exit(1); }
const attrs = rest.filter((a) => !a.startsWith("--")).join("\\u0000");
const db = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
if (cmd === "store") {
  db[attrs] = fs.readFileSync(0, "utf8");
  fs.writeFileSync(file, JSON.stringify(db));
} else if (cmd === "lookup") {
  if (!(attrs in db)) process.exit(1);
  process.stdout.write(db[attrs]);
} else if (cmd === "clear") {
  delete db[attrs];
  fs.writeFileSync(file, JSON.stringify(db));
} else process.exit(2);
`;

/** A PATH whose first directory holds the fake secret-tool, and the file it keeps entries in. */
function fakeKeychain(broken = false) {
  const dir = mkdtempSync(join(tmpdir(), "hush-keychain-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "secret-tool"), FAKE_SECRET_TOOL);
  chmodSync(join(bin, "secret-tool"), 0o755);
  const keyring = join(dir, "keyring.json");
  return { keyring, env: { PATH: [bin, process.env.PATH].join(delimiter), FAKE_KEYRING: keyring, ...(broken ? { FAKE_KEYRING_BROKEN: "1" } : {}) } };
}

const entries = (keyring: string): Record<string, string> => (existsSync(keyring) ? JSON.parse(readFileSync(keyring, "utf8")) : {});

describe.runIf(process.platform === "linux")("the token in the OS keychain", () => {
  it("login keeps the token in the keychain (not the file, not argv); status says so; logout deletes it", async () => {
    const { keyring, env: kc } = fakeKeychain();
    const home = freshConfigHome();
    const env = { ...kc, XDG_CONFIG_HOME: home, HUSH_ADDR: undefined };
    const token = await tokenWith(["secrets:read", "secrets:write"], "cli-keychain");
    const login = await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], { token: null, env, input: `${token}\n` });
    expect(login.stderr).toBe("");
    expect(login.stdout).toContain("token saved in the OS keychain (secret-tool), address in");

    const file = join(home, "hush", "config.json");
    const config = readFileSync(file, "utf8");
    expect(config).not.toContain(token);
    expect(JSON.parse(config)).toMatchObject({ addr: inject("hushAddr"), token_store: "keychain", subject: "cli-keychain" });
    expect(Object.values(entries(keyring))).toEqual([token]);
    expect(Object.keys(entries(keyring))[0]).toBe(["service", "hush", "account", `token ${inject("hushAddr")}`].join("\u0000"));
    expect(readFileSync(`${keyring}.argv`, "utf8")).not.toContain(token);

    const status = await hush(["status"], { token: null, env });
    expect(status.stdout).toMatch(/token\s+.*\(from the OS keychain \(secret-tool\)\)/);
    const path = unique("keychain/value");
    expect((await hush(["set", path, "--stdin"], { token: null, env, input: "v" })).code).toBe(0);
    expect((await hush(["get", path, "--raw"], { token: null, env })).stdout).toBe("v");

    const logout = await hush(["logout"], { token: null, env });
    expect(logout.stdout).toContain("the token is deleted from the OS keychain (secret-tool)");
    expect(entries(keyring)).toEqual({});
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ addr: inject("hushAddr") });
    expect((await hush(["status"], { token: null, env })).code).toBe(4);
  });

  it("falls back to the 0600 file when the keychain refuses (no D-Bus session) or HUSH_KEYCHAIN=0", async () => {
    for (const env of [{ ...fakeKeychain(true).env }, { ...fakeKeychain().env, HUSH_KEYCHAIN: "0" }]) {
      const home = freshConfigHome();
      const token = await tokenWith(["secrets:read"], "cli-keychain-fallback");
      const login = await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], {
        token: null,
        env: { ...env, XDG_CONFIG_HOME: home, HUSH_ADDR: undefined },
        input: token,
      });
      expect(login.code, login.stderr).toBe(0);
      const file = join(home, "hush", "config.json");
      expect(login.stdout).toContain(`token saved in ${file} (mode 0600)`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ token });
      const status = await hush(["status"], { token: null, env: { ...env, XDG_CONFIG_HOME: home, HUSH_ADDR: undefined } });
      expect(status.stdout).toMatch(/token\s+.*\(from .*config\.json\)/);
    }
  });

  it("with no secret-tool at all the file is used (the path every test machine without a keyring takes)", async () => {
    const home = freshConfigHome();
    const token = await tokenWith(["secrets:read"], "cli-keychain-none");
    const env = { PATH: [process.execPath.replace(/\/[^/]+$/, ""), "/usr/bin", "/bin"].join(delimiter), XDG_CONFIG_HOME: home, HUSH_ADDR: undefined };
    const login = await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], { token: null, env, input: token });
    expect(login.stdout).toContain("(mode 0600)");
  });

  it("the local provider's key comes from the same keychain code (service hush, account local-key)", async () => {
    const { keyring, env: kc } = fakeKeychain();
    writeFileSync(keyring, JSON.stringify({ [["service", "hush", "account", "local-key"].join("\u0000")]: "a-keychain-key-of-enough-length" }));
    const store = join(mkdtempSync(join(tmpdir(), "hush-keychain-store-")), "store.json");
    const env = { ...kc, HUSH_LOCAL_STORE: store, HUSH_LOCAL_KEY: undefined };
    expect((await hush(["set", "kc/one", "--stdin", "--provider", "local"], { env, input: "local-value" })).code).toBe(0);
    expect((await hush(["get", "kc/one", "--raw", "--provider", "local"], { env })).stdout).toBe("local-value");
    const health = await hush(["health", "--json"], { env });
    expect(JSON.parse(health.stdout).providers.find((p: { provider: string }) => p.provider === "local").detail).toContain(
      "key from the OS keychain (secret-tool)",
    );
  });
});
