import { z } from "@hono/zod-openapi";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { capabilityOf, SCOPES, type Scope } from "../auth/access";
import { mintToken } from "../auth/identity";
import { resolveToken, signIn } from "../auth/tokens";
import { randomBytes, toHex } from "../crypto/encoding";
import { apiTokens } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv, Principal } from "../http/context";
import { badRequest, Problem } from "../http/problem";
import { limitBody } from "../http/middleware";
import { setResponseHeaders } from "../http/response-headers";
import { pageHeaders } from "../http/pages";
import { indexRoute } from "../http/routes-index";
import { consolePage } from "./page";
import { CSRF_HEADER, newCsrf, openSession, sameSecret, sealSession, SESSION_COOKIE, SESSION_SECONDS, type Session } from "./session";

/** What the console calls: the app itself, so every action takes the API's own path (auth, access, audit). */
export interface Api {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
}

const SignIn = z.union([
  z.strictObject({
    token: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[\x21-\x7e]+$/, "A token is printable ASCII"),
  }),
  z.strictObject({
    role: z.string().min(1).max(64),
    jwt: z
      .string()
      .min(1)
      .max(16 * 1024),
    tenant: z.string().min(1).max(63).optional(),
  }),
]);

const noStore: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  setResponseHeaders(c, { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Robots-Tag": "noindex, nofollow" });
};

const csrfRefused = (detail: string) => new Problem(403, "csrf", detail);
const signedOut = () => new Problem(401, "unauthorized", "Sign in to the console again");

/**
 * A change must come from a page of this origin: Origin equal to ours (and Sec-Fetch-Site, when
 * the browser sends it, same-origin). The SameSite=Strict cookie already stays home on
 * cross-site requests; this also refuses same-site neighbours and old browsers.
 */
function checkOrigin(c: Context<AppEnv>): void {
  const origin = c.req.header("origin");
  if (!origin || origin !== new URL(c.req.url).origin) throw csrfRefused("This request did not come from the console's own origin");
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin") throw csrfRefused("This request did not come from the console's own origin");
}

const SAFE = new Set(["GET", "HEAD"]);

async function sessionOf(c: Context<AppEnv>): Promise<Session> {
  const session = await openSession(c.env, getCookie(c, SESSION_COOKIE, "host"));
  if (!session) throw signedOut();
  if (!SAFE.has(c.req.method)) {
    checkOrigin(c);
    const sent = c.req.header(CSRF_HEADER);
    if (!sent || !sameSecret(sent, session.csrf)) throw csrfRefused(`Send the session's CSRF token in ${CSRF_HEADER}`);
  }
  return session;
}

function ctxOf(c: Context<AppEnv>): ExecutionContext {
  try {
    return c.executionCtx as ExecutionContext;
  } catch {
    return { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  }
}

/** One API request with `token`, through the whole app (authenticate, access decision, audit, idempotency). */
function callApi(api: Api, c: Context<AppEnv>, token: string | null, path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { accept: "application/json", "x-request-id": c.get("requestId"), ...init.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  const ip = c.req.header("cf-connecting-ip");
  if (ip) headers["cf-connecting-ip"] = ip;
  return api.fetch(new Request(new URL(path, c.req.url), { ...init, headers }), c.env, ctxOf(c));
}

/** A copy of an API answer the console can hand to the page unchanged (status, problem document, headers). */
const relay = (res: Response) => new Response(res.body, res);

/** What the page may offer. A hint only: buttons follow it, the API decides every request. */
function capabilities(p: Principal) {
  const may = (scope: Scope, action: string) => {
    if (p.isRoot || p.scopes.has(scope)) return true;
    const capability = capabilityOf(scope, action);
    return (p.rules ?? []).some((r) => r.effect === "allow" && r.capabilities.includes(capability));
  };
  return {
    read: may("secrets:read", "secret.read"),
    write: may("secrets:write", "secret.write"),
    delete: may("secrets:delete", "secret.delete"),
    audit: may("audit:read", "audit.read"),
    tokens: may("tokens:admin", "token.create"),
    leases: may("leases:read", "lease.list"),
    revokeLeases: may("leases:write", "lease.revoke"),
    transit:
      p.isRoot ||
      SCOPES.some((s) => s.startsWith("transit:") && p.scopes.has(s)) ||
      (p.rules ?? []).some((r) => r.effect === "allow" && r.capabilities.includes("admin")),
  };
}

function setSessionCookie(c: Context<AppEnv>, value: string, maxAge: number) {
  setCookie(c, SESSION_COOKIE, value, { path: "/", secure: true, httpOnly: true, sameSite: "Strict", maxAge, prefix: "host" });
}

/**
 * The web console at /console (docs/console.md): one page, its session routes, and /console/api/*,
 * which forwards to /api/v1/* with the session's token. There is no console-only access check.
 */
export function consoleApp(api: Api) {
  const app = new Hono<AppEnv>();
  app.use("*", noStore);

  app.get("/", pageHeaders, (c) => c.html(consolePage()));

  /** Sign in: a pasted token (or a login role's JWT) becomes a sealed, HttpOnly session cookie. */
  app.post("/session", limitBody(64 * 1024), async (c) => {
    checkOrigin(c);
    const parsed = SignIn.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) throw badRequest("Send {token} or {role, jwt}");
    const input = parsed.data;
    let token: string;
    let viaLogin = false;
    if ("token" in input) {
      token = input.token;
    } else {
      // The login route verifies the JWT, rate-limits and audits; its token is made for this session.
      const res = await callApi(api, c, null, "/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ role: input.role, jwt: input.jwt, ...(input.tenant && { tenant: input.tenant }), ttl_seconds: SESSION_SECONDS }),
      });
      if (res.status !== 200) return relay(res);
      token = ((await res.json()) as { token: string }).token;
      viaLogin = true;
    }
    // The API's authenticate decides whether the token is good (rate limits and audit included).
    const self = await callApi(api, c, token, "/api/v1/tokens/self");
    if (self.status !== 200) return relay(self);
    const resolved = await resolveToken(c.env, token);
    if (!("principal" in resolved)) throw signedOut();
    const principal = resolved.principal;
    signIn(c, principal);
    const now = Date.now();
    let session: Session;
    let subject = principal.subject;
    if (viaLogin) {
      session = { token, tokenId: principal.tokenId, csrf: newCsrf(), expiresAt: Math.min(now + SESSION_SECONDS * 1000, principal.expiresAt ?? Infinity) };
    } else {
      // A child of the pasted token: the same grants, an hour at most, revoked with it and at logout.
      const { row, token: sessionToken } = await mintToken(
        principal,
        {
          tenantId: principal.tenantId,
          subject: `console-${toHex(randomBytes(4))}`,
          scopes: [...principal.scopes],
          paths: principal.paths,
          policies: principal.policies ? [...principal.policies] : undefined,
          expiresAt: now + SESSION_SECONDS * 1000,
          ownCredential: principal.isRoot,
        },
        now,
      );
      await commit(c, [c.get("db").insert(apiTokens).values(row)], {
        audit: { action: "console.signin", resource: `token:${row.id}`, status: 201, detail: { subject: row.subject, parent: principal.tokenId } },
      });
      session = { token: sessionToken, tokenId: row.id, csrf: newCsrf(), expiresAt: row.expiresAt ?? now + SESSION_SECONDS * 1000 };
      subject = row.subject;
    }
    const maxAge = Math.max(1, Math.floor((session.expiresAt - now) / 1000));
    setSessionCookie(c, await sealSession(c.env, session), maxAge);
    return c.json({ subject, expires_at: new Date(session.expiresAt).toISOString(), csrf: session.csrf }, 201);
  });

  /** Who is signed in, what the page may offer, and the CSRF token (readable only by a same-origin script). */
  app.get("/session", async (c) => {
    const session = await sessionOf(c);
    const res = await callApi(api, c, session.token, "/api/v1/tokens/self");
    if (res.status !== 200) {
      deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, prefix: "host" });
      throw signedOut();
    }
    const self = (await res.json()) as { subject: string; tenant: string; scopes: string[]; paths: string[] | null; policies: string[] };
    const resolved = await resolveToken(c.env, session.token);
    if (!("principal" in resolved)) throw signedOut();
    return c.json({
      subject: self.subject,
      tenant: self.tenant,
      scopes: self.scopes,
      paths: self.paths,
      policies: self.policies ?? [],
      expires_at: new Date(session.expiresAt).toISOString(),
      csrf: session.csrf,
      can: capabilities(resolved.principal),
    });
  });

  /** Sign out: the session token is revoked (the API's self-revoke), so the cookie is dead even if kept. */
  app.delete("/session", async (c) => {
    const session = await sessionOf(c);
    const res = await callApi(api, c, session.token, `/api/v1/tokens/${session.tokenId}`, { method: "DELETE" });
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, prefix: "host" });
    if (res.status !== 200 && res.status !== 401) return relay(res);
    return c.body(null, 204);
  });

  /** The API, with the session's token: /console/api/<rest> is /api/v1/<rest>. */
  // The API caps each route's body again (16 MiB is its largest, import); this bounds the copy.
  app.all("/api/*", limitBody(16 * 1024 * 1024), async (c) => {
    const session = await sessionOf(c);
    const url = new URL(c.req.url);
    const rest = url.pathname.slice("/console/api".length);
    if (/(?:^|\/)\.\.?(?:\/|$)|%2e|%2f|%5c|\\/i.test(rest)) throw badRequest("Not an API path");
    const target = `/api/v1${rest}${url.search}`;
    const headers: Record<string, string> = {};
    for (const name of ["content-type", "idempotency-key"]) {
      const v = c.req.header(name);
      if (v) headers[name] = v;
    }
    const body = SAFE.has(c.req.method) ? undefined : await c.req.arrayBuffer();
    const res = await callApi(api, c, session.token, target, { method: c.req.method, headers, body });
    return relay(res);
  });

  indexRoute("get", "/console");
  for (const method of ["get", "post", "delete"]) indexRoute(method, "/console/session");
  for (const method of ["get", "post", "put", "patch", "delete"]) indexRoute(method, "/console/api/{path{.+}}");
  return app;
}
