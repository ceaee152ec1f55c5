// The `env` provider: HUSH_SECRET_<NAME> variables of the CLI's own environment. Read-only.
import { EXIT } from "../errors.mjs";
import { providerError, readOnlyError } from "./common.mjs";

const NAME = "env";

export class EnvProvider {
  readOnly = true;
  name = NAME;

  /** @param {{ prefix: string, uppercaseNames: boolean, allowUnprefixed: boolean }} settings */
  constructor(settings, env = process.env) {
    this.settings = settings;
    this.env = env;
  }

  /** The variable for a path: app/db-password -> HUSH_SECRET_APP_DB_PASSWORD (upper-cased unless uppercaseNames is off). */
  bareName(path) {
    const name = path.replace(/[^A-Za-z0-9_]/g, "_");
    return this.settings.uppercaseNames ? name.toUpperCase() : name;
  }

  names(path) {
    const bare = this.bareName(path);
    const names = [`${this.settings.prefix}${bare}`];
    if (this.settings.allowUnprefixed && this.settings.prefix) names.push(bare);
    return names;
  }

  /** @param {string} path @param {{ version?: number, resolve?: boolean }} [options] */
  async get(path, { version } = {}) {
    if (version && version !== 1) throw providerError(NAME, `has one version of each variable; ${path} has no version ${version}`, { exitCode: EXIT.notFound });
    const names = this.names(path);
    const name = names.find((n) => this.env[n] !== undefined && this.env[n] !== "");
    if (!name) {
      throw providerError(NAME, `${names.join(" and ")} ${names.length > 1 ? "are" : "is"} not set`, {
        exitCode: EXIT.notFound,
        hint: `Export ${names[0]} in the environment, or read ${path} from another provider (--provider)`,
      });
    }
    return {
      path,
      version: 1,
      current_version: 1,
      type: "CUSTOM",
      environment: null,
      tags: [],
      description: `from $${name}`,
      expires_at: null,
      version_created_at: null,
      version_created_by: "environment",
      value: this.env[name],
      provider: NAME,
    };
  }

  /** @param {{ prefix?: string, includeDeleted?: boolean }} [options] */
  async list({ prefix } = {}) {
    const p = this.settings.prefix;
    return Object.keys(this.env)
      .filter((n) => n.startsWith(p) && n.length > p.length && this.env[n] !== "")
      .map((n) => n.slice(p.length))
      .filter((path) => !prefix || path.startsWith(this.bareName(prefix)) || path.startsWith(prefix))
      .sort()
      .map((path) => ({ path, current_version: 1, type: "CUSTOM", environment: null, tags: [], updated_at: null, deleted_at: null, provider: NAME }));
  }

  async history(path) {
    await this.get(path);
    return [{ version: 1, state: "live", created_at: null, created_by: "environment" }];
  }

  /** @param {{ prefix?: string, includeValues?: boolean }} [options] */
  async export({ prefix, includeValues } = {}) {
    const out = {};
    for (const item of await this.list({ prefix })) {
      out[item.path] = includeValues ? { value: this.env[`${this.settings.prefix}${item.path}`], type: "CUSTOM" } : { type: "CUSTOM", version: 1 };
    }
    return out;
  }

  fix = "Set the variable in the environment instead, or pass --provider local (or hush) to write";
  async set() {
    throw readOnlyError(NAME, "write secrets", this.fix);
  }
  async rotate() {
    throw readOnlyError(NAME, "rotate secrets", this.fix);
  }
  async delete() {
    throw readOnlyError(NAME, "delete secrets", "Unset the variable in the environment instead");
  }
  async import() {
    throw readOnlyError(NAME, "import secrets", this.fix);
  }

  async health() {
    return { detail: `${(await this.list()).length} variable(s) named ${this.settings.prefix}*` };
  }
}
