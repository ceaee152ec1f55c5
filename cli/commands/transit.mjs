// `hush transit`: encryption as a service. Keys never leave the server; plaintext and inputs are
// read from stdin or a file (never argv) and sent base64, as the API wants them.
import { api, command, examples } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
import { confirm, eventTime, info, parsePositiveInt, printFields, printJson, printTable, readInput, shortTime } from "../lib/output.mjs";

const TYPES = ["aes256-gcm", "hmac", "ed25519", "ecdsa-p256"];
const keyUrl = (name) => `/api/v1/transit/keys/${encodeURIComponent(name)}`;
const opUrl = (op, name) => `/api/v1/transit/${op}/${encodeURIComponent(name)}`;

function printKey(k) {
  printFields([
    ["key", k.name],
    ["type", k.type],
    ["latest version", k.latest_version],
    ["decrypts from", `version ${k.min_decryption_version}`],
    ["deletion allowed", k.deletion_allowed ? "yes" : "no"],
    ["created", `${eventTime(k.created_at)} by ${k.created_by}`],
    ["updated", eventTime(k.updated_at)],
  ]);
  if (k.versions?.some((v) => v.public_key))
    printTable(
      ["version", "created", "public key (SPKI, base64)"],
      k.versions.map((v) => [v.version, eventTime(v.created_at), v.public_key]),
    );
}

/** The data of an operation, base64: from --file, or stdin. */
async function input(opts) {
  return (await readInput(opts.file)).toString("base64");
}

/** A context (AAD) given as text; sent base64. Not secret: it must be given again to decrypt. */
const context = (opts) => (opts.context === undefined ? {} : { context: Buffer.from(opts.context, "utf8").toString("base64") });

/** A token (ciphertext, HMAC, signature) from the option, else the first line of stdin. */
async function token(value, what) {
  const text = value ?? (await readInput("-")).toString("utf8").trim();
  if (!text) throw usageError(`No ${what} given`, `Pass it as an argument or on stdin`);
  return text;
}

export function register(program) {
  const transit = program.command("transit").description("encrypt, decrypt, HMAC and sign with keys that never leave the server");
  examples(transit, ["hush transit key create payments", "echo -n 4111111111111111 | hush transit encrypt payments", "hush help transit decrypt"]);

  const key = transit.command("key").alias("keys").description("transit keys: create, show, rotate, update, delete");
  examples(key, ["hush transit key create payments", "hush transit key rotate payments"]);

  const create = command(key, "create <name>", "create a key (version 1)")
    .option("--type <type>", `${TYPES.join(", ")} (default aes256-gcm)`)
    .option("--deletion-allowed", "allow `hush transit key delete` later")
    .action(async (name, opts) => {
      if (opts.type && !TYPES.includes(opts.type)) throw usageError(`--type: "${opts.type}" is not a key type`, `Use one of ${TYPES.join(", ")}`);
      const k = await api().post(keyUrl(name), { ...(opts.type ? { type: opts.type } : {}), ...(opts.deletionAllowed ? { deletion_allowed: true } : {}) });
      if (opts.json) return printJson(k);
      process.stdout.write(`Created transit key ${k.name} (${k.type}, version ${k.latest_version})\n`);
    });
  examples(create, ["hush transit key create payments", "hush transit key create webhooks --type hmac", "hush transit key create releases --type ed25519"]);

  const show = command(key, "show <name>", "a key's type, versions and settings (never key material)").action(async (name, opts) => {
    const k = await api().get(keyUrl(name));
    if (opts.json) return printJson(k);
    printKey(k);
  });
  examples(show, ["hush transit key show payments", "hush transit key show releases --json"]);

  const list = command(key, "list", "the keys you may use: name, type, latest version (never key material)").action(async (opts) => {
    const result = await api().get("/api/v1/transit/keys");
    if (opts.json) return printJson(result);
    printTable(
      ["name", "type", "version", "decrypts from", "deletion", "updated"],
      result.items.map((k) => [k.name, k.type, k.latest_version, k.min_decryption_version, k.deletion_allowed ? "allowed" : "no", shortTime(k.updated_at)]),
    );
  });
  examples(list, ["hush transit key list", "hush transit key list --json"]);

  const rotate = command(key, "rotate <name>", "add a new version: new data uses it, older versions still decrypt").action(async (name, opts) => {
    const k = await api().post(`${keyUrl(name)}/rotate`);
    if (opts.json) return printJson(k);
    process.stdout.write(`Rotated ${k.name}: version ${k.latest_version}\n`);
  });
  examples(rotate, ["hush transit key rotate payments"]);

  const update = command(key, "update <name>", "set the oldest version that still decrypts, or allow deletion")
    .option("--min-decryption-version <n>", "ciphertexts of older versions stop decrypting")
    .option("--deletion-allowed", "allow deleting the key")
    .option("--no-deletion-allowed", "forbid deleting the key")
    .action(async (name, opts) => {
      const body = {
        ...(opts.minDecryptionVersion ? { min_decryption_version: parsePositiveInt(opts.minDecryptionVersion, "--min-decryption-version") } : {}),
        ...(opts.deletionAllowed !== undefined ? { deletion_allowed: opts.deletionAllowed } : {}),
      };
      if (!Object.keys(body).length) throw usageError("Nothing to update", "Give --min-decryption-version N or --deletion-allowed / --no-deletion-allowed");
      const k = await api()
        .request("PATCH", keyUrl(name), { body })
        .then((r) => r.body);
      if (opts.json) return printJson(k);
      printKey(k);
    });
  examples(update, ["hush transit key update payments --min-decryption-version 2", "hush transit key update old-key --deletion-allowed"]);

  const remove = command(key, "delete <name>", "delete a key and every version: its ciphertexts can never be decrypted again")
    .option("-y, --yes", "do not ask")
    .action(async (name, opts) => {
      if (!(await confirm(`Delete transit key ${name}? Everything encrypted with it becomes unreadable`, opts.yes)))
        return void process.stderr.write("Not deleted.\n");
      const result = await api().delete(keyUrl(name));
      if (opts.json) return printJson(result);
      process.stdout.write(`Deleted transit key ${name}\n`);
    });
  examples(remove, ["hush transit key delete old-key --yes"]);

  const encrypt = command(transit, "encrypt <key>", "encrypt stdin (or --file); prints the ciphertext hush:v<N>:...")
    .option("--file <file>", "encrypt this file instead of stdin")
    .option("--context <text>", "bind this context (AAD); decrypt needs the same")
    .action(async (name, opts) => {
      const r = await api().post(opUrl("encrypt", name), { plaintext: await input(opts), ...context(opts) });
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.ciphertext}\n`);
    });
  examples(encrypt, [
    "echo -n 4111111111111111 | hush transit encrypt payments",
    "hush transit encrypt payments --file card.txt --context customer-42 > card.enc",
  ]);

  const decrypt = command(transit, "decrypt <key> [ciphertext]", "decrypt a ciphertext (an argument, or stdin); prints the plaintext bytes")
    .option("--context <text>", "the context it was encrypted with")
    .option("--base64", "print the plaintext base64 instead of its bytes")
    .action(async (name, ciphertext, opts) => {
      const r = await api().post(opUrl("decrypt", name), { ciphertext: await token(ciphertext, "ciphertext"), ...context(opts) });
      if (opts.json) return printJson(r);
      process.stdout.write(opts.base64 ? `${r.plaintext}\n` : Buffer.from(r.plaintext, "base64"));
    });
  examples(decrypt, ["hush transit decrypt payments < card.enc", "hush transit decrypt payments 'hush:v1:...' --context customer-42"]);

  const rewrap = command(transit, "rewrap <key> [ciphertext]", "re-encrypt a ciphertext under the latest version, without showing the plaintext")
    .option("--context <text>", "the context it was encrypted with")
    .action(async (name, ciphertext, opts) => {
      const r = await api().post(opUrl("rewrap", name), { ciphertext: await token(ciphertext, "ciphertext"), ...context(opts) });
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.ciphertext}\n`);
    });
  examples(rewrap, ["hush transit rewrap payments < card.enc > card.enc.new"]);

  const hmac = command(transit, "hmac <key>", "HMAC-SHA-256 of stdin (or --file) with an hmac key")
    .option("--file <file>", "this file instead of stdin")
    .action(async (name, opts) => {
      const r = await api().post(opUrl("hmac", name), { input: await input(opts) });
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.hmac}\n`);
    });
  examples(hmac, ["hush transit hmac webhooks --file body.json"]);

  const sign = command(transit, "sign <key>", "sign stdin (or --file) with an ed25519 or ecdsa-p256 key")
    .option("--file <file>", "this file instead of stdin")
    .action(async (name, opts) => {
      const r = await api().post(opUrl("sign", name), { input: await input(opts) });
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.signature}\n`);
    });
  examples(sign, ["hush transit sign releases --file app.tar.gz > app.tar.gz.sig"]);

  const verify = command(transit, "verify <key>", "check an HMAC (--hmac) or a signature (--signature) of stdin (or --file); exit 1 when it does not match")
    .option("--file <file>", "this file instead of stdin")
    .option("--hmac <hmac>", "the HMAC made by `hush transit hmac`")
    .option("--signature <signature>", "the signature made by `hush transit sign`")
    .action(async (name, opts) => {
      if (Boolean(opts.hmac) === Boolean(opts.signature)) throw usageError("Give --hmac or --signature (one of them)");
      const r = opts.hmac
        ? await api().post(opUrl("verify", name), { input: await input(opts), hmac: opts.hmac })
        : await api().post(opUrl("verify-signature", name), { input: await input(opts), signature: opts.signature });
      if (opts.json) printJson(r);
      else process.stdout.write(r.valid ? "valid\n" : "invalid\n");
      if (!r.valid) {
        if (!opts.json) info(`The ${opts.hmac ? "HMAC" : "signature"} does not match this input and key ${name}`);
        process.exitCode = 1;
      }
    });
  examples(verify, [
    "hush transit verify webhooks --file body.json --hmac 'hush:v1:...'",
    'hush transit verify releases --file app.tar.gz --signature "$(cat app.tar.gz.sig)"',
  ]);
}
