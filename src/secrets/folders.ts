import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gt, gte, isNull, lt, sql } from "drizzle-orm";
import { authorize } from "../auth/access";
import { secrets } from "../db/schema";
import { errorResponses, featureApp, json } from "../http/openapi";
import { afterCursor, pathCursor } from "./input";
import { listable, listableUnder } from "./read-rule";
import { SecretMetadata } from "./schemas";
import { metadataView } from "./store";

const FoldersQuery = z.object({
  prefix: z
    .string()
    .max(256)
    .regex(/^(?:[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*\/?)?$/, "A folder like app/db (empty for the top)")
    .refine((p) => !/(?:^|\/)\.\.?(?:\/|$)/.test(p), "Segments . and .. are not allowed")
    .optional(),
  include_deleted: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  cursor: z.string().max(400).optional(),
});

const FolderList = z.object({
  prefix: z.string(),
  folders: z.array(z.object({ name: z.string(), path: z.string(), count: z.number().int() })),
  secrets: z.array(SecretMetadata),
  next_cursor: z.string().nullable(),
});

const foldersRoute = createRoute({
  method: "get",
  path: "/folders",
  summary: "One folder's immediate children: sub-folders with how many secrets each holds, and the secrets (metadata only), paginated",
  tags: ["secrets"],
  request: { query: FoldersQuery },
  responses: { 200: { description: "The folder's children", ...json(FolderList) }, ...errorResponses(400, 401, 403) },
});

/**
 * GET /secrets/folders (the console's lazy tree). Every path counted or shown is one the token may
 * list (`listable` per path, or `listableUnder` once for the whole folder), so a folder's count says
 * nothing about paths it may not see.
 * Sub-folders come on the first page; secrets are paged by path.
 */
export const foldersApp = featureApp().openapi(foldersRoute, async (c) => {
  await authorize(c, "secrets:read", "secret.list");
  const principal = c.get("principal");
  const query = c.req.valid("query");
  const folder = (query.prefix ?? "").replace(/\/$/, "");
  const prefix = folder ? `${folder}/` : "";
  const db = c.get("db");
  const inFolder = and(
    eq(secrets.tenantId, principal.tenantId),
    prefix ? and(gte(secrets.path, prefix), lt(secrets.path, `${prefix}\x7f`)) : undefined,
    query.include_deleted === "true" ? undefined : isNull(secrets.deletedAt),
  );
  // Where the rest of the path (after the prefix) has a slash: 0 for an immediate child.
  const slash = sql`instr(substr(${secrets.path}, ${prefix.length + 1}), '/')`;
  const after = afterCursor(query.cursor);
  const folders = new Map<string, number>();
  if (!after) {
    const deeper = and(inFolder, sql`${slash} > 0`);
    if (listableUnder(principal, prefix)) {
      // The token may list every path here: D1 counts per sub-folder, and only the counts come back.
      const name = sql<string>`substr(${secrets.path}, ${prefix.length + 1}, ${slash} - 1)`;
      const counted = await db.select({ name, count: sql<number>`count(*)` }).from(secrets).where(deeper).groupBy(name).all();
      for (const { name, count } of counted) folders.set(name, count);
    } else {
      // Otherwise each path is decided, so a count never includes a path the token may not list.
      for (const { path } of await db.select({ path: secrets.path }).from(secrets).where(deeper).all()) {
        if (!listable(principal, path)) continue;
        const name = path.slice(prefix.length, path.indexOf("/", prefix.length));
        folders.set(name, (folders.get(name) ?? 0) + 1);
      }
    }
  }
  const rows = await db
    .select()
    .from(secrets)
    .where(and(inFolder, sql`${slash} = 0`, after ? gt(secrets.path, after) : undefined))
    .orderBy(asc(secrets.path))
    .limit(query.limit + 1)
    .all();
  const page = rows.slice(0, query.limit);
  return c.json(
    {
      prefix: folder,
      folders: [...folders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, count]) => ({ name, path: prefix + name, count })),
      secrets: page.filter((row) => listable(principal, row.path)).map(metadataView),
      next_cursor: rows.length > query.limit ? pathCursor(page[page.length - 1]!.path) : null,
    },
    200,
  );
});
