// `hush completion bash|zsh|fish` (issue 14, section 5): the scripts parse in their shell and
// complete commands, subcommands (aliases too) and options, all taken from commander's tree.
// zsh and fish are not installed on this machine's CI image: their checks run where the shell is
// on PATH and are skipped with a note otherwise.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { bash, fish, zsh } from "../../cli/lib/completion.mjs";
import { hush } from "./helpers";

const has = (shell: string) => spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0;
const script = async (shell: string) => {
  const run = await hush(["completion", shell], { token: null });
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  const file = join(mkdtempSync(join(tmpdir(), "hush-completion-")), `hush.${shell}`);
  writeFileSync(file, run.stdout);
  return file;
};

/** What bash offers after `hush <words...>` (the last word is the one being completed). */
function bashComplete(file: string, words: string[]): string[] {
  const quoted = ["hush", ...words].map((w) => `'${w}'`).join(" ");
  const run = spawnSync("bash", ["-c", `source '${file}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _hush; printf '%s\\n' "\${COMPREPLY[@]}"`], {
    encoding: "utf8",
  });
  expect(run.stderr).toBe("");
  return run.stdout.split("\n").filter(Boolean);
}

describe("hush completion", () => {
  it("bash: the script parses (bash -n) and completes commands, nested subcommands, aliases and options", async () => {
    const file = await script("bash");
    expect(spawnSync("bash", ["-n", file]).status).toBe(0);
    expect(bashComplete(file, ["tra"])).toEqual(["transit"]);
    expect(bashComplete(file, ["transit", "key", ""])).toEqual(expect.arrayContaining(["create", "show", "rotate", "delete"]));
    expect(bashComplete(file, ["policies", "put", "app", "--"])).toEqual(expect.arrayContaining(["--rule", "--file", "--json", "--help"]));
    expect(bashComplete(file, ["--json", "approval", "policy", "cr"])).toEqual(["create"]);
    expect(bashComplete(file, ["get", "--ver"])).toEqual(["--version"]);
  });

  it.runIf(has("zsh"))("zsh: the script parses (zsh -n)", async () => {
    expect(spawnSync("zsh", ["-n", await script("zsh")]).status).toBe(0);
  });

  it.runIf(has("fish"))("fish: the script parses (fish --no-execute)", async () => {
    expect(spawnSync("fish", ["--no-execute", await script("fish")]).status).toBe(0);
  });

  it("zsh and fish scripts name every command (checked as text where the shells are absent)", async () => {
    if (!has("zsh") || !has("fish")) console.info("zsh/fish not installed: their scripts are checked as text only (install zsh or fish to parse them)");
    const z = await hush(["completion", "zsh"], { token: null });
    expect(z.stdout.startsWith("#compdef hush\n")).toBe(true);
    expect(z.stdout).toContain("'transit key' 'create:create a key (version 1)");
    const f = await hush(["completion", "fish"], { token: null });
    expect(f.stdout).toContain("complete -c hush -f -n '__hush_at '\\''transit key'\\''' -a 'rotate'");
    // Quotes in descriptions cannot break out of the quoting: the `complete` lines are also valid
    // POSIX-shell words (fish accepts the same '\'' quoting), so bash -n checks them here.
    const lines = join(mkdtempSync(join(tmpdir(), "hush-completion-")), "complete-lines.sh");
    writeFileSync(
      lines,
      f.stdout
        .split("\n")
        .filter((l) => l.startsWith("complete "))
        .join("\n"),
    );
    expect(spawnSync("bash", ["-n", lines]).status).toBe(0);
  });

  it("a command added to the tree completes with no edit to the generator", () => {
    const program = new Command("hush");
    program.command("brand-new").description("it's new").command("thing").option("--shiny", "so shiny");
    expect(bash(program)).toContain("'brand-new thing') words='--shiny --help'");
    expect(zsh(program)).toContain("'brand-new' 'thing:");
    expect(fish(program)).toContain("-l 'shiny' -d 'so shiny'");
  });

  it("an unknown shell is a usage error that lists the shells", async () => {
    const run = await hush(["completion", "powershell"], { token: null });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Use one of: bash, zsh, fish");
  });
});
