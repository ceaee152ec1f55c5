// End-to-end share encryption (the pinned "hush share v1" contract): the key stays in
// the link's fragment and never reaches the server.
import { webcrypto } from "node:crypto";
import { usageError } from "./errors.mjs";

const { subtle } = webcrypto;
const AAD = new TextEncoder().encode("hush share v1");
const IV_BYTES = 12;

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const fromB64url = (text) => new Uint8Array(Buffer.from(text, "base64url"));

/**
 * Encrypts a secret with a fresh key.
 * @returns {Promise<{ ciphertext: string, key: string }>} base64url (no padding) of iv || ciphertext+tag, and of the key
 */
export async function sealShare(secret) {
  const rawKey = webcrypto.getRandomValues(new Uint8Array(32));
  const iv = webcrypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await subtle.importKey("raw", rawKey, "AES-GCM", false, ["encrypt"]);
  const sealed = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, new TextEncoder().encode(secret)));
  const out = new Uint8Array(IV_BYTES + sealed.length);
  out.set(iv);
  out.set(sealed, IV_BYTES);
  const result = { ciphertext: b64url(out), key: b64url(rawKey) };
  rawKey.fill(0);
  return result;
}

/** Decrypts what sealShare produced; throws if the key or ciphertext is wrong. */
export async function openShare(ciphertext, keyText) {
  const bytes = fromB64url(ciphertext);
  const rawKey = fromB64url(keyText);
  if (rawKey.length !== 32 || bytes.length <= IV_BYTES + 16) throw new Error("malformed share");
  const key = await subtle.importKey("raw", rawKey, "AES-GCM", false, ["decrypt"]);
  rawKey.fill(0);
  const plain = await subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, IV_BYTES), additionalData: AAD }, key, bytes.slice(IV_BYTES));
  return new TextDecoder("utf-8", { fatal: true }).decode(plain);
}

/** The bearer token of a server-sealed share (`hshr_<id>.<secret>`), as POST /api/v1/secrets/shares returns it. */
export const SEALED_TOKEN = /^hshr_([A-Za-z0-9]{22})\.([A-Za-z0-9]{32})$/;

/**
 * Splits a share link into its parts. Two kinds:
 * - end to end: `<origin>/s/<id>#<key>`, the key decrypts locally (mode "e2e");
 * - server-sealed: `<origin>/s/<id>#hshr_<id>.<secret>`, the token is redeemed with the server (mode "sealed").
 * @returns {{ mode: "e2e", origin: string, id: string, key: string } | { mode: "sealed", origin: string, id: string, token: string }}
 */
export function parseShareLink(link) {
  let url;
  try {
    url = new URL(link);
  } catch {
    throw usageError(`"${link}" is not a share link`, "Pass the whole link, like https://hush.example.com/s/<id>#<key> (quote it in the shell)");
  }
  const match = /^(.*)\/s\/([A-Za-z0-9_-]+)\/?$/.exec(url.pathname);
  const fragment = decodeURIComponent(url.hash.replace(/^#/, ""));
  if (!match) throw usageError("The link has no /s/<id> part", "Pass the whole link you were sent");
  const origin = url.origin + match[1];
  if (fragment.startsWith("hshr_")) {
    const sealed = SEALED_TOKEN.exec(fragment);
    if (!sealed) throw usageError("The token after # is cut or changed", "Quote the link in the shell and pass all of it, including the part after #");
    return { mode: "sealed", origin, id: match[2], token: fragment };
  }
  if (!/^[A-Za-z0-9_-]{43}$/.test(fragment)) {
    throw usageError("The link has no key after #", "Quote the link in the shell: the part after # holds the key and must be included");
  }
  return { mode: "e2e", origin, id: match[2], key: fragment };
}

/** The link to give the recipient: the server's URL plus the key in the fragment. */
export const shareLink = (url, key) => `${url}#${key}`;
