import { z } from "@hono/zod-openapi";

/**
 * Input rules shared by several features, defined once so they cannot drift apart.
 * They know nothing about the features that use them.
 */

/** Most `*` a glob may hold: matching stays cheap and a glob stays readable. */
export const MAX_GLOB_STARS = 8;
export const MAX_GLOB_LENGTH = 256;

const starCount = (glob: string) => glob.split("*").length - 1;

/** A `*` glob of at most `max` characters and {@link MAX_GLOB_STARS} stars. */
export const Glob = (max: number) =>
  z
    .string()
    .min(1)
    .max(max, `A glob is at most ${max} characters`)
    .refine((glob) => starCount(glob) <= MAX_GLOB_STARS, `A glob may hold at most ${MAX_GLOB_STARS} *`);

/** A glob over secret paths: path characters and `*`, which matches any run of characters (`/` included). */
export const PathGlob = Glob(MAX_GLOB_LENGTH).regex(/^[A-Za-z0-9._/*-]+$/, "Path globs use path characters and *");

/** Who a token (or approver) is: printable ASCII without spaces. */
export const Subject = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, "Printable ASCII without spaces");

export const TenantId = z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, "2-63 characters of a-z 0-9 -, starting with a letter or digit");
