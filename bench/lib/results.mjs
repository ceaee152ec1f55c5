// Appends a dated section to bench/RESULTS.md: what ran, on what, and the numbers.
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { ROOT } from "./servers.mjs";

export const RESULTS = join(ROOT, "bench", "RESULTS.md");

const HEADER = `# Benchmark results

Appended by \`npm run bench\` (bench/run.mjs) and other scripts in bench/. Each section names
the command that produced it, the commit and the machine. Throughput is compared with the floor
Worker (bench/floor/worker.js) measured in the same run, because the machine is shared and noisy:
read the ratios, not the absolute numbers.
`;

function commit() {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "durable-objects", "migrations"], { cwd: ROOT, encoding: "utf8" }).trim();
    return dirty ? `${sha} (+ uncommitted changes in src/)` : sha;
  } catch {
    return "unknown";
  }
}

/** A markdown table from rows of equal keys. */
export function table(rows) {
  const keys = Object.keys(rows[0]);
  return [`| ${keys.join(" | ")} |`, `| ${keys.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${keys.map((k) => r[k]).join(" | ")} |`)].join("\n");
}

/**
 * Appends one section.
 * @example
 * appendSection({ title: "Secret read", command: "npm run bench", body: table(rows) });
 */
export function appendSection({ title, command, body }) {
  if (!existsSync(RESULTS)) writeFileSync(RESULTS, HEADER);
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  const section = `
## ${title} (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC)

Command: \`${command}\`  
Commit: ${commit()}; machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, load average before: ${load}

${body.trim()}
`;
  appendFileSync(RESULTS, section);
  return section;
}

export const fmt = (n, digits = 1) => Number(n).toFixed(digits);
