#!/usr/bin/env node
// The `hush` command-line client. It talks only to the Hush HTTPS API.
// Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 denied (the child's code for `hush run`).
import { Command, CommanderError } from "commander";
import { register as registerAdmin } from "./commands/admin.mjs";
import { register as registerApprovals } from "./commands/approvals.mjs";
import { register as registerAudit } from "./commands/audit.mjs";
import { register as registerCompletion } from "./commands/completion.mjs";
import { register as registerInit } from "./commands/init.mjs";
import { register as registerLease } from "./commands/lease.mjs";
import { register as registerPki } from "./commands/pki.mjs";
import { register as registerRun } from "./commands/run.mjs";
import { register as registerScan } from "./commands/scan.mjs";
import { register as registerSecrets } from "./commands/secrets.mjs";
import { register as registerSession } from "./commands/session.mjs";
import { register as registerShare } from "./commands/share.mjs";
import { register as registerSync } from "./commands/sync.mjs";
import { register as registerToken } from "./commands/token.mjs";
import { register as registerTransit } from "./commands/transit.mjs";
import { register as registerTransfer } from "./commands/transfer.mjs";
import { register as registerVersion } from "./commands/version.mjs";
import { examples } from "./lib/context.mjs";
import { paint } from "./lib/colour.mjs";
import { CliError, EXIT, usageError } from "./lib/errors.mjs";
import { EXAMPLES } from "./lib/examples.mjs";
import { VERSION } from "./lib/version.mjs";

// `hush get x | head -1`: the reader went away. That is not an error; stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err) => {
    if (err?.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const program = new Command("hush")
  .description("Hush secrets manager: everyday secret commands, import/export, run with secrets, shares and leases")
  .version(VERSION, "-V, --version", "print the CLI's version (`hush version` also asks the server)")
  .enablePositionalOptions()
  .helpCommand(false)
  .addHelpText(
    "after",
    `
Configuration: HUSH_ADDR and HUSH_TOKEN, or \`hush login\` (saved with mode 0600); a project's .hush.yaml (\`hush init\`).
Providers: hush (default), local, env, azure-keyvault; --provider NAME, and reads fall back along the chain.
Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 denied.`,
  );
examples(program, [
  "hush login --addr https://hush.example.com",
  "hush set app/db/password --stdin",
  "hush run --secret DB_PASSWORD=app/db/password -- node server.js",
  "hush help share create",
]);

registerSession(program);
registerSecrets(program);
registerAudit(program);
registerTransfer(program);
registerRun(program);
registerShare(program);
registerLease(program);
registerPki(program);
registerSync(program);
registerToken(program);
registerAdmin(program);
registerApprovals(program);
registerTransit(program);
registerScan(program);
registerVersion(program);
registerInit(program);
registerCompletion(program);

/** The words that name a command: ["share", "create"] for `hush share create`. */
const wordsOf = (command) => {
  const words = [];
  for (let c = command; c?.parent; c = c.parent) words.unshift(c.name());
  return words;
};

// `hush help share create`: the help of exactly that command (commander's own stops at `share`).
program
  .command("help [command...]")
  .description("show the help of a command, like `hush help share create`")
  .action((words) => {
    let target = program;
    for (const word of words ?? []) {
      const next = target.commands.find((c) => c.name() === word || c.aliases().includes(word));
      if (!next) {
        const known = wordsOf(target);
        throw usageError(
          `\`hush ${[...known, word].join(" ")}\` is not a command`,
          `Run \`hush help${known.length ? ` ${known.join(" ")}` : ""}\` to list the commands`,
        );
      }
      target = next;
    }
    target.outputHelp();
  });

// Examples in every --help: the commands that did not add their own get theirs from the table.
(function addExamples(command) {
  const words = wordsOf(command).join(" ");
  if (words && EXAMPLES[words]) examples(command, EXAMPLES[words]);
  command.commands.forEach(addExamples);
})(program);

// One error style for everything, commander's own usage errors included:
//   Error: <what happened>
//   How to fix: <what to do>
// Usage mistakes exit 2; --help and --version exit 0.
const exitOverride = (err) => {
  throw err;
};
(function override(command) {
  command.exitOverride(exitOverride);
  command.configureOutput({
    outputError: (text, write) => {
      const message = text.trim().replace(/^error:\s*/i, "");
      const words = wordsOf(command);
      const c = paint(process.stderr);
      write(`${c.red(c.bold("Error:"))} ${message.charAt(0).toUpperCase()}${message.slice(1)}\n`);
      write(`${c.yellow("How to fix:")} run \`hush help${words.length ? ` ${words.join(" ")}` : ""}\` for the commands and options\n`);
    },
  });
  command.commands.forEach(override);
})(program);

/** A fix for errors thrown without one, by exit code. */
const DEFAULT_HINTS = {
  [EXIT.usage]: "Check the command's arguments: `hush help <command>` lists them",
  [EXIT.notFound]: "Check the name: `hush list` shows the secrets your token can see",
  [EXIT.denied]: "Check the token in use with `hush status`, or log in again with `hush login`",
  [EXIT.error]: "Retry; if it keeps failing, run with HUSH_DEBUG=1 and report what it prints",
};

function report(err) {
  const c = paint(process.stderr);
  if (err instanceof CommanderError) {
    process.exitCode = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code) ? EXIT.ok : EXIT.usage;
    return;
  }
  if (err instanceof CliError) {
    process.stderr.write(`${c.red(c.bold("Error:"))} ${err.message}\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    process.stderr.write(`${c.yellow("How to fix:")} ${err.hint ?? DEFAULT_HINTS[err.exitCode] ?? DEFAULT_HINTS[EXIT.error]}\n`);
    if (process.env.HUSH_DEBUG === "1") process.stderr.write(`${err.stack}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  process.stderr.write(`${c.red(c.bold("Error:"))} unexpected failure: ${err?.message ?? err}\n`);
  process.stderr.write(`${c.yellow("How to fix:")} ` + "this is a bug in the hush CLI; set HUSH_DEBUG=1 to see where it happened and report it\n");
  if (process.env.HUSH_DEBUG === "1") process.stderr.write(`${err?.stack}\n`);
  process.exitCode = EXIT.error;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  report(err);
}
