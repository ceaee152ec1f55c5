// `hush token create|list|revoke`.
import { api, command } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
import { info, parseDuration, parseList, printJson, printTable, shortTime } from "../lib/output.mjs";

export function register(program) {
  const token = program.command("token").description("API tokens");

  command(token, "create", "create a token (printed once)")
    .requiredOption("--subject <name>", "who or what uses it, like ci-deploy")
    .requiredOption("--scopes <a,b>", "comma-separated scopes, like secrets:read,audit:read")
    .option("--paths <globs>", "limit it to these path globs, like app/*")
    .option("--ttl <duration>", "time to live (default 30d)")
    .action(async (opts) => {
      const scopes = parseList(opts.scopes);
      if (scopes.length === 0) throw usageError("--scopes needs at least one scope");
      const body = {
        subject: opts.subject,
        scopes,
        ...(opts.paths ? { paths: parseList(opts.paths) } : {}),
        ...(opts.ttl ? { ttl_seconds: parseDuration(opts.ttl, "--ttl") } : {}),
      };
      const result = await api().post("/api/v1/tokens", body);
      if (opts.json) return printJson(result);
      process.stdout.write(`${result.token}\n`);
      info(`Token ${result.id} for ${result.subject} (${result.scopes.join(", ")}), expires ${shortTime(result.expires_at)}. It is shown only this once.`);
    });

  command(token, "list", "list tokens (never the tokens themselves)")
    .option("--subject <name>", "only this subject")
    .option("--include-revoked", "include revoked tokens")
    .action(async (opts) => {
      const result = await api().get("/api/v1/tokens", { query: { subject: opts.subject, include_revoked: opts.includeRevoked && "true" } });
      if (opts.json) return printJson(result);
      printTable(
        ["id", "subject", "scopes", "paths", "expires", "revoked"],
        result.items.map((t) => [t.id, t.subject, t.scopes.join(","), t.paths?.join(","), shortTime(t.expires_at), shortTime(t.revoked_at)]),
      );
    });

  command(token, "revoke <id>", "revoke a token; it stops working at once").action(async (id, opts) => {
    const result = await api().delete(`/api/v1/tokens/${encodeURIComponent(id)}`);
    if (opts.json) return printJson(result);
    process.stdout.write(`Revoked ${id} (${result.subject})\n`);
  });
}
