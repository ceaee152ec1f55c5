// `hush login`, `hush logout`, `hush status` and `hush health`.
import { readFileSync } from "node:fs";
import { ApiClient } from "../lib/api.mjs";
import {
  configPath,
  DEFAULT_ADDR,
  forgetToken,
  normalizeAddr,
  readConfigFile,
  removeConfigFile,
  resolveSettings,
  saveLogin,
  writeConfigFile,
} from "../lib/config.mjs";
import { api, command } from "../lib/context.mjs";
import { CliError, EXIT, usageError } from "../lib/errors.mjs";
import { eventTime, info, printFields, printJson, printTable, prompt, readStdin, shortTime } from "../lib/output.mjs";
import { project, PROVIDERS } from "../lib/project.mjs";
import { provider } from "../lib/providers/index.mjs";

async function tokenFromJwt(client, role, jwtFile, tenant) {
  let jwt;
  try {
    jwt = readFileSync(jwtFile, "utf8").trim();
  } catch (err) {
    throw usageError(`Cannot read ${jwtFile}: ${err.code ?? err.message}`);
  }
  const result = await client.post("/api/v1/auth/login", { role, jwt, ...(tenant ? { tenant } : {}) }, { auth: false }).catch((err) => {
    if (err.status === 401) {
      throw new CliError(`The server did not accept the JWT for role ${role}`, {
        hint: "Check the role name and that the JWT is current and meant for this server (its issuer, audience and claims must match the role)",
        exitCode: EXIT.denied,
      });
    }
    throw err;
  });
  return result.token;
}

export function register(program) {
  command(program, "login", "save the server address and a token: the token in the OS keychain when there is one, else in the config file (mode 0600)")
    .option("--addr <url>", "the server's address")
    .option("--token-stdin", "read the token from stdin")
    .option("--role <role>", "exchange a JWT for a token with this auth role")
    .option("--jwt-file <file>", "the JWT to exchange (with --role)")
    .option("--tenant <tenant>", "the tenant of the role (with --role; default: default)")
    .action(async (opts) => {
      if (Boolean(opts.role) !== Boolean(opts.jwtFile)) throw usageError("--role and --jwt-file go together");
      const file = configPath();
      const saved = readConfigFile(file);
      let addr = opts.addr ?? process.env.HUSH_ADDR;
      if (!addr) {
        const fallback = saved.addr ?? DEFAULT_ADDR;
        addr = (await prompt(`Hush address [${fallback}]: `))?.trim() || fallback;
      }
      addr = normalizeAddr(addr);
      const settings = { addr, tokenSource: "the token you gave" };
      let token;
      if (opts.role) token = await tokenFromJwt(new ApiClient(settings), opts.role, opts.jwtFile, opts.tenant);
      else if (opts.tokenStdin) token = (await readStdin()).trim();
      else {
        token = (await prompt("Token (not shown): ", { hidden: true }))?.trim();
        if (token === undefined) throw usageError("No terminal to ask for the token on", "Use --token-stdin, or --role R --jwt-file F");
      }
      if (!token) throw usageError("The token is empty");
      const self = await new ApiClient({ ...settings, token }).get("/api/v1/tokens/self");
      const kept = saveLogin(addr, token, { subject: self.subject, tenant: self.tenant, expires_at: self.expires_at ?? null }, file);
      if (opts.json)
        return printJson({
          addr,
          subject: self.subject,
          tenant: self.tenant,
          expires_at: self.expires_at ?? null,
          config: file,
          token_store: kept.where,
          token_kept_in: kept.label,
        });
      process.stdout.write(
        `Logged in to ${addr} as ${self.subject} (tenant ${self.tenant}); token saved in ${kept.label}${kept.where === "keychain" ? `, address in ${file}` : ""}\n`,
      );
      if (process.env.HUSH_TOKEN) info("Note: HUSH_TOKEN is set and takes precedence over the saved token.");
    });

  command(program, "logout", "forget the saved token (the address is kept for the next `hush login`)")
    .option("--forget-address", "also forget the server address (removes the config file)")
    .action(async (opts) => {
      const file = configPath();
      const saved = readConfigFile(file);
      const keychain = forgetToken(saved);
      const from = keychain ?? file;
      if (opts.forgetAddress || !saved.addr) {
        removeConfigFile(file);
        if (opts.json) return printJson({ config: file, removed: true, addr: null, token_deleted_from: from });
        process.stdout.write(`Logged out; ${keychain ? `the token is deleted from ${keychain} and ` : ""}removed ${file}\n`);
        return;
      }
      writeConfigFile({ addr: saved.addr }, file);
      if (opts.json) return printJson({ config: file, removed: false, addr: saved.addr, token_deleted_from: from });
      process.stdout.write(`Logged out of ${saved.addr}; the token is deleted from ${from} and the address kept for \`hush login\`\n`);
      if (process.env.HUSH_TOKEN) info("Note: HUSH_TOKEN is still set in this shell: unset HUSH_TOKEN");
    });

  command(program, "status", "show the address, tenant, token subject, scopes and expiry in use").action(async (opts) => {
    const settings = resolveSettings();
    const self = await api().get("/api/v1/tokens/self");
    const status = {
      addr: settings.addr,
      addr_source: settings.addrSource,
      token_source: settings.tokenSource,
      tenant: self.tenant,
      subject: self.subject,
      token_id: self.id,
      scopes: self.scopes,
      paths: self.paths ?? null,
      expires_at: self.expires_at ?? null,
    };
    if (opts.json) return printJson(status);
    printFields([
      ["address", `${status.addr} (from ${status.addr_source})`],
      ["token", `${self.prefix ? `${self.prefix}... ` : ""}(from ${status.token_source})`],
      ["tenant", status.tenant],
      ["subject", status.subject],
      ["scopes", status.scopes],
      ["paths", status.paths ?? "all"],
      ["expires", shortTime(status.expires_at) ?? "never"],
    ]);
  });

  command(program, "health", "check every provider (status, priority, last check) and show the fallback chain").action(async (opts) => {
    const { chain, defaultProvider } = project();
    const rows = [];
    let server;
    for (const name of PROVIDERS) {
      const started = Date.now();
      const row = {
        provider: name,
        status: "healthy",
        priority: chain.includes(name) ? chain.indexOf(name) + 1 : null,
        default: name === defaultProvider,
        last_check: null,
        latency_ms: null,
        detail: "",
      };
      try {
        const result = await provider(name).health();
        if (result.healthy === false) row.status = "degraded";
        row.detail = result.detail;
        if (name === "hush") server = result.server;
      } catch (err) {
        const unconfigured = name === "azure-keyvault" && !project().azure.vaultUrl;
        row.status = unconfigured ? "not configured" : "unhealthy";
        row.detail = String(err.message).replace(/^[a-z-]+: /, "");
        if (!unconfigured) row.fix = err.hint ?? null;
      }
      row.last_check = new Date().toISOString();
      row.latency_ms = Date.now() - started;
      rows.push(row);
    }
    rows.sort((a, b) => (a.priority ?? 99) - (b.priority ?? 99));
    const chainLine = `Fallback chain: ${chain.join(" → ")}`;
    const failing = rows.filter((r) => r.priority !== null && r.status !== "healthy");
    if (opts.json) printJson({ ...(server ?? {}), providers: rows, chain, default_provider: defaultProvider });
    else {
      printTable(
        ["provider", "status", "priority", "last check", "detail"],
        rows.map((r) => [`${r.provider}${r.default ? " (default)" : ""}`, r.status, r.priority, `${eventTime(r.last_check)} (${r.latency_ms} ms)`, r.detail]),
      );
      process.stdout.write(`\n${chainLine}\n`);
    }
    if (failing.length) {
      throw new CliError(`${failing.map((r) => r.provider).join(", ")} in the chain ${failing.length === 1 ? "is" : "are"} not healthy`, {
        hint: failing
          .map(
            (r) =>
              `${r.provider}: ${r.fix ?? (r.provider === "hush" && server ? (server.master_key !== "configured" ? "set the MASTER_KEYS secret on the Worker" : "the store (D1) is not answering: check the Worker's D1 binding") : "see its detail above")}`,
          )
          .join("; "),
      });
    }
  });
}
