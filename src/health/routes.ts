import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { keyringState } from "../crypto/envelope";
import { database } from "../db/client";
import { d1Databases } from "../db/directory";
import { featureApp } from "../http/openapi";
import { VERSION } from "../version";

const Health = z
  .object({
    status: z.enum(["ok", "degraded"]),
    store: z.enum(["ok", "error"]),
    master_key: z.enum(["configured", "missing", "malformed"]),
    version: z.string(),
  })
  .openapi("Health");

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  summary: "Liveness and readiness: the store, the master key state and the version",
  tags: ["system"],
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: Health } } },
    503: { description: "Degraded", content: { "application/json": { schema: Health } } },
  },
});

export const healthApp = featureApp().openapi(healthRoute, async (c) => {
  let store: "ok" | "error" = "ok";
  try {
    // Every tenant database (src/db/directory.ts): one unreachable is a degraded store.
    await Promise.all(d1Databases(c.env).map((d1) => database(d1).run(sql`SELECT 1`)));
  } catch {
    store = "error";
  }
  const masterKey = keyringState(c.env.MASTER_KEYS);
  const ok = store === "ok" && masterKey === "configured";
  c.header("Cache-Control", "no-store");
  return c.json({ status: ok ? "ok" : "degraded", store, master_key: masterKey, version: VERSION }, ok ? 200 : 503);
});
