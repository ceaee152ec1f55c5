import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { database, inSession, openSession } from "../db/client";
import { toHex, randomBytes } from "../crypto/encoding";
import type { AppEnv } from "./context";
import { Problem } from "./problem";
import { abandonUnusedIntents } from "./commit";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a well-formed X-Request-Id or makes one, and sets per-request variables. */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header("x-request-id");
  const requestId = given && REQUEST_ID.test(given) ? given : `req_${toHex(randomBytes(12))}`;
  c.set("requestId", requestId);
  c.set("db", database(c.env.DB));
  // D1 Sessions: the consistency rule is openSession's (docs/scale.md, "Consistency").
  const opened = openSession(c.env.DB, c.req.method, c.req.header("x-hush-bookmark"));
  await inSession(c.env.DB, opened, next);
  abandonUnusedIntents(c);
  c.header("X-Request-Id", requestId);
  const latest = opened.session.getBookmark();
  if (latest) c.header("x-hush-bookmark", latest);
};

/** Responses of the API may carry secrets: never cache, never sniff, never index. */
export const apiHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.header("Cache-Control", "no-store");
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Robots-Tag", "noindex");
  c.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
};

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/** A body that is not JSON is 415 before any parser sees it. */
export const requireJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method === "POST" || method === "PUT" || method === "PATCH") {
    const length = c.req.header("content-length");
    const hasBody = (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined;
    const type = c.req.header("content-type");
    if (hasBody && !(type && JSON_TYPE.test(type))) {
      throw new Problem(415, "unsupported-media-type", "Send the request body as application/json");
    }
  }
  await next();
};

/** Caps the body before parsing; the stream is cut as soon as it passes `maxSize`. */
export const limitBody = (maxSize: number): MiddlewareHandler<AppEnv> =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new Problem(413, "body-too-large", `The request body is larger than ${maxSize} bytes`);
    },
  });
