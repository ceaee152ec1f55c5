// `hush import` (all or nothing) and `hush export`.
import { readFileSync, writeFileSync } from "node:fs";
import cliProgress from "cli-progress";
import { api, command } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
import { detectFormat, FORMATS, formatExport, parseImport } from "../lib/formats.mjs";
import { info, printJson, printTable } from "../lib/output.mjs";

const LARGE = 200;
/** The server applies one import request all or nothing and takes at most this many entries. */
const MAX_ENTRIES = 1000;

/** Turns the export response into path -> value|{value,...}, whatever its outer shape. */
function exportedValues(result) {
  if (result.values && typeof result.values === "object") return result.values;
  const out = {};
  for (const item of result.items ?? result.secrets ?? []) {
    const { path, value, ...metadata } = item;
    out[path] = value === undefined ? metadata : { value, ...metadata };
  }
  return out;
}

export function register(program) {
  command(program, "import <file>", "import a .env, JSON or YAML file: every path or none")
    .option("--format <format>", `one of ${FORMATS.join(", ")} (default: from the file name)`)
    .option("--prefix <prefix>", "put every path under this prefix")
    .action(async (file, opts) => {
      const format = detectFormat(file, opts.format);
      let text;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw usageError(`Cannot read ${file}: ${err.code ?? err.message}`);
      }
      // A bar only where a person watches a large file being checked.
      let bar;
      const progress = (done, total) => {
        if (total < LARGE || opts.json || !process.stderr.isTTY) return;
        bar ??= new cliProgress.SingleBar({ format: "Checking {bar} {value}/{total}", stream: process.stderr }, cliProgress.Presets.shades_classic);
        if (done === 1) bar.start(total, 0);
        bar.update(done);
      };
      const values = parseImport(text, format, progress);
      bar?.stop();
      const count = Object.keys(values).length;
      if (count > MAX_ENTRIES) {
        throw usageError(`${file} has ${count} entries; one import takes at most ${MAX_ENTRIES}`, "Split the file (each part is imported all or nothing)");
      }
      if (count >= LARGE && process.stderr.isTTY && !opts.json) info(`Importing ${count} secrets in one request...`);
      const body = { values, ...(opts.prefix ? { prefix: opts.prefix } : {}) };
      const result = await api().post("/api/v1/secrets/store/import", body);
      if (opts.json) return printJson(result);
      const items = result.items ?? result.imported ?? [];
      process.stdout.write(`Imported ${items.length || count} secrets from ${file}\n`);
      if (items.length && items.length <= 50) printTable(["path", "version"], items.map((s) => [s.path, s.version ?? s.current_version ?? 1]));
    });

  command(program, "export", "export secrets (metadata only unless --include-values)")
    .option("--prefix <prefix>", "only paths under this prefix")
    .option("--format <format>", "json, yaml or env", "json")
    .option("--include-values", "include the values (needs the secrets:export scope; audited per path)")
    .option("-o, --output <file>", "write to a file (created with mode 0600) instead of stdout")
    .action(async (opts) => {
      if (!["json", "yaml", "env"].includes(opts.format)) throw usageError(`--format ${opts.format} is not one of json, yaml, env`);
      if (opts.format === "env" && !opts.includeValues) throw usageError("--format env needs --include-values", "Without values, export as json or yaml");
      if (opts.includeValues && !opts.output && process.stdout.isTTY) {
        info("Warning: printing secret values to the terminal; they may stay in its scrollback. Use --output FILE.");
      }
      // Pages follow the Hush-Next-Cursor header; paths whose value could not be read are named in Hush-Export-Skipped.
      const values = {};
      const skipped = [];
      let cursor;
      do {
        const page = await api().request("GET", "/api/v1/secrets/export", {
          query: { prefix: opts.prefix, include_values: opts.includeValues && "true", cursor },
        });
        Object.assign(values, exportedValues(page.body));
        skipped.push(...(page.headers.get("hush-export-skipped")?.split(",").filter(Boolean) ?? []));
        cursor = page.headers.get("hush-next-cursor");
      } while (cursor);
      if (skipped.length) info(`Warning: ${skipped.length} value(s) could not be exported (expired, or past their grace period): ${skipped.join(", ")}`);
      const text = opts.json ? `${JSON.stringify({ values, skipped }, null, 2)}\n` : formatExport(values, opts.format);
      if (opts.output) {
        writeFileSync(opts.output, text, { mode: 0o600 });
        info(`Wrote ${Object.keys(values).length} secrets to ${opts.output}`);
      } else process.stdout.write(text);
    });
}
