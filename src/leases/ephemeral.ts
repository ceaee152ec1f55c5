import { createRoute, z } from "@hono/zod-openapi";
import { authorize, onLeaseRole, SCOPES } from "../auth/access";
import { checkGrant } from "../auth/identity";
import { errorResponses, featureApp } from "../http/openapi";
import { PathGlob as Glob, Subject } from "../http/rules";
import { issueLease } from "./issue";
import { EPHEMERAL_PROVIDER, EPHEMERAL_ROLE } from "./providers";
import { hushApiKeyProvider, tokenIdOf } from "./providers/hush-api-key";

/** Ephemeral keys live a day at most, renewals included. */
export const EPHEMERAL_MAX_TTL_SECONDS = 24 * 3600;

const CreateBody = z
  .strictObject({
    subject: Subject,
    scopes: z.array(z.enum(SCOPES)).min(1),
    paths: z.array(Glob).min(1).max(32).optional(),
    ttl_seconds: z.number().int().min(1).max(EPHEMERAL_MAX_TTL_SECONDS).default(3600),
  })
  .openapi("CreateEphemeralApiKey");

const createRoute_ = createRoute({
  method: "post",
  path: "/api-keys",
  summary: "A short-lived API token under a lease: returned once, only its hash is stored, revoked at expiry",
  tags: ["leases"],
  request: { body: { required: true, content: { "application/json": { schema: CreateBody } } } },
  responses: {
    201: {
      description: "Created",
      content: {
        "application/json": {
          schema: z.object({
            id: z.string(),
            token: z.string(),
            subject: z.string(),
            scopes: z.array(z.string()),
            paths: z.array(z.string()).nullable(),
            expires_at: z.string(),
            lease_id: z.string(),
          }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 415),
  },
});

export const ephemeralApp = featureApp().openapi(createRoute_, async (c) => {
  await authorize(c, "leases:write", "ephemeral.create", onLeaseRole(EPHEMERAL_PROVIDER, EPHEMERAL_ROLE));
  const input = c.req.valid("json");
  const principal = c.get("principal");
  const scopes = [...new Set(input.scopes)];
  // No escalation: the key is minted under the caller, with at most what it holds (by default its paths).
  const paths = input.paths ?? (principal.paths ? [...principal.paths] : null);
  checkGrant(principal, { scopes, paths });
  const provider = hushApiKeyProvider(() => ({ subject: input.subject, scopes, paths }));
  const response = await issueLease(
    c,
    {
      providerName: EPHEMERAL_PROVIDER,
      kind: "hush-api-key",
      provider,
      roleName: EPHEMERAL_ROLE,
      role: { max_ttl_seconds: EPHEMERAL_MAX_TTL_SECONDS },
      ttlSeconds: input.ttl_seconds,
    },
    // The subject is metadata (kept for an idempotent replay); the token is not.
    (lease, credential) => ({ id: tokenIdOf(lease.id), subject: credential.subject, scopes, paths }),
  );
  const { credential, ...rest } = response;
  const { token, subject } = credential as { token: string; subject: string };
  const body = { ...rest, subject, token };
  return c.json(body as typeof body & { id: string; subject: string; scopes: string[]; paths: string[] | null }, 201);
});
