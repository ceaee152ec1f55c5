import { and, asc, eq, inArray } from "drizzle-orm";
import { fromBase64, randomBytes, toBase64, wipe } from "../crypto/encoding";
import { open, seal, type Keyring } from "../crypto/envelope";
import type { Db } from "../db/client";
import { transitKeys, transitKeyVersions } from "../db/schema";

export const KEY_TYPES = ["aes256-gcm", "hmac", "ed25519", "ecdsa-p256"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export type TransitKeyRow = typeof transitKeys.$inferSelect;
export type TransitVersionRow = typeof transitKeyVersions.$inferSelect;

/** The place a key version's material is sealed at (see crypto/envelope.ts). */
export const transitPlace = (name: string, version: number) => ["transit", name, version] as const;

const SIGNING: Record<"ed25519" | "ecdsa-p256", SubtleCryptoGenerateKeyAlgorithm & SubtleCryptoImportKeyAlgorithm> = {
  ed25519: { name: "Ed25519" },
  "ecdsa-p256": { name: "ECDSA", namedCurve: "P-256" },
};

export const isSigningType = (type: KeyType): type is "ed25519" | "ecdsa-p256" => type === "ed25519" || type === "ecdsa-p256";

/**
 * Fresh material for one key version: the raw 256-bit key for aes256-gcm and hmac,
 * the PKCS#8 private key (plus the SPKI public key) for the signing types.
 */
export async function generateMaterial(type: KeyType): Promise<{ material: Uint8Array; publicKey: string | null }> {
  if (!isSigningType(type)) return { material: randomBytes(32), publicKey: null };
  const pair = (await crypto.subtle.generateKey(SIGNING[type], true, ["sign", "verify"])) as CryptoKeyPair;
  const material = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  return { material, publicKey: toBase64(spki) };
}

/** Seals new material for `name` version `version`; the row to insert. */
export async function newVersionRow(keyring: Keyring, tenantId: string, name: string, version: number, type: KeyType, now: number) {
  const { material, publicKey } = await generateMaterial(type);
  try {
    const sealed = await seal(keyring, tenantId, transitPlace(name, version), material);
    return { tenantId, name, version, ...sealed, publicKey, createdAt: now } satisfies TransitVersionRow;
  } finally {
    wipe(material);
  }
}

/** Usable (non-extractable) WebCrypto keys for one version, unsealed for one operation. */
export interface VersionKeys {
  version: number;
  /** aes256-gcm: AES-GCM; hmac: HMAC-SHA-256; signing types: the private key. */
  secret: CryptoKey;
  /** Signing types only: the public key, for verification. */
  public?: CryptoKey;
}

export async function unsealVersion(keyring: Keyring, type: KeyType, row: TransitVersionRow): Promise<VersionKeys> {
  const material = await open(keyring, row.tenantId, transitPlace(row.name, row.version), row);
  try {
    switch (type) {
      case "aes256-gcm":
        return { version: row.version, secret: await crypto.subtle.importKey("raw", material, "AES-GCM", false, ["encrypt", "decrypt"]) };
      case "hmac":
        return {
          version: row.version,
          secret: await crypto.subtle.importKey("raw", material, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
        };
      default:
        return { version: row.version, secret: await crypto.subtle.importKey("pkcs8", material, SIGNING[type], false, ["sign"]) };
    }
  } finally {
    wipe(material);
  }
}

/** The public key of a signing version (plain in the row): no unsealing needed to verify. */
export async function publicKeyOf(type: "ed25519" | "ecdsa-p256", row: TransitVersionRow): Promise<CryptoKey> {
  return crypto.subtle.importKey("spki", fromBase64(row.publicKey ?? ""), SIGNING[type], false, ["verify"]);
}

export function findKey(db: Db, tenantId: string, name: string) {
  return db
    .select()
    .from(transitKeys)
    .where(and(eq(transitKeys.tenantId, tenantId), eq(transitKeys.name, name)))
    .get();
}

/** A key with one of its versions: one indexed lookup per operation. */
export async function findKeyVersion(db: Db, tenantId: string, name: string, version?: number) {
  const row = await db
    .select({ key: transitKeys, version: transitKeyVersions })
    .from(transitKeys)
    .leftJoin(
      transitKeyVersions,
      and(
        eq(transitKeyVersions.tenantId, transitKeys.tenantId),
        eq(transitKeyVersions.name, transitKeys.name),
        eq(transitKeyVersions.version, version ?? transitKeys.latestVersion),
      ),
    )
    .where(and(eq(transitKeys.tenantId, tenantId), eq(transitKeys.name, name)))
    .get();
  return row ?? undefined;
}

/** The rows of some versions of one key (a batch decrypt may span several). */
export function findVersions(db: Db, tenantId: string, name: string, versions: number[]) {
  return db
    .select()
    .from(transitKeyVersions)
    .where(and(eq(transitKeyVersions.tenantId, tenantId), eq(transitKeyVersions.name, name), inArray(transitKeyVersions.version, versions)))
    .all();
}

/** Version metadata for GET: never the sealed columns. */
export function listVersionMetadata(db: Db, tenantId: string, name: string) {
  return db
    .select({ version: transitKeyVersions.version, createdAt: transitKeyVersions.createdAt, publicKey: transitKeyVersions.publicKey })
    .from(transitKeyVersions)
    .where(and(eq(transitKeyVersions.tenantId, tenantId), eq(transitKeyVersions.name, name)))
    .orderBy(asc(transitKeyVersions.version))
    .all();
}
