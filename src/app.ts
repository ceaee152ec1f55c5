import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { auditApp } from "./audit/routes";
import { authApp } from "./auth/routes";
import { authenticate } from "./auth/tokens";
import { healthApp } from "./health/routes";
import type { AppEnv } from "./http/context";
import { docsPage } from "./http/docs";
import { onError, onNotFound } from "./http/errors";
import { idempotency } from "./http/idempotency";
import { apiHeaders, limitBody, requestContext, requireJsonBody } from "./http/middleware";
import { validationHook } from "./http/openapi";
import { indexRoute } from "./http/routes-index";
import { secretsApp } from "./secrets/routes";
import { vaultApp } from "./vault/routes";

const MiB = 1024 * 1024;

/** Routes that may send more than the default 1 MiB body (an import carries up to 1,000 values). */
const LARGE_BODY_ROUTES: { path: RegExp; limit: number }[] = [{ path: /^\/api\/v1\/secrets\/store\/import$/, limit: 16 * MiB }];
const defaultBodyLimit = limitBody(MiB);
const largeBodyLimits = LARGE_BODY_ROUTES.map(({ path, limit }) => ({ path, check: limitBody(limit) }));
const limitBodyByRoute: MiddlewareHandler<AppEnv> = (c, next) =>
  (largeBodyLimits.find(({ path }) => path.test(c.req.path))?.check ?? defaultBodyLimit)(c, next);

/** Routes under /api/v1 that authenticate some other way (or not at all). */
const PUBLIC_API_PATHS: RegExp[] = [];

const authenticateUnlessPublic: MiddlewareHandler<AppEnv> = (c, next) =>
  PUBLIC_API_PATHS.some((re) => re.test(c.req.path)) ? next() : authenticate(c, next);

export const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

app.use("*", requestContext);
app.use("/api/*", apiHeaders, limitBodyByRoute, requireJsonBody);
app.use("/api/v1/*", authenticateUnlessPublic, idempotency);

app.route("/", healthApp);
app.route("/api/v1", authApp);
app.route("/api/v1/secrets", secretsApp);
app.route("/api/v1/audit", auditApp);
app.route("/v1", vaultApp);

let openApiJson: string | undefined;
function openApiDocument(): string {
  // Multi-segment params are written {path{.+}} for the router; show them as {path}.
  openApiJson ??= JSON.stringify(
    app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "Hush",
        version: "0.1.0",
        description: "Secrets manager on Cloudflare Workers. Authenticate with `Authorization: Bearer <token>`.",
      },
    }),
  ).replace(/\{([A-Za-z_]+)\{\.\+\}\}/g, "{$1}");
  return openApiJson;
}

app.get("/openapi.json", (c) => c.body(openApiDocument(), 200, { "content-type": "application/json" }));
app.get("/docs", (c) =>
  c.html(docsPage(JSON.parse(openApiDocument())), 200, {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
  }),
);

for (const definition of app.openAPIRegistry.definitions) {
  if (definition.type === "route") indexRoute(definition.route.method, definition.route.path);
}
indexRoute("get", "/openapi.json");
indexRoute("get", "/docs");

app.notFound(onNotFound);
app.onError(onError);
