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

/** Splits a share link `<origin>/s/<id>#<key>` into its parts. */
export function parseShareLink(link) {
  let url;
  try {
    url = new URL(link);
  } catch {
    throw usageError(`"${link}" is not a share link`, "Pass the whole link, like https://hush.example.com/s/<id>#<key> (quote it in the shell)");
  }
  const match = /^(.*)\/s\/([A-Za-z0-9_-]+)\/?$/.exec(url.pathname);
  const key = url.hash.replace(/^#/, "");
  if (!match) throw usageError("The link has no /s/<id> part", "Pass the whole link you were sent");
  if (!/^[A-Za-z0-9_-]{43}$/.test(key)) {
    throw usageError("The link has no key after #", "Quote the link in the shell: the part after # holds the key and must be included");
  }
  return { origin: url.origin + match[1], id: match[2], key };
}

/** The link to give the recipient: the server's URL plus the key in the fragment. */
export const shareLink = (url, key) => `${url}#${key}`;
