// Starts one `wrangler dev` for the node-side suites: a fresh local D1 in a temp
// directory, the test master key and root token, on a free port.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { TEST_MASTER_KEYS, TEST_ROOT_TOKEN } from "../../vitest.config";
import { freePort } from "../support/net";

const root = join(import.meta.dirname, "..", "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");

async function waitForHealth(addr: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${log()}`);
    try {
      const res = await fetch(`${addr}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`wrangler dev did not become healthy:\n${log()}`);
}

declare module "vitest" {
  export interface ProvidedContext {
    hushAddr: string;
    hushRootToken: string;
  }
}

/** A fresh `wrangler dev` (its own empty local D1) on a free port; `stop` ends it and deletes its data. */
export async function startDevServer(): Promise<{ addr: string; stop: () => Promise<void> }> {
  const persist = mkdtempSync(join(tmpdir(), "hush-dev-"));
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };
  // Every D1 database of wrangler.jsonc (tenants spread over DB, DB_1, ...).
  for (const name of ["hush", "hush-1"]) {
    const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", name, "--local", "--persist-to", persist], {
      cwd: root,
      env,
      encoding: "utf8",
    });
    if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}${migrate.stderr}`);
  }

  const port = await freePort();
  const inspector = await freePort();
  let output = "";
  const child = spawn(
    wrangler,
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      persist,
      "--show-interactive-dev-session=false",
    ],
    // The required secrets (wrangler.jsonc `secrets.required`) from the environment, which wrangler
    // reads for them: not `--var`, which showed them in the process list.
    { cwd: root, env: { ...env, MASTER_KEYS: TEST_MASTER_KEYS, ROOT_TOKEN: TEST_ROOT_TOKEN }, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const addr = `http://127.0.0.1:${port}`;
  await waitForHealth(addr, child, () => output);
  return {
    addr,
    stop: async () => {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // already gone
      }
      await new Promise((r) => setTimeout(r, 500));
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject) {
  const server = await startDevServer();
  project.provide("hushAddr", server.addr);
  project.provide("hushRootToken", TEST_ROOT_TOKEN);
  return server.stop;
}
