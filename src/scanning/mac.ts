import { toHex } from "../crypto/encoding";
import type { Keyring } from "../crypto/envelope";

/**
 * Which stored secret leaked (docs/scanning.md). A version's scan MAC is
 *   HMAC-SHA-256(scan key, SHA-256("hush-scan-v1:" || value))
 * with scan key = HKDF-SHA-256(master key, salt = tenant id, info = "hush scan mac v1").
 * The CLI computes the inner hash of a candidate and sends only that; the server MACs it
 * and looks it up. A D1 reader without the master key cannot test a guess against a MAC,
 * and the inner hash sent by the client is never stored or logged.
 */
export const SCAN_MAC_INFO = "hush scan mac v1" as const;
export const CANDIDATE_PREFIX = "hush-scan-v1:";

/** SHA-256 of the domain-separated value: the same digest the CLI sends for a candidate. */
export async function candidateDigest(value: Uint8Array): Promise<Uint8Array> {
  const prefix = new TextEncoder().encode(CANDIDATE_PREFIX);
  const input = new Uint8Array(prefix.length + value.length);
  input.set(prefix);
  input.set(value, prefix.length);
  try {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  } finally {
    input.fill(0);
  }
}

/** The MAC of a candidate digest under one master key's scan key. */
export async function macOfDigest(keyring: Keyring, keyId: string, tenantId: string, digest: Uint8Array): Promise<Uint8Array> {
  const key = await keyring.macKey(keyId, tenantId, SCAN_MAC_INFO);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, digest));
}

/** The columns `insertVersion` stores beside a sealed value (called by `sealVersion` only). */
export async function valueMac(keyring: Keyring, tenantId: string, plaintext: Uint8Array) {
  const digest = await candidateDigest(plaintext);
  try {
    return { valueMac: await macOfDigest(keyring, keyring.activeId, tenantId, digest), valueMacKeyId: keyring.activeId };
  } finally {
    digest.fill(0);
  }
}

/** The MACs a candidate digest may be stored under: one per configured master key (rotation leaves old MACs until the backfill). */
export async function macsOfDigest(keyring: Keyring, tenantId: string, digest: Uint8Array): Promise<string[]> {
  return Promise.all(keyring.ids.map(async (id) => toHex(await macOfDigest(keyring, id, tenantId, digest))));
}
