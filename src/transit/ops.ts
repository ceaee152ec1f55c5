import { fromBase64, randomBytes, toBase64, wipe } from "../crypto/encoding";
import type { Keyring } from "../crypto/envelope";
import type { Db } from "../db/client";
import { Problem } from "../http/problem";
import { findVersions, isSigningType, publicKeyOf, unsealVersion, type KeyType, type TransitKeyRow, type TransitVersionRow, type VersionKeys } from "./keys";

/** `hush:v{N}:{base64}`: the version says which key version made it. */
const TOKEN = /^hush:v([1-9][0-9]{0,8}):([A-Za-z0-9+/]+={0,2})$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

const format = (version: number, bytes: Uint8Array) => `hush:v${version}:${toBase64(bytes)}`;

const invalid = (what: "ciphertext" | "hmac" | "signature") =>
  new Problem(400, `invalid-${what}`, `The ${what} is not in the form hush:v<version>:<base64> produced by this service`);

/** Splits a `hush:v{N}:...` string into its version and bytes; 400 if it is not one. */
export function parseToken(text: string, what: "ciphertext" | "hmac" | "signature"): { version: number; bytes: Uint8Array } {
  const match = TOKEN.exec(text);
  if (!match) throw invalid(what);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(match[2]!);
  } catch {
    throw invalid(what);
  }
  return { version: Number(match[1]), bytes };
}

export function decodeBase64Field(text: string, field: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch {
    throw new Problem(400, "invalid-base64", `${field} must be base64`);
  }
}

const SIGN_PARAMS: Record<"ed25519" | "ecdsa-p256", SubtleCryptoSignAlgorithm> = {
  ed25519: { name: "Ed25519" },
  "ecdsa-p256": { name: "ECDSA", hash: "SHA-256" },
};

/**
 * One named key within one request: checks which versions may be used and unseals
 * each version it needs at most once (a batch of 1,000 opens the material once).
 */
export class TransitKey {
  private readonly unsealed = new Map<number, Promise<VersionKeys>>();
  private readonly rows = new Map<number, TransitVersionRow>();

  constructor(
    readonly row: TransitKeyRow,
    private readonly keyring: Keyring,
    private readonly db: Db,
    /** The latest version's row when the caller fetched it with the key (one query, not two). */
    latest?: TransitVersionRow | null,
  ) {
    if (latest) this.rows.set(latest.version, latest);
  }

  get type(): KeyType {
    return this.row.type;
  }

  requireType(operation: string, ...types: KeyType[]): void {
    if (!types.includes(this.type)) {
      throw new Problem(400, "unsupported-operation", `Key ${this.row.name} is of type ${this.type}, which does not support ${operation}`, {
        key_type: this.type,
      });
    }
  }

  /** Loads the rows of every version a batch refers to, in one query. */
  async preload(versions: Iterable<number>): Promise<void> {
    const wanted = [...new Set(versions)].filter((v) => !this.rows.has(v) && this.usable(v) === undefined);
    if (wanted.length === 0) return;
    for (const row of await findVersions(this.db, this.row.tenantId, this.row.name, wanted)) this.rows.set(row.version, row);
  }

  /** Why `version` may not be used to decrypt or verify, or undefined if it may. */
  private usable(version: number): Problem | undefined {
    if (version > this.row.latestVersion) {
      return new Problem(400, "unknown-key-version", `Key ${this.row.name} has no version ${version}`);
    }
    if (version < this.row.minDecryptionVersion) {
      return new Problem(
        400,
        "below-min-decryption-version",
        `Version ${version} of key ${this.row.name} is below its min_decryption_version (${this.row.minDecryptionVersion}); rewrap data before raising it`,
        { min_decryption_version: this.row.minDecryptionVersion },
      );
    }
    return undefined;
  }

  private async versionRow(version: number): Promise<TransitVersionRow> {
    const refusal = this.usable(version);
    if (refusal) throw refusal;
    if (!this.rows.has(version)) await this.preload([version]);
    const row = this.rows.get(version);
    if (!row) throw new Problem(400, "unknown-key-version", `Key ${this.row.name} has no version ${version}`);
    return row;
  }

  private keys(version: number): Promise<VersionKeys> {
    let keys = this.unsealed.get(version);
    if (!keys) {
      keys = this.versionRow(version).then((row) => unsealVersion(this.keyring, this.type, row));
      this.unsealed.set(version, keys);
    }
    return keys;
  }

  async encrypt(plaintext: Uint8Array, context: Uint8Array | undefined): Promise<string> {
    const { version, secret } = await this.keys(this.row.latestVersion);
    const iv = randomBytes(IV_BYTES);
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: context ?? new Uint8Array() }, secret, plaintext));
    const out = new Uint8Array(IV_BYTES + sealed.length);
    out.set(iv);
    out.set(sealed, IV_BYTES);
    return format(version, out);
  }

  /** The plaintext (caller wipes it); 400 on any mismatch: tampering, wrong context, wrong key. */
  async decrypt(ciphertext: string, context: Uint8Array | undefined): Promise<{ plaintext: Uint8Array; version: number }> {
    const { version, bytes } = parseToken(ciphertext, "ciphertext");
    if (bytes.length < IV_BYTES + TAG_BYTES) throw invalid("ciphertext");
    const { secret } = await this.keys(version);
    try {
      const plaintext = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: context ?? new Uint8Array() },
        secret,
        bytes.subarray(IV_BYTES),
      );
      return { plaintext: new Uint8Array(plaintext), version };
    } catch {
      throw new Problem(
        400,
        "decryption-failed",
        `The ciphertext does not open under key ${this.row.name} v${version} with this context: it was altered, the context differs, or it belongs to another key`,
      );
    }
  }

  /** Decrypts with its own version and encrypts under the latest; the plaintext never leaves. */
  async rewrap(ciphertext: string, context: Uint8Array | undefined): Promise<string> {
    const { plaintext } = await this.decrypt(ciphertext, context);
    try {
      return await this.encrypt(plaintext, context);
    } finally {
      wipe(plaintext);
    }
  }

  async hmac(input: Uint8Array): Promise<string> {
    const { version, secret } = await this.keys(this.row.latestVersion);
    return format(version, new Uint8Array(await crypto.subtle.sign("HMAC", secret, input)));
  }

  async verifyHmac(input: Uint8Array, hmac: string): Promise<boolean> {
    const { version, bytes } = parseToken(hmac, "hmac");
    const { secret } = await this.keys(version);
    // crypto.subtle.verify compares in constant time.
    return crypto.subtle.verify("HMAC", secret, bytes, input);
  }

  async sign(input: Uint8Array): Promise<string> {
    if (!isSigningType(this.type)) throw new Error("sign on a symmetric key");
    const { version, secret } = await this.keys(this.row.latestVersion);
    return format(version, new Uint8Array(await crypto.subtle.sign(SIGN_PARAMS[this.type], secret, input)));
  }

  /** Verification needs only the public key, which is stored in plain: nothing is unsealed. */
  async verifySignature(input: Uint8Array, signature: string): Promise<boolean> {
    if (!isSigningType(this.type)) throw new Error("verify on a symmetric key");
    const { version, bytes } = parseToken(signature, "signature");
    const row = await this.versionRow(version);
    return crypto.subtle.verify(SIGN_PARAMS[this.type], await publicKeyOf(this.type, row), bytes, input);
  }
}
