// Administration that was curl-only: `hush policy`, `hush login-role`, `hush tenant` and
// `hush provider` (lease providers and their roles). Bodies that may hold secrets (a provider's
// connection URL, a role's JWKS) are read from a file or stdin, never from argv.
import { api, command, examples } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
import { confirm, eventTime, parseList, parsePositiveInt, printFields, printJson, printTable, readJsonInput, shortTime } from "../lib/output.mjs";

const CAPABILITIES = ["read", "write", "delete", "list", "share", "lease", "admin"];

/** `paths=app/*,ci/*;capabilities=read,list;effect=deny` as a policy rule. */
export function parseRule(text) {
  const rule = {};
  for (const part of String(text)
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf("=");
    const key = eq > 0 ? part.slice(0, eq).trim() : "";
    const value = part.slice(eq + 1);
    if (key === "paths") rule.paths = parseList(value);
    else if (key === "capabilities" || key === "caps") rule.capabilities = parseList(value);
    else if (key === "effect") rule.effect = value.trim();
    else
      throw usageError(`--rule: "${part}" is not paths=..., capabilities=... or effect=...`, "Write a rule like --rule 'paths=app/*;capabilities=read,list'");
  }
  if (!rule.paths?.length || !rule.capabilities?.length) {
    throw usageError(
      `--rule "${text}" needs paths= and capabilities=`,
      `Capabilities: ${CAPABILITIES.join(", ")}; like --rule 'paths=app/*;capabilities=read,list'`,
    );
  }
  return rule;
}

const collect = (value, previous = []) => [...previous, value];

export function register(program) {
  // ---- access policies ----
  const policy = program.command("policy").alias("policies").description("access policies: named rules of paths and capabilities (auth:admin)");
  examples(policy, ["hush policy list", "hush policy put app-reader --rule 'paths=app/*;capabilities=read,list'", "hush help policy put"]);

  const policyList = command(policy, "list", "list the tenant's access policies").action(async (opts) => {
    const result = await api().get("/api/v1/auth/policies");
    if (opts.json) return printJson(result);
    printTable(
      ["name", "rules", "description", "updated"],
      result.items.map((p) => [
        p.name,
        p.rules.map((r) => `${r.effect === "deny" ? "deny " : ""}${r.capabilities.join(",")} on ${r.paths.join(",")}`).join("; "),
        p.description,
        shortTime(p.updated_at),
      ]),
    );
  });
  examples(policyList, ["hush policy list", "hush policy list --json"]);

  const policyGet = command(policy, "get <name>", "show one policy").action(async (name, opts) => {
    const p = await api().get(`/api/v1/auth/policies/${encodeURIComponent(name)}`);
    if (opts.json) return printJson(p);
    printFields([
      ["name", p.name],
      ["description", p.description],
      ["updated", `${eventTime(p.updated_at)} by ${p.updated_by}`],
    ]);
    printTable(
      ["effect", "capabilities", "paths"],
      p.rules.map((r) => [r.effect, r.capabilities.join(","), r.paths.join(",")]),
    );
  });
  examples(policyGet, ["hush policy get app-reader"]);

  const policyPut = command(policy, "put <name>", "create or replace a policy (tokens and roles naming it change at once)")
    .option("--rule <rule>", "a rule: paths=GLOB,...;capabilities=CAP,...[;effect=deny] (repeat for more)", collect)
    .option("--description <text>", "what the policy is for")
    .option("--file <file>", "the policy as JSON ({description, rules: [{paths, capabilities, effect}]}); - for stdin")
    .action(async (name, opts) => {
      if (Boolean(opts.rule) === Boolean(opts.file))
        throw usageError("Give the rules with --rule (one or more) or --file, not both", "See `hush help policy put`");
      const body = opts.file ? await readJsonInput(opts.file) : { rules: opts.rule.map(parseRule) };
      if (opts.description !== undefined) body.description = opts.description;
      const p = await api().put(`/api/v1/auth/policies/${encodeURIComponent(name)}`, body);
      if (opts.json) return printJson(p);
      process.stdout.write(`Stored policy ${p.name} (${p.rules.length} rule${p.rules.length === 1 ? "" : "s"})\n`);
    });
  examples(policyPut, [
    "hush policy put app-reader --rule 'paths=app/*;capabilities=read,list' --description 'read app secrets'",
    "hush policy put no-prod --rule 'paths=prod/*;capabilities=read,write,delete;effect=deny'",
    "hush policy put ci --file ci-policy.json",
  ]);

  const policyDelete = command(policy, "delete <name>", "delete a policy; tokens and roles naming it lose its grants at once")
    .option("-y, --yes", "do not ask")
    .action(async (name, opts) => {
      if (!(await confirm(`Delete policy ${name}?`, opts.yes))) return void process.stderr.write("Not deleted.\n");
      const result = await api().delete(`/api/v1/auth/policies/${encodeURIComponent(name)}`);
      if (opts.json) return printJson(result);
      process.stdout.write(`Deleted policy ${name}\n`);
    });
  examples(policyDelete, ["hush policy delete app-reader --yes"]);

  // ---- login roles (JWT/OIDC login) ----
  const role = program.command("login-role").alias("login-roles").description("login roles: which JWTs `hush login --role` exchanges for a token (auth:admin)");
  examples(role, ["hush login-role list", "hush login-role create --file ci-role.json", "hush help login-role create"]);

  const roleList = command(role, "list", "list login roles").action(async (opts) => {
    const result = await api().get("/api/v1/auth/roles");
    if (opts.json) return printJson(result);
    printTable(
      ["name", "issuer", "audience", "policies", "ttl", "max ttl"],
      result.items.map((r) => [r.name, r.issuer, r.audience.join(","), r.policies.join(","), `${r.token_ttl_seconds}s`, `${r.max_ttl}s`]),
    );
  });
  examples(roleList, ["hush login-role list --json"]);

  const roleGet = command(role, "get <name>", "show one login role").action(async (name, opts) => {
    const r = await api().get(`/api/v1/auth/roles/${encodeURIComponent(name)}`);
    if (opts.json) return printJson(r);
    printFields([
      ["name", r.name],
      ["issuer", r.issuer],
      ["audience", r.audience],
      ["keys", r.jwks_url ?? `${r.jwks?.keys?.length ?? 0} inline key(s)`],
      ["bound claims", Object.entries(r.bound_claims).map(([k, v]) => `${k}=${[].concat(v).join("|")}`)],
      ["token subject", r.token_subject ?? `jwt:${r.name}:<sub>`],
      ["policies", r.policies],
      ["ttl", `${r.token_ttl_seconds}s (max ${r.max_ttl}s)`],
    ]);
  });
  examples(roleGet, ["hush login-role get ci"]);

  const roleCreate = command(role, "create", "create or replace a login role from JSON (a file or stdin)")
    .option("--file <file>", "the role as JSON: {name, issuer, audience, jwks_url | jwks, bound_claims, policies, token_ttl_seconds}; - for stdin", "-")
    .action(async (opts) => {
      const r = await api().post("/api/v1/auth/roles", await readJsonInput(opts.file));
      if (opts.json) return printJson(r);
      process.stdout.write(`Stored login role ${r.name} (issuer ${r.issuer}; policies ${r.policies.join(", ")})\n`);
    });
  examples(roleCreate, [
    "hush login-role create --file ci-role.json",
    `echo '{"name":"ci","issuer":"https://token.actions.githubusercontent.com","audience":"hush","jwks_url":"https://token.actions.githubusercontent.com/.well-known/jwks","bound_claims":{"repository":"acme/app"},"policies":["ci"]}' | hush login-role create`,
  ]);

  const roleDelete = command(role, "delete <name>", "delete a login role (tokens it issued keep working until they expire)")
    .option("-y, --yes", "do not ask")
    .action(async (name, opts) => {
      if (!(await confirm(`Delete login role ${name}?`, opts.yes))) return void process.stderr.write("Not deleted.\n");
      const result = await api().delete(`/api/v1/auth/roles/${encodeURIComponent(name)}`);
      if (opts.json) return printJson(result);
      process.stdout.write(`Deleted login role ${name}\n`);
    });
  examples(roleDelete, ["hush login-role delete ci --yes"]);

  // ---- tenants ----
  const tenant = program.command("tenant").alias("tenants").description("tenants (root token only)");
  examples(tenant, ["hush tenant list", "hush tenant create acme --name 'Acme Corp'", "hush tenant update acme --audit-chains 4"]);

  const tenantList = command(tenant, "list", "list tenants").action(async (opts) => {
    const result = await api().get("/api/v1/tenants");
    if (opts.json) return printJson(result);
    printTable(
      ["id", "name", "created", "database", "audit chains"],
      result.items.map((t) => [t.id, t.name, shortTime(t.created_at), String(t.database), String(t.audit_chains)]),
    );
  });
  examples(tenantList, ["hush tenant list --json"]);

  const tenantCreate = command(tenant, "create <id>", "create a tenant; then `hush token create` with the root token and --tenant")
    .option("--name <name>", "a display name")
    .action(async (id, opts) => {
      const t = await api().post("/api/v1/tenants", { id, ...(opts.name ? { name: opts.name } : {}) });
      if (opts.json) return printJson(t);
      process.stdout.write(`Created tenant ${t.id} (${t.name})\n`);
    });
  examples(tenantCreate, ["hush tenant create acme", "hush tenant create acme --name 'Acme Corp' --json"]);

  const tenantUpdate = command(tenant, "update <id>", "change a tenant's settings: how many audit chains its events spread over (only grows)")
    .requiredOption("--audit-chains <n>", "audit chains, 1..64 (about 1,000 events/s each; docs/scale.md)")
    .action(async (id, opts) => {
      const t = await api().patch(`/api/v1/tenants/${encodeURIComponent(id)}`, { audit_chains: parsePositiveInt(opts.auditChains, "--audit-chains") });
      if (opts.json) return printJson(t);
      process.stdout.write(`Tenant ${t.id}: ${t.audit_chains} audit chain${t.audit_chains === 1 ? "" : "s"}\n`);
    });
  examples(tenantUpdate, ["hush tenant update acme --audit-chains 4"]);

  // ---- lease providers ----
  const provider = program.command("provider").alias("providers").description("lease providers and their roles (`hush lease issue provider/role`)");
  examples(provider, ["hush provider list", "hush provider put --file app-db.json", "hush provider health"]);

  const providerList = command(provider, "list", "list providers and their roles (never their config)").action(async (opts) => {
    const result = await api().get("/api/v1/secrets/providers");
    if (opts.json) return printJson(result);
    printTable(
      ["name", "kind", "roles", "updated"],
      result.items.map((p) => [
        p.name,
        p.kind,
        Object.entries(p.roles ?? {})
          .map(([name, r]) => (r.max_ttl_seconds ? `${name} (max ${r.max_ttl_seconds}s)` : name))
          .join(", "),
        shortTime(p.updated_at),
      ]),
    );
  });
  examples(providerList, ["hush provider list --json"]);

  const providerPut = command(provider, "put", "create or replace a provider from JSON; its config (passwords, keys) is sealed and never shown again")
    .option("--file <file>", "the provider as JSON: {name, kind, config, roles}; - for stdin", "-")
    .action(async (opts) => {
      const p = await api().post("/api/v1/secrets/providers", await readJsonInput(opts.file));
      if (opts.json) return printJson(p);
      process.stdout.write(`Stored provider ${p.name} (${p.kind}; roles ${Object.keys(p.roles ?? {}).join(", ")})\n`);
    });
  examples(providerPut, [
    "hush provider put --file app-db.json",
    `echo '{"name":"ci-keys","kind":"hush-api-key","roles":{"reader":{"max_ttl_seconds":3600,"scopes":["secrets:read"],"paths":["app/*"]}}}' | hush provider put`,
  ]);

  const providerHealth = command(provider, "health", "check every provider now").action(async (opts) => {
    const result = await api().get("/api/v1/secrets/providers/health");
    if (opts.json) return printJson(result);
    printTable(
      ["name", "kind", "status", "checked", "error"],
      result.items.map((p) => [p.name, p.kind, p.status, eventTime(p.checked_at), p.error]),
    );
  });
  examples(providerHealth, ["hush provider health --json"]);

  const providerRevoke = command(provider, "revoke-leases <name>", "revoke every live lease of a provider (or of one role)")
    .option("--role <role>", "only this role's leases")
    .option("-y, --yes", "do not ask")
    .action(async (name, opts) => {
      if (!(await confirm(`Revoke every lease of ${name}${opts.role ? `/${opts.role}` : ""}?`, opts.yes)))
        return void process.stderr.write("Nothing revoked.\n");
      const result = await api().post("/api/v1/secrets/leases/revoke-prefix", { provider: name, ...(opts.role ? { role: opts.role } : {}) });
      if (opts.json) return printJson(result);
      process.stdout.write(`Revoking ${result.count} lease(s) of ${name}${opts.role ? `/${opts.role}` : ""}\n`);
    });
  examples(providerRevoke, ["hush provider revoke-leases app-db --yes", "hush provider revoke-leases app-db --role reader --yes"]);
}
