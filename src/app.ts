import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { approvalsApp } from "./approvals/routes";
import { auditApp } from "./audit/routes";
import { authApp } from "./auth/routes";
import { identityApp } from "./auth/identity-routes";
import { authenticate } from "./auth/tokens";
import { consoleApp } from "./console/routes";
import { referenceApp } from "./docs/routes";
import { healthApp } from "./health/routes";
import type { AppEnv } from "./http/context";
import { onError, onNotFound } from "./http/errors";
import { idempotency } from "./http/idempotency";
import { apiHeaders, limitBody, requestContext, requireJsonBody } from "./http/middleware";
import { validationHook } from "./http/openapi";
import { CachedRouter } from "./http/router";
import { indexRoute } from "./http/routes-index";
import { ephemeralApp } from "./leases/ephemeral";
import { leasesApp } from "./leases/routes";
import { discoveryApp, scansApp } from "./scanning/routes";
import { secretsApp } from "./secrets/routes";
import { serviceSecretsApp } from "./secrets/by-service";
import { sharePages } from "./shares/pages";
import { e2eSharesApp, sealedSharesApp } from "./shares/routes";
import { rewrapApp } from "./rotation/routes";
import { rotationsApp } from "./rotations/routes";
import { transitApp } from "./transit/routes";
import { syncApp } from "./sync/routes";
import { vaultPages } from "./vault/pages";
import { vaultApp } from "./vault/routes";
import { pkiApp, pkiSecretsApp } from "./pki/routes";
import { pkiVaultApp } from "./pki/vault";
import { VERSION } from "./version";

const MiB = 1024 * 1024;

/** Routes that may send more than the default 1 MiB body (an import carries up to 1,000 values). */
const LARGE_BODY_ROUTES: { path: RegExp; limit: number }[] = [
  { path: /^\/api\/v1\/secrets\/store\/import$/, limit: 16 * MiB },
  // Transit batches (1,000 items of ~1 KiB, base64) need more room than a secret write.
  { path: /^\/api\/v1\/transit\//, limit: 4 * MiB },
];
const defaultBodyLimit = limitBody(MiB);
const largeBodyLimits = LARGE_BODY_ROUTES.map(({ path, limit }) => ({ path, check: limitBody(limit) }));
const limitBodyByRoute: MiddlewareHandler<AppEnv> = (c, next) =>
  (largeBodyLimits.find(({ path }) => path.test(c.req.path))?.check ?? defaultBodyLimit)(c, next);

/** Routes under /api/v1 that authenticate some other way (or not at all). */
const PUBLIC_API_PATHS: RegExp[] = [
  /^\/api\/v1\/auth\/login$/,
  // Shares: the link (nonce + key) or the share token is the credential; creation is rate-limited.
  /^\/api\/v1\/shares\/?$/,
  /^\/api\/v1\/shares\/[^/]+\/(?:nonce|reveal)\/?$/,
  /^\/api\/v1\/secrets\/shares\/redeem\/?$/,
];

const authenticateUnlessPublic: MiddlewareHandler<AppEnv> = (c, next) => (PUBLIC_API_PATHS.some((re) => re.test(c.req.path)) ? next() : authenticate(c, next));

// The router keeps each (method, path) match per isolate (src/http/router.ts).
export const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook, router: new CachedRouter() });

/** Methods that may carry a body: only they pay the body checks and the Idempotency-Key lookup. */
const WITH_BODY = ["POST", "PUT", "PATCH", "DELETE"];

app.use("*", requestContext);
app.use("/api/*", apiHeaders);
app.on(WITH_BODY, "/api/*", limitBodyByRoute, requireJsonBody);
app.use("/api/v1/*", authenticateUnlessPublic);
app.on(WITH_BODY, "/api/v1/*", idempotency);

app.route("/", healthApp);
app.route("/api/v1", authApp);
app.route("/api/v1/auth", identityApp);
app.route("/api/v1/secrets", scansApp);
app.route("/api/v1/discovery", discoveryApp);
app.route("/api/v1/secrets", syncApp);
app.route("/api/v1/secrets", secretsApp);
app.route("/api/v1/secrets", approvalsApp);
app.route("/api/v1/secrets", serviceSecretsApp);
app.route("/api/v1/audit", auditApp);
app.route("/api/v1/secrets/shares", sealedSharesApp);
app.route("/api/v1/shares", e2eSharesApp);
app.route("/", sharePages);
app.route("/api/v1/secrets", leasesApp);
app.route("/api/v1/secrets", rotationsApp);
app.route("/api/v1/ephemeral", ephemeralApp);
app.route("/api/v1/transit", transitApp);
app.route("/api/v1/sys", rewrapApp);
app.route("/api/v1/pki", pkiApp);
app.route("/api/v1/secrets", pkiSecretsApp);
// Vault's PKI engine before the KV subset, whose /v1/* middleware would otherwise answer first.
app.route("/v1/pki", pkiVaultApp);
app.route("/v1", vaultApp);
app.route("/", vaultPages);
// The web console: its /console/api/* calls go back through this app with the session's token.
app.route("/console", consoleApp(app));

app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description: "An API token (`hush_…`): the root token, one from POST /api/v1/tokens, or one from a login (POST /api/v1/auth/login).",
});

/** Operations that take no bearer token: the public API paths and everything outside /api/v1. */
const isPublicOperation = (path: string) => !path.startsWith("/api/v1/") || PUBLIC_API_PATHS.some((re) => re.test(path.replace(/\{[A-Za-z_]+\}/g, "x")));

type OpenApiOperation = { tags?: string[]; security?: Record<string, string[]>[] };

let openApiJson: string | undefined;
function openApiDocument(): string {
  if (openApiJson) return openApiJson;
  const document = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Hush",
      version: VERSION,
      description:
        "Secrets manager on Cloudflare Workers. Authenticate with `Authorization: Bearer <token>` (Authorize, above). " +
        "Every error is an `application/problem+json` document whose `type` opens a page describing it ([/problems](/problems)).",
    },
    security: [{ bearer: [] }],
  });
  for (const [path, methods] of Object.entries(document.paths ?? {})) {
    for (const operation of Object.values(methods as Record<string, OpenApiOperation>)) {
      // The reference groups operations by tag; one without gets its feature's (/api/v1/transit/... -> transit).
      if (!operation.tags?.length) operation.tags = [path.split("/").filter((s) => s && s !== "api" && s !== "v1")[0] ?? "service"];
      if (isPublicOperation(path)) operation.security = [];
    }
  }
  // Multi-segment params are written {path{.+}} for the router; show them as {path}.
  openApiJson = JSON.stringify(document).replace(/\{([A-Za-z_]+)\{\.\+\}\}/g, "{$1}");
  return openApiJson;
}

// Browsers ask for it on every page; an empty answer keeps 404s out of the logs.
app.get("/favicon.ico", (c) => c.body(null, 204, { "Cache-Control": "public, max-age=86400" }));
app.get("/openapi.json", (c) => c.body(openApiDocument(), 200, { "content-type": "application/json" }));
app.route("/", referenceApp);

for (const definition of app.openAPIRegistry.definitions) {
  if (definition.type === "route") indexRoute(definition.route.method, definition.route.path);
}
indexRoute("get", "/openapi.json");
indexRoute("get", "/favicon.ico");

app.notFound(onNotFound);
app.onError(onError);
