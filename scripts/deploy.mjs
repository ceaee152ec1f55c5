#!/usr/bin/env node
// `npm run deploy`: creates what wrangler.jsonc names and the account lacks, idempotently, then
// deploys. Every D1 database of d1_databases (its id written back into wrangler.jsonc, comments
// kept), every queue of queues.producers/consumers (dead-letter queues included), the migrations
// of each database, the missing `secrets.required` (asked for, or generated), then `wrangler deploy`.
// Secret values go to wrangler on stdin or in a 0600 file, never in argv, and are never printed.
// Options: --yes (no questions: secrets from the environment variable of the same name, else
// generated), --dry-run (print the plan, change nothing).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { vendorDocs } from "./vendor-docs.mjs";

const root = process.env.HUSH_DEPLOY_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), "..");
const configPath = join(root, "wrangler.jsonc");
const args = new Set(process.argv.slice(2));
const yes = args.has("--yes") || !process.stdin.isTTY;
const dryRun = args.has("--dry-run");
// `wrangler` from PATH (npm run puts node_modules/.bin first; a test puts a fake first), else the checkout's.
const env = { ...process.env, PATH: [process.env.PATH, join(root, "node_modules", ".bin")].filter(Boolean).join(delimiter), WRANGLER_SEND_METRICS: "false" };

const step = (text) => console.log(`\n${text}`);
const fail = (what, fix) => {
  console.error(`Error: ${what}\nHow to fix: ${fix}`);
  process.exit(1);
};

/** Runs wrangler; `input` goes to its stdin (the only way a secret value reaches it). */
function wrangler(argv, { input, quiet = false, allowFailure = false } = {}) {
  const res = spawnSync("wrangler", argv, { cwd: root, env, input, encoding: "utf8", stdio: [input === undefined ? "inherit" : "pipe", "pipe", "pipe"] });
  if (res.error) fail(`could not run wrangler: ${res.error.message}`, "run `npm ci` first, or put wrangler on PATH");
  if (!quiet) process.stdout.write(res.stdout + res.stderr);
  if (res.status !== 0 && !allowFailure)
    fail(
      `wrangler ${argv.slice(0, 3).join(" ")} failed (exit ${res.status})${quiet ? `:\n${res.stdout}${res.stderr}` : ""}`,
      "see wrangler's message above; `wrangler login` if it is about authentication",
    );
  return res;
}

/** JSONC to JSON: comments and trailing commas out, strings kept. */
function parseJsonc(text) {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (ch === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (ch === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2) + 1;
    } else out += ch;
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"));
}

/** Writes `id` as the database_id of the d1_databases entry named `name`, leaving the rest of the file (comments too) as it is. */
function writeDatabaseId(text, name, id) {
  const at = text.search(new RegExp(`"database_name"\\s*:\\s*"${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`));
  if (at < 0) throw new Error(`no database_name ${name} in wrangler.jsonc`);
  const start = text.lastIndexOf("{", at);
  const end = text.indexOf("}", at);
  const block = text.slice(start, end);
  const updated = /"database_id"\s*:\s*"[^"]*"/.test(block)
    ? block.replace(/("database_id"\s*:\s*)"[^"]*"/, `$1"${id}"`)
    : block.replace(/("database_name"\s*:\s*"[^"]*")/, `$1, "database_id": "${id}"`);
  return text.slice(0, start) + updated + text.slice(end);
}

/** Values in the format the Worker expects (cli/dev.mjs makes the same for local development). */
const GENERATORS = {
  MASTER_KEYS: () => JSON.stringify({ active: "k1", keys: { k1: randomBytes(32).toString("base64") } }),
  ROOT_TOKEN: () => `hush_${randomBytes(30).toString("base64url")}`,
};

async function askSecret(name) {
  if (process.env[name]) return { value: process.env[name], generated: false };
  if (yes) {
    if (!GENERATORS[name]) fail(`${name} is required and not set`, `set it in the environment (${name}=... npm run deploy) or run without --yes to type it`);
    return { value: GENERATORS[name](), generated: true };
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const offer = GENERATORS[name] ? " (Enter generates a new one)" : "";
  // Not echoed: the answer is masked as it is typed.
  const write = rl._writeToOutput?.bind(rl);
  rl._writeToOutput = (s) => write?.(s.includes(`${name} value`) ? s : "*".repeat(s.length));
  const answer = (await rl.question(`${name} value${offer}: `)).trim();
  rl.close();
  process.stdout.write("\n");
  if (answer) return { value: answer, generated: false };
  if (!GENERATORS[name]) fail(`${name} is required`, `type a value, or set ${name} in the environment`);
  return { value: GENERATORS[name](), generated: true };
}

const text = readFileSync(configPath, "utf8");
const config = parseJsonc(text);
const worker = config.name;
const databases = config.d1_databases ?? [];
const queues = [
  ...new Set(
    [...(config.queues?.producers ?? []).map((p) => p.queue), ...(config.queues?.consumers ?? []).flatMap((c) => [c.queue, c.dead_letter_queue])].filter(
      Boolean,
    ),
  ),
];
const required = config.secrets?.required ?? [];
if (dryRun) {
  console.log(JSON.stringify({ worker, databases: databases.map((d) => d.database_name), queues, secrets: required }, null, 2));
  process.exit(0);
}

step(`1. D1 databases (${databases.map((d) => d.database_name).join(", ")})`);
let newText = text;
const listed = () => JSON.parse(wrangler(["d1", "list", "--json"], { quiet: true }).stdout || "[]");
let existing = listed();
for (const db of databases) {
  let found = existing.find((d) => d.name === db.database_name);
  if (found) console.log(`   ${db.database_name}: exists (${found.uuid})`);
  else {
    console.log(`   ${db.database_name}: creating`);
    wrangler(["d1", "create", db.database_name], { quiet: true });
    existing = listed();
    found = existing.find((d) => d.name === db.database_name);
    if (!found) fail(`wrangler created ${db.database_name} but does not list it`, "run `wrangler d1 list` and try again");
    console.log(`   ${db.database_name}: created (${found.uuid})`);
  }
  if (db.database_id !== found.uuid) {
    newText = writeDatabaseId(newText, db.database_name, found.uuid);
    console.log(`   wrangler.jsonc: database_id of ${db.database_name} set to ${found.uuid}`);
  }
}
if (newText !== text) writeFileSync(configPath, newText);

step(`2. Queues (${queues.join(", ")})`);
for (const queue of queues) {
  const info = wrangler(["queues", "info", queue], { quiet: true, allowFailure: true });
  if (info.status === 0) console.log(`   ${queue}: exists`);
  else {
    wrangler(["queues", "create", queue], { quiet: true });
    console.log(`   ${queue}: created`);
  }
}

step("3. Migrations");
for (const db of databases)
  wrangler(["d1", "migrations", "apply", db.database_name, "--remote"], { quiet: true }) && console.log(`   ${db.database_name}: up to date`);

step(`4. Secrets (${required.join(", ")})`);
const list = wrangler(["secret", "list", "--format", "json"], { quiet: true, allowFailure: true });
// A Worker that does not exist yet has no secrets, and they can only come with its first deploy.
const firstDeploy = list.status !== 0;
if (firstDeploy && !/not found|does not exist|10007/i.test(list.stdout + list.stderr))
  fail(`wrangler secret list failed:\n${list.stdout}${list.stderr}`, "`wrangler login`, then try again");
const present = new Set(firstDeploy ? [] : JSON.parse(list.stdout || "[]").map((s) => s.name));
const missing = required.filter((name) => !present.has(name));
const values = {};
const generated = [];
for (const name of required) {
  if (present.has(name)) {
    console.log(`   ${name}: set`);
    continue;
  }
  const { value, generated: isNew } = await askSecret(name);
  values[name] = value;
  if (isNew) generated.push(name);
  if (!firstDeploy) {
    wrangler(["secret", "put", name], { input: value, quiet: true });
    console.log(`   ${name}: set (wrangler secret put)`);
  } else console.log(`   ${name}: will be set with the first deploy`);
}
if (generated.length) {
  // The operator needs these (the root token to administer, the master key to ever read the data again).
  const file = join(root, ".deploy-secrets");
  writeFileSync(file, generated.map((n) => `${n}='${values[n]}'`).join("\n") + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  console.log(
    `   Generated ${generated.join(", ")}: the values are in ${file} (mode 0600). Move them to your password manager and delete the file; losing MASTER_KEYS loses every secret.`,
  );
}

step("5. Deploy");
vendorDocs();
let secretsDir;
const deployArgs = ["deploy"];
if (firstDeploy && missing.length) {
  secretsDir = mkdtempSync(join(tmpdir(), "hush-deploy-"));
  const file = join(secretsDir, "secrets.json");
  writeFileSync(file, JSON.stringify(values), { mode: 0o600 });
  deployArgs.push("--secrets-file", file);
}
try {
  wrangler(deployArgs);
} finally {
  if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
}
console.log("\nDeployed. Check it: curl -s https://<your workers.dev address>/healthz");
