// `hush init`: writes a .hush.yaml in the working directory.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { command, examples } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
import { info, parseList, printJson } from "../lib/output.mjs";
import { PROJECT_FILE, projectTemplate, PROVIDERS } from "../lib/project.mjs";
import { normalizeAddr } from "../lib/config.mjs";

export function register(program) {
  const init = command(program, "init", `write a ${PROJECT_FILE} project file here (address, default provider, chain, prefix, environment, run mappings)`)
    .option("--addr <url>", "the Hush server's address")
    .option("--provider <name>", `the default provider: ${PROVIDERS.join(", ")}`, "hush")
    .option("--chain <a,b,c>", "the read fallback chain in priority order, like hush,local,env (default: the provider alone)")
    .option("--prefix <prefix>", "the project's path prefix (run mappings are under it; the default --prefix of list and export)")
    .option("--env <environment>", "the project's environment (the default --env of set)")
    .option("--force", `overwrite an existing ${PROJECT_FILE}`)
    .action(async (opts) => {
      const file = join(process.cwd(), PROJECT_FILE);
      if (existsSync(file) && !opts.force) throw usageError(`${file} already exists`, "Edit it, or add --force to overwrite it");
      if (!PROVIDERS.includes(opts.provider)) throw usageError(`--provider ${opts.provider} is not one of ${PROVIDERS.join(", ")}`);
      const chain = opts.chain ? parseList(opts.chain) : undefined;
      for (const name of chain ?? []) if (!PROVIDERS.includes(name)) throw usageError(`--chain: "${name}" is not a provider`, `Use ${PROVIDERS.join(", ")}`);
      const address = opts.addr ? normalizeAddr(opts.addr) : undefined;
      writeFileSync(file, projectTemplate({ address, defaultProvider: opts.provider, chain, prefix: opts.prefix, environment: opts.env }));
      if (opts.json) return printJson({ file });
      process.stdout.write(`Wrote ${file}\n`);
      info("It holds no token and no values: commit it. Environment variables (HUSH_ADDR, HUSH_PROVIDER, HUSH_CHAIN, ...) override it.");
    });
  examples(init, ["hush init --addr https://hush.example.com --prefix app/ --env production", "hush init --provider local --chain hush,local,env"]);
}
