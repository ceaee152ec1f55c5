// The only way the CLI talks to Hush: the HTTPS API. Problem documents become
// CliErrors with a hint; network failures say which address was tried.
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { configPath } from "./config.mjs";
import { CliError, EXIT, exitCodeForStatus } from "./errors.mjs";
import { VERSION } from "./version.mjs";

const TIMEOUT_MS = 30_000;
/** Answers worth another try with the same Idempotency-Key: rate limited, not ready. */
const RETRY_STATUSES = new Set([429, 503]);
const MAX_RETRY_WAIT_MS = 10_000;

/** How many times a request is sent at most: HUSH_RETRIES (0-10) more than once, default 3 more. */
const retries = () => {
  const n = Number(process.env.HUSH_RETRIES ?? 3);
  return Number.isInteger(n) && n >= 0 && n <= 10 ? n : 3;
};

/** The wait before try `attempt` (1-based): Retry-After when the server gave one, else 0.5 s, 1 s, 2 s... with jitter. */
function backoff(attempt, retryAfter) {
  const given = Number(retryAfter);
  if (retryAfter && Number.isFinite(given) && given >= 0) return Math.min(given * 1000, MAX_RETRY_WAIT_MS);
  const base = Math.min(500 * 2 ** (attempt - 1), MAX_RETRY_WAIT_MS);
  return base / 2 + Math.random() * (base / 2);
}

/** 429 and 503; and after a lost answer, a 409 saying this same request is still in flight. */
async function worthRetrying(response, attempt) {
  if (RETRY_STATUSES.has(response.status)) return true;
  if (response.status !== 409 || attempt === 1) return false;
  const problem = await response
    .clone()
    .json()
    .catch(() => ({}));
  return String(problem?.type ?? "").endsWith("request-in-flight");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Encodes a secret path for a URL: each segment escaped, slashes kept. */
export const encodePath = (path) => path.split("/").map(encodeURIComponent).join("/");

export function hintFor(status, problem, settings) {
  const type = String(problem?.type ?? "")
    .split("/")
    .pop();
  const detail = String(problem?.detail ?? "");
  if (status === 401) {
    return settings.tokenSource === "none"
      ? "Log in with `hush login`, or set HUSH_TOKEN"
      : `The token from ${settings.tokenSource} was not accepted (expired, revoked or mistyped): run \`hush login\` or set HUSH_TOKEN to a valid token`;
  }
  if (status === 403 && problem?.approval_request_id) {
    return `This action needs approval: ask approvers to approve request ${problem.approval_request_id}, then run the same command again`;
  }
  if (status === 403 && problem?.required === "root token")
    return "Only the operator's root token can do this (no scope grants it): run it with HUSH_TOKEN set to the root token";
  if (status === 403) return "Ask an administrator for a token with the needed scope or path (`hush status` lists yours)";
  if (status === 404 && detail.startsWith("No route for")) {
    return `The server at ${settings.addr} does not offer this endpoint: it runs an older Hush; upgrade the server`;
  }
  if (status === 404) return "Check the path with `hush list` (deleted secrets: `hush list --include-deleted`)";
  if (type === "secret-exists") return "Use `hush set` or `hush rotate` to write a new version";
  if (type === "version-conflict") return "Someone else wrote this secret meanwhile: read it again and retry";
  if (status === 410) return "It is gone for good or has expired; ask the owner for a new one";
  if (status === 413) return "The value or file is too large for one request";
  if (status === 415 || status === 400 || status === 422) return "Check the command's arguments (`hush help <command>`)";
  if (status === 429) return "Too many requests: wait a moment and retry";
  if (status === 503) return "The server is not ready (master key missing or store down): `hush health` shows which";
  if (status >= 500) return `A server error: retry, and report it with the request id ${problem?.request_id ?? ""}`.trim();
  return undefined;
}

/** Lines worth showing from a problem's extra members (validation errors, conflicting paths, cycles). */
function problemDetails(problem) {
  const lines = [];
  for (const [key, value] of Object.entries(problem ?? {})) {
    if (["type", "title", "status", "detail", "instance", "request_id"].includes(key)) continue;
    if (Array.isArray(value)) {
      for (const item of value.slice(0, 20)) {
        lines.push(`${key}: ${typeof item === "object" ? Object.values(item).join(": ") : item}`);
      }
      if (value.length > 20) lines.push(`${key}: ... and ${value.length - 20} more`);
    } else if (value !== null && typeof value !== "object") {
      lines.push(`${key}: ${value}`);
    }
  }
  return lines;
}

export class ApiClient {
  /** @param {{ addr: string, token?: string, tokenSource: string }} settings */
  constructor(settings) {
    this.settings = settings;
  }

  /**
   * Sends one request and returns the parsed JSON body; throws a CliError on any failure.
   * @param {string} method
   * @param {string} path like /api/v1/tokens/self
   * @param {{ body?: unknown, query?: Record<string, unknown>, auth?: boolean, allow?: number[], origin?: string, retries?: number, timeoutMs?: number }} [options]
   */
  async request(method, path, { body, query, auth = true, allow = [], origin, retries: tries = retries(), timeoutMs = TIMEOUT_MS } = {}) {
    const base = origin ?? this.settings.addr;
    const url = new URL(base + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== false) url.searchParams.set(key, String(value));
    }
    const headers = { accept: "application/json", "user-agent": `hush-cli/${VERSION}` };
    if (auth) {
      if (!this.settings.token) {
        throw new CliError(`No token: not logged in to ${this.settings.addr}`, {
          hint: "Run `hush login`, or set HUSH_ADDR and HUSH_TOKEN",
          exitCode: EXIT.denied,
        });
      }
      headers.authorization = `Bearer ${this.settings.token}`;
    }
    if (body !== undefined) headers["content-type"] = "application/json";
    // Read-your-writes across calls (docs/decisions.md, "Reads through D1 sessions").
    const bookmark = readBookmark(base);
    if (bookmark) headers["x-hush-bookmark"] = bookmark;
    // One key for every try: a mutation retried after a lost answer is applied once by the server.
    if (method !== "GET") headers["idempotency-key"] = randomUUID();
    const maxTries = 1 + tries;
    let response;
    for (let attempt = 1; ; attempt++) {
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: "error",
        });
      } catch (err) {
        if (attempt < maxTries && err?.name !== "TimeoutError") {
          await sleep(backoff(attempt));
          continue;
        }
        const reason = err?.name === "TimeoutError" ? `no answer in ${timeoutMs / 1000} s` : (err?.cause?.code ?? err?.cause?.message ?? err?.message);
        throw new CliError(`Could not reach Hush at ${base}: ${reason}${attempt > 1 ? ` (tried ${attempt} times)` : ""}`, {
          hint: "Check the address (`hush status` shows it; set HUSH_ADDR or run `hush login`) and that the server is running",
        });
      }
      if (attempt >= maxTries || allow.includes(response.status) || !(await worthRetrying(response, attempt))) break;
      const wait = backoff(attempt, response.headers.get("retry-after"));
      if (wait >= MAX_RETRY_WAIT_MS) break; // told to come back much later: say so instead of hanging
      await response.body?.cancel();
      await sleep(wait);
    }
    const next = response.headers.get("x-hush-bookmark");
    if (next && next !== bookmark) writeBookmark(base, next);
    const text = await response.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = undefined;
    }
    if (response.ok || allow.includes(response.status)) {
      if (parsed === undefined) throw new CliError(`The server at ${base} did not answer with JSON`, { hint: "Check that HUSH_ADDR points at a Hush server" });
      return { status: response.status, body: parsed, headers: response.headers };
    }
    const problem = parsed ?? {};
    const what = problem.detail ?? problem.title ?? `HTTP ${response.status}`;
    throw Object.assign(
      new CliError(`${what} (${response.status}${problem.title ? ` ${problem.title}` : ""})`, {
        hint: hintFor(response.status, problem, this.settings),
        exitCode: exitCodeForStatus(response.status),
        details: problemDetails(problem),
      }),
      { status: response.status, problem },
    );
  }

  get(path, options) {
    return this.request("GET", path, options).then((r) => r.body);
  }
  post(path, body, options) {
    return this.request("POST", path, { ...options, body }).then((r) => r.body);
  }
  put(path, body, options) {
    return this.request("PUT", path, { ...options, body }).then((r) => r.body);
  }
  patch(path, body, options) {
    return this.request("PATCH", path, { ...options, body }).then((r) => r.body);
  }
  delete(path, options) {
    return this.request("DELETE", path, options).then((r) => r.body);
  }
}

/**
 * The last `x-hush-bookmark` each server answered, kept beside the config file (bookmarks.json; not
 * a secret: it names a point in the database's history), so the next call, also from another
 * process, reads at least what the last one saw or wrote. Unreadable or unwritable: carried nothing.
 */
const bookmarkFile = () => join(dirname(configPath()), "bookmarks.json");
function readBookmarks() {
  try {
    const parsed = JSON.parse(readFileSync(bookmarkFile(), "utf8"));
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}
function readBookmark(addr) {
  const value = readBookmarks()[addr];
  return typeof value === "string" && value.length <= 512 ? value : undefined;
}
function writeBookmark(addr, bookmark) {
  try {
    mkdirSync(dirname(bookmarkFile()), { recursive: true, mode: 0o700 });
    writeFileSync(bookmarkFile(), `${JSON.stringify({ ...readBookmarks(), [addr]: bookmark })}\n`, { mode: 0o600 });
  } catch {
    // a read-only config directory: the next call simply starts without a bookmark
  }
}
