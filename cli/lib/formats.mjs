// Reading import files (.env through dotenv, JSON, YAML) into the import body, and
// writing exports. Parsing is separate from the network so it can be tested alone.
import { extname } from "node:path";
import dotenv from "dotenv";
import YAML from "yaml";
import { usageError } from "./errors.mjs";

export const FORMATS = ["env", "json", "yaml"];
const PATH = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** The format from --format or the file name (.env, *.env, .json, .yaml/.yml). */
export function detectFormat(file, format) {
  if (format) {
    if (!FORMATS.includes(format)) throw usageError(`--format ${format} is not one of ${FORMATS.join(", ")}`);
    return format;
  }
  const name = file.toLowerCase();
  const ext = extname(name);
  if (ext === ".json") return "json";
  if (ext === ".yaml" || ext === ".yml") return "yaml";
  if (ext === ".env" || name.endsWith("/.env") || name === ".env" || /(^|\/)\.env\./.test(name)) return "env";
  throw usageError(`Cannot tell the format of ${file}`, "Add --format env, json or yaml");
}

/** Checks a path the way the server does, so a bad file fails before anything is sent. */
export function checkPath(path) {
  return PATH.test(path) && path.length <= 256 && path.split("/").every((s) => s !== "." && s !== "..");
}

function entryFrom(path, raw) {
  if (typeof raw === "string") return raw;
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  // The server checks the other fields (type, tags, rotation_policy, ...) and names any it rejects.
  if ("generate" in raw && !("value" in raw)) return { ...raw };
  if (typeof raw.value !== "string" && typeof raw.value !== "number") throw usageError(`${path}: "value" must be a string`);
  const entry = { ...raw, value: String(raw.value) };
  if (entry.expires_at instanceof Date) entry.expires_at = entry.expires_at.toISOString();
  return entry;
}

const isEntry = (raw) => "value" in raw || "generate" in raw;

/**
 * Flattens a parsed JSON/YAML document: a leaf is a string or an object with `value` (or `generate`);
 * any other object is a folder whose keys join the path with "/".
 */
function flatten(node, prefix, out) {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    throw usageError(
      `${prefix || "The document"}: expected a map of path to value`,
      'Write {"app/db/password": "..."} or {"path": {"value": "...", "tags": []}}',
    );
  }
  for (const [key, raw] of Object.entries(node)) {
    const path = prefix ? `${prefix}/${key}` : key;
    if (raw === null || raw === undefined || Array.isArray(raw)) throw usageError(`${path}: a value must be a string or an object with "value"`);
    if (typeof raw === "object" && !(raw instanceof Date) && !isEntry(raw)) flatten(raw, path, out);
    else out[path] = entryFrom(path, raw);
  }
  return out;
}

/**
 * The format of text read from stdin (no file name to go by): JSON when it starts with `{`,
 * .env when its first line (past comments) is NAME=value, else YAML.
 */
export function sniffFormat(text) {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) return "json";
  const first = text.split(/\r?\n/).find((line) => line.trim() && !line.trim().startsWith("#")) ?? "";
  return /^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=/.test(first) ? "env" : "yaml";
}

/**
 * Parses an import file into `{path: value | {value, ...}}`, validating every path and value.
 * In a .env file a variable with no value (`EMPTY=`, common in templates) is left out and its
 * name pushed to `skipped`; in JSON and YAML an empty value is an error.
 * @param {string} text
 * @param {"env"|"json"|"yaml"} format
 * @param {(done: number, total: number) => void} [progress]
 * @param {string[]} [skipped]
 */
export function parseImport(text, format, progress, skipped = []) {
  let values;
  if (format === "env") {
    values = {};
    for (const [name, value] of Object.entries(dotenv.parse(text))) {
      if (value === "") skipped.push(name);
      else values[name] = value;
    }
    if (Object.keys(values).length === 0 && skipped.length) {
      throw usageError(
        `Every variable in the file is empty (${skipped.slice(0, 5).join(", ")}${skipped.length > 5 ? ", ..." : ""}); nothing to import`,
        "Fill in the values; Hush does not store empty secrets",
      );
    }
  } else {
    let doc;
    try {
      doc = format === "json" ? JSON.parse(text) : YAML.parse(text);
    } catch (err) {
      throw usageError(`The ${format.toUpperCase()} file does not parse: ${String(err.message).split("\n")[0]}`);
    }
    values = flatten(doc, "", {});
  }
  const paths = Object.keys(values);
  if (paths.length === 0) throw usageError("The file has no entries", "Write one NAME=value per line (.env), or a map of path to value (JSON, YAML)");
  const bad = [];
  paths.forEach((path, i) => {
    const value = typeof values[path] === "string" ? values[path] : values[path].value;
    if (!checkPath(path)) bad.push(`${path}: not a valid path`);
    else if (value !== undefined && value.length === 0) bad.push(`${path}: empty value`);
    progress?.(i + 1, paths.length);
  });
  if (bad.length) {
    throw Object.assign(
      usageError(
        `${bad.length} entr${bad.length === 1 ? "y is" : "ies are"} invalid; nothing was imported`,
        "Paths use A-Z a-z 0-9 . _ - and single slashes; values must not be empty",
      ),
      {
        details: bad.slice(0, 20),
      },
    );
  }
  return values;
}

/** An environment variable name for a path: app/db-password -> APP_DB_PASSWORD. */
export const envName = (path) =>
  path
    .replace(/[^A-Za-z0-9_]/g, "_")
    .replace(/^(\d)/, "_$1")
    .toUpperCase();

/**
 * Quotes a value so dotenv reads it back unchanged: single quotes are literal; double
 * quotes only when the value has a single quote (dotenv turns \\n inside them into a newline).
 */
function quoteEnv(path, value) {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"') && !/\\[nr]/.test(value)) return `"${value}"`;
  throw usageError(`${path}: this value cannot be written as a .env line`, "Export it as --format json or yaml");
}

/**
 * Writes exported entries as JSON, YAML (both re-importable) or .env lines.
 * @param {Record<string, any>} values path -> value or {value, ...metadata}
 */
export function formatExport(values, format) {
  if (format === "json") return `${JSON.stringify(values, null, 2)}\n`;
  if (format === "yaml") return YAML.stringify(values);
  return Object.entries(values)
    .map(([path, entry]) => `${envName(path)}=${quoteEnv(path, typeof entry === "string" ? entry : String(entry.value ?? ""))}`)
    .join("\n")
    .concat("\n");
}
