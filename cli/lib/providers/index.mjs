// The provider chain: which provider a command uses (--provider, else defaultProvider), and reads
// that fall back along the chain in priority order, saying on stderr who answered.
import { guarded } from "../access-control.mjs";
import { audit } from "../audit-log.mjs";
import { CliError, EXIT, usageError } from "../errors.mjs";
import { info } from "../output.mjs";
import { project, PROVIDERS } from "../project.mjs";
import { AzureKeyVaultProvider } from "./azure.mjs";
import { EnvProvider } from "./env.mjs";
import { HushProvider } from "./hush.mjs";
import { LocalProvider } from "./local.mjs";

export { PROVIDERS };

/** Providers with no server of their own to audit them: their operations go to the local audit log. */
const AUDITED = new Set(["local", "env"]);
const METHODS = ["get", "set", "rotate", "delete", "list", "history", "import", "export"];

const outcomeOf = (err) => (err.exitCode === EXIT.notFound ? "not_found" : err.exitCode === EXIT.denied || /read-only/.test(err.message) ? "denied" : "error");

/** Wraps a provider so each operation writes one audit line (path and outcome; never the value). */
function audited(provider) {
  const wrapped = Object.create(provider);
  for (const method of METHODS) {
    if (typeof provider[method] !== "function") continue;
    wrapped[method] = async (...args) => {
      const path = typeof args[0] === "string" ? args[0] : undefined;
      try {
        const result = await provider[method](...args);
        const count = Array.isArray(result)
          ? result.length
          : method === "import"
            ? Object.keys(args[0] ?? {}).length
            : method === "export"
              ? Object.keys(result ?? {}).length
              : undefined;
        audit({ provider: provider.name, action: method, path, count: method === "history" ? undefined : count, outcome: "ok" });
        return result;
      } catch (err) {
        audit({ provider: provider.name, action: method, path, outcome: outcomeOf(err), reason: err.message }, { force: err.accessControl === true });
        throw err;
      }
    };
  }
  return wrapped;
}

const instances = new Map();

/** The provider called `name`, made once per process. */
export function provider(name) {
  if (!PROVIDERS.includes(name)) throw usageError(`"${name}" is not a provider`, `Use one of ${PROVIDERS.join(", ")}`);
  if (!instances.has(name)) {
    const settings = project();
    const made =
      name === "hush"
        ? new HushProvider()
        : name === "local"
          ? new LocalProvider(settings.local)
          : name === "env"
            ? new EnvProvider(settings.env)
            : new AzureKeyVaultProvider(settings.azure);
    // accessControl inside the audit wrapper, so every denial is an audit line.
    instances.set(name, AUDITED.has(name) ? audited(guarded(made, settings.accessControl[name], settings.file)) : made);
  }
  return instances.get(name);
}

/** The provider a command writes to or reads from alone: --provider, else the default. */
export const selected = (opts) => opts.provider ?? project().defaultProvider;

/** The providers a read tries, in order: only --provider when given, else the chain. */
export const readChain = (opts) => (opts.provider ? [opts.provider] : project().chain);

/** Whether this command can take the Hush-only code path (no other provider involved). */
export const hushOnly = (names) => names.length === 1 && names[0] === "hush";

/** A one-line reason for stderr and error details. */
const reason = (err) => String(err?.message ?? err).replace(/^[a-z-]+: /, "");

/**
 * Reads one secret along the chain. The first provider that has it answers; every one before it
 * that failed is named on stderr with why. If none has it, the error lists each provider's reason.
 * @example const secret = await readAlong(["hush", "local", "env"], "app/db/url", {})
 */
export async function readAlong(names, path, options = {}, { label = path, quiet = false } = {}) {
  const failures = [];
  for (const name of names) {
    try {
      const secret = await provider(name).get(path, options);
      if (failures.length && !quiet) {
        info(`Note: ${label} came from ${name} (${failures.map((f) => `${f.name} failed: ${reason(f.err)}`).join("; ")})`);
      }
      return secret;
    } catch (err) {
      if (!(err instanceof CliError) && !err?.provider) throw err;
      if (names.length === 1) throw err;
      failures.push({ name, err });
    }
  }
  throw chainError(label, failures);
}

/** The error when every provider of the chain failed: one detail line per provider, and the first one's fix. */
export function chainError(label, failures) {
  const allMissing = failures.every((f) => f.err.exitCode === EXIT.notFound);
  const denied = failures.some((f) => f.err.exitCode === EXIT.denied);
  const err = new CliError(`No provider in the chain ${failures.map((f) => f.name).join(" → ")} could read ${label}`, {
    hint: allMissing
      ? `Write it to one of them (hush set ${label} --stdin --provider ${failures[0].name}), or check the name`
      : (failures.find((f) => f.err.exitCode !== EXIT.notFound)?.err.hint ?? "Run `hush health` to see which providers work"),
    exitCode: allMissing ? EXIT.notFound : denied ? EXIT.denied : EXIT.error,
    details: failures.map((f) => `${f.name}: ${reason(f.err)}`),
  });
  return Object.assign(err, { unavailable: !denied && failures.some((f) => f.err.unavailable), failures });
}

/**
 * Lists along the chain (or one provider): every answering provider's items, each tagged with its
 * provider; a provider that fails is named on stderr, and the command fails only if all did.
 */
export async function listAlong(names, query) {
  const items = [];
  const failures = [];
  for (const name of names) {
    try {
      items.push(...(await provider(name).list(query)));
    } catch (err) {
      if (names.length === 1) throw err;
      failures.push({ name, err });
      info(`Warning: ${name} could not be listed: ${reason(err)}`);
    }
  }
  if (failures.length === names.length) throw chainError("the list", failures);
  return items;
}
