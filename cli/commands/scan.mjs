// `hush scan [PATH] [--git] [--since REF] [--format table|json|sarif] [--fail-on-findings]`:
// finds committed secrets and names the stored secret each one is (docs/scanning.md).
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { api, command, examples } from "../lib/context.mjs";
import { CliError, usageError } from "../lib/errors.mjs";
import { confirm, hasTerminal, info, printJson, printTable } from "../lib/output.mjs";
import { finalize, rulesActive, scanHistory, scanWorkingTree, STORED_VALUE_RULE } from "../lib/scan/engine.mjs";
import { toSarif } from "../lib/scan/sarif.mjs";

/** Exit code when --fail-on-findings is given and something was found (errors keep 1-4). */
export const EXIT_FINDINGS = 5;

const describeMatch = (m) => (m.current ? `current value of ${m.path} (version ${m.version})` : `a previous value of ${m.path} (version ${m.version})`);

export function register(program) {
  const cmd = command(program, "scan [path]", "find committed secrets in a working tree (or its git history) and say which stored secret leaked")
    .option("--git", "scan the lines every commit added (history), not the working tree")
    .option("--since <ref>", "with --git: only commits after this ref")
    .option("--format <format>", "table, json or sarif", "table")
    .option("--fail-on-findings", `exit ${EXIT_FINDINGS} when anything is found (for CI)`)
    .option("--local", "do not contact Hush: no stored run, no matching against stored secrets")
    .option("--no-prompt", "do not offer to rotate matched secrets")
    .action(async (path, opts) => {
      const format = opts.json ? "json" : opts.format;
      if (!["table", "json", "sarif"].includes(format)) throw usageError(`Unknown --format ${opts.format}`, "Use --format table, json or sarif");
      if (opts.since && !opts.git) throw usageError("--since needs --git");
      const root = resolve(path ?? ".");
      const started = performance.now();
      let scanned;
      try {
        scanned = opts.git ? await scanHistory(root, opts.since) : await scanWorkingTree(root);
      } catch (err) {
        if (err.gitFailed) throw new CliError(err.message, { hint: "Run it inside a git repository; check --since names a commit", exitCode: 2 });
        throw err;
      }
      const seconds = (performance.now() - started) / 1000;
      const { findings, unchecked } = finalize(scanned.findings);
      const rules = rulesActive();
      let run;
      if (opts.local) {
        run = {
          run_id: null,
          source: opts.git ? "git" : "working-tree",
          rules_active: rules,
          findings: findings.filter((f) => f.rule !== STORED_VALUE_RULE).map(({ candidate, ...f }) => ({ ...f, matches: [] })),
        };
      } else {
        run = await api().post("/api/v1/secrets/scans", { source: opts.git ? "git" : "working-tree", rules_active: rules, findings });
      }
      const stats = opts.git
        ? `${scanned.commits} commits, ${(scanned.bytes / 1e6).toFixed(2)} MB added lines`
        : `${scanned.files} files, ${(scanned.bytes / 1e6).toFixed(2)} MB`;
      info(`Scanned ${stats} in ${seconds.toFixed(2)} s: ${run.findings.length} finding(s)${run.run_id ? `, run ${run.run_id}` : ""}`);
      if (unchecked) info(`${unchecked} further candidate string(s) were not checked against stored secrets (at most 2000 a scan)`);

      if (format === "json") printJson({ ...run, stats: { ...stats_(scanned, seconds, opts.git) } });
      else if (format === "sarif") process.stdout.write(`${JSON.stringify(toSarif(run.findings, rules), null, 2)}\n`);
      else {
        printTable(
          ["rule", "file", "line", "commit", "preview", "stored secret"],
          run.findings.map((f) => [f.rule, f.file, String(f.line), f.commit ? f.commit.slice(0, 12) : "", f.preview, f.matches.map(describeMatch).join("; ")]),
        );
      }
      const leaked = [...new Set(run.findings.flatMap((f) => f.matches.map((m) => m.path)))];
      for (const p of leaked) info(`${p} leaked: rotate it with \`hush rotate ${p} --generate\` (or a new value), then revoke the old one where it is used`);
      if (format === "table" && leaked.length && opts.prompt !== false && process.stdin.isTTY && hasTerminal()) {
        for (const p of leaked) {
          if (!(await confirm(`Rotate ${p} now with a generated value?`, false))) continue;
          const cli = process.argv[1] ?? fileURLToPath(new URL("../hush.mjs", import.meta.url)); // the running entry point, bundled or not
          // The ordinary rotate: dual control applies (a guarded path answers with an approval request).
          spawnSync(process.execPath, [cli, "rotate", p, "--generate"], { stdio: "inherit" });
        }
      }
      if (opts.failOnFindings && run.findings.length) process.exitCode = EXIT_FINDINGS;
    });
  examples(cmd, ["hush scan", "hush scan --git --since origin/main --fail-on-findings", "hush scan --format sarif > hush-scan.sarif"]);
}

const stats_ = (s, seconds, git) => (git ? { commits: s.commits, bytes: s.bytes, seconds } : { files: s.files, bytes: s.bytes, seconds });
