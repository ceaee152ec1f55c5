// `accessControl` in .hush.yaml: which paths the local and env providers may read and write.
//
//   accessControl:
//     local:
//       read: ["app/*", "dev/*"]   # get, history, list, export, and reads along the chain
//       write: ["dev/*"]           # set, rotate, delete, import
//     env:
//       read: ["ci/*"]
//
// A provider without an entry is unrestricted (as before the key existed). A provider with one may
// do only what its globs allow: an operation left out (no `write:`) is allowed on no path. A denied
// get, history or write fails with exit code 4 and a message naming the rule; list and export show
// only the readable paths. Every denial is written to the local audit log, even with
// enableAuditLog off. The hush and azure-keyvault providers have access control of their own (the
// server's tokens and policies; Azure RBAC), so they take no entry.
//
// It is a guard rail for a project (a CI job that must never write prod/*, a laptop that reads only
// dev/*), not a boundary against the local user: whoever can edit .hush.yaml or set HUSH_PROJECT
// can change it. No environment variable widens it.
import { CliError, EXIT } from "./errors.mjs";

/** The operations each rule covers. */
export const OPERATIONS = { read: ["get", "history", "list", "export"], write: ["set", "rotate", "delete", "import"] };
export const GUARDED_PROVIDERS = ["local", "env"];

/**
 * Whether `path` matches `glob`: `*` matches any run of characters, `/` included, as every glob of
 * the server does (src/auth/access.ts matchesGlob; the same linear two-pointer match, no regex).
 */
export function matchesGlob(glob, path) {
  let g = 0;
  let p = 0;
  let star = -1;
  let resume = 0;
  while (p < path.length) {
    if (g < glob.length && glob[g] === "*") {
      star = g++;
      resume = p;
    } else if (g < glob.length && glob[g] === path[p]) {
      g++;
      p++;
    } else if (star >= 0) {
      g = star + 1;
      p = ++resume;
    } else return false;
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

/**
 * Wraps a provider so its operations follow its accessControl entry.
 * @param {any} provider
 * @param {{ read?: string[], write?: string[] } | undefined} rules
 * @param {string | null} file the project file the rules came from, for messages
 */
export function guarded(provider, rules, file) {
  if (!rules) return provider;
  const read = rules.read ?? [];
  const write = rules.write ?? [];
  const allows = (kind, path) => (kind === "read" ? read : write).some((glob) => matchesGlob(glob, path));
  const deny = (kind, paths) => {
    const globs = kind === "read" ? read : write;
    const shown = paths.slice(0, 5).join(", ") + (paths.length > 5 ? ` and ${paths.length - 5} more` : "");
    return Object.assign(
      new CliError(`${provider.name}: accessControl in ${file ?? ".hush.yaml"} does not allow ${kind} on ${shown}`, {
        exitCode: EXIT.denied,
        hint: globs.length
          ? `${provider.name} may ${kind} only ${globs.join(", ")}; add a glob to accessControl.${provider.name}.${kind} there, or use another provider (--provider)`
          : `${provider.name} may not ${kind} at all; add accessControl.${provider.name}.${kind} globs there, or use another provider (--provider)`,
      }),
      { provider: provider.name, accessControl: true },
    );
  };
  const wrapped = Object.create(provider);
  const check = (kind, method) => {
    if (typeof provider[method] !== "function") return;
    wrapped[method] = async (path, ...rest) => {
      if (!allows(kind, path)) throw deny(kind, [path]);
      return provider[method](path, ...rest);
    };
  };
  for (const method of ["get", "history"]) check("read", method);
  for (const method of ["set", "rotate", "delete"]) check("write", method);
  if (typeof provider.list === "function") wrapped.list = async (...args) => (await provider.list(...args)).filter((item) => allows("read", item.path));
  if (typeof provider.export === "function") {
    wrapped.export = async (...args) => Object.fromEntries(Object.entries(await provider.export(...args)).filter(([path]) => allows("read", path)));
  }
  if (typeof provider.import === "function") {
    wrapped.import = async (values, ...rest) => {
      const refused = Object.keys(values ?? {}).filter((path) => !allows("write", path));
      if (refused.length) throw deny("write", refused);
      return provider.import(values, ...rest);
    };
  }
  return wrapped;
}
