import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./context";
import { setResponseHeaders } from "./response-headers";

/*
 * Headers of every page the Worker serves to people (share pages, the Vault unwrap page, the
 * console): one policy, so no page can be the weaker door.
 */

/**
 * Same-origin scripts and styles only, no inline code, no framing, no third parties;
 * forms cannot submit anywhere (the page's script sends the ciphertext itself, so a
 * broken script can never post a plaintext secret).
 */
const pagePolicy = (imgSrc: string[]): MiddlewareHandler<AppEnv> =>
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      connectSrc: ["'self'"],
      imgSrc,
      formAction: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    crossOriginResourcePolicy: "same-origin",
    crossOriginOpenerPolicy: "same-origin",
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], clipboardWrite: ["self"] },
  });

export const pageHeaders = pagePolicy(["'self'"]);

/**
 * The API reference (/docs, Swagger UI) and the /problems pages: the same policy, except that
 * images may also be data: URIs, which Swagger UI's stylesheet uses for its icons.
 */
export const referencePageHeaders = pagePolicy(["'self'", "data:"]);

export const privateHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  setResponseHeaders(c, { "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow, noarchive" });
};

/** Text for an HTML page: the five characters that could open markup or end an attribute, as entities. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
