// Files the CLI keeps on disk that hold values (the local store, `hush run --fallback` snapshots):
// AES-256-GCM under a key from HUSH_LOCAL_KEY or the OS keychain, written 0600 atomically, and
// refused when their mode lets anyone else read them.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { CliError } from "./errors.mjs";
import { keychainGet, keychainName, SERVICE } from "./keychain.mjs";

const KEYCHAIN = { service: SERVICE, account: "local-key" };
const SCRYPT = { N: 2 ** 14, r: 8, p: 1 };
const KEY_FIX = `Set HUSH_LOCAL_KEY (for example: export HUSH_LOCAL_KEY="$(openssl rand -base64 32)"), or save a key in the OS keychain under service "${KEYCHAIN.service}", account "${KEYCHAIN.account}" (Linux: secret-tool store --label hush service hush account local-key; macOS: security add-generic-password -s hush -a local-key -w)`;

/** Reads the key from the OS keychain (macOS `security`, Linux libsecret's `secret-tool`); null when there is none. */
function keychainKey() {
  const key = keychainGet(KEYCHAIN.account);
  return key ? { secret: key, source: keychainName() } : null;
}

/**
 * The key material for local files and where it came from, or a CliError naming both ways to give one.
 * @param {string} what what needs the key, for the error ("the local store")
 */
export function keyMaterial(what, env = process.env) {
  if (env.HUSH_LOCAL_KEY !== undefined) {
    if (env.HUSH_LOCAL_KEY.length < 16) {
      throw new CliError(`HUSH_LOCAL_KEY is too short to protect ${what} (${env.HUSH_LOCAL_KEY.length} characters; at least 16)`, { hint: KEY_FIX });
    }
    return { secret: env.HUSH_LOCAL_KEY, source: "HUSH_LOCAL_KEY" };
  }
  const fromKeychain = keychainKey();
  if (fromKeychain) return fromKeychain;
  throw new CliError(`No key for ${what}: HUSH_LOCAL_KEY is not set and the OS keychain has none`, { hint: KEY_FIX });
}

/** Refuses a file that anyone but its owner may read or write, or that someone else owns. */
export function checkPrivate(file, what) {
  const st = statSync(file);
  if (process.platform === "win32") return st;
  if ((st.mode & 0o077) !== 0) {
    throw new CliError(`${what} ${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}: others may read it, so it is not used`, {
      hint: `Run: chmod 600 ${file} (and check who could have read it)`,
    });
  }
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
    throw new CliError(`${what} ${file} belongs to another user (uid ${st.uid}), so it is not used`, { hint: `Use your own file, or chown it` });
  }
  return st;
}

/** Writes bytes to file atomically (temp file + rename) with exactly this mode, and checks the mode took. */
export function writePrivate(file, text, mode = 0o600) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const actual = statSync(file).mode & 0o777;
  if (process.platform !== "win32" && actual !== mode) {
    rmSync(file, { force: true });
    throw new CliError(`${file} got mode ${actual.toString(8)} instead of ${mode.toString(8)} (a filesystem that ignores file modes?), so it was removed`, {
      hint: "Put the file on a local filesystem that keeps Unix modes (storePath in .hush.yaml, or HUSH_LOCAL_STORE)",
    });
  }
}

const deriveKey = (secret, salt) => scryptSync(secret, salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });

/**
 * Seals a JSON document. The format tag and the AAD bind it to its kind, so a snapshot cannot be passed off as a store.
 * @param {unknown} doc
 * @param {{ secret: string }} key from keyMaterial()
 * @param {string} aad like "hush local v1"
 * @param {Buffer} [salt] kept across writes of the same file
 */
export function seal(doc, key, aad, salt = randomBytes(16)) {
  const dk = deriveKey(key.secret, salt);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", dk, iv);
  cipher.setAAD(Buffer.from(aad));
  const plain = Buffer.from(JSON.stringify(doc));
  const data = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  plain.fill(0);
  dk.fill(0);
  return `${JSON.stringify({ format: aad, kdf: { name: "scrypt", ...SCRYPT, salt: salt.toString("base64") }, iv: iv.toString("base64"), data: data.toString("base64") })}\n`;
}

/**
 * Opens what seal() wrote; a wrong key or a changed file throws (nothing is returned in part).
 * @returns {{ doc: any, salt: Buffer }}
 */
export function open(text, key, aad, { file, what, keyHint }) {
  let envelope;
  try {
    envelope = JSON.parse(text);
  } catch {
    envelope = null;
  }
  if (!envelope || envelope.format !== aad || envelope.kdf?.name !== "scrypt") {
    throw new CliError(`${what} ${file} is not a ${aad} file`, { hint: `Move it away; it was not written by this version of hush, or it was changed` });
  }
  const salt = Buffer.from(envelope.kdf.salt, "base64");
  const bytes = Buffer.from(envelope.data, "base64");
  const dk = scryptSync(key.secret, salt, 32, { N: envelope.kdf.N, r: envelope.kdf.r, p: envelope.kdf.p, maxmem: 64 * 1024 * 1024 });
  try {
    const decipher = createDecipheriv("aes-256-gcm", dk, Buffer.from(envelope.iv, "base64"));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plain = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
    const doc = JSON.parse(plain.toString("utf8"));
    plain.fill(0);
    return { doc, salt };
  } catch {
    throw new CliError(`${what} ${file} could not be decrypted with the key from ${key.source}: a wrong key, or the file was changed`, {
      hint: keyHint ?? `Use the key it was written with (HUSH_LOCAL_KEY or the OS keychain); nothing was read from it`,
    });
  } finally {
    dk.fill(0);
  }
}

/** Reads a sealed file after checking its mode; null when it does not exist. */
export function readSealed(file, key, aad, meta) {
  let text;
  try {
    checkPrivate(file, meta.what);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err?.code === "ENOENT") return null;
    throw err;
  }
  return open(text, key, aad, { file, ...meta });
}

/** A lock file beside `file` held while fn runs, so two CLIs do not lose each other's writes. */
export async function withLock(file, fn) {
  const lock = `${file}.lock`;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx", 0o600));
      break;
    } catch (err) {
      if (err?.code !== "EEXIST") throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { force: true }); // left by a killed CLI
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline)
        throw new CliError(`${file} is locked by another hush process`, { hint: `Wait for it, or remove ${lock} if no hush is running` });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}
