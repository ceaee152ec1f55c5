// `hush import` (all or nothing) and `hush export`.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import cliProgress from "cli-progress";
import { encodePath } from "../lib/api.mjs";
import { api, command, examples } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
import { detectFormat, FORMATS, formatExport, parseImport, sniffFormat } from "../lib/formats.mjs";
import { info, printJson, printTable, readStdin } from "../lib/output.mjs";
import { project } from "../lib/project.mjs";
import { provider, selected } from "../lib/providers/index.mjs";
import { listAll, PROVIDER_HELP } from "./secrets.mjs";

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

/** The path an import key lands on, as the server joins it. */
const fullPath = (prefix, key) => {
  const p = (prefix ?? "").replace(/\/+$/, "");
  return p ? `${p}/${key}` : key;
};

/** The longest common folder prefix of some paths ("" when they share none). */
function commonFolder(paths) {
  if (paths.length === 0) return "";
  let common = paths[0].split("/").slice(0, -1);
  for (const path of paths.slice(1)) {
    const parts = path.split("/");
    let i = 0;
    while (i < common.length && common[i] === parts[i]) i++;
    common = common.slice(0, i);
  }
  return common.length ? `${common.join("/")}/` : "";
}

/** Which of these paths exist (live or soft-deleted), from the metadata listing: no value is read. */
async function existing(paths) {
  const wanted = new Set(paths);
  const found = new Map();
  for (const s of await listAll({ prefix: commonFolder(paths) || undefined, include_deleted: "true" })) {
    if (wanted.has(s.path)) found.set(s.path, s);
  }
  return found;
}

export function register(program) {
  const imp = command(program, "import <file>", "import a .env, JSON or YAML file (`-` reads stdin): every path or none")
    .option("--format <format>", `one of ${FORMATS.join(", ")} (default: from the file name; for stdin, guessed from the text)`)
    .option("--prefix <prefix>", "put every path under this prefix")
    .option("--upsert", "write a new version of paths that already exist (new paths are still imported all or nothing)")
    .option("--dry-run", "show what would be created or changed, and write nothing")
    .option("--provider <name>", PROVIDER_HELP)
    .action(async (file, opts) => {
      let text;
      if (file === "-") {
        if (process.stdin.isTTY) throw usageError("`hush import -` reads the file from stdin, and stdin is a terminal", "Pipe it in: hush import - < .env");
        text = await readStdin();
      } else {
        try {
          text = readFileSync(file, "utf8");
        } catch (err) {
          throw usageError(`Cannot read ${file}: ${err.code ?? err.message}`, "Check the file name; `-` reads stdin");
        }
      }
      const format = file === "-" ? (opts.format ? detectFormat(file, opts.format) : sniffFormat(text)) : detectFormat(file, opts.format);
      const source = file === "-" ? "stdin" : file;
      // A bar only where a person watches a large file being checked.
      /** @type {any} */
      let bar;
      const progress = (done, total) => {
        if (total < LARGE || opts.json || !process.stderr.isTTY) return;
        bar ??= new cliProgress.SingleBar({ format: "Checking {bar} {value}/{total}", stream: process.stderr }, cliProgress.Presets.shades_classic);
        if (done === 1) bar.start(total, 0);
        bar.update(done);
      };
      const skipped = [];
      const values = parseImport(text, format, progress, skipped);
      bar?.stop();
      if (skipped.length) info(`Skipped ${skipped.length} empty variable(s): ${skipped.join(", ")} (Hush does not store empty values)`);
      const count = Object.keys(values).length;
      if (count > MAX_ENTRIES) {
        throw usageError(`${source} has ${count} entries; one import takes at most ${MAX_ENTRIES}`, "Split the file (each part is imported all or nothing)");
      }

      const target = selected(opts);
      if (target !== "hush") {
        if (target === "env") await provider(target).import({}); // read-only: fails before anything else
        const full = Object.fromEntries(Object.entries(values).map(([key, entry]) => [fullPath(opts.prefix, key), entry]));
        if (opts.dryRun) {
          const found = new Set((await provider(target).list({})).map((s) => s.path));
          const plan = Object.keys(full).map((path) => ({ path, action: !found.has(path) ? "create" : opts.upsert ? "new version" : "exists: would fail" }));
          const failing = plan.filter((p) => p.action.includes("would fail")).length;
          if (opts.json) return printJson({ dry_run: true, provider: target, items: plan, skipped, would_fail: failing > 0 });
          printTable(
            ["path", "action"],
            plan.map((p) => [p.path, p.action]),
          );
          info(
            failing
              ? `Dry run: nothing written. ${failing} path(s) exist in ${target}, so this import would fail (add --upsert to write new versions of them).`
              : "Dry run: nothing written.",
          );
          return;
        }
        const { created, updated } = await provider(target).import(full, { upsert: opts.upsert });
        if (opts.json) return printJson({ provider: target, created, updated, skipped });
        process.stdout.write(
          `Imported ${created.length + updated.length} secrets from ${source} into ${target}${updated.length ? ` (${created.length} created, ${updated.length} new versions)` : ""}\n`,
        );
        const rows = [...created.map((s) => [s.path, s.version, "created"]), ...updated.map((s) => [s.path, s.version, "new version"])];
        if (rows.length <= 50) printTable(["path", "version", "change"], rows);
        return;
      }

      if (opts.dryRun) {
        const found = await existing(Object.keys(values).map((key) => fullPath(opts.prefix, key)));
        const plan = Object.keys(values).map((key) => {
          const path = fullPath(opts.prefix, key);
          const current = found.get(path);
          const action = !current
            ? "create"
            : current.deleted_at
              ? "exists (deleted): would fail"
              : opts.upsert
                ? `new version (${current.current_version + 1})`
                : "exists: would fail";
          return { path, action };
        });
        const failing = plan.filter((p) => p.action.includes("would fail")).length;
        if (opts.json) return printJson({ dry_run: true, items: plan, skipped, would_fail: failing > 0 });
        printTable(
          ["path", "action"],
          plan.map((p) => [p.path, p.action]),
        );
        info(
          failing
            ? `Dry run: nothing written. ${failing} path(s) exist, so this import would fail${opts.upsert ? "" : " (add --upsert to write new versions of them)"}.`
            : "Dry run: nothing written.",
        );
        return;
      }

      if (count >= LARGE && process.stderr.isTTY && !opts.json) info(`Importing ${count} secrets in one request...`);
      const body = { values, ...(opts.prefix ? { prefix: opts.prefix } : {}) };
      let created = [];
      const updated = [];
      try {
        const result = await api().post("/api/v1/secrets/store/import", body);
        created = (result.imported ?? result.items ?? []).map((s) => ({ path: s.path, version: s.version ?? s.current_version ?? 1 }));
        if (created.length === 0) created = Object.keys(values).map((key) => ({ path: fullPath(opts.prefix, key), version: 1 }));
      } catch (err) {
        const conflicts = err?.problem?.conflicts;
        if (!opts.upsert || err?.status !== 409 || !Array.isArray(conflicts)) {
          if (err?.status === 409 && Array.isArray(conflicts))
            err.hint = "Nothing was imported. Add --upsert to write new versions of the existing paths (--dry-run shows the plan)";
          throw err;
        }
        // --upsert: the new paths all or nothing, then a new version of each existing one.
        const taken = new Set(conflicts);
        const fresh = Object.fromEntries(Object.entries(values).filter(([key]) => !taken.has(fullPath(opts.prefix, key))));
        if (Object.keys(fresh).length) {
          const result = await api().post("/api/v1/secrets/store/import", { ...body, values: fresh });
          created = (result.imported ?? result.items ?? []).map((s) => ({ path: s.path, version: s.version ?? 1 }));
        }
        for (const [key, entry] of Object.entries(values)) {
          const path = fullPath(opts.prefix, key);
          if (!taken.has(path)) continue;
          const written = await api()
            .put(`/api/v1/secrets/store/${encodePath(path)}`, typeof entry === "string" ? { value: entry } : entry)
            .catch((e) => {
              e.message = `${path}: ${e.message} (${created.length} created and ${updated.length} updated before it)`;
              throw e;
            });
          updated.push({ path, version: written.version ?? written.current_version });
        }
      }
      if (opts.json) return printJson({ created, updated, skipped });
      process.stdout.write(
        `Imported ${created.length + updated.length} secrets from ${source}${updated.length ? ` (${created.length} created, ${updated.length} new versions)` : ""}\n`,
      );
      const rows = [...created.map((s) => [s.path, s.version, "created"]), ...updated.map((s) => [s.path, s.version, "new version"])];
      if (rows.length <= 50) printTable(["path", "version", "change"], rows);
    });
  examples(imp, [
    "hush import .env --prefix app/prod",
    "hush import secrets.yaml --dry-run",
    "hush import .env --prefix app/prod --upsert",
    "cat .env | hush import - --prefix app/dev",
  ]);

  const exp = command(program, "export", "export secrets (metadata only unless --include-values)")
    .option("--prefix <prefix>", "only paths under this prefix")
    .option("--format <format>", "json, yaml or env", "json")
    .option("--include-values", "include the values (needs the secrets:export scope; audited per path)")
    .option("-o, --output <file>", "write to a file (created with mode 0600) instead of stdout")
    .option("--provider <name>", PROVIDER_HELP)
    .action(async (opts) => {
      opts.prefix ??= project().prefix;
      if (!["json", "yaml", "env"].includes(opts.format)) throw usageError(`--format ${opts.format} is not one of json, yaml, env`);
      if (opts.format === "env" && !opts.includeValues) throw usageError("--format env needs --include-values", "Without values, export as json or yaml");
      if (opts.includeValues && !opts.output && process.stdout.isTTY) {
        info("Warning: printing secret values to the terminal; they may stay in its scrollback. Use --output FILE.");
      }
      // Pages follow the Hush-Next-Cursor header; paths whose value could not be read are named in Hush-Export-Skipped.
      const values = {};
      const skipped = [];
      let cursor;
      if (selected(opts) !== "hush") Object.assign(values, await provider(selected(opts)).export({ prefix: opts.prefix, includeValues: opts.includeValues }));
      else
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
        chmodSync(opts.output, 0o600); // the mode option applies only to a new file
        info(`Wrote ${Object.keys(values).length} secrets to ${opts.output}`);
      } else process.stdout.write(text);
    });
  examples(exp, ["hush export --prefix app/ --format yaml", "hush export --prefix app/prod --include-values --format env -o prod.env"]);
}
