// `npm run deploy` (scripts/deploy.mjs) against a fake `wrangler` on PATH that records its calls
// and keeps an account's state: it creates what is missing, only that, and never lets a secret
// value into argv or its output.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "hush-deploy-test-"));
const bin = join(work, "bin");
const account = join(work, "account");
const checkout = join(work, "checkout");
mkdirSync(bin);
mkdirSync(account);
mkdirSync(checkout);
symlinkSync(join(import.meta.dirname, "fixtures", "fake-wrangler.mjs"), join(bin, "wrangler"));
// Two databases, as a branch adding DB_1 will have: the script iterates the list.
const config = readFileSync(join(repo, "wrangler.jsonc"), "utf8").replace(
  /("migrations_dir": "migrations"\n\s*\})/,
  `$1,\n    // A second database.\n    { "binding": "DB_1", "database_name": "hush-1", "migrations_dir": "migrations" }`,
);
writeFileSync(join(checkout, "wrangler.jsonc"), config);
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Call {
  argv: string[];
  stdin_bytes: number;
  exit: number;
}

function deploy(extraEnv: Record<string, string> = {}) {
  writeFileSync(join(account, "calls.jsonl"), "");
  const res = spawnSync(process.execPath, [join(repo, "scripts", "deploy.mjs"), "--yes"], {
    env: {
      PATH: [bin, dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
      HOME: work,
      FAKE_WRANGLER_DIR: account,
      HUSH_DEPLOY_ROOT: checkout,
      ...extraEnv,
    } as unknown as NodeJS.ProcessEnv,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
  const calls = readFileSync(join(account, "calls.jsonl"), "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Call);
  const state = JSON.parse(readFileSync(join(account, "state.json"), "utf8"));
  return { ...res, output: res.stdout + res.stderr, calls, state };
}
const creations = (calls: Call[]) =>
  calls.filter((c) => c.argv[1] === "create" || (c.argv[0] === "secret" && c.argv[1] === "put")).map((c) => c.argv.join(" "));
const QUEUES = ["hush-revocations", "hush-revocations-dlq", "hush-rewrap", "hush-rewrap-dlq", "hush-sync", "hush-sync-dlq"];

describe("npm run deploy", () => {
  let firstSecrets: Record<string, string>;

  it("on an empty account creates every database and queue, migrates, and deploys with generated secrets", () => {
    const run = deploy();
    expect(run.status, run.output).toBe(0);
    expect(creations(run.calls).sort()).toEqual(["d1 create hush", "d1 create hush-1", ...QUEUES.map((q) => `queues create ${q}`)].sort());
    expect(run.state.queues.sort()).toEqual(QUEUES);
    expect(run.state.migrated).toEqual(["hush", "hush-1"]);
    expect(run.state.deploys).toBe(1);
    // The first deploy of a Worker takes its secrets in a file (wrangler cannot `secret put` before it exists).
    expect(Object.keys(run.state.secrets).sort()).toEqual(["MASTER_KEYS", "ROOT_TOKEN"]);
    firstSecrets = run.state.secrets;
    expect(JSON.parse(firstSecrets.MASTER_KEYS!)).toMatchObject({ active: "k1", keys: { k1: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/) } });
    expect(firstSecrets.ROOT_TOKEN).toMatch(/^hush_[A-Za-z0-9_-]{40}$/);
    // The ids are written back into wrangler.jsonc, comments kept.
    const written = readFileSync(join(checkout, "wrangler.jsonc"), "utf8");
    expect(written).toContain('"database_id": "00000001-1111-4111-8111-111111111111"');
    expect(written).toContain('"database_name": "hush-1", "database_id": "00000002-1111-4111-8111-111111111111"');
    expect(written).toContain("// A second database.");
    expect(written).toContain("// Secrets (never in this file)");
    // The generated values are kept for the operator in a 0600 file, and printed nowhere.
    const kept = join(checkout, ".deploy-secrets");
    expect(statSync(kept).mode & 0o777).toBe(0o600);
    expect(readFileSync(kept, "utf8")).toContain(firstSecrets.ROOT_TOKEN);
    for (const value of Object.values(firstSecrets)) {
      expect(run.output).not.toContain(value);
      expect(JSON.stringify(run.calls.map((c) => c.argv))).not.toContain(value);
    }
  });

  it("a second run creates nothing and changes nothing but deploying again", () => {
    const before = readFileSync(join(checkout, "wrangler.jsonc"), "utf8");
    const run = deploy();
    expect(run.status, run.output).toBe(0);
    expect(creations(run.calls)).toEqual([]);
    expect(run.state.secrets).toEqual(firstSecrets);
    expect(run.state.deploys).toBe(2);
    expect(readFileSync(join(checkout, "wrangler.jsonc"), "utf8")).toBe(before);
    expect(run.calls.find((c) => c.argv[0] === "deploy")?.argv).toEqual(["deploy"]);
  });

  it("puts a missing secret with `wrangler secret put`, the value on stdin only", () => {
    const state = JSON.parse(readFileSync(join(account, "state.json"), "utf8"));
    delete state.secrets.ROOT_TOKEN;
    writeFileSync(join(account, "state.json"), JSON.stringify(state));
    const chosen = "hush_operator_chosen_root_token_0123456789";
    const run = deploy({ ROOT_TOKEN: chosen });
    expect(run.status, run.output).toBe(0);
    expect(creations(run.calls)).toEqual(["secret put ROOT_TOKEN"]);
    expect(run.calls.find((c) => c.argv[1] === "put")?.stdin_bytes).toBe(chosen.length);
    expect(run.state.secrets.ROOT_TOKEN).toBe(chosen);
    expect(run.state.secrets.MASTER_KEYS).toBe(firstSecrets.MASTER_KEYS);
    expect(run.output).not.toContain(chosen);
    expect(JSON.stringify(run.calls.map((c) => c.argv))).not.toContain(chosen);
  });

  it("stops with a how-to-fix when wrangler fails, before deploying", () => {
    copyFileSync(join(account, "state.json"), join(account, "state.bak"));
    writeFileSync(join(account, "state.json"), "{not json");
    const res = spawnSync(process.execPath, [join(repo, "scripts", "deploy.mjs"), "--yes"], {
      env: {
        PATH: [bin, dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
        FAKE_WRANGLER_DIR: account,
        HUSH_DEPLOY_ROOT: checkout,
      } as unknown as NodeJS.ProcessEnv,
      encoding: "utf8",
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/How to fix:/);
    copyFileSync(join(account, "state.bak"), join(account, "state.json"));
  });
});
