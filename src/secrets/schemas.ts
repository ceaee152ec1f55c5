import { z } from "@hono/zod-openapi";

export const SECRET_TYPES = ["API_KEY", "DATABASE_CREDENTIAL", "OAUTH_TOKEN", "CERTIFICATE", "ENCRYPTION_KEY", "WEBHOOK_SECRET", "CUSTOM"] as const;

/** First segments used by routes under /store/; a secret path may not start with them. */
export const RESERVED_FIRST_SEGMENTS = ["history", "recover", "undelete", "destroy", "import"] as const;
/** Last segments used by routes under /store/{path}/; a secret path may not end with them (docs/secret-store.md). */
export const RESERVED_LAST_SEGMENTS = ["versions", "metadata", "rotate"] as const;

export const ROTATION_POLICIES = ["MANUAL", "AUTOMATIC", "ON_DEMAND"] as const;
export const CHARSETS = ["alnum", "hex", "base64url", "ascii"] as const;

const SEGMENT = "[A-Za-z0-9._-]+";
const PATH = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`);

export const MAX_VALUE_BYTES = 64 * 1024;

export const SecretPath = z
  .string()
  .min(1)
  .max(256)
  .regex(PATH, "Use segments of A-Z a-z 0-9 . _ - separated by single slashes, like app/db/password")
  .refine((p) => p.split("/").every((s) => s !== "." && s !== ".."), "Segments . and .. are not allowed")
  .refine((p) => !(RESERVED_FIRST_SEGMENTS as readonly string[]).includes(p.split("/")[0]!), `A path may not start with ${RESERVED_FIRST_SEGMENTS.join(", ")}`)
  .refine((p) => !(RESERVED_LAST_SEGMENTS as readonly string[]).includes(p.split("/").at(-1)!), `A path may not end with ${RESERVED_LAST_SEGMENTS.join(", ")}`)
  .openapi({ example: "app/db/password" });

export const PathParams = z.object({ path: SecretPath.openapi({ param: { name: "path", in: "path" } }) });

const Tag = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "Tags are 1-64 characters of A-Z a-z 0-9 . _ : -");
export const Environment = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "Lower-case name up to 32 characters, like production");
export const ServiceName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "Service names are 1-64 characters of a-z 0-9 . _ -");
const Timestamp = z.iso.datetime({ offset: true }).openapi({ example: "2027-01-01T00:00:00Z" });

export const Generate = z
  .strictObject({
    length: z.number().int().min(8).max(4096).default(32),
    charset: z.enum(CHARSETS).default("alnum"),
  })
  .openapi("Generate", { description: "Ask the server for a random value instead of sending one" });
export type GenerateSpec = z.infer<typeof Generate>;

const CustomMetadata = z
  .record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "Keys are 1-64 characters of A-Z a-z 0-9 . _ -"), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 32, "At most 32 entries");

const metadataFields = {
  type: z.enum(SECRET_TYPES).optional(),
  environment: Environment.optional(),
  description: z.string().max(1024).optional(),
  tags: z.array(Tag).max(32).optional(),
  expires_at: Timestamp.nullable().optional(),
  allowed_services: z.array(ServiceName).max(64).nullable().optional().openapi({
    description: "Services (token subject service:<name>) that may read this secret; others with that subject form may not",
  }),
  rotation_policy: z.enum(ROTATION_POLICIES).optional(),
  rotation_days: z.number().int().min(1).max(3650).nullable().optional(),
  max_versions: z.number().int().min(0).max(10_000).optional().openapi({ description: "0 keeps every version" }),
  custom_metadata: CustomMetadata.nullable().optional(),
};
/** Metadata as create, write, import and PATCH send it (PATCH may also clear environment and description). */
export type MetadataInput = Omit<{ [K in keyof typeof metadataFields]?: z.infer<(typeof metadataFields)[K]> }, "environment" | "description"> & {
  environment?: string | null;
  description?: string | null;
};

// A lone UTF-16 surrogate cannot be encoded as UTF-8: it would be stored as U+FFFD and read back changed.
export const isWellFormedValue = (s: string) => s.isWellFormed();
export const NOT_WELL_FORMED = "Must be valid Unicode (no lone surrogates)";

const valueFields = {
  value: z.string().min(1).refine(isWellFormedValue, NOT_WELL_FORMED).optional().openapi({ description: "UTF-8, at most 64 KiB", example: "s3cr3t" }),
  generate: Generate.optional(),
};
const oneValueSource = (body: { value?: string; generate?: unknown }) => (body.value === undefined) !== (body.generate === undefined);
const oneValueSourceMessage = { message: "Send exactly one of value or generate", path: ["value"] };

export const CreateSecretBody = z
  .strictObject({ ...valueFields, ...metadataFields })
  .refine(oneValueSource, oneValueSourceMessage)
  .openapi("CreateSecret");

export const WriteSecretBody = z
  .strictObject({
    ...valueFields,
    cas: z.number().int().min(0).optional().openapi({ description: "Expected current version (0: the path must not exist)" }),
    ...metadataFields,
  })
  .refine(oneValueSource, oneValueSourceMessage)
  .openapi("WriteSecret");

export const RotateBody = z
  .strictObject({
    ...valueFields,
    expire_old_after_seconds: z
      .number()
      .int()
      .min(0)
      .max(365 * 86400)
      .optional()
      .openapi({ description: "Grace period after which the previous version no longer reads by number" }),
  })
  .refine(oneValueSource, oneValueSourceMessage)
  .openapi("RotateSecret");

export const PatchMetadataBody = z
  .strictObject({ ...metadataFields, environment: Environment.nullable().optional(), description: z.string().max(1024).nullable().optional() })
  .refine((body) => Object.keys(body).length > 0, { message: "Send at least one field to change" })
  .openapi("PatchMetadata");

export const RecoverBody = z.strictObject({ at: Timestamp }).openapi("Recover");

export const DestroyBody = z.strictObject({ versions: z.array(z.number().int().min(1)).min(1).max(1000) }).openapi("Destroy");

export const MAX_IMPORT_ENTRIES = 1000;
export const ImportEntry = z.union([z.string().min(1), z.strictObject({ ...valueFields, ...metadataFields }).refine(oneValueSource, oneValueSourceMessage)]);
export const ImportBody = z
  .strictObject({
    prefix: z
      .string()
      .max(200)
      .regex(/^[A-Za-z0-9._/-]*$/)
      .optional()
      .openapi({ description: "Prepended as `prefix/` to every key" }),
    values: z.record(z.string().min(1).max(256), ImportEntry),
  })
  .openapi("Import");

export const VersionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.coerce.number().int().min(1).optional().openapi({ description: "List versions below this number" }),
});

export const HistoryQuery = z.object({
  version: z.coerce.number().int().min(1),
  include_expired: z.enum(["true", "false"]).optional(),
  resolve: z.enum(["true", "false"]).optional(),
});

export const ReadQuery = z.object({
  version: z.coerce.number().int().min(1).optional(),
  include_expired: z.enum(["true", "false"]).optional(),
  resolve: z.enum(["true", "false"]).optional().openapi({ description: "Expand ${secret.path} references (depth 10)" }),
});

export const ListQuery = z.object({
  prefix: z
    .string()
    .max(256)
    .regex(/^[A-Za-z0-9._/-]*$/)
    .optional(),
  pattern: z
    .string()
    .max(256)
    .regex(/^[A-Za-z0-9._/*-]+$/, "Globs use * only")
    .optional(),
  tag: Tag.optional(),
  type: z.enum(SECRET_TYPES).optional(),
  environment: Environment.optional(),
  include_deleted: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(400).optional(),
});

export const SecretMetadata = z
  .object({
    path: z.string(),
    current_version: z.number().int(),
    type: z.enum(SECRET_TYPES),
    environment: z.string().nullable(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    expires_at: z.string().nullable(),
    created_at: z.string(),
    created_by: z.string(),
    updated_at: z.string(),
    updated_by: z.string(),
    deleted_at: z.string().nullable(),
    allowed_services: z.array(z.string()).nullable(),
    rotation_policy: z.enum(ROTATION_POLICIES),
    rotation_days: z.number().int().nullable(),
    next_rotation_at: z.string().nullable(),
    max_versions: z.number().int(),
    custom_metadata: z.record(z.string(), z.string()).nullable(),
    generated: z.object({ length: z.number().int(), charset: z.enum(CHARSETS) }).nullable(),
  })
  .openapi("SecretMetadata");

export const SecretValue = SecretMetadata.extend({
  version: z.number().int(),
  value: z.string(),
  version_created_at: z.string(),
  version_created_by: z.string(),
}).openapi("SecretValue");

export const SecretList = z.object({ items: z.array(SecretMetadata), next_cursor: z.string().nullable() }).openapi("SecretList");

export const VersionList = z
  .object({
    path: z.string(),
    current_version: z.number().int(),
    deleted_at: z.string().nullable(),
    items: z.array(
      z.object({
        version: z.number().int(),
        state: z.enum(["live", "deleted", "destroyed"]),
        created_at: z.string(),
        created_by: z.string(),
        readable_until: z.string().nullable(),
        destroyed_at: z.string().nullable(),
        source_version: z.number().int().nullable(),
      }),
    ),
    next_cursor: z.number().int().nullable(),
  })
  .openapi("VersionList");

export const WithinDaysQuery = z.object({ within_days: z.coerce.number().int().min(0).max(3650).default(30) });

export const ExportQuery = z.object({
  prefix: ListQuery.shape.prefix,
  include_values: z.enum(["true", "false"]).optional(),
  include_expired: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
  cursor: z.string().max(400).optional(),
});
