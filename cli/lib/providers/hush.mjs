// The `hush` provider: the Hush server through its HTTPS API (the default). The everyday
// commands keep their own richer code for it; this is what chains, `hush list` and
// `hush health` use.
import { encodePath } from "../api.mjs";
import { api } from "../context.mjs";
import { isUnavailable } from "./common.mjs";

const store = (path) => `/api/v1/secrets/store/${encodePath(path)}`;

/** Marks an API error with the provider it came from (its message stays as the server put it). */
const tag = (err) => Object.assign(err, { provider: "hush", unavailable: isUnavailable(err) });

export class HushProvider {
  readOnly = false;
  name = "hush";

  /** @param {string} path @param {{ version?: number, resolve?: boolean }} [options] */
  async get(path, { version, resolve } = {}) {
    const secret = await api()
      .get(store(path), { query: { version, resolve: resolve && "true" } })
      .catch((err) => Promise.reject(tag(err)));
    return { ...secret, provider: "hush" };
  }

  async list(query = {}) {
    const items = [];
    let cursor;
    try {
      do {
        const page = await api().get("/api/v1/secrets/store", { query: { ...query, limit: 1000, cursor } });
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
    } catch (err) {
      throw tag(err);
    }
    return items.map((s) => ({ ...s, provider: "hush" }));
  }

  async health() {
    const { status, body } = await api()
      .request("GET", "/healthz", { auth: false, allow: [503], retries: 0, timeoutMs: 5000 })
      .catch((err) => Promise.reject(tag(err)));
    return {
      healthy: status === 200,
      detail: `${api().settings.addr}: status ${body.status}, store ${body.store}, master key ${body.master_key}, version ${body.version}`,
      server: body,
    };
  }
}
