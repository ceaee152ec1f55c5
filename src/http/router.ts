import type { Result, Router } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";

/** How many (method, path) matches an isolate keeps; past it the cache starts over. */
export const ROUTE_CACHE_SIZE = 2_000;
/** Longer paths are matched every time, so the cache stays under about 2,000 x 512 bytes. */
const MAX_CACHED_PATH = 512;

/**
 * Hono's default router (SmartRouter over RegExpRouter and TrieRouter) with the result of each
 * (method, path) match kept per isolate. The `{path{.+}}` routes leave the TrieRouter in charge,
 * whose search walks every pattern on each request: about 0.5 ms of a 4 ms audited read
 * (bench/RESULTS.md, 2026-12-02). A match depends only on the method, the path and the routes,
 * which are all added before the first request, so a kept result is the one a new search would
 * give; adding a route starts the cache over. Paths are not secret (they are in the URL), and
 * the cache holds no request data beyond them.
 */
export class CachedRouter<T> implements Router<T> {
  readonly name = "CachedRouter";
  private readonly inner = new SmartRouter<T>({ routers: [new RegExpRouter(), new TrieRouter()] });
  private readonly matches = new Map<string, Result<T>>();

  add(method: string, path: string, handler: T): void {
    this.matches.clear();
    this.inner.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    if (path.length > MAX_CACHED_PATH) return this.inner.match(method, path);
    const key = `${method} ${path}`;
    let result = this.matches.get(key);
    if (result === undefined) {
      result = this.inner.match(method, path);
      if (this.matches.size >= ROUTE_CACHE_SIZE) this.matches.clear();
      this.matches.set(key, result);
    }
    return result;
  }
}
