// The CLI as a package people install (issue 14, section 5): `npm pack` of the built CLI, then
// `npm install -g` of the tarball into a clean prefix with the network refused, gives a `hush` that
// works with nothing of the repository around it. And one version string (section 6): /healthz,
// /openapi.json and the installed `hush version` all report package.json's.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { cliEnv, unique } from "./helpers";

const ROOT = join(import.meta.dirname, "..", "..");
const VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;

let prefix: string;
let tarball: string;
let packedFiles: string[];

/** The installed `hush`, started through its own shebang (`#!/usr/bin/env node`) from a directory far from the repository. */
function installed(args: string[], input?: string, env: Record<string, string | undefined> = {}) {
  const result = spawnSync(join(prefix, "bin", "hush"), args, {
    cwd: mkdtempSync(join(tmpdir(), "hush-pkg-cwd-")),
    input,
    encoding: "utf8",
    // Only the prefix and node itself on PATH: nothing from the checkout's node_modules.
    env: {
      ...cliEnv(),
      PATH: [join(prefix, "bin"), dirname(process.execPath), "/usr/bin", "/bin"].join(delimiter),
      NODE_PATH: undefined,
      ...env,
    } as unknown as NodeJS.ProcessEnv,
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  const work = mkdtempSync(join(tmpdir(), "hush-pkg-"));
  const out = join(work, "build");
  execFileSync(process.execPath, [join(ROOT, "cli", "build.mjs"), "--out", out], { stdio: "pipe" });
  // npm with a cache of its own and the registry pointed at a closed port: any fetch would fail.
  const npmEnv = {
    ...process.env,
    npm_config_cache: join(work, "npm-cache"),
    npm_config_registry: "http://127.0.0.1:9/",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
  const packed = JSON.parse(execFileSync("npm", ["pack", out, "--pack-destination", work, "--json"], { env: npmEnv, encoding: "utf8" }));
  tarball = join(work, packed[0].filename);
  packedFiles = packed[0].files.map((f: { path: string }) => f.path).sort();
  prefix = join(work, "prefix");
  execFileSync("npm", ["install", "-g", "--offline", "--prefix", prefix, tarball], { env: npmEnv, encoding: "utf8", stdio: "pipe" });
}, 180_000);

describe("the installable CLI", () => {
  it("packs one bundled file, a package.json and a README, with no dependencies", () => {
    expect(packedFiles).toEqual(["README.md", "hush.mjs", "package.json"]);
    expect(tarball).toMatch(new RegExp(`hush-cli-${VERSION.replace(/\./g, "\\.")}\\.tgz$`));
    const manifest = JSON.parse(readFileSync(join(prefix, "lib", "node_modules", "hush-cli", "package.json"), "utf8"));
    expect(manifest).toMatchObject({ name: "hush-cli", version: VERSION, bin: { hush: "hush.mjs" }, engines: { node: ">=20" } });
    expect(manifest.dependencies).toBeUndefined();
    // Nothing else was installed next to it.
    expect(existsSync(join(prefix, "lib", "node_modules", "hush-cli", "node_modules"))).toBe(false);
    expect(readdirSync(join(prefix, "lib", "node_modules"))).toEqual(["hush-cli"]);
  });

  it("`hush version` from the install reports package.json's version for the CLI and the server", () => {
    const run = installed(["version", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const shown = JSON.parse(run.stdout);
    expect(shown.cli).toBe(VERSION);
    expect(shown.server.version).toBe(VERSION);
    expect(installed(["--version"]).stdout.trim()).toBe(VERSION);
  });

  it("writes and reads a secret against the server, and `hush help` works without a config", () => {
    const path = unique("pkg/db-password");
    const set = installed(["set", path, "--stdin"], "from-the-installed-cli");
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    const got = installed(["get", path, "--raw"]);
    expect(got.code).toBe(0);
    expect(got.stdout).toBe("from-the-installed-cli");
    const help = installed(["help", "transit", "encrypt"], undefined, { HUSH_ADDR: undefined, HUSH_TOKEN: undefined });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Examples:");
  });

  it("runs on the machine's Node >= 20", () => {
    const run = spawnSync("node", ["--version"], {
      encoding: "utf8",
      env: { PATH: [dirname(process.execPath), "/usr/bin", "/bin"].join(delimiter) } as unknown as NodeJS.ProcessEnv,
    });
    const [major] = run.stdout.trim().replace(/^v/, "").split(".").map(Number);
    expect(major).toBeGreaterThanOrEqual(20);
  });
});

describe("one version string", () => {
  it("/healthz and /openapi.json report package.json's version", async () => {
    const health = (await (await fetch(`${inject("hushAddr")}/healthz`)).json()) as { version: string };
    const openapi = (await (await fetch(`${inject("hushAddr")}/openapi.json`)).json()) as { info: { version: string } };
    expect(health.version).toBe(VERSION);
    expect(openapi.info.version).toBe(VERSION);
  });

  it("is written nowhere else in the repository's config", () => {
    expect(readFileSync(join(ROOT, "wrangler.jsonc"), "utf8")).not.toContain(`"${VERSION}"`);
    expect(readFileSync(join(ROOT, "src", "app.ts"), "utf8")).not.toContain(`"${VERSION}"`);
  });
});
