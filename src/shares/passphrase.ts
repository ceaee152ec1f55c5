import { randomBytes, utf8 } from "../crypto/encoding";
import type { PassphraseVerifier } from "./model";

/** workerd's ceiling for PBKDF2; a share also allows only five guesses, so this is ample. */
const ITERATIONS = 100_000;

async function derive(passphrase: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", utf8(passphrase), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256));
}

/** A salted PBKDF2-SHA-256 verifier: enough to check a passphrase, not to recover it. */
export async function makeVerifier(passphrase: string): Promise<PassphraseVerifier> {
  const salt = randomBytes(16);
  return { salt, hash: await derive(passphrase, salt, ITERATIONS), iterations: ITERATIONS };
}

/** Derives the candidate hash for `passphrase` under a stored verifier's salt and cost. */
export const candidateHash = (passphrase: string, verifier: Pick<PassphraseVerifier, "salt" | "iterations">) =>
  derive(passphrase, verifier.salt, verifier.iterations);

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.subtle.timingSafeEqual(a, b);
}
