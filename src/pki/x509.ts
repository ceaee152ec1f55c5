// tsyringe (used by @peculiar/x509 for its algorithm registry) needs the Reflect metadata API:
// this import must stay first so it runs before the library's module body.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

export { x509 };

/** A WebCrypto algorithm object (workers-types names no DOM dictionaries). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Alg = { name: string } & Record<string, any>;

/** Key types a role or an issuer may use (issue 17). */
export const KEY_TYPES = ["ec", "ed25519", "rsa"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export interface KeySpec {
  type: KeyType;
  /** ec: 256 or 384; rsa: 2048 or 3072; ed25519: 0. */
  bits: number;
}

export function keyAlgorithm(spec: KeySpec): Alg {
  switch (spec.type) {
    case "ec":
      return { name: "ECDSA", namedCurve: spec.bits === 384 ? "P-384" : "P-256" };
    case "ed25519":
      return { name: "Ed25519" };
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5", modulusLength: spec.bits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
  }
}

/** The signature algorithm a CA key of `spec` signs with. */
export function signingAlgorithm(spec: KeySpec): Alg {
  switch (spec.type) {
    case "ec":
      return { name: "ECDSA", hash: spec.bits === 384 ? "SHA-384" : "SHA-256" };
    case "ed25519":
      return { name: "Ed25519" };
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  }
}

export async function generateKeyPair(spec: KeySpec): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(keyAlgorithm(spec), true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function exportPkcs8(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array((await crypto.subtle.exportKey("pkcs8", key)) as ArrayBuffer);
}

export async function importSigningKey(pkcs8: Uint8Array, spec: KeySpec): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", pkcs8, keyAlgorithm(spec), false, ["sign"]);
}

export const pem = (label: string, der: ArrayBuffer | Uint8Array) => x509.PemConverter.encode(der instanceof Uint8Array ? der.slice().buffer : der, label);

/** The key type of a public key (certificate, CSR or imported CA), or undefined if Hush does not issue it. */
export function specOf(publicKey: x509.PublicKey): KeySpec | undefined {
  const algorithm = publicKey.algorithm as Alg & { namedCurve?: string; modulusLength?: number };
  if (algorithm.name === "ECDSA" || algorithm.name === "ECDH") {
    if (algorithm.namedCurve === "P-256") return { type: "ec", bits: 256 };
    if (algorithm.namedCurve === "P-384") return { type: "ec", bits: 384 };
    return undefined;
  }
  if (algorithm.name === "Ed25519" || algorithm.name === "EdDSA") return { type: "ed25519", bits: 0 };
  if (/^RSA/.test(algorithm.name) && (algorithm.modulusLength === 2048 || algorithm.modulusLength === 3072 || algorithm.modulusLength === 4096)) {
    return { type: "rsa", bits: algorithm.modulusLength };
  }
  return undefined;
}

/** A name from one common name, built as data (never parsed), so `CN=a, O=evil` stays one CN. */
export const nameOf = (commonName: string): x509.JsonName => [{ CN: [commonName] }];

/** DER INTEGER body of a non-negative number (for the CRL number extension). */
function derInteger(n: number): Uint8Array {
  const bytes: number[] = [];
  let v = Math.max(0, Math.floor(n));
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]);
}

export const crlNumberExtension = (n: number) => new x509.Extension("2.5.29.20", false, derInteger(n));

/** Hex serial as openssl and Vault print it: `01:ab:...`. */
export const colonHex = (hex: string) =>
  hex
    .toLowerCase()
    .match(/.{1,2}/g)!
    .join(":");
