#!/usr/bin/env node
// The `hush` command-line client. It talks only to the Hush HTTPS API.
// Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 denied (the child's code for `hush run`).
import { Command, CommanderError } from "commander";
import { register as registerAudit } from "./commands/audit.mjs";
import { register as registerLease } from "./commands/lease.mjs";
import { register as registerRun } from "./commands/run.mjs";
import { register as registerSecrets } from "./commands/secrets.mjs";
import { register as registerSession } from "./commands/session.mjs";
import { register as registerShare } from "./commands/share.mjs";
import { register as registerToken } from "./commands/token.mjs";
import { register as registerTransfer } from "./commands/transfer.mjs";
import { CliError, EXIT } from "./lib/errors.mjs";

const program = new Command("hush")
  .description("Hush secrets manager: everyday secret commands, import/export, run with secrets, shares and leases")
  .version("0.1.0", "-V, --cli-version", "print the CLI's version")
  .enablePositionalOptions()
  .showHelpAfterError("(run `hush help <command>` for its options)")
  .addHelpText(
    "after",
    `
Configuration: HUSH_ADDR and HUSH_TOKEN, or \`hush login\` (saved with mode 0600).
Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 denied.`,
  );

registerSession(program);
registerSecrets(program);
registerAudit(program);
registerTransfer(program);
registerRun(program);
registerShare(program);
registerLease(program);
registerToken(program);

// Usage mistakes exit 2; --help and --cli-version exit 0.
const exitOverride = (err) => {
  throw err;
};
(function override(command) {
  command.exitOverride(exitOverride);
  command.commands.forEach(override);
})(program);

function report(err) {
  if (err instanceof CommanderError) {
    process.exitCode = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code) ? EXIT.ok : EXIT.usage;
    return;
  }
  if (err instanceof CliError) {
    process.stderr.write(`Error: ${err.message}\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    if (err.hint) process.stderr.write(`How to fix: ${err.hint}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  process.stderr.write(`Error: unexpected failure: ${err?.message ?? err}\n`);
  process.stderr.write("How to fix: this is a bug in the hush CLI; set HUSH_DEBUG=1 to see where it happened and report it\n");
  if (process.env.HUSH_DEBUG === "1") process.stderr.write(`${err?.stack}\n`);
  process.exitCode = EXIT.error;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  report(err);
}
