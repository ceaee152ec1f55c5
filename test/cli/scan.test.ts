import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Ajv from "ajv-draft-04";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { hush, unique } from "./helpers";

const SARIF_SCHEMA = join(import.meta.dirname, "..", "..", "node_modules", "@microsoft", "jest-sarif", "lib", "schemas", "sarif-2.1.0-rtm.5.json");
const B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const base62 = (n: number) => [...randomBytes(n)].map((b) => B62[b % 62]).join("");

// Planted secrets: none is a real credential; each is fresh per run.
const AWS_SECRET = `${base62(20)}/${base62(19)}`;
const GITHUB_TOKEN = `ghp_${base62(36)}`;
const REMOVED_TOKEN = `ghp_${base62(36)}`;
const HUSH_TOKEN = `hush_${base62(40)}`;
const CURRENT = `Cur-${base62(20)}-v2`;
const OLD = `Old-${base62(20)}-v1`;
// secretlint checks the PEM body looks like DER (an ASN.1 SEQUENCE, "MI..."), so the body starts like one.
const PRIVATE_KEY = [
  "-----BEGIN RSA PRIVATE KEY-----",
  `MIIEpAIBAAKCAQEA${randomBytes(36).toString("base64")}`,
  ...Array.from({ length: 3 }, () => randomBytes(48).toString("base64")),
  "-----END RSA PRIVATE KEY-----",
].join("\n");
const PLANTED = [AWS_SECRET, GITHUB_TOKEN, REMOVED_TOKEN, HUSH_TOKEN, CURRENT, OLD, ...PRIVATE_KEY.split("\n").slice(1, -1)];

let repo = "";
let storedPath = "";
const commits: string[] = [];
const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" }).trim();
function write(file: string, text: string) {
  mkdirSync(dirname(join(repo, file)), { recursive: true });
  writeFileSync(join(repo, file), text);
}

beforeAll(async () => {
  storedPath = unique("app/db/password");
  expect((await hush(["set", storedPath, "--stdin"], { input: OLD })).code).toBe(0);
  expect((await hush(["rotate", storedPath, "--stdin"], { input: CURRENT })).code).toBe(0);

  repo = mkdtempSync(join(tmpdir(), "hush-scan-fixture-"));
  execFileSync("git", ["init", "-q", repo]);
  git("config", "user.email", "fixture@example.com");
  git("config", "user.name", "fixture");
  git("config", "commit.gpgsign", "false");
  write("README.md", "# fixture\nNothing to see here.\n");
  write("config/aws.env", `AWS_REGION=eu-west-1\nAWS_SECRET_ACCESS_KEY=${AWS_SECRET}\n`);
  write("scripts/deploy.sh", `#!/bin/sh\nexport GITHUB_TOKEN=${GITHUB_TOKEN}\n`);
  write("keys/id_rsa", `${PRIVATE_KEY}\n`);
  write("app/settings.py", `DEBUG = False\nHUSH_TOKEN = "${HUSH_TOKEN}"\n`);
  // A host no other suite stores: the dev server is shared, and a stored "db.internal" would match.
  write("config/db.env", `DB_HOST=db-${base62(8).toLowerCase()}.internal\nDB_PASSWORD=${CURRENT}\n`);
  write("docs/notes.md", `The password used to be "${OLD}" before rotation.\n`);
  git("add", "-A");
  git("commit", "-qm", "initial");
  commits.push(git("rev-parse", "HEAD"));
  write("tmp/leak.txt", `oops ${REMOVED_TOKEN}\n`);
  git("add", "-A");
  git("commit", "-qm", "add a token by mistake");
  commits.push(git("rev-parse", "HEAD"));
  git("rm", "-q", "tmp/leak.txt");
  git("commit", "-qm", "remove it");
  commits.push(git("rev-parse", "HEAD"));
});

const current = () => [{ path: storedPath, version: 2, current: true }];
const previous = () => [{ path: storedPath, version: 1, current: false }];
const expectedTree = () => [
  ["hush/api-token", "app/settings.py", 2, []],
  ["hush/stored-value", "config/db.env", 2, current()],
  ["hush/stored-value", "docs/notes.md", 1, previous()],
  ["secretlint/aws/AWSSecretAccessKey", "config/aws.env", 2, []],
  ["secretlint/github/GITHUB_TOKEN", "scripts/deploy.sh", 2, []],
  ["secretlint/privatekey/PrivateKey", "keys/id_rsa", 1, []],
];
const shape = (findings: any[]) => findings.map((f) => [f.rule, f.file, f.line, f.matches]).sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`));
const noPlaintext = (text: string) => {
  for (const secret of PLANTED) expect(text.includes(secret), `leaked ${secret.slice(0, 6)}...`).toBe(false);
};

describe("hush scan", () => {
  it("finds exactly the planted secrets in the working tree and names the stored ones", async () => {
    const res = await hush(["scan", repo, "--format", "json"]);
    expect(res.code, res.stderr).toBe(0);
    const run = JSON.parse(res.stdout);
    expect(run.run_id).toMatch(/^scan_/);
    expect(run.rules_active).toEqual(
      expect.arrayContaining(["secretlint/aws", "secretlint/github", "secretlint/privatekey", "hush/api-token", "hush/share-token"]),
    );
    expect(shape(run.findings)).toEqual(expectedTree());
    for (const f of run.findings) {
      expect(f.preview).toMatch(/^[^*]{0,4}\*{8}$/);
      expect(f.commit).toBeNull();
      expect(f.fingerprint).toMatch(/^[0-9a-f]{32}$/);
    }
    noPlaintext(res.stdout + res.stderr);
    // The stored run lists the same findings, and still nothing in clear.
    const listed = await hush(["scan", repo, "--format", "table", "--no-prompt"]);
    expect(listed.stdout).toMatch(new RegExp(`current value of ${storedPath} \\(version 2\\)`));
    expect(listed.stdout).toMatch(new RegExp(`a previous value of ${storedPath} \\(version 1\\)`));
    expect(listed.stderr).toContain(`hush rotate ${storedPath}`);
    noPlaintext(listed.stdout + listed.stderr);
  });

  it("finds the same in history, each in the commit that added it, including a secret added then removed", async () => {
    const res = await hush(["scan", repo, "--git", "--format", "json"]);
    expect(res.code, res.stderr).toBe(0);
    const run = JSON.parse(res.stdout);
    const expected = [...expectedTree(), ["secretlint/github/GITHUB_TOKEN", "tmp/leak.txt", 1, []]].sort((a, b) =>
      `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`),
    );
    expect(shape(run.findings)).toEqual(expected);
    for (const f of run.findings) expect(f.commit).toBe(f.file === "tmp/leak.txt" ? commits[1] : commits[0]);
    noPlaintext(res.stdout + res.stderr);
    // --since: only the later commits.
    const since = JSON.parse((await hush(["scan", repo, "--git", "--since", commits[0]!, "--format", "json"])).stdout);
    expect(shape(since.findings)).toEqual([["secretlint/github/GITHUB_TOKEN", "tmp/leak.txt", 1, []]]);
  });

  it("the server's stored run and audit log carry no plaintext", async () => {
    const run = JSON.parse((await hush(["scan", repo, "--git", "--format", "json"])).stdout);
    const headers = { authorization: `Bearer ${inject("hushRootToken")}` };
    const listed = await fetch(`${inject("hushAddr")}/api/v1/discovery/findings?run_id=${run.run_id}`, { headers });
    expect(listed.status).toBe(200);
    const text = await listed.text();
    expect(JSON.parse(text).findings).toHaveLength(7);
    noPlaintext(text);
    noPlaintext(await (await fetch(`${inject("hushAddr")}/api/v1/audit?limit=200`, { headers })).text());
  });

  it("a scanner who may not read the stored secret is told nothing about it", async () => {
    const created = await hush(["token", "create", "--subject", "scan-outsider", "--scopes", "secrets:read", "--paths", "elsewhere/*", "--json"]);
    const token = JSON.parse(created.stdout).token;
    const res = await hush(["scan", repo, "--format", "json"], { token });
    expect(res.code, res.stderr).toBe(0);
    const run = JSON.parse(res.stdout);
    expect(shape(run.findings)).toEqual(expectedTree().filter((f) => f[0] !== "hush/stored-value"));
    expect(res.stdout).not.toContain(storedPath);
  });

  it("writes SARIF 2.1.0 that validates against the schema", async () => {
    const res = await hush(["scan", repo, "--git", "--format", "sarif"]);
    expect(res.code, res.stderr).toBe(0);
    const sarif = JSON.parse(res.stdout);
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, logger: false });
    const validate = ajv.compile(JSON.parse(readFileSync(SARIF_SCHEMA, "utf8")));
    expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 5))).toBe(true);
    expect(sarif.version).toBe("2.1.0");
    expect(sarif.runs[0].results).toHaveLength(7);
    for (const r of sarif.runs[0].results) {
      expect(r.partialFingerprints["hushFinding/v1"]).toMatch(/^[0-9a-f]{32}$/);
      expect(r.locations[0].physicalLocation.region.startLine).toBeGreaterThan(0);
    }
    noPlaintext(res.stdout);
  });

  it("exit codes for CI: 5 with --fail-on-findings when something is found, 0 on a clean tree", async () => {
    expect((await hush(["scan", repo, "--fail-on-findings", "--local", "--format", "json"])).code).toBe(5);
    const clean = mkdtempSync(join(tmpdir(), "hush-scan-clean-"));
    writeFileSync(join(clean, "a.txt"), "hello world\nversion = 3\n");
    const ok = await hush(["scan", clean, "--fail-on-findings"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await hush(["scan", clean, "--since", "HEAD"])).code).toBe(2);
  });
});
