// The local and env providers against real files and a real environment, with no Hush server
// involved (HUSH_ADDR points at a closed port): the encrypted store, its key, its file mode, the
// env naming rules, the project file and the local audit log.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hush as run, type RunOptions } from "./helpers";

const KEY = "local-test-key-6f1d2a9c4b7e";
const CANARY = "canary-value-93b1f0e7d2a4";
const OFFLINE = "http://127.0.0.1:9"; // nothing listens there: these tests need no server

/** A project directory with its own config home, local store and audit log. */
function workspace() {
  const dir = mkdtempSync(join(tmpdir(), "hush-local-"));
  const env = { XDG_CONFIG_HOME: join(dir, "config"), HUSH_LOCAL_KEY: KEY, HUSH_ADDR: OFFLINE, HUSH_RETRIES: "0", HUSH_PROJECT: undefined };
  const hush = (args: string[], options: RunOptions = {}) => run(args, { cwd: dir, token: null, ...options, env: { ...env, ...options.env } });
  return { dir, env, hush, store: join(dir, "config", "hush", "local-store.enc"), auditLog: join(dir, "config", "hush", "audit.log") };
}

describe("the local provider", () => {
  it("stores versioned secrets encrypted: the file never holds a value or a path in clear, and is 0600", async () => {
    const { hush, store } = workspace();
    const set = await hush(["set", "app/db-password", "--stdin", "--provider", "local", "--tags", "db"], { input: `${CANARY}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe("Wrote app/db-password: version 1 (local)\n");
    expect((await hush(["rotate", "app/db-password", "--stdin", "--provider", "local"], { input: `${CANARY}-2` })).code).toBe(0);

    const text = readFileSync(store, "utf8");
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain("db-password");
    expect(JSON.parse(text)).toMatchObject({ format: "hush local v1", kdf: { name: "scrypt" } });
    expect(statSync(store).mode & 0o777).toBe(0o600);

    const raw = await hush(["get", "app/db-password", "--provider", "local", "--raw"]);
    expect(raw.stdout).toBe(`${CANARY}-2`);
    const old = await hush(["get", "app/db-password", "--provider", "local", "--version", "1", "--json"]);
    expect(JSON.parse(old.stdout)).toMatchObject({ value: CANARY, version: 1, current_version: 2, provider: "local", tags: ["db"] });

    const history = await hush(["history", "app/db-password", "--provider", "local"]);
    expect(history.stdout).toMatch(/^VERSION\s+STATE\s+CREATED\s+CREATED BY\s+NOTE\n1\s+live.*\n2\s+live/);
    expect(history.stdout).not.toContain(CANARY);

    const list = await hush(["list", "--provider", "local"]);
    expect(list.stdout).toMatch(
      /^PATH\s+VERSION\s+TYPE\s+ENVIRONMENT\s+TAGS\s+UPDATED\s+PROVIDER\napp\/db-password\s+2\s+CUSTOM\s+-\s+db\s+\S+ \S+\s+local\n$/,
    );
  });

  it("fails clearly on a wrong key, with no partial output", async () => {
    const { hush } = workspace();
    await hush(["set", "a/one", "first-value-1", "--provider", "local"]);
    await hush(["set", "a/two", "second-value-2", "--provider", "local"]);
    for (const args of [["get", "a/one", "--raw"], ["list"], ["export", "--include-values"], ["history", "a/one"]]) {
      const wrong = await hush([...args, "--provider", "local"], { env: { HUSH_LOCAL_KEY: "not-the-right-key-000000" } });
      expect(wrong.code).toBe(1);
      expect(wrong.stdout).toBe("");
      expect(wrong.stderr).toMatch(
        /^Error: The local store .* could not be decrypted with the key from HUSH_LOCAL_KEY: a wrong key, or the file was changed\nHow to fix: Set HUSH_LOCAL_KEY to the key the store was written with/,
      );
      expect(wrong.stderr).not.toMatch(/first-value|second-value/);
    }
  });

  it("refuses a store that others may read, and a changed file", async () => {
    const { hush, store } = workspace();
    await hush(["set", "a/x", "value-for-mode", "--provider", "local"]);
    chmodSync(store, 0o644);
    const loose = await hush(["get", "a/x", "--provider", "local"]);
    expect(loose.code).toBe(1);
    expect(loose.stderr).toMatch(/has mode 0644: others may read it, so it is not used\nHow to fix: Run: chmod 600 /);
    chmodSync(store, 0o600);
    const doc = JSON.parse(readFileSync(store, "utf8"));
    const data = Buffer.from(doc.data, "base64");
    data[3] = data[3]! ^ 1;
    writeFileSync(store, JSON.stringify({ ...doc, data: data.toString("base64") }), { mode: 0o600 });
    const changed = await hush(["get", "a/x", "--provider", "local"]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/could not be decrypted .* or the file was changed/);
  });

  it("names both ways to give a key when there is none", async () => {
    const { hush } = workspace();
    // PATH without secret-tool/security: the keychain has nothing.
    const none = await hush(["set", "a/x", "v-123456789", "--provider", "local"], { env: { HUSH_LOCAL_KEY: undefined, PATH: "/nonexistent" } });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /^Error: No key for the local store: HUSH_LOCAL_KEY is not set and the OS keychain has none\nHow to fix: Set HUSH_LOCAL_KEY .*secret-tool store/,
    );
  });

  it("takes its key from the OS keychain (libsecret's secret-tool) when HUSH_LOCAL_KEY is unset", async () => {
    const { dir, hush } = workspace();
    // A stand-in for libsecret's CLI with its documented `lookup attribute value...` form: the real one
    // needs a D-Bus Secret Service, which this machine does not run.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(
      join(bin, "secret-tool"),
      `#!/bin/sh\n[ "$*" = "lookup service hush account local-key" ] && printf 'keychain-key-0123456789abcdef' && exit 0\nexit 1\n`,
      { mode: 0o755 },
    );
    const env = { HUSH_LOCAL_KEY: undefined, PATH: `${bin}:${process.env.PATH}` };
    expect((await hush(["set", "a/k", "from-keychain-value", "--provider", "local"], { env })).code).toBe(0);
    expect((await hush(["get", "a/k", "--provider", "local", "--raw"], { env })).stdout).toBe("from-keychain-value");
    expect((await hush(["get", "a/k", "--provider", "local", "--raw"], { env: { HUSH_LOCAL_KEY: "keychain-key-0123456789abcdef" } })).stdout).toBe(
      "from-keychain-value",
    );
  });

  it("imports all or nothing, exports, and deletes", async () => {
    const { dir, hush } = workspace();
    writeFileSync(join(dir, "in.env"), "DB_URL=postgres://x\nAPI_KEY=key-123456789\n");
    const imported = await hush(["import", join(dir, "in.env"), "--prefix", "svc", "--provider", "local"]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^Imported 2 secrets from .* into local/);
    const again = await hush(["import", join(dir, "in.env"), "--prefix", "svc", "--provider", "local"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: local: 2 path\(s\) already exist in the local store; nothing was imported\n {2}exists: svc\/DB_URL\n/);
    const upsert = await hush(["import", join(dir, "in.env"), "--prefix", "svc", "--provider", "local", "--upsert", "--json"]);
    expect(JSON.parse(upsert.stdout).updated).toHaveLength(2);

    const exported = await hush(["export", "--provider", "local", "--include-values", "--prefix", "svc/"]);
    expect(JSON.parse(exported.stdout)).toMatchObject({ "svc/DB_URL": { value: "postgres://x", version: 2 }, "svc/API_KEY": { value: "key-123456789" } });
    const file = join(dir, "out.yaml");
    await hush(["export", "--provider", "local", "--format", "yaml", "-o", file]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).not.toContain("key-123456789");

    expect((await hush(["delete", "svc/API_KEY", "--provider", "local", "--yes"])).stdout).toBe("Deleted svc/API_KEY from local\n");
    const gone = await hush(["get", "svc/API_KEY", "--provider", "local"]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/^Error: local: no secret at svc\/API_KEY \(deleted\)\nHow to fix: `hush list --provider local`/);
  });

  it("keeps every write when several CLIs write at once (the store is locked while it is changed)", async () => {
    const { hush } = workspace();
    await Promise.all(Array.from({ length: 6 }, (_, i) => hush(["set", `p/s${i}`, `parallel-value-${i}`, "--provider", "local"])));
    const list = JSON.parse((await hush(["list", "--provider", "local", "--json"])).stdout);
    expect(list.items.map((s: { path: string }) => s.path).sort()).toEqual(["p/s0", "p/s1", "p/s2", "p/s3", "p/s4", "p/s5"]);
  });
});

describe("the env provider", () => {
  it("reads HUSH_SECRET_<NAME> (upper-cased, / and - as _), lists them, and is read-only", async () => {
    const { hush } = workspace();
    const env = { HUSH_SECRET_APP_DB_URL: "postgres://env", HUSH_SECRET_TOKEN: "env-token-123", APP_DB_URL: "unprefixed" };
    expect((await hush(["get", "app/db-url", "--provider", "env", "--raw"], { env })).stdout).toBe("postgres://env");
    const list = await hush(["list", "--provider", "env"], { env });
    expect(list.stdout).toMatch(/^PATH.*PROVIDER\nAPP_DB_URL\s+1\s+CUSTOM.*env\nTOKEN\s+1\s+CUSTOM.*env\n$/);
    const missing = await hush(["get", "app/other", "--provider", "env"], { env });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(
      "Error: env: HUSH_SECRET_APP_OTHER is not set\nHow to fix: Export HUSH_SECRET_APP_OTHER in the environment, or read app/other from another provider (--provider)\n",
    );
    for (const args of [
      ["set", "a/b", "v-123456789"],
      ["rotate", "a/b", "v-123456789"],
      ["delete", "a/b", "--yes"],
    ]) {
      const denied = await hush([...args, "--provider", "env"], { env });
      expect(denied.code).toBe(2);
      expect(denied.stderr).toMatch(/^Error: env: is read-only: it cannot (write|rotate|delete) secrets\nHow to fix: /);
    }
  });

  it("follows the project file's prefix, uppercaseNames and allowUnprefixed rules", async () => {
    const { dir, hush } = workspace();
    writeFileSync(join(dir, ".hush.yaml"), "providers:\n  env:\n    prefix: MYAPP_\n    uppercaseNames: false\n    allowUnprefixed: true\n");
    const env = { MYAPP_db_url: "prefixed-lower", api_key: "bare-name" };
    expect((await hush(["get", "db/url", "--provider", "env", "--raw"], { env })).stdout).toBe("prefixed-lower");
    expect((await hush(["get", "DB/URL", "--provider", "env"], { env })).code).toBe(3); // no upper-casing
    expect((await hush(["get", "api-key", "--provider", "env", "--raw"], { env })).stdout).toBe("bare-name"); // unprefixed allowed
    const off = await hush(["get", "api-key", "--provider", "env"], { env: { ...env, HUSH_ENV_ALLOW_UNPREFIXED: "0" } });
    expect(off.stderr).toMatch(/^Error: env: MYAPP_api_key is not set/);
  });
});

describe("the project file", () => {
  it("is found by walking up, sets the default provider, chain and prefix; environment variables override it", async () => {
    const { dir, hush } = workspace();
    const init = await hush(["init", "--provider", "local", "--chain", "hush,local,env", "--prefix", "app", "--env", "dev"]);
    expect(init.code, init.stderr).toBe(0);
    const text = readFileSync(join(dir, ".hush.yaml"), "utf8");
    expect(text).toMatch(/defaultProvider: local\nchain:\n {2}- hush\n {2}- local\n {2}- env\nprefix: app\nenvironment: dev\n/);
    expect((await hush(["init"])).stderr).toMatch(/^Error: .*\.hush\.yaml already exists\nHow to fix: Edit it, or add --force/);

    const deep = join(dir, "src", "deep");
    mkdirSync(deep, { recursive: true });
    const set = await hush(["set", "app/key", "project-value-1", "--json"], { cwd: deep });
    expect(JSON.parse(set.stdout)).toMatchObject({ provider: "local", version: 1 });
    const get = await hush(["get", "app/key", "--json"], { cwd: deep, env: { HUSH_TOKEN: "hush_some_token_for_a_server_that_is_down" } });
    expect(JSON.parse(get.stdout)).toMatchObject({ provider: "local", value: "project-value-1", environment: "dev" });
    expect(get.stderr).toMatch(/^Note: app\/key came from local \(hush failed: Could not reach Hush at http:\/\/127\.0\.0\.1:9/);

    const health = await hush(["health"], { cwd: deep });
    expect(health.stdout).toMatch(/Fallback chain: hush → local → env\n$/);
    const overridden = await hush(["health"], { cwd: deep, env: { HUSH_CHAIN: "local,env" } });
    expect(overridden.code, overridden.stderr).toBe(0);
    expect(overridden.stdout).toMatch(/\nlocal \(default\)\s+healthy\s+1\s+.*\nenv\s+healthy\s+2\s/);
    expect(overridden.stdout).toMatch(/\nhush\s+unhealthy\s+-\s+/);
    expect(overridden.stdout).toMatch(/Fallback chain: local → env\n$/);
  });

  it("rejects unknown keys and a token, naming the file and the key", async () => {
    const { dir, hush } = workspace();
    writeFileSync(join(dir, ".hush.yaml"), "defaultProvider: vault\n");
    const bad = await hush(["list"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^Error: .*\.hush\.yaml: defaultProvider: .*\nHow to fix: See the README's `.hush.yaml` section/);
    writeFileSync(join(dir, ".hush.yaml"), "token: hush_abc\n");
    expect((await hush(["list"])).stderr).toMatch(/holds a token\nHow to fix: Remove it: the project file is meant to be committed/);
    writeFileSync(join(dir, ".hush.yaml"), "providers:\n  local:\n    fileMode: '0644'\n");
    expect((await hush(["list"])).stderr).toMatch(/providers\.local\.fileMode: must be 0600/);
  });

  it("does not send the saved token to an address the project file names", async () => {
    const { dir, env, hush } = workspace();
    const home = env.XDG_CONFIG_HOME;
    mkdirSync(join(home, "hush"), { recursive: true });
    writeFileSync(join(home, "hush", "config.json"), JSON.stringify({ addr: "http://127.0.0.1:9", token: "hush_saved_token_for_the_real_server" }), {
      mode: 0o600,
    });
    writeFileSync(join(dir, ".hush.yaml"), "address: http://127.0.0.1:10\n");
    const status = await hush(["list"], { env: { HUSH_ADDR: undefined } });
    expect(status.code).toBe(4);
    expect(status.stderr).toMatch(/^Error: No token: not logged in to http:\/\/127\.0\.0\.1:10/);
  });
});

describe("the local audit log", () => {
  it("records who, what, when and the outcome for local and env, and never a value", async () => {
    const { hush, auditLog } = workspace();
    const env = { HUSH_AUDIT_LOG: "1", HUSH_SECRET_FROM_ENV: `${CANARY}-env` };
    await hush(["set", "log/secret", "--stdin", "--provider", "local"], { input: CANARY, env });
    await hush(["get", "log/secret", "--provider", "local", "--show-full"], { env });
    await hush(["get", "log/missing", "--provider", "local"], { env });
    await hush(["get", "from-env", "--provider", "env", "--raw"], { env });
    await hush(["set", "x/y", CANARY, "--provider", "env"], { env });
    await hush(["export", "--provider", "local", "--include-values"], { env });
    expect(statSync(auditLog).mode & 0o777).toBe(0o600);
    const text = readFileSync(auditLog, "utf8");
    expect(text).not.toContain(CANARY);
    const events = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => [e.provider, e.action, e.path ?? null, e.outcome])).toEqual([
      ["local", "set", "log/secret", "ok"],
      ["local", "get", "log/secret", "ok"],
      ["local", "get", "log/missing", "not_found"],
      ["env", "get", "from-env", "ok"],
      ["env", "set", "x/y", "denied"],
      ["local", "export", null, "ok"],
    ]);
    for (const e of events) {
      expect(e.actor).toMatch(/.+@.+/);
      expect(Date.parse(e.time)).toBeGreaterThan(Date.now() - 120_000);
    }
  });

  it("writes nothing when enableAuditLog is off", async () => {
    const { hush, auditLog } = workspace();
    await hush(["set", "log/off", "v-123456789", "--provider", "local"]);
    expect(existsSync(auditLog)).toBe(false);
  });
});
