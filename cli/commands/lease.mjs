// `hush lease issue|get|list|renew|revoke`: dynamic credentials.
import { api, command, examples } from "../lib/context.mjs";
import { DEFAULT_TTL_CAP, issueLease, parseLeaseSpec, renewLease } from "../lib/leases.mjs";
import { info, parseDuration, printFields, printJson, printTable, shortTime } from "../lib/output.mjs";
import { leaseEnv } from "./run.mjs";

const base = "/api/v1/secrets/leases";
const one = (id) => `${base}/${encodeURIComponent(id)}`;

function printLease(lease) {
  printFields([
    ["lease", lease.lease_id ?? lease.id],
    ["provider", lease.provider && `${lease.provider}/${lease.role}`],
    ["state", lease.state],
    ["issued", shortTime(lease.issued_at ?? lease.created_at)],
    ["expires", shortTime(lease.expires_at)],
    ["renewable", lease.renewable],
  ]);
}

export function register(program) {
  const lease = program.command("lease").description("short-lived credentials from a provider");
  examples(lease, ["hush lease issue app-db/reader", "hush help lease issue"]);

  const issue = command(lease, "issue <provider/role>", "issue a credential (shown once)")
    .option("--ttl <duration>", `time to live, like 15m (default: the role's maximum, at most ${DEFAULT_TTL_CAP / 3600}h)`)
    .action(async (spec, opts) => {
      const body = parseLeaseSpec(spec);
      const { lease: result } = await issueLease(body.provider, body.role, opts.ttl && parseDuration(opts.ttl, "--ttl"));
      if (opts.json) return printJson(result);
      printLease({ ...body, ...result });
      const env = leaseEnv(result);
      delete env.HUSH_LEASE_ID;
      delete env.HUSH_LEASE_EXPIRES_AT;
      if (Object.keys(env).length > 1) delete env.HUSH_LEASE_CREDENTIAL;
      printFields(Object.entries(env).map(([k, v]) => [k.replace(/^HUSH_LEASE_/, "").toLowerCase(), v]));
      info("The credential is shown only this once.");
    });

  examples(issue, ["hush lease issue app-db/reader", "hush lease issue app-db/reader --ttl 15m --json"]);

  const get = command(lease, "get <id>", "show a lease (never its credential)").action(async (id, opts) => {
    const result = await api().get(one(id));
    if (opts.json) return printJson(result);
    printLease(result);
  });

  examples(get, ["hush lease get lea_0123"]);

  const list = command(lease, "list", "list leases")
    .option("--provider <name>", "only this provider")
    .option("--state <state>", "issued, revoking, revoked, expired or failed")
    .action(async (opts) => {
      const result = await api().get(base, { query: { provider: opts.provider, state: opts.state } });
      if (opts.json) return printJson(result);
      printTable(
        ["lease", "provider", "role", "state", "expires"],
        (result.items ?? []).map((l) => [l.lease_id ?? l.id, l.provider, l.role, l.state, shortTime(l.expires_at)]),
      );
    });

  const renew = command(lease, "renew <id>", "extend a lease")
    .option("--extend <duration>", `by this long (default: ${DEFAULT_TTL_CAP / 3600}h, or less if the role's maximum ends sooner)`)
    .action(async (id, opts) => {
      const { lease: result } = await renewLease(id, opts.extend && parseDuration(opts.extend, "--extend"));
      if (opts.json) return printJson(result);
      process.stdout.write(`Renewed ${id}: expires ${shortTime(result.expires_at)}\n`);
    });

  examples(list, ["hush lease list --provider app-db --state issued"]);

  const revoke = command(lease, "revoke <id>", "revoke a lease now").action(async (id, opts) => {
    const result = await api().post(`${one(id)}/revoke`, {});
    if (opts.json) return printJson(result);
    process.stdout.write(`Revoked ${id}${result.state ? ` (${result.state})` : ""}\n`);
  });
  examples(revoke, ["hush lease revoke lea_0123"]);
  examples(renew, ["hush lease renew lea_0123", "hush lease renew lea_0123 --extend 30m"]);
}
