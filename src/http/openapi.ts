import { OpenAPIHono, type Hook, type z } from "@hono/zod-openapi";
import type { AppEnv } from "./context";
import { Problem } from "./problem";

/** Turns a failed zod validation into a 400 problem that lists every field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  throw new Problem(400, "validation-failed", "The request is not valid; see `errors` for each field", {
    errors: result.error.issues.map((issue) => ({
      field: issue.path.join(".") || "(root)",
      code: issue.code,
      message: issue.message,
    })),
  });
};

/** A feature's sub-app: validation failures become problem documents. */
export const featureApp = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** Shared OpenAPI response snippets. */
export const problemContent = {
  "application/problem+json": {
    schema: {
      type: "object" as const,
      properties: {
        type: { type: "string" as const },
        title: { type: "string" as const },
        status: { type: "integer" as const },
        detail: { type: "string" as const },
      },
    },
  },
};

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: "Problem document (RFC 9457)", content: problemContent }]));

/** OpenAPI snippet: a JSON body or response of `schema`. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });
/** OpenAPI snippet: a required JSON request body of `schema`. */
export const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, ...json(schema) } });

/** Milliseconds since the epoch as RFC 3339 (null stays null), as every response shows times. */
export function iso(ms: number): string;
export function iso(ms: number | null | undefined): string | null;
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
