import { exports } from "cloudflare:workers";
import { BASE, ROOT } from "../helpers";

/** A Vault-style request to the Worker: X-Vault-Token (root by default), Vault's paths under /v1. */
export async function vault(method: string, path: string, options: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250)}`, ...options.headers };
  const token = options.token === undefined ? ROOT : options.token;
  if (token) headers["x-vault-token"] = token;
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
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
  return { status: res.status, body, headers: res.headers, text };
}
