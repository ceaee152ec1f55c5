// `hush version`: the CLI's version and, when one answers, the server's.
import { api, command, examples } from "../lib/context.mjs";
import { printFields, printJson } from "../lib/output.mjs";
import { VERSION } from "../lib/version.mjs";

export function register(program) {
  const version = command(program, "version", "print the CLI's version and the server's (when it answers)").action(async (opts) => {
    const server = { addr: null, version: null, error: null };
    try {
      const client = api();
      server.addr = client.settings.addr;
      const { body } = await client.request("GET", "/healthz", { auth: false, allow: [503], retries: 0, timeoutMs: 5_000 });
      server.version = body.version ?? null;
    } catch (err) {
      server.error = err.message;
    }
    if (opts.json) return printJson({ cli: VERSION, server });
    printFields([
      ["cli", VERSION],
      ["server", server.version ? `${server.version} at ${server.addr}` : `unknown (${server.error ?? "no version reported"})`],
    ]);
  });
  examples(version, ["hush version", "hush --version", "hush version --json"]);
}
