import { fromBase64, randomBytes, toHex, utf8, wipe } from "./encoding";

/**
 * Envelope encryption (docs/decisions.md#envelope-encryption):
 *   master key --HKDF(salt = tenant, info = "hush kek v1")--> tenant KEK
 *   tenant KEK --AES-256-GCM, AAD = place + master key id--> wrapped data key
 *   data key   --AES-256-GCM, AAD = place-------------------> ciphertext
 * "place" names where the ciphertext belongs (tenant, path, version...), so a row
 * copied elsewhere never opens. The value's AAD leaves out the master key id so that a
 * master-key rotation re-wraps data keys without touching values.
 */
export interface Sealed {
  ciphertext: Uint8Array;
  iv: Uint8Array;
  wrappedKey: Uint8Array;
  keyId: string;
}

export type Place = readonly (string | number)[];

export interface Keyring {
  activeId: string;
  ids: string[];
  has(id: string): boolean;
  kek(id: string, tenantId: string): Promise<CryptoKey>;
  /** A tenant's HMAC-SHA-256 key for one purpose: HKDF(master key `id`, salt = tenant, info). Never a KEK. */
  macKey(id: string, tenantId: string, info: MacInfo): Promise<CryptoKey>;
  /**
   * 32 raw bytes HKDF(master key `id`, salt = tenant, info): the audit MAC key, as bytes so the
   * AuditChain object MACs synchronously inside its append transaction (node:crypto createHmac).
   */
  derive(id: string, tenantId: string, info: "hush audit mac v1"): Promise<Uint8Array>;
  /**
   * The data key `wrappedKey` unwraps to under master key `id` at `place`, as a non-extractable
   * AES-GCM CryptoKey, kept for DATA_KEY_TTL_MS (see `open`). Rejects (IntegrityError) if it does not unwrap.
   */
  dataKey(id: string, tenantId: string, place: Place, wrappedKey: Uint8Array): Promise<CryptoKey>;
}

/**
 * Unwrapped data keys an isolate keeps (docs/decisions.md, envelope encryption): at most this
 * many, each for at most DATA_KEY_TTL_MS, so a hot secret's reads skip the unwrap.
 */
export const DATA_KEY_CACHE_SIZE = 1_000;
export const DATA_KEY_TTL_MS = 5 * 60_000;

/** HKDF info strings of the tenant MAC keys; each purpose has its own, distinct from "hush kek v1". */
export type MacInfo = "hush scan mac v1";

/** Thrown when a ciphertext or wrapped key fails to open: tampering or a moved row. */
export class IntegrityError extends Error {
  constructor() {
    super("sealed data failed its integrity check");
    this.name = "IntegrityError";
  }
}

/** MASTER_KEYS is missing or malformed: secret operations fail closed (http/errors.ts answers 503). */
export class KeyringUnavailableError extends Error {
  constructor() {
    super("no usable master key configured");
    this.name = "KeyringUnavailableError";
  }
}

/** A row is still under a master key that MASTER_KEYS no longer holds (http/errors.ts names the key). */
export class MasterKeyRemovedError extends Error {
  constructor(readonly keyId: string) {
    super(`sealed under removed master key ${keyId}`);
    this.name = "MasterKeyRemovedError";
  }
}

const keyringUnavailable = () => new KeyringUnavailableError();
export const masterKeyRemoved = (keyId: string) => new MasterKeyRemovedError(keyId);

const keyrings = new Map<string, Keyring>();

/** Parses MASTER_KEYS ({"active": id, "keys": {id: base64 32 bytes}}), failing closed (KeyringUnavailableError). */
export function loadKeyring(raw: string | undefined): Keyring {
  if (!raw) throw keyringUnavailable();
  const cached = keyrings.get(raw);
  if (cached) return cached;
  const keyring = parseKeyring(raw);
  if (!keyring) throw keyringUnavailable();
  keyrings.set(raw, keyring);
  return keyring;
}

export function keyringState(raw: string | undefined): "configured" | "missing" | "malformed" {
  if (!raw) return "missing";
  return parseKeyring(raw) ? "configured" : "malformed";
}

function parseKeyring(raw: string): Keyring | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { active, keys } = parsed as { active?: unknown; keys?: unknown };
  if (typeof active !== "string" || typeof keys !== "object" || keys === null) return undefined;
  const material = new Map<string, Uint8Array>();
  for (const [id, value] of Object.entries(keys)) {
    if (typeof value !== "string") return undefined;
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(value);
    } catch {
      return undefined;
    }
    if (bytes.length !== 32 || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) return undefined;
    material.set(id, bytes);
  }
  if (!material.has(active)) return undefined;

  const baseKeys = new Map<string, Promise<CryptoKey>>();
  const keks = new Map<string, Promise<CryptoKey>>();
  const macKeys = new Map<string, Promise<CryptoKey>>();
  const dataKeys = new Map<string, { key: Promise<CryptoKey>; until: number }>();
  const base = (id: string) => {
    const bytes = material.get(id);
    if (!bytes) throw masterKeyRemoved(id);
    let key = baseKeys.get(id);
    if (!key) {
      key = crypto.subtle.importKey("raw", bytes, "HKDF", false, ["deriveKey"]);
      baseKeys.set(id, key);
    }
    return key;
  };
  return {
    activeId: active,
    ids: [...material.keys()],
    has: (id) => material.has(id),
    async derive(id, tenantId, info) {
      const bytes = material.get(id);
      if (!bytes) throw masterKeyRemoved(id);
      const base = await crypto.subtle.importKey("raw", bytes, "HKDF", false, ["deriveBits"]);
      const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: utf8(tenantId), info: utf8(info) }, base, 256);
      return new Uint8Array(bits);
    },
    kek(id, tenantId) {
      const cacheKey = `${id}\u0000${tenantId}`;
      let kek = keks.get(cacheKey);
      if (!kek) {
        kek = base(id).then((b) =>
          crypto.subtle.deriveKey(
            { name: "HKDF", hash: "SHA-256", salt: utf8(tenantId), info: utf8("hush kek v1") },
            b,
            { name: "AES-GCM", length: 256 },
            false,
            // unwrapKey: `open` unwraps data keys straight into CryptoKeys.
            ["encrypt", "decrypt", "unwrapKey"],
          ),
        );
        keks.set(cacheKey, kek);
      }
      return kek;
    },
    dataKey(id, tenantId, place, wrappedKey) {
      // Keyed by every input of the unwrap, the wrapped bytes included: a hit is exactly what the
      // unwrap would answer, and a row whose wrapped key or place differs unwraps (and fails) anew.
      const cacheKey = `${id}\u0000${tenantId}\u0000${JSON.stringify(place)}\u0000${toHex(wrappedKey)}`;
      const now = Date.now();
      const kept = dataKeys.get(cacheKey);
      if (kept && kept.until > now) return kept.key;
      const kek = this.kek(id, tenantId);
      const key = kek
        .then((k) => {
          const { algorithm, data } = wrappedParts(tenantId, place, id, wrappedKey);
          return crypto.subtle.unwrapKey("raw", data, k, algorithm, "AES-GCM", false, ["decrypt"]);
        })
        .catch(() => {
          dataKeys.delete(cacheKey);
          throw new IntegrityError();
        });
      if (dataKeys.size >= DATA_KEY_CACHE_SIZE) dataKeys.delete(dataKeys.keys().next().value!);
      dataKeys.set(cacheKey, { key, until: now + DATA_KEY_TTL_MS });
      return key;
    },
    macKey(id, tenantId, info) {
      const cacheKey = `${id}\u0000${tenantId}\u0000${info}`;
      let key = macKeys.get(cacheKey);
      if (!key) {
        key = base(id).then((b) =>
          crypto.subtle.deriveKey(
            { name: "HKDF", hash: "SHA-256", salt: utf8(tenantId), info: utf8(info) },
            b,
            { name: "HMAC", hash: "SHA-256", length: 256 },
            false,
            ["sign"],
          ),
        );
        macKeys.set(cacheKey, key);
      }
      return key;
    },
  };
}

const aad = (tenantId: string, place: Place, keyId?: string) =>
  utf8(JSON.stringify(keyId === undefined ? ["hush/v1", tenantId, ...place] : ["hush/v1", tenantId, ...place, keyId]));

/** Seals `plaintext` for one place in one tenant under the active master key. */
export async function seal(keyring: Keyring, tenantId: string, place: Place, plaintext: Uint8Array): Promise<Sealed> {
  const keyId = keyring.activeId;
  const dataKeyBytes = randomBytes(32);
  const iv = randomBytes(12);
  const dataKey = await crypto.subtle.importKey("raw", dataKeyBytes, "AES-GCM", false, ["encrypt"]);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(tenantId, place) }, dataKey, plaintext));
  const wrappedKey = await wrapDataKey(keyring, keyId, tenantId, place, dataKeyBytes);
  wipe(dataKeyBytes);
  return { ciphertext, iv, wrappedKey, keyId };
}

/**
 * Opens what `seal` produced for the same tenant and place; throws IntegrityError otherwise. The
 * data key is unwrapped straight into a non-extractable CryptoKey (`unwrapKey`): its bytes never
 * reach JavaScript. The keyring keeps it a few minutes (`Keyring.dataKey`), so reading a hot secret
 * again costs one decrypt: the KEK that unwraps it is in the same isolate anyway.
 */
export async function open(keyring: Keyring, tenantId: string, place: Place, sealed: Sealed): Promise<Uint8Array> {
  if (!keyring.has(sealed.keyId)) throw masterKeyRemoved(sealed.keyId);
  const dataKey = await keyring.dataKey(sealed.keyId, tenantId, place, sealed.wrappedKey);
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv, additionalData: aad(tenantId, place) }, dataKey, sealed.ciphertext));
  } catch {
    throw new IntegrityError();
  }
}

/** Re-wraps a data key under the active master key without touching the ciphertext. */
export async function rewrap(keyring: Keyring, tenantId: string, place: Place, sealed: Sealed): Promise<Sealed> {
  const dataKeyBytes = await unwrapDataKey(keyring, sealed.keyId, tenantId, place, sealed.wrappedKey);
  const wrappedKey = await wrapDataKey(keyring, keyring.activeId, tenantId, place, dataKeyBytes);
  wipe(dataKeyBytes);
  return { ...sealed, wrappedKey, keyId: keyring.activeId };
}

async function wrapDataKey(keyring: Keyring, keyId: string, tenantId: string, place: Place, dataKey: Uint8Array) {
  const kek = await keyring.kek(keyId, tenantId);
  const iv = randomBytes(12);
  const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(tenantId, place, keyId) }, kek, dataKey));
  const out = new Uint8Array(12 + wrapped.length);
  out.set(iv);
  out.set(wrapped, 12);
  return out;
}

/** A wrapped data key as `wrapDataKey` lays it out (IV, then AES-GCM ciphertext) and the parameters that open it. */
function wrappedParts(tenantId: string, place: Place, keyId: string, wrappedKey: Uint8Array) {
  return {
    algorithm: { name: "AES-GCM", iv: wrappedKey.subarray(0, 12), additionalData: aad(tenantId, place, keyId) } satisfies SubtleCryptoEncryptAlgorithm,
    data: wrappedKey.subarray(12),
  };
}

async function unwrapDataKey(keyring: Keyring, keyId: string, tenantId: string, place: Place, wrappedKey: Uint8Array) {
  const kek = await keyring.kek(keyId, tenantId);
  try {
    const { algorithm, data } = wrappedParts(tenantId, place, keyId, wrappedKey);
    return new Uint8Array(await crypto.subtle.decrypt(algorithm, kek, data));
  } catch {
    throw new IntegrityError();
  }
}

/** Packs a Sealed into one blob (for rows that keep a single column, e.g. idempotency). */
export function pack(sealed: Sealed): Uint8Array {
  const keyId = utf8(sealed.keyId);
  const out = new Uint8Array(2 + keyId.length + 12 + 2 + sealed.wrappedKey.length + sealed.ciphertext.length);
  let at = 0;
  out[at++] = 1;
  out[at++] = keyId.length;
  out.set(keyId, at);
  at += keyId.length;
  out.set(sealed.iv, at);
  at += 12;
  out[at++] = sealed.wrappedKey.length >> 8;
  out[at++] = sealed.wrappedKey.length & 0xff;
  out.set(sealed.wrappedKey, at);
  at += sealed.wrappedKey.length;
  out.set(sealed.ciphertext, at);
  return out;
}

export function unpack(blob: Uint8Array): Sealed {
  if (blob[0] !== 1) throw new IntegrityError();
  let at = 1;
  const keyIdLength = blob[at++]!;
  const keyId = new TextDecoder().decode(blob.subarray(at, at + keyIdLength));
  at += keyIdLength;
  const iv = blob.slice(at, at + 12);
  at += 12;
  const wrappedLength = (blob[at]! << 8) | blob[at + 1]!;
  at += 2;
  const wrappedKey = blob.slice(at, at + wrappedLength);
  at += wrappedLength;
  return { keyId, iv, wrappedKey, ciphertext: blob.slice(at) };
}
