// Runs the real `hush` CLI as a child process against the suite's `wrangler dev`.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";

export const CLI = join(import.meta.dirname, "..", "..", "cli", "hush.mjs");
export const FIXTURES = join(import.meta.dirname, "fixtures");

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  token?: string | null;
  /** The working directory (where .hush.yaml is looked for); default: the test process's. */
  cwd?: string;
}

/** A config directory of its own, so no test reads the user's real config. */
export const freshConfigHome = () => mkdtempSync(join(tmpdir(), "hush-cli-config-"));

/** The environment the CLI runs with: the dev server, the root token, an empty config dir. */
export function cliEnv(options: RunOptions = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HUSH_ADDR: inject("hushAddr"),
    HUSH_TOKEN: options.token === null ? undefined : (options.token ?? inject("hushRootToken")),
    XDG_CONFIG_HOME: freshConfigHome(),
    ...options.env,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Starts `hush <args>` and returns the child, for tests that signal it. */
export function start(args: string[], options: RunOptions = {}): ChildProcess {
  // detached: a session without a controlling terminal, so prompts fail instead of waiting on /dev/tty.
  return spawn(process.execPath, [CLI, ...args], {
    env: cliEnv(options) as NodeJS.ProcessEnv,
    cwd: options.cwd,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
}

/** Collects a started CLI's output and exit. */
export function finish(child: ChildProcess, input?: string): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  if (input !== undefined) child.stdin!.end(input);
  else child.stdin!.end();
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Runs `hush <args>` to completion. */
export const hush = (args: string[], options: RunOptions = {}) => finish(start(args, options), options.input);

let counter = 0;
/** A path prefix no other test uses, so tests share one server without colliding. */
export const unique = (name: string) => `t${Date.now().toString(36)}${(counter++).toString(36)}/${name}`;

/** Creates a token with these scopes through the CLI and returns it. */
export async function tokenWith(scopes: string[], subject = "cli-test"): Promise<string> {
  const created = await hush(["token", "create", "--subject", subject, "--scopes", scopes.join(","), "--json"]);
  if (created.code !== 0) throw new Error(`token create failed: ${created.stderr}`);
  return JSON.parse(created.stdout).token;
}
