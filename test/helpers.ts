import { env, exports } from "cloudflare:workers";

export const ROOT = env.ROOT_TOKEN!;
export const BASE = "https://hush.test";

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** Calls the Worker's own fetch handler, as a client on the network would. */
export async function api<T = any>(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<ApiResponse<T>> {
  // A different client address per call, so failed-auth rate limits only bite where a test aims them.
  const headers: Record<string, string> = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250)}`, ...options.headers };
  const token = options.token === undefined ? ROOT : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/** Creates an API token in the default tenant (or `tenant`) and returns it. */
export async function tokenWith(scopes: string[], extra: { paths?: string[]; tenant?: string; subject?: string; ttl_seconds?: number } = {}) {
  const res = await api("POST", "/api/v1/tokens", { body: { subject: extra.subject ?? "test-user", scopes, ...extra } });
  if (res.status !== 201) throw new Error(`token creation failed: ${res.status} ${res.text}`);
  return res.body as { token: string; id: string };
}

let counter = 0;
/** A path no other test uses. */
export const uniquePath = (prefix = "test") => `${prefix}/p${Date.now().toString(36)}${(counter++).toString(36)}`;

/**
 * Creates tenant `id` as root. The suite's tenants sit in the home database (`DB`) unless a test
 * places them elsewhere (`database: 1`); test/shards and test/hardening/isolation spread theirs
 * over both databases.
 */
export async function createTenant(id: string, database = 0) {
  const res = await api("POST", "/api/v1/tenants", { body: { id, database } });
  if (res.status !== 201 && res.status !== 409) throw new Error(`tenant creation failed: ${res.status} ${res.text}`);
}

export function expectProblem(res: ApiResponse, status: number) {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${res.text}`);
  if (!res.headers.get("content-type")?.startsWith("application/problem+json")) {
    throw new Error(`expected a problem document, got ${res.headers.get("content-type")}: ${res.text}`);
  }
  if (res.body.status !== status || typeof res.body.title !== "string" || typeof res.body.type !== "string") {
    throw new Error(`malformed problem document: ${res.text}`);
  }
}

/**
 * Sends until the first 429, at most 2 x `limit` times. Rate-limit windows are fixed
 * minutes, so a run that straddles a window boundary may pass up to 2 x limit - 1
 * requests before the first 429; callers assert `passed.length` is in [limit, 2 x limit).
 */
export async function sendUntilLimited(limit: number, send: () => Promise<ApiResponse>) {
  const passed: number[] = [];
  for (let i = 0; i < 2 * limit; i++) {
    const res = await send();
    if (res.status === 429) return { passed, limited: res };
    passed.push(res.status);
  }
  throw new Error(`no 429 after ${2 * limit} requests: ${passed.join(",")}`);
}
