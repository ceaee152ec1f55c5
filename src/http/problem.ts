import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ProblemType } from "./problem-types";

/** Extra members of a problem document (RFC 9457), e.g. `errors` or `cycle`. */
export type ProblemExtras = Record<string, unknown>;

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * The one error type of the service: throw it from any depth and `app.onError`
 * renders it as `application/problem+json`. `detail` is shown to the client, so it
 * must never carry a secret value or a bearer token.
 *
 * @example
 * throw new Problem(409, "version-conflict", "Expected version 3 but the current version is 4");
 */
export class Problem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: ProblemType,
    readonly detail?: string,
    readonly extras: ProblemExtras = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? type);
    this.name = "Problem";
  }

  get title(): string {
    return TITLES[this.status] ?? "Error";
  }

  /** `origin` is the deployment's, so the `type` URL opens the page that explains it (/problems/<type>). */
  toJSON(instance?: string, requestId?: string, origin = "") {
    return {
      type: `${origin}/problems/${this.type}`,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(instance ? { instance } : {}),
      ...(requestId ? { request_id: requestId } : {}),
      ...this.extras,
    };
  }
}

export const notFound = (what = "resource") => new Problem(404, "not-found", `No such ${what}`);
export const forbidden = (detail: string, extras?: ProblemExtras) => new Problem(403, "forbidden", detail, extras);
export const badRequest = (detail: string, extras?: ProblemExtras) => new Problem(400, "invalid-request", detail, extras);

export function problemResponse(problem: Problem, url: URL, requestId?: string): Response {
  return new Response(JSON.stringify(problem.toJSON(url.pathname, requestId, url.origin)), {
    status: problem.status,
    headers: { "content-type": "application/problem+json", ...problem.headers },
  });
}
