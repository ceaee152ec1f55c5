// Colour (issue 14, section 5): at a terminal the CLI colours its error lines and table headers;
// piped, never; NO_COLOR turns it off and FORCE_COLOR on (or off with 0). The terminal is a real
// pseudo-terminal from util-linux `script`.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI, cliEnv, hush } from "./helpers";

const ESC = "\u001b[";
const hasScript = spawnSync("sh", ["-c", "command -v script"]).status === 0;

/** Runs `hush <args>` with stdout and stderr on a pseudo-terminal; returns what the terminal showed. */
function atTerminal(args: string[], env: Record<string, string> = {}) {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(" ");
  const run = spawnSync("script", ["-qec", command, "/dev/null"], {
    encoding: "utf8",
    env: { ...cliEnv(), TERM: "xterm-256color", ...env } as unknown as NodeJS.ProcessEnv,
    timeout: 30_000,
  });
  return run.stdout;
}

describe("colour", () => {
  it("never when piped: errors and tables are plain text", async () => {
    const error = await hush(["no-such-command"]);
    expect(error.stderr).toContain("Error: Unknown command");
    expect(error.stderr).not.toContain(ESC);
    const table = await hush(["tenant", "list"]);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+CREATED/);
    expect(table.stdout).not.toContain(ESC);
  });

  it("FORCE_COLOR=1 colours even a pipe, and FORCE_COLOR=0 never", async () => {
    const forced = await hush(["tenant", "list"], { env: { FORCE_COLOR: "1" } });
    expect(forced.stdout.startsWith(`${ESC}1mID`)).toBe(true);
    const error = await hush(["no-such-command"], { env: { FORCE_COLOR: "1" } });
    expect(error.stderr).toContain(`${ESC}31m${ESC}1mError:`);
    expect((await hush(["no-such-command"], { env: { FORCE_COLOR: "0" } })).stderr).not.toContain(ESC);
  });

  it.runIf(hasScript)("at a terminal the error line and the fix are coloured, and NO_COLOR turns it off", () => {
    const shown = atTerminal(["no-such-command"]);
    expect(shown).toContain(`${ESC}31m${ESC}1mError:${ESC}22m${ESC}39m Unknown command`);
    expect(shown).toContain(`${ESC}33mHow to fix:${ESC}39m`);
    const table = atTerminal(["tenant", "list"]);
    expect(table).toContain(`${ESC}1mID`);
    const plain = atTerminal(["no-such-command"], { NO_COLOR: "1" });
    expect(plain).toContain("Error: Unknown command");
    expect(plain).not.toContain(ESC);
    expect(atTerminal(["tenant", "list"], { TERM: "dumb" })).not.toContain(ESC);
  });
});
