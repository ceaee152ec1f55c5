// The everyday secret commands: get, set, list, rotate, history, recover, delete, undelete, destroy.
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { encodePath } from "../lib/api.mjs";
import { api, command } from "../lib/context.mjs";
import { usageError } from "../lib/errors.mjs";
import { project } from "../lib/project.mjs";
import { hushOnly, listAlong, provider, PROVIDERS, readAlong, readChain, selected } from "../lib/providers/index.mjs";
import {
  confirm,
  eventTime,
  info,
  mask,
  parseDuration,
  parseList,
  parsePositiveInt,
  parseTime,
  printFields,
  printJson,
  printTable,
  prompt,
  readStdin,
  shortTime,
} from "../lib/output.mjs";

const store = (path) => `/api/v1/secrets/store/${encodePath(path)}`;
const SECRET_TYPES = ["API_KEY", "DATABASE_CREDENTIAL", "OAUTH_TOKEN", "CERTIFICATE", "ENCRYPTION_KEY", "WEBHOOK_SECRET", "CUSTOM"];

const CHARSETS = {
  alnum: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  hex: "0123456789abcdef",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  ascii: Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join(""),
};

/** A random value from a CSPRNG, without modulo bias (randomInt is uniform). */
export function generateValue(length = 32, charset = "alnum") {
  const chars = CHARSETS[charset];
  if (!chars) throw usageError(`--charset ${charset} is not one of ${Object.keys(CHARSETS).join(", ")}`);
  return Array.from({ length }, () => chars[randomInt(chars.length)]).join("");
}

/**
 * The value to write, from exactly one of: the argument, --from-file, --stdin.
 * Stdin loses one trailing newline (what `echo` adds); a file is taken as it is.
 */
export async function valueFrom(argument, opts) {
  const sources = [argument !== undefined, Boolean(opts.fromFile), Boolean(opts.stdin)].filter(Boolean).length;
  if (sources !== 1)
    throw usageError(
      "Give the value exactly one way: as an argument, with --from-file F, or with --stdin",
      "--stdin or --from-file keeps the value out of shell history",
    );
  let value;
  if (opts.fromFile) {
    try {
      value = readFileSync(opts.fromFile, "utf8");
    } catch (err) {
      throw usageError(`Cannot read ${opts.fromFile}: ${err.code ?? err.message}`);
    }
  } else if (opts.stdin) {
    value = process.stdin.isTTY ? await prompt("Value (not shown): ", { hidden: true }) : (await readStdin()).replace(/\r?\n$/, "");
  } else {
    value = argument;
    if (process.stderr.isTTY) info("Note: a value on the command line stays in shell history; --stdin or --from-file avoids that.");
  }
  if (!value) throw usageError("The value is empty");
  return value;
}

export const PROVIDER_HELP = `the provider: ${PROVIDERS.join(", ")} (default: defaultProvider in .hush.yaml, HUSH_PROVIDER, else hush)`;

/** A version number, or for Key Vault (whose versions are ids) the id as given. */
function versionOption(text, names) {
  if (text === undefined) return undefined;
  if (names.length === 1 && names[0] === "azure-keyvault") return text;
  return parsePositiveInt(text, "--version");
}

/** Metadata for a provider other than hush (which alone knows expiry). */
function providerMeta(opts) {
  const { expires_at: expires, ...meta } = metadataBody(opts);
  if (expires !== undefined)
    throw usageError(`--expires is not supported by the ${selected(opts)} provider`, "Only the hush provider expires secrets; drop --expires");
  return meta;
}

function metadataBody(opts) {
  const body = {};
  if (opts.type) {
    const type = opts.type.toUpperCase();
    if (!SECRET_TYPES.includes(type)) throw usageError(`--type ${opts.type} is not one of ${SECRET_TYPES.join(", ")}`);
    body.type = type;
  }
  if (opts.env ?? project().environment) body.environment = opts.env ?? project().environment;
  if (opts.tags !== undefined) body.tags = parseList(opts.tags);
  if (opts.description !== undefined) body.description = opts.description;
  if (opts.expires) body.expires_at = opts.expires === "never" ? null : parseTime(opts.expires, "--expires", { future: true });
  return body;
}

/** The user answered no: not an error, but scripts see exit 1 (nothing was done). */
function declined(message) {
  info(message);
  process.exitCode = 1;
}

function printWritten(result, verb, opts) {
  if (opts.json) return printJson(result);
  const where = result.provider && result.provider !== "hush" ? ` (${result.provider})` : "";
  process.stdout.write(`${verb} ${result.path}: version ${result.version ?? result.current_version}${where}\n`);
}

function printSecret(secret, opts) {
  if (opts.json) return printJson(secret);
  if (opts.raw) {
    process.stdout.write(process.stdout.isTTY ? `${secret.value}\n` : secret.value);
    return;
  }
  printFields([
    ["path", secret.path],
    [
      "version",
      `${secret.version}${secret.current_version != null && secret.version !== secret.current_version ? ` (current: ${secret.current_version})` : ""}`,
    ],
    ["type", secret.type],
    ["environment", secret.environment],
    ["tags", secret.tags],
    ["description", secret.description],
    ["expires", shortTime(secret.expires_at)],
    ["written", `${shortTime(secret.version_created_at)} by ${secret.version_created_by}`],
    ["provider", secret.provider ?? "hush"],
    ["value", opts.showFull ? secret.value : mask(secret.value)],
  ]);
}

/** A glob as a RegExp: `*` is any run of characters (`/` included, as the server's GLOB does). */
const globRegExp = (glob) =>
  new RegExp(
    `^${glob
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );

/**
 * `--pattern`: the server matches a glob against the whole path, so `api-key-*` alone would find
 * only top-level paths. A glob without `/` therefore also matches a path's last segment: the
 * server is asked for `*<glob>` (a superset) and the result is narrowed here.
 * @returns {{ server: string, matches: (path: string) => boolean, matchesWhole: (path: string) => boolean }}
 */
export function listPattern(glob) {
  if (!glob) throw usageError("--pattern is empty", "Give a glob like 'api-key-*'");
  const whole = globRegExp(glob);
  if (glob.includes("/")) return { server: glob, matches: () => true, matchesWhole: (path) => whole.test(path) };
  const matches = (path) => whole.test(path) || whole.test(path.slice(path.lastIndexOf("/") + 1));
  return { server: glob.startsWith("*") ? glob : `*${glob}`, matches, matchesWhole: matches };
}

/** Every page of the secret list. */
export async function listAll(query) {
  const items = [];
  let cursor;
  do {
    const page = await api().get("/api/v1/secrets/store", { query: { ...query, limit: 1000, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

export function register(program) {
  command(program, "get <path>", "show a secret: metadata and the value masked except its last 3 characters")
    .option("--version <n>", "a specific version")
    .option("--resolve", "expand ${secret.other/path} references")
    .option("--show-full", "show the whole value")
    .option("--raw", "print the value only, for pipes")
    .option("--provider <name>", `${PROVIDER_HELP}; without it, the read follows the chain`)
    .action(async (path, opts) => {
      const names = readChain(opts);
      if (!hushOnly(names)) return printSecret(await readAlong(names, path, { version: versionOption(opts.version, names), resolve: opts.resolve }), opts);
      const query = { version: opts.version && parsePositiveInt(opts.version, "--version"), resolve: opts.resolve && "true" };
      printSecret({ ...(await api().get(store(path), { query })), provider: "hush" }, opts);
    });

  command(program, "set <path> [value]", "write a secret (creates it, or writes its next version)")
    .option("--from-file <file>", "read the value from a file")
    .option("--stdin", "read the value from stdin (a hidden prompt on a terminal)")
    .option("--type <type>", `one of ${SECRET_TYPES.join(", ")}`)
    .option("--env <environment>", "environment name, like production")
    .option("--tags <a,b>", "comma-separated tags")
    .option("--description <text>", "what the secret is for")
    .option("--expires <when>", "expiry: a duration from now (30d) or an RFC 3339 time; `never` clears it")
    .option("--provider <name>", PROVIDER_HELP)
    .action(async (path, value, opts) => {
      if (selected(opts) !== "hush") {
        const meta = providerMeta(opts);
        return printWritten(await provider(selected(opts)).set(path, await valueFrom(value, opts), meta), "Wrote", opts);
      }
      const body = { value: await valueFrom(value, opts), ...metadataBody(opts) };
      printWritten(await api().put(store(path), body), "Wrote", opts);
    });

  command(program, "list", "list secrets (metadata only)")
    .option("--prefix <prefix>", "only paths starting with this")
    .option("--pattern <glob>", "only paths matching a glob like 'api-key-*' (* is any characters; a glob without / also matches the last segment)")
    .option("--tags <a,b>", "only secrets with all these tags")
    .option("--type <type>", "only this type")
    .option("--env <environment>", "only this environment")
    .option("--include-deleted", "include soft-deleted secrets")
    .option("--provider <name>", `${PROVIDER_HELP}; without it, every provider of the chain is listed`)
    .action(async (opts) => {
      const tags = parseList(opts.tags);
      const pattern = opts.pattern === undefined ? undefined : listPattern(opts.pattern);
      opts.prefix ??= project().prefix;
      const names = readChain(opts);
      const items = !hushOnly(names)
        ? (await listAlong(names, { prefix: opts.prefix, includeDeleted: opts.includeDeleted })).filter(
            (s) =>
              tags.every((t) => s.tags.includes(t)) &&
              (!pattern || pattern.matchesWhole(s.path)) &&
              (!opts.type || s.type === opts.type.toUpperCase()) &&
              (!opts.env || s.environment === opts.env),
          )
        : (
            await listAll({
              prefix: opts.prefix,
              pattern: pattern?.server,
              tag: tags[0],
              type: opts.type?.toUpperCase(),
              environment: opts.env,
              include_deleted: opts.includeDeleted && "true",
            })
          )
            .filter((s) => tags.every((t) => s.tags.includes(t)) && (!pattern || pattern.matches(s.path)))
            .map((s) => ({ ...s, provider: "hush" }));
      if (opts.json) return printJson({ items });
      if (items.length === 0) return info("No secrets match.");
      printTable(
        ["path", "version", "type", "environment", "tags", "updated", "provider"],
        items.map((s) => [
          s.path + (s.deleted_at ? " (deleted)" : ""),
          s.current_version,
          s.type,
          s.environment,
          s.tags.join(","),
          shortTime(s.updated_at),
          s.provider,
        ]),
      );
    });

  command(program, "rotate <path> [value]", "write the next version of a secret")
    .option("--generate [length]", "generate a random value (default 32 characters)")
    .option("--charset <set>", "for --generate: alnum, hex, base64url or ascii", "alnum")
    .option("--from-file <file>", "read the value from a file")
    .option("--stdin", "read the value from stdin")
    .option("--expire-old <duration>", "the previous version stays readable by number for this long (like 30d)")
    .option("--provider <name>", PROVIDER_HELP)
    .action(async (path, value, opts) => {
      if (opts.expireOld && selected(opts) !== "hush")
        throw usageError(`--expire-old is not supported by the ${selected(opts)} provider`, "Only the hush provider keeps grace periods");
      if (opts.generate !== undefined && (value !== undefined || opts.fromFile || opts.stdin)) {
        throw usageError("--generate makes the value; do not give one too");
      }
      const newValue =
        opts.generate !== undefined
          ? generateValue(opts.generate === true ? 32 : parsePositiveInt(opts.generate, "--generate"), opts.charset)
          : await valueFrom(value, opts);
      const result =
        selected(opts) !== "hush"
          ? await provider(selected(opts)).rotate(path, newValue)
          : opts.expireOld
            ? await api().post(`${store(path)}/rotate`, { value: newValue, expire_old_after_seconds: parseDuration(opts.expireOld, "--expire-old") })
            : await api().put(store(path), { value: newValue });
      printWritten(result, "Rotated", opts);
    });

  command(program, "history <path>", "list the versions of a secret (never values)")
    .option("--provider <name>", PROVIDER_HELP)
    .action(async (path, opts) => {
      const versions = [];
      let cursor;
      if (selected(opts) !== "hush") versions.push(...(await provider(selected(opts)).history(path)));
      else
        do {
          const page = await api().get(`${store(path)}/versions`, { query: { limit: 1000, cursor } });
          versions.push(...(page.items ?? []));
          cursor = page.next_cursor;
        } while (cursor);
      if (opts.json) return printJson({ path, items: versions });
      printTable(
        ["version", "state", "created", "created by", "note"],
        versions.map((v) => [
          v.version,
          v.state,
          eventTime(v.created_at),
          v.created_by,
          v.source_version ? `copy of version ${v.source_version}` : v.readable_until ? `readable until ${shortTime(v.readable_until)}` : null,
        ]),
      );
    });

  command(program, "recover <path>", "republish the version that was current at a time, as the next version")
    .requiredOption("--at <time>", "an RFC 3339 time, or a duration ago like 2h")
    .action(async (path, opts) => {
      const at = parseTime(opts.at, "--at");
      const result = await api()
        .post(`/api/v1/secrets/store/recover/${encodePath(path)}`, { at })
        .catch((err) => {
          // The path exists but was created after --at: say that, not "check the path".
          if (err.status === 404 && /had no version at/.test(err.problem?.detail ?? "")) {
            err.message = `${path} did not exist yet at ${at}`;
            err.hint = `\`hush history ${path}\` shows when each version was written; give a later --at`;
          }
          throw err;
        });
      printWritten(result, "Recovered", opts);
    });

  command(program, "delete <path>", "soft-delete a secret (its versions are kept; `hush undelete` brings it back)")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--provider <name>", PROVIDER_HELP)
    .action(async (path, opts) => {
      const name = selected(opts);
      if (name === "env") await provider(name).delete(path); // read-only: say so before asking
      if (!(await confirm(`Delete ${path}${name === "hush" ? "" : ` from ${name}`}?`, opts.yes))) return declined(`Not deleted: ${path} is unchanged.`);
      const result = name === "hush" ? await api().delete(store(path)) : await provider(name).delete(path);
      if (opts.json) return printJson(result);
      process.stdout.write(name === "hush" ? `Deleted ${path} (recoverable with \`hush undelete ${path}\`)\n` : `Deleted ${path} from ${name}\n`);
    });

  command(program, "undelete <path>", "restore a soft-deleted secret").action(async (path, opts) => {
    const result = await api().post(`/api/v1/secrets/store/undelete/${encodePath(path)}`, {});
    if (opts.json) return printJson(result);
    process.stdout.write(`Restored ${path}\n`);
  });

  command(program, "destroy <path>", "destroy versions for good (their keys are shredded)")
    .requiredOption("--versions <n,m>", "comma-separated version numbers")
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (path, opts) => {
      const versions = parseList(opts.versions).map((v) => parsePositiveInt(v, "--versions"));
      if (versions.length === 0) throw usageError("--versions needs at least one version number");
      if (!(await confirm(`Destroy version(s) ${versions.join(", ")} of ${path} for good?`, opts.yes)))
        return declined(`Nothing destroyed: ${path} is unchanged.`);
      const result = await api().post(`/api/v1/secrets/store/destroy/${encodePath(path)}`, { versions });
      if (opts.json) return printJson(result);
      process.stdout.write(`Destroyed version(s) ${versions.join(", ")} of ${path}\n`);
    });
}
