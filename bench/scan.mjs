// Scan speed of `hush scan --local`: MB/s over a generated source tree, commits/s over its history.
// Usage: node bench/scan.mjs [files=400] [commits=200]
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

const files = Number(process.argv[2] ?? 400);
const commits = Number(process.argv[3] ?? 200);
const repo = mkdtempSync(join(tmpdir(), "hush-scan-bench-"));
const git = (...a) => execFileSync("git", ["-C", repo, ...a], { stdio: "ignore" });
execFileSync("git", ["init", "-q", repo]);
git("config", "user.email", "b@example.com");
git("config", "user.name", "bench");
const line = (i) => `export function f${i}(a, b) { return a + b * ${i}; } // ${randomBytes(12).toString("hex")}\n`;
const perCommit = Math.max(1, Math.floor(files / commits));
let n = 0;
for (let c = 0; c < commits; c++) {
  for (let k = 0; k < perCommit; k++, n++) {
    mkdirSync(join(repo, `src/m${n % 20}`), { recursive: true });
    writeFileSync(join(repo, `src/m${n % 20}/file${n}.js`), Array.from({ length: 300 }, (_, i) => line(i)).join(""));
  }
  git("add", "-A");
  git("commit", "-qm", `c${c}`);
}
const cli = join(import.meta.dirname, "..", "cli", "hush.mjs");
const run = (args) => {
  const out = execFileSync(process.execPath, [cli, "scan", repo, "--local", "--format", "json", ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  return JSON.parse(out).stats;
};
const tree = run([]);
const hist = run(["--git"]);
console.log(
  `working tree: ${tree.files} files, ${(tree.bytes / 1e6).toFixed(2)} MB in ${tree.seconds.toFixed(2)} s = ${(tree.bytes / 1e6 / tree.seconds).toFixed(2)} MB/s`,
);
console.log(
  `history: ${hist.commits} commits, ${(hist.bytes / 1e6).toFixed(2)} MB added in ${hist.seconds.toFixed(2)} s = ${(hist.commits / hist.seconds).toFixed(1)} commits/s (${(hist.bytes / 1e6 / hist.seconds).toFixed(2)} MB/s)`,
);
