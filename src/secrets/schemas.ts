import { z } from "@hono/zod-openapi";

export const SECRET_TYPES = [
  "API_KEY",
  "DATABASE_CREDENTIAL",
  "OAUTH_TOKEN",
  "CERTIFICATE",
  "ENCRYPTION_KEY",
  "WEBHOOK_SECRET",
  "CUSTOM",
] as const;

/** First segments used by routes under /store/; a secret path may not start with them. */
export const RESERVED_FIRST_SEGMENTS = ["history", "recover", "undelete", "destroy", "import"] as const;

const SEGMENT = "[A-Za-z0-9._-]+";
const PATH = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`);

export const MAX_VALUE_BYTES = 64 * 1024;

export const SecretPath = z
  .string()
  .min(1)
  .max(256)
  .regex(PATH, "Use segments of A-Z a-z 0-9 . _ - separated by single slashes, like app/db/password")
  .refine((p) => p.split("/").every((s) => s !== "." && s !== ".."), "Segments . and .. are not allowed")
  .refine(
    (p) => !(RESERVED_FIRST_SEGMENTS as readonly string[]).includes(p.split("/")[0]!),
    `A path may not start with ${RESERVED_FIRST_SEGMENTS.join(", ")}`,
  )
  .openapi({ example: "app/db/password" });

export const PathParams = z.object({ path: SecretPath.openapi({ param: { name: "path", in: "path" } }) });

const Tag = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "Tags are 1-64 characters of A-Z a-z 0-9 . _ : -");
const Environment = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "Lower-case name up to 32 characters, like production");
export const ServiceName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "Service names are 1-64 characters of a-z 0-9 . _ -");
const Timestamp = z.iso.datetime({ offset: true }).openapi({ example: "2027-01-01T00:00:00Z" });

const metadataFields = {
  type: z.enum(SECRET_TYPES).optional(),
  environment: Environment.optional(),
  description: z.string().max(1024).optional(),
  tags: z.array(Tag).max(32).optional(),
  expires_at: Timestamp.nullable().optional(),
  allowed_services: z.array(ServiceName).max(64).nullable().optional().openapi({
    description: "Services (token subject service:<name>) that may read this secret; others with that subject form may not",
  }),
};

export const CreateSecretBody = z
  .strictObject({
    value: z.string().min(1).openapi({ description: "UTF-8, at most 64 KiB", example: "s3cr3t" }),
    ...metadataFields,
  })
  .openapi("CreateSecret");

export const WriteSecretBody = z
  .strictObject({
    value: z.string().min(1),
    cas: z.number().int().min(0).optional().openapi({ description: "Expected current version (0: the path must not exist)" }),
    ...metadataFields,
  })
  .openapi("WriteSecret");

export const ReadQuery = z.object({
  version: z.coerce.number().int().min(1).optional(),
  include_expired: z.enum(["true", "false"]).optional(),
});

export const ListQuery = z.object({
  prefix: z.string().max(256).regex(/^[A-Za-z0-9._\/-]*$/).optional(),
  pattern: z.string().max(256).regex(/^[A-Za-z0-9._\/*-]+$/, "Globs use * only").optional(),
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
  })
  .openapi("SecretMetadata");

export const SecretValue = SecretMetadata.extend({
  version: z.number().int(),
  value: z.string(),
  version_created_at: z.string(),
  version_created_by: z.string(),
}).openapi("SecretValue");

export const SecretList = z
  .object({ items: z.array(SecretMetadata), next_cursor: z.string().nullable() })
  .openapi("SecretList");
