// `hush lease issue|get|list|renew|revoke`: dynamic credentials.
import { api, command } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
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

  command(lease, "issue <provider/role>", "issue a credential (shown once)")
    .option("--ttl <duration>", "time to live, like 1h")
    .action(async (spec, opts) => {
      const slash = spec.indexOf("/");
      if (slash < 1 || slash === spec.length - 1) throw usageError(`${spec} is not provider/role`, "Write hush lease issue postgresql/readonly");
      const body = { provider: spec.slice(0, slash), role: spec.slice(slash + 1), ...(opts.ttl ? { ttl_seconds: parseDuration(opts.ttl, "--ttl") } : {}) };
      const result = await api().post(base, body);
      if (opts.json) return printJson(result);
      printLease({ ...body, ...result });
      const env = leaseEnv(result);
      delete env.HUSH_LEASE_ID;
      delete env.HUSH_LEASE_EXPIRES_AT;
      if (Object.keys(env).length > 1) delete env.HUSH_LEASE_CREDENTIAL;
      printFields(Object.entries(env).map(([k, v]) => [k.replace(/^HUSH_LEASE_/, "").toLowerCase(), v]));
      info("The credential is shown only this once.");
    });

  command(lease, "get <id>", "show a lease (never its credential)").action(async (id, opts) => {
    const result = await api().get(one(id));
    if (opts.json) return printJson(result);
    printLease(result);
  });

  command(lease, "list", "list leases")
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

  command(lease, "renew <id>", "extend a lease")
    .option("--extend <duration>", "by this long", "1h")
    .action(async (id, opts) => {
      const result = await api().post(`${one(id)}/renew`, { extend_seconds: parseDuration(opts.extend, "--extend") });
      if (opts.json) return printJson(result);
      process.stdout.write(`Renewed ${id}: expires ${shortTime(result.expires_at)}\n`);
    });

  command(lease, "revoke <id>", "revoke a lease now").action(async (id, opts) => {
    const result = await api().post(`${one(id)}/revoke`, {});
    if (opts.json) return printJson(result);
    process.stdout.write(`Revoked ${id}${result.state ? ` (${result.state})` : ""}\n`);
  });
}
