import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { IntegrityError, KeyringUnavailableError, MasterKeyRemovedError } from "../crypto/envelope";
import type { AppEnv } from "./context";
import { Problem, problemResponse } from "./problem";
import { allowedMethods } from "./routes-index";

function render(c: Context<AppEnv>, problem: Problem): Response {
  const requestId = c.get("requestId");
  const response = problemResponse(problem, new URL(c.req.url), requestId);
  if (requestId) response.headers.set("X-Request-Id", requestId);
  response.headers.set("Cache-Control", "no-store");
  return response;
}

/** Domain errors of the shared machinery (crypto), as the problems a client sees. */
export function problemOf(err: unknown): Problem | undefined {
  if (err instanceof Problem) return err;
  if (err instanceof KeyringUnavailableError) {
    return new Problem(
      503,
      "master-key-unavailable",
      "The service has no usable master key configured (MASTER_KEYS); secret operations are disabled until an operator sets it",
    );
  }
  if (err instanceof MasterKeyRemovedError) {
    return new Problem(
      500,
      "master-key-removed",
      `This data is sealed under master key "${err.keyId}", which MASTER_KEYS no longer holds; add it back, then run POST /api/v1/sys/rewrap before removing it`,
      { key_id: err.keyId },
    );
  }
  if (err instanceof IntegrityError) return new Problem(500, "integrity-failure", "Stored data failed its integrity check; the event was audited");
  return undefined;
}

/** The one exit for errors: problem documents for clients, details only in the log. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  const problem = problemOf(err);
  if (problem) return render(c, problem);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const type = status === 400 ? "malformed-request" : status === 413 ? "body-too-large" : "http-error";
    // Hono's own messages ("Malformed JSON in request body") carry no user data.
    return render(c, new Problem(status, type, err.message || undefined));
  }
  console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), ...loggable(err) }));
  return render(c, new Problem(500, "internal-error", "An unexpected error occurred; quote the request id when reporting it"));
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) => {
  const path = new URL(c.req.url).pathname;
  const allowed = allowedMethods(path);
  if (allowed.length > 0) {
    return render(
      c,
      new Problem(
        405,
        "method-not-allowed",
        `${c.req.method} is not allowed here; use ${allowed.join(", ")}`,
        {},
        {
          Allow: allowed.join(", "),
        },
      ),
    );
  }
  if (wantsPage(c, path)) return c.html(NOT_FOUND_PAGE, 404, { "Content-Security-Policy": "default-src 'none'", "Cache-Control": "no-store" });
  return render(c, new Problem(404, "not-found", `No route for ${c.req.method} ${path}`));
};

/** A person's browser (not an API client) asking for a page outside the API gets a page back. */
const wantsPage = (c: Parameters<NotFoundHandler<AppEnv>>[0], path: string) =>
  (c.req.method === "GET" || c.req.method === "HEAD") && !/^\/(?:api|v1)\//.test(path) && /\btext\/html\b/.test(c.req.header("accept") ?? "");

const NOT_FOUND_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>Not found · Hush</title></head>
<body><main><h1>Not found</h1><p>There is no page at this address. A share link works only as it was sent, with everything after the <code>#</code>.</p><p><a href="/docs">API reference</a></p></main></body></html>`;

/**
 * What of an unexpected error may reach the log: drizzle quotes the bound
 * parameters of a failed query, so they are cut; the SQL and the frames stay.
 */
export function loggable(err: Error): { error: string; message: string; frames: string[] } {
  const message = err.message.replace(/\nparams:[\s\S]*$/, "").slice(0, 500);
  const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message.replace(/\nparams:[\s\S]*$/, "").slice(0, 300)})` : "";
  const frames = (err.stack ?? "")
    .split("\n")
    .filter((line) => line.startsWith("    at "))
    .slice(0, 12)
    .map((l) => l.trim());
  return { error: err.name, message: message + cause, frames };
}
