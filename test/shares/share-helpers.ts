import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { api, type ApiResponse } from "../helpers";

const AAD = new TextEncoder().encode("hush share v1");

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const unb64url = (text: string) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

/** Encrypts like the pinned client contract: AES-256-GCM, AAD "hush share v1", base64url(iv || ct). */
export async function encryptForShare(secret: string): Promise<{ key: string; ciphertext: string }> {
  const keyBytes = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await crypto.subtle.importKey("raw", keyBytes, "AES-GCM", false, ["encrypt"]);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, new TextEncoder().encode(secret)));
  const payload = new Uint8Array(12 + ct.length);
  payload.set(iv);
  payload.set(ct, 12);
  return { key: b64url(keyBytes), ciphertext: b64url(payload) };
}

export async function decryptShare(key: string, ciphertext: string): Promise<string> {
  const payload = unb64url(ciphertext);
  const k = await crypto.subtle.importKey("raw", unb64url(key), "AES-GCM", false, ["decrypt"]);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: payload.subarray(0, 12), additionalData: AAD }, k, payload.subarray(12));
  return new TextDecoder().decode(plain);
}

let ipCounter = 0;
/** A client address no other test uses, so the per-IP rate limit never couples tests. */
export const freshIp = () => `198.51.100.${++ipCounter % 250}-${Date.now().toString(36)}`;

/** Creates an end-to-end share anonymously (or with `token`) and returns its id and link key. */
export async function createE2e(
  secret: string,
  options: { max_views?: number; passphrase?: string; expires_in_seconds?: number; token?: string | null; ip?: string } = {},
) {
  const { key, ciphertext } = await encryptForShare(secret);
  const { token = null, ip = freshIp(), ...rest } = options;
  const res = await api("POST", "/api/v1/shares", { token, body: { ciphertext, ...rest }, headers: { "cf-connecting-ip": ip } });
  if (res.status !== 201) throw new Error(`share creation failed: ${res.status} ${res.text}`);
  return { id: res.body.id as string, key, ciphertext, created: res.body };
}

export async function nonceFor(id: string): Promise<string> {
  const res = await api("POST", `/api/v1/shares/${id}/nonce`, { token: null });
  if (res.status !== 200) throw new Error(`nonce failed: ${res.status} ${res.text}`);
  return res.body.nonce;
}

/** Fetches a nonce and reveals: one view through the public endpoints. */
export async function reveal(id: string, body: { passphrase?: string; token?: string } = {}): Promise<ApiResponse> {
  const nonce = await nonceFor(id);
  return api("POST", `/api/v1/shares/${id}/reveal`, { token: null, body: { nonce, ...body } });
}

export async function createSealed(value: string, options: { max_views?: number; passphrase?: string; expires_in_seconds?: number } = {}, token?: string) {
  const res = await api("POST", "/api/v1/secrets/shares", { token, body: { value, ...options } });
  if (res.status !== 201) throw new Error(`sealed share creation failed: ${res.status} ${res.text}`);
  return res.body as { id: string; token: string; url: string; expires_at: string };
}

export const redeem = (token: string, passphrase?: string) =>
  api("POST", "/api/v1/secrets/shares/redeem", { token: null, body: passphrase === undefined ? { token } : { token, passphrase } });

export const shareObject = (id: string) => env.SHARE.get(env.SHARE.idFromName(id));

/** The raw row inside the object's SQLite storage (payload included), for assertions only. */
export function storedRow(id: string) {
  return runInDurableObject(shareObject(id), (_instance, state) => {
    const rows = state.storage.sql.exec("SELECT * FROM share").toArray();
    return rows[0] as Record<string, unknown> | undefined;
  });
}

/** Moves a share's expiry into the past without running its alarm. */
export function backdateExpiry(id: string) {
  return runInDurableObject(shareObject(id), (_instance, state) => {
    state.storage.sql.exec("UPDATE share SET expires_at = ?", Date.now() - 1000);
  });
}

export async function indexRow(id: string) {
  return env.DB.prepare("SELECT * FROM share_index WHERE id = ?").bind(id).first<Record<string, unknown>>();
}
