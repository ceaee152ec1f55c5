import { SecretPath } from "../secrets/schemas";
import { z } from "@hono/zod-openapi";
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MAX_VIEWS, MIN_TTL_SECONDS, SHARE_STATES } from "./model";

/** Plaintext limits: a token holder may share as much as a stored secret, an anonymous visitor less. */
export const MAX_SHARE_BYTES = 64 * 1024;
export const MAX_ANONYMOUS_SHARE_BYTES = 32 * 1024;
/** AES-GCM adds a 12-byte IV in front and a 16-byte tag behind. */
export const E2E_OVERHEAD_BYTES = 28;
const base64UrlLength = (bytes: number) => Math.ceil((bytes * 4) / 3);

export const SHARE_ID = /^[A-Za-z0-9]{22}$/;
export const ShareId = z.string().regex(SHARE_ID, "A share id is 22 letters and digits");
export const ShareIdParams = z.object({ id: ShareId.openapi({ param: { name: "id", in: "path" } }) });

/** The bearer token of a server-sealed share: it names the share and carries 192 bits of secret. */
export const SHARE_TOKEN = /^hshr_([A-Za-z0-9]{22})\.([A-Za-z0-9]{32})$/;

/** Lone UTF-16 surrogates cannot be encoded as UTF-8: refuse them instead of storing U+FFFD. */
const wellFormed = (s: string) => s.isWellFormed();
const NOT_WELL_FORMED = "Must be valid Unicode (no lone surrogates)";

const Passphrase = z
  .string()
  .min(1)
  .max(1024)
  .refine(wellFormed, NOT_WELL_FORMED)
  .openapi({ description: "Optional: the recipient must also type this; 5 wrong attempts destroy the share" });

const shareOptions = {
  expires_in_seconds: z
    .number()
    .int()
    .min(MIN_TTL_SECONDS)
    .max(MAX_TTL_SECONDS)
    .optional()
    .openapi({ description: `Default ${DEFAULT_TTL_SECONDS} (24 h); 5 minutes to 30 days` }),
  max_views: z.number().int().min(1).max(MAX_VIEWS).optional().openapi({ description: "Default 1" }),
  passphrase: Passphrase.optional(),
};

export const CreateE2eShareBody = z
  .strictObject({
    ciphertext: z
      .string()
      .min(base64UrlLength(E2E_OVERHEAD_BYTES + 1))
      .regex(/^[A-Za-z0-9_-]+$/, "base64url without padding")
      .openapi({
        description: `base64url(iv || AES-256-GCM ciphertext with tag); see docs/shares.md. At most ${MAX_ANONYMOUS_SHARE_BYTES} bytes of plaintext anonymously, ${MAX_SHARE_BYTES} with a token (else 413)`,
      }),
    ...shareOptions,
  })
  .openapi("CreateShare");

export const CreateSealedShareBody = z
  .strictObject({
    value: z
      .string()
      .min(1)
      .refine(wellFormed, NOT_WELL_FORMED)
      .optional()
      .openapi({ description: "UTF-8, at most 64 KiB; sealed by the server. Give `value` or `path`", example: "s3cr3t" }),
    path: SecretPath.optional().openapi({
      description: "Share the current value of a stored secret instead: read by the same rule as a direct read, guarded by `share` approvals",
    }),
    ...shareOptions,
  })
  .refine((b) => (b.value === undefined) !== (b.path === undefined), { message: "Give exactly one of value and path", path: ["value"] })
  .openapi("CreateSealedShare");

export const RevealBody = z
  .strictObject({
    nonce: z.string().min(1).max(128),
    passphrase: Passphrase.optional(),
    token: z.string().max(128).optional().openapi({ description: "Server-sealed shares opened in a browser: the token from the link" }),
  })
  .openapi("RevealShare");

export const RedeemBody = z
  .strictObject({
    token: z.string().min(1).max(128).openapi({ description: "The token returned when the share was created" }),
    passphrase: Passphrase.optional(),
  })
  .openapi("RedeemShare");

export const CreatedShare = z.object({ id: z.string(), url: z.string(), expires_at: z.string() }).openapi("CreatedShare");
export const CreatedSealedShare = CreatedShare.extend({
  token: z.string().openapi({ description: "Shown once; only its hash is kept" }),
}).openapi("CreatedSealedShare");

export const NonceResponse = z
  .object({
    nonce: z.string(),
    nonce_expires_at: z.string(),
    mode: z.enum(["e2e", "sealed"]),
    passphrase_required: z.boolean(),
    expires_at: z.string(),
    views_left: z.number().int(),
  })
  .openapi("ShareNonce");

export const RevealResponse = z
  .object({
    ciphertext: z.string().optional().openapi({ description: "End-to-end shares: decrypt with the key from the link" }),
    value: z.string().optional().openapi({ description: "Server-sealed shares" }),
    views_left: z.number().int(),
  })
  .openapi("RevealedShare");

export const RedeemResponse = z.object({ value: z.string(), views_left: z.number().int() }).openapi("RedeemedShare");

export const ShareMetadata = z
  .object({
    id: z.string(),
    mode: z.enum(["e2e", "sealed"]),
    state: z.enum(SHARE_STATES),
    created_at: z.string(),
    created_by: z.string(),
    expires_at: z.string(),
    max_views: z.number().int(),
    views_left: z.number().int(),
    passphrase_required: z.boolean(),
    viewed_at: z.string().nullable(),
    ended_at: z.string().nullable().openapi({ description: "When it was viewed out, expired, revoked or destroyed" }),
  })
  .openapi("ShareMetadata");
