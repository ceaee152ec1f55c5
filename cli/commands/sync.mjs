// `hush sync create|list|run|status|delete`: push stored secrets to the platforms that need a copy (docs/sync.md).
// Every answer is metadata and delivery state; the API never returns a value here.
import { api, command, examples } from "../lib/context.mjs";
import { info, printFields, printJson, printTable, shortTime } from "../lib/output.mjs";
import { usageError } from "../lib/errors.mjs";

const base = "/api/v1/secrets/syncs";
const one = (id) => `${base}/${encodeURIComponent(id)}`;

function printRun(result) {
  printFields([
    ["sync", result.id],
    ["target", result.target],
    ["source", result.path ?? `${result.prefix}*`],
    ["remote key", result.remote_key ?? (result.remote_prefix !== null ? `${result.remote_prefix}<rest of path>` : undefined)],
    ["queued", result.queued],
    ...(result.continued ? [["continues", "the rest of the prefix is queued in pages by the server"]] : []),
  ]);
  for (const s of result.skipped ?? []) info(`skipped ${s.path}: ${s.reason}`);
}

export function register(program) {
  const sync = program.command("sync").description("push secrets to GitHub Actions, AWS Secrets Manager, Kubernetes, Cloudflare or a webhook");
  examples(sync, ["hush sync create --target gh-prod app/db/password --remote-key DB_PASSWORD", "hush sync status sync_0123"]);

  const create = command(sync, "create <source>", "bind a path (or a prefix ending in /) to a target; its new versions follow")
    .requiredOption("--target <name>", "a sync target configured by an administrator")
    .option("--remote-key <name>", "the remote name of a path source")
    .option("--remote-prefix <text>", "prefix sources: prepended to the rest of each path", "")
    .option("--propagate-deletes", "delete the remote copy when the secret is deleted")
    .option("--no-run", "do not push the current values now")
    .action(async (source, opts) => {
      const isPrefix = source.endsWith("/");
      if (!isPrefix && !opts.remoteKey) throw usageError("a path source needs --remote-key (or give a prefix ending in /)");
      const body = {
        target: opts.target,
        ...(isPrefix ? { prefix: source, remote_prefix: opts.remotePrefix } : { path: source, remote_key: opts.remoteKey }),
        propagate_deletes: Boolean(opts.propagateDeletes),
        run: opts.run,
      };
      const result = await api().post(base, body);
      if (opts.json) return printJson(result);
      printRun(result);
    });
  examples(create, [
    "hush sync create app/db/password --target gh-prod --remote-key DB_PASSWORD",
    "hush sync create app/prod/ --target k8s-prod --propagate-deletes",
  ]);

  command(sync, "list", "list syncs").action(async (opts) => {
    const result = await api().get(base);
    if (opts.json) return printJson(result);
    printTable(
      ["sync", "target", "source", "remote", "created"],
      (result.items ?? []).map((s) => [s.id, s.target, s.path ?? `${s.prefix}*`, s.remote_key ?? `${s.remote_prefix ?? ""}…`, shortTime(s.created_at)]),
    );
  });

  command(sync, "run <id>", "push the current values now").action(async (id, opts) => {
    const result = await api().post(`${one(id)}/run`, {});
    if (opts.json) return printJson(result);
    printRun(result);
  });

  command(sync, "status <id>", "last synced version, time and error per path").action(async (id, opts) => {
    const result = await api().get(one(id));
    if (opts.json) return printJson(result);
    printFields([
      ["sync", result.id],
      ["target", result.target],
      ["source", result.path ?? `${result.prefix}*`],
      ["pending", result.pending],
      ["dead", result.dead],
    ]);
    printTable(
      ["path", "remote", "version", "synced", "error"],
      (result.bindings ?? []).map((b) => [
        b.path,
        b.remote_key,
        b.deleted ? "deleted" : (b.last_synced_version ?? "-"),
        shortTime(b.last_synced_at),
        b.last_error ?? "",
      ]),
    );
  });

  command(sync, "delete <id>", "stop a sync (remote copies stay)").action(async (id, opts) => {
    await api().delete(one(id));
    if (opts.json) return printJson({ id, deleted: true });
    info(`Sync ${id} deleted; remote copies were left in place.`);
  });
}
