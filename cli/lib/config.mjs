// Where the CLI finds its server and token: HUSH_ADDR / HUSH_TOKEN win over the
// file `hush login` writes (mode 0600, in the user's config directory).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import envPaths from "env-paths";
import { CliError, usageError } from "./errors.mjs";
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
    throw usageError(
      `Refusing to send a token over plain HTTP to ${url.host}`,
      "Use https:// (set HUSH_INSECURE=1 only for a trusted test network)",
    );
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
  const savedToken = saved.token && (!projectAddr || env.HUSH_ADDR || sameAddr(saved.addr, normalized)) ? saved.token : undefined;
  const token = env.HUSH_TOKEN || savedToken;
  return {
    addr: normalized,
    token,
    addrSource: env.HUSH_ADDR ? "HUSH_ADDR" : projectAddr ? project(env).file : saved.addr ? file : "default",
    tokenSource: env.HUSH_TOKEN ? "HUSH_TOKEN" : savedToken ? file : "none",
    file,
  };
}
