// The scanner: secretlint's recommended preset plus Hush's own token formats, over a working
// tree or git history. Every match is redacted here, before anything prints or leaves: what
// the rest of the CLI sees is a finding's metadata, a redacted preview and (for matching
// against stored secrets) SHA-256("hush-scan-v1:" || match), never the match itself.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { createInterface } from "node:readline";
import { lintSource } from "@secretlint/core";
import { creator as recommended, rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";

export const STORED_VALUE_RULE = "hush/stored-value";
const PRESET_ID = "@secretlint/secretlint-rule-preset-recommend";
const MAX_FILE_BYTES = 1024 * 1024;
/** Probe candidates sent per scan (the server's cap). */
export const MAX_CANDIDATES = 2000;

/** Hush's own token formats (src/auth/tokens.ts, src/shares/schemas.ts). */
const HUSH_RULES = [
  { id: "hush/api-token", re: /\bhush(?:[1-9][0-9]{0,2})?_[A-Za-z0-9]{40}\b/g, description: "a Hush API token" },
  { id: "hush/share-token", re: /\bhshr_[A-Za-z0-9]{22}\.[A-Za-z0-9]{32}\b/g, description: "a Hush share token" },
];

export const RULE_DESCRIPTIONS = {
  ...Object.fromEntries(HUSH_RULES.map((r) => [r.id, r.description])),
  [STORED_VALUE_RULE]: "the value of a secret stored in Hush",
};

/** The rule ids this scanner runs (a run records them as rules_active). */
export const rulesActive = () => [...recommendedRules.map((r) => `secretlint/${shortRule(r.meta.id)}`), ...HUSH_RULES.map((r) => r.id), STORED_VALUE_RULE];
const shortRule = (id) => String(id).replace(/^@secretlint\/secretlint-rule-/, "");

const config = { rules: [{ id: PRESET_ID, rule: recommended }] };

/** The shape a client-side redaction takes: at most 4 leading characters (fewer for short matches), then 8 stars. */
export function redact(match) {
  const keep = Math.min(4, Math.floor(match.length / 4));
  return `${match.slice(0, keep).replace(/[\s*]/g, "")}********`;
}

export const digestOf = (match) => createHash("sha256").update(`hush-scan-v1:${match}`).digest("base64");
export const fingerprintOf = (rule, file, line, commit) =>
  createHash("sha256")
    .update(["hush-scan-fp-v1", rule, file, String(line), commit ?? ""].join("\0"))
    .digest("hex")
    .slice(0, 32);

/**
 * A secretlint range can cover `NAME=value` (and, for AWS keys, start at the name and stop short):
 * the match is then the value after the first `=` or `:`, read on to its end in the text.
 */
function refine(content, start, end) {
  const text = content.slice(start, end);
  if (text.startsWith("-----BEGIN")) return text;
  const at = text.search(/[=:]/);
  if (at === -1) return text;
  const rest = /^[=:\s"'`]*([^\s"'`,;]+)/.exec(content.slice(start + at));
  return rest ? rest[1] : text;
}

/** Shannon entropy in bits per character. */
function entropy(text) {
  const counts = new Map();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length);
  return bits;
}

/** Strings that could be a stored value: assignment right-hand sides, quoted strings, long tokens. */
function probeCandidates(line) {
  const out = new Set();
  for (const m of line.matchAll(/["'`]([^"'`\s]{8,256})["'`]/g)) out.add(m[1]);
  for (const m of line.matchAll(/[=:]\s*["']?([^\s"'`,;]{8,256})/g)) out.add(m[1]);
  for (const token of line.split(/[\s"'`,;()[\]{}<>]+/)) if (token.length >= 8 && token.length <= 256) out.add(token);
  return [...out].filter((c) => /[A-Za-z]/.test(c) && /[^A-Za-z]/.test(c) && entropy(c) >= 3);
}

/**
 * Scans one text. `lines` maps the text's 1-based line numbers to the file's (history hunks
 * hold only added lines). Returns findings with `_match` still attached: `finalize` strips it.
 */
/** @param {{ file: string, commit: string | null, content: string, lines?: number[] }} input */
async function scanText({ file, commit, content, lines }) {
  const found = [];
  const lineOf = (n) => (lines ? lines[n - 1] : n);
  const result = await lintSource({
    source: { filePath: join(process.cwd(), file), content, ext: file.includes(".") ? `.${file.split(".").pop()}` : "", contentType: "text" },
    options: { config, maskSecrets: false },
  });
  for (const m of result.messages) {
    const match = refine(content, m.range[0], m.range[1]);
    found.push({
      rule: `secretlint/${shortRule(m.ruleId)}/${m.messageId}`,
      file,
      line: lineOf(m.loc.start.line),
      column: m.loc.start.column + 1,
      commit,
      _match: match,
    });
  }
  const starts = [0];
  for (let i = content.indexOf("\n"); i !== -1; i = content.indexOf("\n", i + 1)) starts.push(i + 1);
  const lineAt = (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  for (const rule of HUSH_RULES) {
    for (const m of content.matchAll(rule.re)) {
      const l = lineAt(m.index);
      found.push({ rule: rule.id, file, line: lineOf(l + 1), column: m.index - starts[l] + 1, commit, _match: m[0] });
    }
  }
  const taken = new Set(found.map((f) => `${f.line}\0${f._match}`));
  content.split("\n").forEach((text, i) => {
    for (const candidate of probeCandidates(text)) {
      if (taken.has(`${lineOf(i + 1)}\0${candidate}`)) continue;
      found.push({ rule: STORED_VALUE_RULE, file, line: lineOf(i + 1), column: text.indexOf(candidate) + 1, commit, _match: candidate, probe: true });
    }
  });
  return found;
}

const isBinary = (buf) => buf.subarray(0, 8000).includes(0);

/** Files of a working tree: git's view (tracked + untracked, not ignored) when it is a repository, else a walk. */
function workingTreeFiles(root) {
  try {
    const out = execFileSync("git", ["-C", root, "ls-files", "-z", "-co", "--exclude-standard"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 256 * 1024 * 1024,
    });
    return out.split("\0").filter(Boolean);
  } catch {
    const files = [];
    const walk = (dir) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === ".git" || entry.name === "node_modules") continue;
        const full = join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.isFile()) files.push(relative(root, full).split(sep).join("/"));
      }
    };
    walk(root);
    return files;
  }
}

/** Scans the files of `root`. Returns { findings, bytes, files }. */
export async function scanWorkingTree(root) {
  const findings = [];
  let bytes = 0;
  let files = 0;
  for (const file of workingTreeFiles(root)) {
    const full = join(root, file);
    if (!existsSync(full)) continue;
    const stat = statSync(full);
    if (!stat.isFile() || stat.size > MAX_FILE_BYTES) continue;
    const buf = readFileSync(full);
    if (isBinary(buf)) continue;
    bytes += buf.length;
    files++;
    findings.push(...(await scanText({ file, commit: null, content: buf.toString("utf8") })));
  }
  return { findings, bytes, files };
}

/**
 * Scans the lines each commit added (`git log -p`), oldest first, since `since` (exclusive) or
 * over all history. A secret added and later removed is found in the commit that added it.
 */
export async function scanHistory(root, since) {
  const args = ["-C", root, "log", "-p", "--unified=0", "--no-color", "--no-ext-diff", "--no-renames", "--reverse", "--format=%x00commit %H"];
  args.push(since ? `${since}..HEAD` : "HEAD");
  const child = spawn("git", args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const findings = [];
  let commits = 0;
  let bytes = 0;
  let commit = null;
  let file = null;
  let next = 0;
  let added = [];
  let lines = [];
  const flush = async () => {
    if (file && added.length) {
      const content = added.join("\n");
      bytes += content.length;
      findings.push(...(await scanText({ file, commit, content, lines })));
    }
    added = [];
    lines = [];
  };
  const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
  for await (const raw of rl) {
    if (raw.startsWith("\0commit ")) {
      await flush();
      commit = raw.slice(8).trim();
      file = null;
      commits++;
    } else if (raw.startsWith("diff --git ")) {
      await flush();
      file = null;
    } else if (raw.startsWith("+++ ")) {
      file = raw === "+++ /dev/null" ? null : raw.slice(4).replace(/^b\//, "");
    } else if (raw.startsWith("@@ ")) {
      const m = /\+(\d+)/.exec(raw);
      next = m ? Number(m[1]) : 0;
    } else if (raw.startsWith("+") && file) {
      added.push(raw.slice(1));
      lines.push(next++);
    }
  }
  await flush();
  const code = await new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("close", resolve)));
  if (code !== 0) throw Object.assign(new Error(`git log failed: ${stderr.trim().split("\n")[0]}`), { gitFailed: true });
  return { findings, commits, bytes };
}

/**
 * Redacts: each finding keeps its metadata, a redacted preview, a fingerprint and the digest
 * of its match; the match itself is dropped here. Probes beyond MAX_CANDIDATES (highest
 * entropy first) are left out and counted.
 */
export function finalize(raw) {
  const rules = raw.filter((f) => !f.probe);
  const probes = raw.filter((f) => f.probe);
  const seen = new Set();
  const uniqueProbes = probes.filter((p) => {
    const key = `${p.file}\0${p.line}\0${p.commit}\0${p._match}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  uniqueProbes.sort((a, b) => entropy(b._match) - entropy(a._match));
  const budget = Math.max(0, MAX_CANDIDATES - rules.length);
  const kept = [...rules, ...uniqueProbes.slice(0, budget)];
  const findings = kept.map((f) => {
    const out = {
      rule: f.rule,
      file: f.file,
      line: f.line,
      column: f.column,
      commit: f.commit,
      fingerprint: fingerprintOf(f.rule, f.file, f.line, f.commit),
      preview: redact(f._match),
      candidate: digestOf(f._match),
    };
    f._match = undefined;
    return out;
  });
  return { findings, unchecked: Math.max(0, uniqueProbes.length - budget) };
}
