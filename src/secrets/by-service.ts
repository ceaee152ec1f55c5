import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { authorize } from "../auth/access";
import type { AuditInput } from "../audit/log";
import { loadKeyring } from "../crypto/envelope";
import { secrets, secretVersions } from "../db/schema";
import { commit } from "../http/commit";
import { errorResponses, featureApp } from "../http/openapi";
import { forbidden } from "../http/problem";
import { Environment, ServiceName } from "./schemas";
import { openAudited } from "./read";
import { readRefusal } from "./read-rule";

/** A service's whole configuration in one call; more than this is a sign of a mis-scoped service. */
const MAX_SERVICE_SECRETS = 200;

const serviceRoute = createRoute({
  method: "get",
  path: "/service/{service}",
  summary: "Every secret a service may read (allowed_services lists it), as a map path -> value; each value is audited",
  tags: ["secrets"],
  request: {
    params: z.object({ service: ServiceName.openapi({ param: { name: "service", in: "path" } }) }),
    query: z.object({
      environment: Environment.optional(),
    }),
  },
  responses: {
    200: {
      description: "The readable values",
      content: {
        "application/json": {
          schema: z.object({ service: z.string(), environment: z.string().nullable(), secrets: z.record(z.string(), z.string()) }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 500, 503),
  },
});

export const serviceSecretsApp = featureApp().openapi(serviceRoute, async (c) => {
  const { service } = c.req.valid("param");
  const { environment } = c.req.valid("query");
  await authorize(c, "secrets:read", "secret.read_service");
  const principal = c.get("principal");
  if (principal.service !== null && principal.service !== service) {
    throw forbidden(`${principal.subject} is bound to service ${principal.service} and may only read its secrets`);
  }
  loadKeyring(c.env.MASTER_KEYS);
  const now = Date.now();
  const rows = await c
    .get("db")
    .select({ secret: secrets, version: secretVersions })
    .from(secrets)
    .innerJoin(
      secretVersions,
      and(eq(secretVersions.tenantId, secrets.tenantId), eq(secretVersions.path, secrets.path), eq(secretVersions.version, secrets.currentVersion)),
    )
    .where(
      and(
        eq(secrets.tenantId, principal.tenantId),
        isNull(secrets.deletedAt),
        sql`EXISTS (SELECT 1 FROM json_each(${secrets.allowedServices}) WHERE value = ${service})`,
        environment ? eq(secrets.environment, environment) : undefined,
        eq(secretVersions.state, "live"),
        sql`(${secrets.expiresAt} IS NULL OR ${secrets.expiresAt} > ${now})`,
      ),
    )
    .orderBy(asc(secrets.path))
    .limit(MAX_SERVICE_SECRETS)
    .all();
  const values: Record<string, string> = {};
  const events: AuditInput[] = [];
  for (const { secret, version } of rows) {
    // The read rule decides every path (access, deny rules, allowed_services, expiry, state).
    if (readRefusal(principal, "service", secret.path, { secret, version }, {}, now)) continue;
    values[secret.path] = await openAudited(c, version);
    events.push({ action: "secret.read", resource: `secret:${secret.path}`, detail: { version: version.version, service } });
  }
  await commit(c, [], {
    audit: events.length ? events : [{ action: "secret.read_service", resource: `service:${service}`, detail: { count: 0 } }],
  });
  return c.json({ service, environment: environment ?? null, secrets: values }, 200);
});
