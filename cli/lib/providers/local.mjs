// The `local` provider: a versioned store in one AES-256-GCM file (paths, metadata and values all
// inside the ciphertext), 0600, that works with no server at all.
import { hostname, userInfo } from "node:os";
import { CliError, EXIT } from "../errors.mjs";
import { keyMaterial, readSealed, seal, withLock, writePrivate } from "../sealed-file.mjs";
import { providerError } from "./common.mjs";

const AAD = "hush local v1";
const NAME = "local";

const who = () => {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return "local";
  }
};

export class LocalProvider {
  readOnly = false;
  name = NAME;

  /** @param {{ storePath: string, fileMode: number }} settings */
  constructor(settings) {
    this.file = settings.storePath;
    this.mode = settings.fileMode;
    /** @type {{ secret: string, source: string } | undefined} */
    this._key = undefined;
  }

  key() {
    this._key ??= keyMaterial("the local store");
    return this._key;
  }

  /** A filesystem error (EACCES, ENOSPC, ...) as an error that names the provider and the file. */
  fsError(err) {
    if (!err?.code || err instanceof CliError) return err;
    return providerError(NAME, `cannot use the store ${this.file}: ${err.code}`, {
      hint: "Check that the directory exists and is yours, or point storePath in .hush.yaml (or HUSH_LOCAL_STORE) elsewhere",
    });
  }

  /** The decrypted store; an empty one when the file does not exist yet. */
  load(key = this.key()) {
    let opened;
    try {
      opened = readSealed(this.file, key, AAD, {
        what: "The local store",
        keyHint: "Set HUSH_LOCAL_KEY to the key the store was written with (nothing was read from it); a lost key cannot be recovered",
      });
    } catch (err) {
      throw this.fsError(err);
    }
    return opened ? { store: opened.doc, salt: opened.salt } : { store: { secrets: {} }, salt: undefined };
  }

  /** Read, change, write back under a lock; all or nothing (one file rename). */
  async change(fn) {
    const key = this.key();
    try {
      return await withLock(this.file, async () => {
        const { store, salt } = this.load(key);
        const result = fn(store);
        writePrivate(this.file, seal(store, key, AAD, salt), this.mode);
        return result;
      });
    } catch (err) {
      throw this.fsError(err);
    }
  }

  live(store, path) {
    const s = store.secrets[path];
    if (!s || s.deleted_at)
      throw providerError(NAME, `no secret at ${path}${s?.deleted_at ? " (deleted)" : ""}`, {
        exitCode: EXIT.notFound,
        hint: "`hush list --provider local` shows what the local store holds",
      });
    return s;
  }

  /** @param {string} path @param {{ version?: number, resolve?: boolean }} [options] */
  async get(path, { version } = {}) {
    const s = this.live(this.load().store, path);
    const v = s.versions.find((x) => x.version === (version ?? s.current_version));
    if (!v)
      throw providerError(NAME, `${path} has no version ${version}`, {
        exitCode: EXIT.notFound,
        hint: `\`hush history ${path} --provider local\` lists its versions`,
      });
    return {
      path,
      version: v.version,
      current_version: s.current_version,
      type: s.type,
      environment: s.environment,
      tags: s.tags,
      description: s.description,
      expires_at: null,
      version_created_at: v.created_at,
      version_created_by: v.created_by,
      value: v.value,
      provider: NAME,
    };
  }

  write(store, path, value, meta = {}) {
    const now = new Date().toISOString();
    const s = store.secrets[path] ?? { current_version: 0, versions: [], type: "CUSTOM", environment: null, tags: [], description: null, created_at: now };
    if (s.deleted_at) delete s.deleted_at;
    const version = s.current_version + 1;
    s.versions.push({ version, value, created_at: now, created_by: who(), state: "live" });
    s.current_version = version;
    s.updated_at = now;
    if (meta.type) s.type = meta.type;
    if (meta.environment !== undefined) s.environment = meta.environment;
    if (meta.tags !== undefined) s.tags = meta.tags;
    if (meta.description !== undefined) s.description = meta.description;
    store.secrets[path] = s;
    return { path, version, provider: NAME };
  }

  async set(path, value, meta) {
    return this.change((store) => this.write(store, path, value, meta));
  }

  async rotate(path, value) {
    return this.change((store) => {
      this.live(store, path);
      return this.write(store, path, value);
    });
  }

  async delete(path) {
    return this.change((store) => {
      const s = this.live(store, path);
      s.deleted_at = new Date().toISOString();
      return { path, deleted_at: s.deleted_at, provider: NAME };
    });
  }

  /** @param {{ prefix?: string, includeDeleted?: boolean }} [options] */
  async list({ prefix, includeDeleted } = {}) {
    const { store } = this.load();
    return Object.entries(store.secrets)
      .filter(([path, s]) => (!prefix || path.startsWith(prefix)) && (includeDeleted || !s.deleted_at))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([path, s]) => ({
        path,
        current_version: s.current_version,
        type: s.type,
        environment: s.environment,
        tags: s.tags,
        updated_at: s.updated_at,
        deleted_at: s.deleted_at ?? null,
        provider: NAME,
      }));
  }

  async history(path) {
    const s = this.live(this.load().store, path);
    return s.versions.map((v) => ({ version: v.version, state: v.state, created_at: v.created_at, created_by: v.created_by }));
  }

  /** All or nothing: every path is checked, then one write. */
  /** @param {Record<string, any>} values @param {{ upsert?: boolean }} [options] */
  async import(values, { upsert } = {}) {
    return this.change((store) => {
      const conflicts = Object.keys(values).filter((p) => store.secrets[p]);
      if (conflicts.length && !upsert) {
        throw Object.assign(
          providerError(NAME, `${conflicts.length} path(s) already exist in the local store; nothing was imported`, {
            hint: "Add --upsert to write new versions of them",
          }),
          { details: conflicts.slice(0, 20).map((p) => `exists: ${p}`) },
        );
      }
      const created = [];
      const updated = [];
      for (const [path, entry] of Object.entries(values)) {
        const exists = Boolean(store.secrets[path]);
        const { value, ...meta } = typeof entry === "string" ? { value: entry } : entry;
        const written = this.write(store, path, value, meta);
        (exists ? updated : created).push({ path, version: written.version });
      }
      return { created, updated };
    });
  }

  /** @param {{ prefix?: string, includeValues?: boolean }} [options] */
  async export({ prefix, includeValues } = {}) {
    const { store } = this.load();
    const out = {};
    for (const [path, s] of Object.entries(store.secrets)) {
      if (s.deleted_at || (prefix && !path.startsWith(prefix))) continue;
      const meta = { type: s.type, environment: s.environment, tags: s.tags, description: s.description, version: s.current_version };
      out[path] = includeValues ? { value: s.versions.find((v) => v.version === s.current_version).value, ...meta } : meta;
    }
    return out;
  }

  async health() {
    const { store } = this.load();
    return { detail: `${this.file}: ${Object.keys(store.secrets).length} secret(s), key from ${this.key().source}` };
  }
}
