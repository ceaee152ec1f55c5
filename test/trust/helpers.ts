import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { api, BASE, ROOT } from "../helpers";

/** A Vault KV v2 call (X-Vault-Token), as test/vault/kv.test.ts makes them. */
export async function vault(method: string, path: string, options: { body?: unknown; token?: string | null } = {}) {
  const headers: Record<string, string> = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250)}` };
  const token = options.token === undefined ? ROOT : options.token;
  if (token) headers["x-vault-token"] = token;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await exports.default.fetch(
    new Request(`${BASE}/v1/${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) }),
  );
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body, text };
}

/** A root-issued token with a free choice of grants; returns the bearer and the id. */
export async function mint(body: Record<string, unknown>, token?: string) {
  const res = await api("POST", "/api/v1/tokens", { token, body: { ttl_seconds: 3600, ...body } });
  expect(res.status, res.text).toBe(201);
  return res.body as { token: string; id: string; subject: string; expires_at: string; entity: string; parent_id: string | null };
}

export const put = async (path: string, body: Record<string, unknown>) => {
  const res = await api("PUT", `/api/v1/secrets/store/${path}`, { body });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

export const setColumn = (table: "secrets" | "secret_versions", column: string, value: number, path: string, version?: number) =>
  env.DB.prepare(`UPDATE ${table} SET ${column} = ? WHERE tenant_id = 'default' AND path = ?${version === undefined ? "" : " AND version = ?"}`)
    .bind(value, path, ...(version === undefined ? [] : [version]))
    .run();

export const problemType = (name: string) => `${BASE}/problems/${name}`;
