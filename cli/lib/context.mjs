// What every command needs: the settings in force and an API client, made on first use
// so `hush help` works without a config.
import { ApiClient } from "./api.mjs";
import { resolveSettings } from "./config.mjs";

let client;

/** The API client for the current settings (HUSH_ADDR/HUSH_TOKEN or the config file). */
export function api() {
  client ??= new ApiClient(resolveSettings());
  return client;
}

/**
 * Adds a subcommand that takes --json, like every hush command.
 * @param {import("commander").Command} parent
 */
export function command(parent, nameAndArgs, description) {
  return parent.command(nameAndArgs).description(description).option("--json", "print JSON for scripts");
}

/**
 * Adds an "Examples:" section to a command's --help.
 * @param {import("commander").Command} cmd
 * @param {string[]} lines command lines, each shown after "$ "
 */
export function examples(cmd, lines) {
  return cmd.addHelpText("after", `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}\n`);
}
