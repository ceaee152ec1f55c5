import { z } from "@hono/zod-openapi";
import { KEY_TYPES } from "./keys";

/** Batches larger than this are refused with 413. */
export const MAX_BATCH_ITEMS = 1000;
/** Plaintext and inputs per item, as base64 text (about 48 KiB of bytes). */
const MAX_BASE64_CHARS = 65_536;

export const KeyName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");

export const NameParams = z.object({ name: KeyName.openapi({ param: { name: "name", in: "path" }, example: "payments" }) });

const Base64 = z
  .string()
  .max(MAX_BASE64_CHARS)
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, "Must be base64");
const Context = Base64.openapi({ description: "Base64 bytes bound to the ciphertext as AAD; decrypt must give the same" });
const Token = z.string().max(MAX_BASE64_CHARS * 2);

export const CreateKeyBody = z
  .strictObject({
    type: z.enum(KEY_TYPES).default("aes256-gcm"),
    deletion_allowed: z.boolean().optional(),
  })
  .openapi("CreateTransitKey");

export const UpdateKeyBody = z
  .strictObject({
    min_decryption_version: z.number().int().min(1).optional(),
    deletion_allowed: z.boolean().optional(),
  })
  .openapi("UpdateTransitKey");

export const KeyMetadata = z
  .object({
    name: z.string(),
    type: z.enum(KEY_TYPES),
    latest_version: z.number().int(),
    min_decryption_version: z.number().int(),
    deletion_allowed: z.boolean(),
    created_at: z.string(),
    created_by: z.string(),
    updated_at: z.string(),
    versions: z.array(
      z.object({
        version: z.number().int(),
        created_at: z.string(),
        public_key: z.string().nullable().openapi({ description: "SPKI, base64 (signing keys only)" }),
      }),
    ),
  })
  .openapi("TransitKey");

const EncryptItem = z.strictObject({ plaintext: Base64, context: Context.optional() });
const DecryptItem = z.strictObject({ ciphertext: Token, context: Context.optional() });

/** One item, or `batch_input` (checked for size by the handler, so that 1,001 items is 413, not 400). */
const singleOrBatch = <T extends z.ZodRawShape>(item: z.ZodObject<T>, name: string) =>
  z
    .union([item, z.strictObject({ batch_input: z.array(item).min(1) })])
    .openapi(name, { description: `One item, or batch_input with up to ${MAX_BATCH_ITEMS} items` });

export const EncryptBody = singleOrBatch(EncryptItem, "TransitEncrypt");
export const DecryptBody = singleOrBatch(DecryptItem, "TransitDecrypt");

export const HmacBody = z.strictObject({ input: Base64 }).openapi("TransitHmac");
export const VerifyHmacBody = z.strictObject({ input: Base64, hmac: Token }).openapi("TransitVerifyHmac");
export const SignBody = z.strictObject({ input: Base64 }).openapi("TransitSign");
export const VerifySignatureBody = z.strictObject({ input: Base64, signature: Token }).openapi("TransitVerifySignature");

const ItemError = z.object({ error: z.object({ status: z.number().int(), type: z.string(), detail: z.string() }) });
const batchOf = <T extends z.ZodTypeAny>(item: T) => z.object({ batch_results: z.array(z.union([item, ItemError])) });

const CiphertextResult = z.object({ ciphertext: z.string(), key_version: z.number().int() });
const PlaintextResult = z.object({ plaintext: z.string(), key_version: z.number().int() });
export const EncryptResult = z.union([CiphertextResult, batchOf(CiphertextResult)]).openapi("TransitCiphertext");
export const DecryptResult = z.union([PlaintextResult, batchOf(PlaintextResult)]).openapi("TransitPlaintext");
export const HmacResult = z.object({ hmac: z.string(), key_version: z.number().int() }).openapi("TransitHmacResult");
export const SignResult = z.object({ signature: z.string(), key_version: z.number().int() }).openapi("TransitSignature");
export const VerifyResult = z.object({ valid: z.boolean() }).openapi("TransitVerifyResult");
