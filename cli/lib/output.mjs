// Output for people (tables, masked values) and for scripts (--json), plus the
// small input helpers: durations, times, stdin and prompts.
import { createInterface } from "node:readline";
import { openSync, closeSync, createReadStream, createWriteStream, readFileSync } from "node:fs";
import { paint } from "./colour.mjs";
import { usageError } from "./errors.mjs";

const MASK = "********";

/** A value masked except its last 3 characters; short values are masked entirely. */
export function mask(value) {
  const chars = [...String(value)];
  return chars.length >= 8 ? MASK + chars.slice(-3).join("") : MASK;
}

export function printJson(data) {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

const width = (s) => [...s].length;

/** Prints rows as aligned columns under upper-case headers ("-" for empty cells). */
export function printTable(headers, rows) {
  const cells = rows.map((row) => row.map((cell) => (cell === null || cell === undefined || cell === "" ? "-" : String(cell))));
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((row) => width(row[i]))));
  const line = (row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i] - width(cell)))).join("  ");
  process.stdout.write(`${paint(process.stdout).bold(line(headers.map((h) => h.toUpperCase())))}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
}

/** Prints label/value pairs, one per line. */
export function printFields(pairs) {
  const w = Math.max(...pairs.map(([label]) => width(label)));
  for (const [label, value] of pairs) {
    const shown = value === null || value === undefined || value === "" ? "-" : Array.isArray(value) ? value.join(", ") || "-" : String(value);
    process.stdout.write(`${label}${" ".repeat(w - width(label))}  ${shown}\n`);
  }
}

/** A line for people on stderr; a leading "Warning:" is yellow at a terminal. */
export const info = (message) => {
  const text = String(message);
  process.stderr.write(`${text.startsWith("Warning:") ? paint(process.stderr).yellow("Warning:") + text.slice(8) : text}\n`);
};

/** A short, readable time: 2026-11-22 03:55Z. */
export const shortTime = (iso) =>
  iso
    ? String(iso)
        .replace("T", " ")
        .replace(/:\d\d(\.\d+)?Z$/, "Z")
    : null;

/** A readable time to the second, for events that happen close together: 2026-11-22 03:55:07Z. */
export const eventTime = (iso) =>
  iso
    ? String(iso)
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z")
    : null;

const UNITS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses "90s", "15m", "1h", "30d", "2w" (or plain seconds) into seconds. */
export function parseDuration(text, option = "duration") {
  const match = /^(\d+)\s*([smhdw]?)$/i.exec(String(text).trim());
  if (!match || Number(match[1]) <= 0) {
    throw usageError(`${option}: "${text}" is not a duration`, "Use a number and a unit: 90s, 15m, 1h, 30d, 2w");
  }
  return Number(match[1]) * UNITS[(match[2] || "s").toLowerCase()];
}

/** An RFC 3339 time, or a duration meaning that long ago ("2h") or from now (future = true). */
export function parseTime(text, option, { future = false } = {}) {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw usageError(`${option}: "${text}" is not a valid time`, "Use RFC 3339, like 2026-01-31T12:00:00Z, or a duration like 2h");
    return new Date(ms).toISOString();
  }
  const seconds = parseDuration(text, option);
  return new Date(Date.now() + (future ? 1 : -1) * seconds * 1000).toISOString();
}

export const parseList = (text) =>
  String(text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function parsePositiveInt(text, option) {
  if (!/^\d+$/.test(String(text)) || Number(text) < 1) throw usageError(`${option}: "${text}" is not a positive whole number`);
  return Number(text);
}

/** Reads all of stdin as UTF-8. */
export async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** Opens the controlling terminal for a prompt, even when stdin is a pipe; null without one. */
function openTerminal() {
  if (process.stdin.isTTY && process.stderr.isTTY) return { input: process.stdin, output: process.stderr, close() {} };
  try {
    const fd = openSync("/dev/tty", "r+");
    const input = createReadStream(null, { fd, autoClose: false });
    const output = createWriteStream(null, { fd, autoClose: false });
    return {
      input,
      output,
      close: () => {
        input.destroy();
        closeSync(fd);
      },
    };
  } catch {
    return null;
  }
}

export const hasTerminal = () => {
  const tty = openTerminal();
  tty?.close();
  return tty !== null;
};

/** Asks a question on the terminal; `hidden` echoes nothing (for tokens and secrets). */
export function prompt(question, { hidden = false } = {}) {
  const tty = openTerminal();
  if (!tty) return Promise.resolve(null);
  return new Promise((resolve) => {
    const rl = createInterface({ input: tty.input, output: tty.output, terminal: true });
    if (hidden) {
      // Print the question, then swallow every echo readline would write.
      tty.output.write(question);
      /** @type {any} */ (rl)._writeToOutput = () => {};
    }
    rl.question(hidden ? "" : question, (answer) => {
      if (hidden) tty.output.write("\n");
      rl.close();
      tty.close();
      resolve(answer);
    });
  });
}

/** Asks for confirmation; refuses (usage error) without a terminal unless --yes was given. */
export async function confirm(question, yes) {
  if (yes) return true;
  if (!process.stdin.isTTY) throw usageError(`${question.replace(/\?$/, "")}: refusing without a terminal`, "Add --yes to confirm in scripts");
  const answer = await prompt(`${question} [y/N] `);
  return /^y(es)?$/i.test(String(answer ?? "").trim());
}

/**
 * Reads a command's input: a file, or stdin for "-" (and by default). Values and configs that hold
 * secrets come this way, never from argv (which `ps` and shell history keep).
 * @param {string | undefined} file
 * @returns {Promise<Buffer>}
 */
export async function readInput(file) {
  if (file === undefined || file === "-") {
    if (process.stdin.isTTY) info("Reading from the terminal: end with Ctrl-D");
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(file);
  } catch (err) {
    throw usageError(`Cannot read ${file}: ${err.code ?? err.message}`, "Check the file name (use - for stdin)");
  }
}

/** A JSON document from a file or stdin, for the bodies of admin commands. */
export async function readJsonInput(file) {
  const text = (await readInput(file)).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`${file && file !== "-" ? file : "stdin"} is not JSON: ${err.message}`, "Give a JSON document (see the command's --help for an example)");
  }
}
