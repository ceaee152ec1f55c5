// `hush approval`: dual control from the terminal. Requests a guarded action made (rotate, delete,
// destroy, export, share on a guarded path), approving them, and the policies that guard paths.
import { api, command, examples } from "../lib/context.mjs";
import { confirm, eventTime, parseDuration, parseList, parsePositiveInt, printFields, printJson, printTable, shortTime } from "../lib/output.mjs";

const ACTIONS = ["rotate", "delete", "destroy", "export", "share"];
const base = "/api/v1/secrets/approvals";

function printRequest(r) {
  printFields([
    ["request", r.id],
    ["action", `${r.action} ${r.path}`],
    ["requester", r.requester],
    ["state", r.state],
    ["approvals", `${r.received} of ${r.required}${r.approvers?.length ? ` (${r.approvers.map((a) => a.subject).join(", ")})` : ""}`],
    ["created", eventTime(r.created_at)],
    ["expires", eventTime(r.expires_at)],
  ]);
}

export function register(program) {
  const approval = program.command("approval").alias("approvals").description("dual control: approval requests and the policies that guard paths");
  examples(approval, [
    "hush approval list",
    "hush approval approve apr_0123...",
    "hush approval policy create --paths 'prod/*' --actions rotate,delete --required 2 --approvers alice,bob",
  ]);

  const list = command(approval, "list", "open requests you made or may approve, newest first")
    .option("--limit <n>", "at most this many (default 50)")
    .action(async (opts) => {
      const result = await api().get(base, { query: { limit: opts.limit && parsePositiveInt(opts.limit, "--limit") } });
      if (opts.json) return printJson(result);
      printTable(
        ["request", "action", "path", "requester", "state", "approvals", "expires"],
        result.items.map((r) => [r.id, r.action, r.path, r.requester, r.state, `${r.received}/${r.required}`, shortTime(r.expires_at)]),
      );
    });
  examples(list, ["hush approval list", "hush approval list --limit 10 --json"]);

  const show = command(approval, "show <request>", "a request's state and who approved it (auth:admin)").action(async (id, opts) => {
    const r = await api().get(`${base}/${encodeURIComponent(id)}`);
    if (opts.json) return printJson(r);
    printRequest(r);
  });
  examples(show, ["hush approval show apr_0123456789abcdef01234567"]);

  const approve = command(approval, "approve <request>", "approve a request (never your own); the requester then runs the same command again")
    .option("-y, --yes", "do not ask")
    .action(async (id, opts) => {
      if (!(await confirm(`Approve ${id}?`, opts.yes))) return void process.stderr.write("Not approved.\n");
      const r = await api().post(`${base}/${encodeURIComponent(id)}/approve`, {});
      if (opts.json) return printJson(r);
      process.stdout.write(`Approved ${id}: ${r.action} ${r.path} is ${r.state}\n`);
    });
  examples(approve, ["hush approval approve apr_0123456789abcdef01234567 --yes"]);

  const deny = command(approval, "deny <request>", "deny a request (an approver, never the requester): it can no longer be approved; a retry opens a new one")
    .option("-y, --yes", "do not ask")
    .action(async (id, opts) => {
      if (!(await confirm(`Deny ${id}?`, opts.yes))) return void process.stderr.write("Not denied.\n");
      const r = await api().post(`${base}/${encodeURIComponent(id)}/deny`, {});
      if (opts.json) return printJson(r);
      process.stdout.write(`Denied ${id}: ${r.action} ${r.path} is ${r.state}\n`);
    });
  examples(deny, ["hush approval deny apr_0123456789abcdef01234567 --yes"]);

  const policy = approval.command("policy").alias("policies").description("which paths and actions need approval, from whom");
  examples(policy, ["hush approval policy list", "hush help approval policy create"]);

  const policyList = command(policy, "list", "list approval policies").action(async (opts) => {
    const result = await api().get(`${base}/policies`);
    if (opts.json) return printJson(result);
    printTable(
      ["id", "paths", "actions", "required", "approvers"],
      result.items.map((p) => [
        p.id,
        p.paths.join(","),
        p.actions.join(","),
        p.approvals_required,
        [...p.approvers.subjects, ...p.approvers.policies.map((n) => `policy:${n}`)].join(","),
      ]),
    );
  });
  examples(policyList, ["hush approval policy list --json"]);

  const policyCreate = command(policy, "create", "guard paths: these actions then need N approvals")
    .requiredOption("--paths <globs>", "comma-separated path globs, like prod/*")
    .requiredOption("--actions <list>", `comma-separated: ${ACTIONS.join(", ")}`)
    .requiredOption("--required <n>", "how many approvals (1-10)")
    .option("--approvers <subjects>", "comma-separated subjects who may approve")
    .option("--approver-policies <names>", "comma-separated access policies whose holders may approve")
    .option("--request-ttl <duration>", "how long a request waits for approvals (default 24h)")
    .action(async (opts) => {
      const body = {
        paths: parseList(opts.paths),
        actions: parseList(opts.actions),
        approvals_required: parsePositiveInt(opts.required, "--required"),
        approvers: { subjects: parseList(opts.approvers), policies: parseList(opts.approverPolicies) },
        ...(opts.requestTtl ? { request_ttl_seconds: parseDuration(opts.requestTtl, "--request-ttl") } : {}),
      };
      const p = await api().post(`${base}/policies`, body);
      if (opts.json) return printJson(p);
      process.stdout.write(`Created approval policy ${p.id}: ${p.actions.join(", ")} on ${p.paths.join(", ")} need ${p.approvals_required} approval(s)\n`);
    });
  examples(policyCreate, ["hush approval policy create --paths 'prod/*' --actions rotate,delete,destroy --required 2 --approvers alice,bob,carol"]);

  const policyDelete = command(policy, "delete <id>", "delete an approval policy")
    .option("-y, --yes", "do not ask")
    .action(async (id, opts) => {
      if (!(await confirm(`Delete approval policy ${id}?`, opts.yes))) return void process.stderr.write("Not deleted.\n");
      const result = await api().delete(`${base}/policies/${encodeURIComponent(id)}`);
      if (opts.json) return printJson(result);
      process.stdout.write(`Deleted approval policy ${id}\n`);
    });
  examples(policyDelete, ["hush approval policy delete apol_0123456789abcdef01234567 --yes"]);
}
