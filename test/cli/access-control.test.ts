// `accessControl` in .hush.yaml (issue 21): the local and env providers may read and write only the
// paths their globs allow; a denial exits 4 naming the rule and the file, and is written to the
// local audit log even with enableAuditLog off. No Hush server involved (HUSH_ADDR is a closed port).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { matchesGlob } from "../../cli/lib/access-control.mjs";
import { hush as run, type RunOptions } from "./helpers";

const KEY = "access-control-test-key-0c7f3";
const OFFLINE = "http://127.0.0.1:9";

/** A project directory with this .hush.yaml, its own config home, local store and audit log. */
function workspace(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "hush-acl-"));
  writeFileSync(join(dir, ".hush.yaml"), yaml);
  const env = { XDG_CONFIG_HOME: join(dir, "config"), HUSH_LOCAL_KEY: KEY, HUSH_ADDR: OFFLINE, HUSH_RETRIES: "0", HUSH_PROJECT: undefined };
  const hush = (args: string[], options: RunOptions = {}) => run(args, { cwd: dir, token: null, ...options, env: { ...env, ...options.env } });
  const auditLog = join(dir, "config", "hush", "audit.log");
  const lines = () =>
    existsSync(auditLog)
      ? readFileSync(auditLog, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
      : [];
  return { dir, hush, auditLog, lines };
}

const WITHOUT_RULES = `defaultProvider: local\n`;
const RULES = `defaultProvider: local
accessControl:
  local:
    read: ["dev/*", "shared/*"]
    write: ["dev/*"]
  env:
    read: ["ci/*"]
`;

describe("accessControl", () => {
  it("matches globs as the server does: * spans segments, everything else is literal", () => {
    expect(matchesGlob("dev/*", "dev/a/b")).toBe(true);
    expect(matchesGlob("dev/*", "devx/a")).toBe(false);
    expect(matchesGlob("*/db", "app/prod/db")).toBe(true);
    expect(matchesGlob("app", "app/x")).toBe(false);
    expect(matchesGlob("a*b*c", "a".repeat(5000))).toBe(false); // linear, no backtracking blow-up
  });

  it("without an entry a provider is unrestricted (as before)", async () => {
    const { hush } = workspace(WITHOUT_RULES);
    expect((await hush(["set", "prod/db", "--stdin"], { input: "v" })).code).toBe(0);
    expect((await hush(["get", "prod/db", "--raw"])).stdout).toBe("v");
  });

  it("local: writes only under write globs, reads only under read globs; a denial names the rule, exits 4 and is audited with the log off", async () => {
    const { dir, hush, lines } = workspace(RULES);
    expect((await hush(["set", "dev/api-key", "--stdin"], { input: "dev-value" })).code).toBe(0);

    const write = await hush(["set", "shared/token", "--stdin"], { input: "nope" });
    expect(write.code).toBe(4);
    expect(write.stderr).toContain(`Error: local: accessControl in ${join(dir, ".hush.yaml")} does not allow write on shared/token`);
    expect(write.stderr).toContain("How to fix: local may write only dev/*; add a glob to accessControl.local.write there");
    for (const args of [
      ["rotate", "prod/db", "--stdin"],
      ["delete", "prod/db", "--yes"],
    ])
      expect((await hush(args, { input: "x" })).code).toBe(4);

    const read = await hush(["get", "prod/db"]);
    expect(read.code).toBe(4);
    expect(read.stderr).toContain("does not allow read on prod/db");
    expect((await hush(["history", "prod/db"])).code).toBe(4);
    expect((await hush(["get", "dev/api-key", "--raw"])).stdout).toBe("dev-value");

    // Every denial is one audit line, without the value, though enableAuditLog is off.
    const denied = lines().filter((l) => l.outcome === "denied");
    expect(denied.map((l) => [l.action, l.path])).toEqual([
      ["set", "shared/token"],
      ["rotate", "prod/db"],
      ["delete", "prod/db"],
      ["get", "prod/db"],
      ["history", "prod/db"],
    ]);
    expect(denied[0]).toMatchObject({ provider: "local", reason: expect.stringContaining("accessControl") });
    expect(JSON.stringify(lines())).not.toContain("dev-value");
    expect(JSON.stringify(lines())).not.toContain("nope");
    // Allowed operations are not logged while enableAuditLog is off.
    expect(lines().every((l) => l.outcome === "denied")).toBe(true);
  });

  it("local: list and export show only readable paths; an import with one unwritable path writes nothing", async () => {
    const unrestricted = workspace(WITHOUT_RULES);
    for (const path of ["dev/a", "shared/b", "prod/c"]) await unrestricted.hush(["set", path, "--stdin"], { input: `value-${path}` });
    const store = join(unrestricted.dir, "config", "hush", "local-store.enc");
    const { hush } = workspace(RULES);
    const env = { HUSH_LOCAL_STORE: store };

    const list = await hush(["list", "--json"], { env });
    expect(
      JSON.parse(list.stdout)
        .items.map((s: { path: string }) => s.path)
        .sort(),
    ).toEqual(["dev/a", "shared/b"]);
    const exported = await hush(["export", "--format", "json"], { env });
    const text = exported.stdout + exported.stderr;
    expect(exported.stdout).toContain("dev/a");
    expect(text).not.toContain("prod/c");

    const importFile = join(mkdtempSync(join(tmpdir(), "hush-acl-import-")), "in.env");
    writeFileSync(importFile, "DEV_NEW=1\n");
    const bad = await hush(["import", importFile, "--prefix", "prod/"], { env });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain("does not allow write on prod/");
    const good = await hush(["import", importFile, "--prefix", "dev/"], { env });
    expect(good.code, good.stderr).toBe(0);
  });

  it("env: reads only ci/*, and a chain read that local refuses falls through to the next provider", async () => {
    const { hush } = workspace(`${RULES}chain: [local, env]\n`);
    const env = { HUSH_SECRET_CI_DEPLOY_KEY: "from-env", HUSH_SECRET_PROD_DB: "prod-env" };
    const ok = await hush(["get", "ci/deploy-key", "--raw", "--provider", "env"], { env });
    expect(ok.stdout).toBe("from-env");
    const denied = await hush(["get", "prod/db", "--provider", "env"], { env });
    expect(denied.code).toBe(4);
    expect(denied.stderr).toContain("env: accessControl");
    // local may not read ci/*, env may: the chain answers from env and says why.
    const chained = await hush(["get", "ci/deploy-key", "--raw"], { env });
    expect(chained.stdout).toBe("from-env");
    expect(chained.stderr).toContain("local failed: accessControl");
  });

  it("rejects an entry for a provider that has its own access control, and unknown operations", async () => {
    const server = workspace(`accessControl:\n  hush:\n    read: ["*"]\n`);
    const bad = await server.hush(["get", "x", "--provider", "local"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("accessControl");
    const op = workspace(`accessControl:\n  local:\n    destroy: ["*"]\n`);
    expect((await op.hush(["get", "x", "--provider", "local"])).code).toBe(2);
  });
});
