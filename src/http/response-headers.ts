import type { Context } from "hono";
import type { AppEnv } from "./context";

/**
 * Sets headers on the finished response in place. hono's `c.header` after `next()` copies the
 * whole Response for every header it sets (seven copies per API request); the copy is only
 * needed when the response's headers are immutable (one a `fetch` returned), and then one does.
 */
export function setResponseHeaders(c: Context<AppEnv>, headers: Record<string, string>): void {
  const res = c.res;
  try {
    for (const name in headers) res.headers.set(name, headers[name]!);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    const copy = new Response(res.body, res);
    for (const name in headers) copy.headers.set(name, headers[name]!);
    c.res = copy;
  }
}
