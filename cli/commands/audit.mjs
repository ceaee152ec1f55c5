// `hush audit [path]` with a summary, and `hush audit verify`.
import { api, command } from "../lib/context.mjs";
import { CliError } from "../lib/errors.mjs";
import { eventTime, parsePositiveInt, printFields, printJson, printTable } from "../lib/output.mjs";

const ROTATIONS = new Set(["secret.write", "secret.rotate", "rotate", "secret.recover"]);

/** Failed attempts, the most frequent accessor and the last rotation among the events. */
export function summarize(events) {
  const counts = new Map();
  for (const e of events) counts.set(e.actor, (counts.get(e.actor) ?? 0) + 1);
  const [actor, count] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [null, 0];
  const rotation = events.find((e) => ROTATIONS.has(e.action) && e.outcome === "success");
  return {
    events: events.length,
    failed: events.filter((e) => e.outcome !== "success").length,
    most_frequent_actor: actor,
    most_frequent_actor_events: count,
    last_rotation: rotation ? { at: rotation.at, actor: rotation.actor, resource: rotation.resource } : null,
  };
}

export function register(program) {
  const audit = command(program, "audit [path]", "show audit events (newest first) with a summary")
    .option("--limit <n>", "at most this many events", "50")
    .option("--failed-only", "only denied and failed attempts")
    .option("--action <action>", "only this action, like secret.read")
    .option("--actor <subject>", "only this actor")
    .action(async (path, opts) => {
      const result = await api().get("/api/v1/audit", {
        query: { path, limit: parsePositiveInt(opts.limit, "--limit"), failed_only: opts.failedOnly && "true", action: opts.action, actor: opts.actor },
      });
      const summary = summarize(result.items);
      if (opts.json) return printJson({ items: result.items, summary });
      printTable(
        ["time", "actor", "action", "resource", "outcome", "status"],
        result.items.map((e) => [eventTime(e.at), e.actor, e.action, e.resource, e.outcome, e.status]),
      );
      process.stdout.write("\n");
      printFields([
        ["events", summary.events],
        ["failed attempts", summary.failed],
        ["most frequent", summary.most_frequent_actor && `${summary.most_frequent_actor} (${summary.most_frequent_actor_events})`],
        [
          "last rotation",
          summary.last_rotation && `${eventTime(summary.last_rotation.at)} by ${summary.last_rotation.actor} (${summary.last_rotation.resource})`,
        ],
      ]);
    });

  command(audit, "verify", "recompute the audit hash chain and name the first bad event").action(async (opts) => {
    const result = await api().get("/api/v1/audit/verify");
    if (opts.json) printJson(result);
    else if (result.ok) {
      const chains = result.chains?.length ?? 1;
      process.stdout.write(
        chains > 1 ? `Audit chains intact: ${result.checked} events checked in ${chains} chains\n` : `Audit chain intact: ${result.checked} events checked\n`,
      );
    }
    if (!result.ok) {
      // A tenant with several chains (docs/decisions.md): seqs are per chain, so the chain is named too.
      const where = result.chains?.length > 1 ? ` of chain ${result.chain}` : "";
      throw new CliError(`Audit chain broken at event ${result.first_bad_seq}${where} (${result.reason}); ${result.checked} events checked`, {
        hint: "Events were altered or removed in the store: treat it as an incident and compare with your backups",
      });
    }
  });
}
