// Where the CLI finds its server and token: HUSH_ADDR / HUSH_TOKEN win over the
// file `hush login` writes (mode 0600, in the user's config directory).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import envPaths from "env-paths";
import { CliError, usageError } from "./errors.mjs";
import { keychainDelete, keychainGet, keychainName, keychainSet } from "./keychain.mjs";
import { project } from "./project.mjs";

export const DEFAULT_ADDR = "http://127.0.0.1:8787";

/** The config file path: $HUSH_CONFIG, else <config dir>/hush/config.json (XDG on Linux). */
export function configPath(env = process.env) {
  if (env.HUSH_CONFIG) return env.HUSH_CONFIG;
  return join(envPaths("hush", { suffix: "" }).config, "config.json");
}

export function readConfigFile(path = configPath()) {
  if (!existsSync(path)) return {};
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new CliError(`The config file ${path} is not valid JSON`, {
      hint: "Run `hush login` again to rewrite it, or delete the file",
    });
  }
  if (process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0) {
    process.stderr.write(`Warning: ${path} is readable by other users; run: chmod 600 ${path}\n`);
  }
  return parsed && typeof parsed === "object" ? parsed : {};
}

/** Writes the file readable by its owner only (0600), in a 0700 directory. */
export function writeConfigFile(config, path = configPath()) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // The mode option applies only when the file is created; tighten an existing one too.
  chmodSync(path, 0o600);
  return path;
}

export function removeConfigFile(path = configPath()) {
  rmSync(path, { force: true });
}

/** The keychain account of the token saved for an address. */
const tokenAccount = (addr) => `token ${addr}`;

/**
 * Saves the token of `hush login`: in the OS keychain when there is one (the config file then
 * says so and holds no token), else in the 0600 config file. Returns where it went, for messages.
 * @returns {{ where: "keychain" | "file", label: string, file: string }}
 */
export function saveLogin(addr, token, fields, file = configPath(), env = process.env) {
  const previous = readConfigFile(file);
  if (keychainSet(tokenAccount(addr), token, `Hush token for ${addr}`, env)) {
    writeConfigFile({ addr, token_store: "keychain", ...fields }, file);
    return { where: "keychain", label: keychainName(env), file };
  }
  // A token left in the keychain by an earlier login must not outlive this one.
  if (previous.token_store === "keychain" && previous.addr) keychainDelete(tokenAccount(previous.addr), env);
  writeConfigFile({ addr, token, ...fields }, file);
  return { where: "file", label: `${file} (mode 0600)`, file };
}

/** Forgets the saved token wherever it is kept; returns where that was. */
export function forgetToken(saved, env = process.env) {
  if (saved.token_store === "keychain" && saved.addr) {
    keychainDelete(tokenAccount(saved.addr), env);
    return keychainName(env) ?? "the OS keychain";
  }
  return null;
}

/** The token saved with the config file's address, from the file or the keychain, and where it is kept. */
function savedTokenOf(saved, file, env) {
  if (saved.token) return { token: saved.token, source: file };
  if (saved.token_store === "keychain" && saved.addr) {
    const token = keychainGet(tokenAccount(saved.addr), env);
    return token ? { token, source: keychainName(env) } : { token: undefined, source: "none" };
  }
  return { token: undefined, source: "none" };
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Checks an address and refuses to send a bearer token over plain HTTP to another host. */
export function normalizeAddr(addr, env = process.env) {
  let url;
  try {
    url = new URL(addr);
  } catch {
    throw usageError(`"${addr}" is not a URL`, "Use the server's address, like https://hush.example.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw usageError(`"${addr}" is not an http(s) address`, "Use the server's address, like https://hush.example.com");
  }
  if (url.protocol === "http:" && !LOOPBACK.has(url.hostname) && env.HUSH_INSECURE !== "1") {
    throw usageError(`Refusing to send a token over plain HTTP to ${url.host}`, "Use https:// (set HUSH_INSECURE=1 only for a trusted test network)");
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

const sameAddr = (a, b) => {
  try {
    return normalizeAddr(a, { HUSH_INSECURE: "1" }) === b;
  } catch {
    return false;
  }
};

/**
 * The settings in force and where each came from.
 * @returns {{ addr: string, token?: string, addrSource: string, tokenSource: string, file: string }}
 */
export function resolveSettings(env = process.env) {
  const file = configPath(env);
  const saved = env.HUSH_ADDR && env.HUSH_TOKEN ? {} : readConfigFile(file);
  const projectAddr = project(env).address;
  const addr = env.HUSH_ADDR || projectAddr || saved.addr || DEFAULT_ADDR;
  const normalized = normalizeAddr(addr, env);
  // A project file (from a cloned repository, say) must not redirect the saved token to another
  // server: the saved token goes only to the address it was saved with.
  const usable = !projectAddr || env.HUSH_ADDR || sameAddr(saved.addr, normalized);
  const kept = !env.HUSH_TOKEN && usable ? savedTokenOf(saved, file, env) : { token: undefined, source: "none" };
  const savedToken = kept.token;
  const token = env.HUSH_TOKEN || savedToken;
  return {
    addr: normalized,
    token,
    addrSource: env.HUSH_ADDR ? "HUSH_ADDR" : projectAddr ? project(env).file : saved.addr ? file : "default",
    tokenSource: env.HUSH_TOKEN ? "HUSH_TOKEN" : savedToken ? kept.source : "none",
    file,
  };
}
