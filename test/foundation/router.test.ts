import { describe, expect, it } from "vitest";
import { CachedRouter, ROUTE_CACHE_SIZE } from "../../src/http/router";

// The app's router keeps (method, path) matches per isolate (src/http/router.ts): a kept match
// must be exactly what a fresh search gives, per method and per path, params included.
describe("CachedRouter", () => {
  const routes = () => {
    const router = new CachedRouter<string>();
    router.add("GET", "/store/:path{.+}/versions", "versions");
    router.add("GET", "/store/:path{.+}", "read");
    router.add("PUT", "/store/:path{.+}", "write");
    return router;
  };
  // A result is [[handler, params]] (TrieRouter) or [[handler, param index]], stash] (RegExpRouter).
  const handlers = (router: CachedRouter<string>, method: string, path: string) => {
    const [matched, stash] = router.match(method, path) as [[string, Record<string, string | number>][], string[] | undefined];
    return matched.map(([h, params]) => [h, Object.fromEntries(Object.entries(params).map(([k, v]) => [k, stash ? stash[v as number] : v]))]);
  };

  it("answers a repeated match as a fresh search would, per method and per path", () => {
    const cached = routes();
    for (const [method, path] of [
      ["GET", "/store/a/b"],
      ["PUT", "/store/a/b"],
      ["GET", "/store/a/b/versions"],
      ["GET", "/store/c"],
      ["DELETE", "/store/a/b"],
    ] as const) {
      const first = handlers(cached, method, path);
      expect(handlers(cached, method, path)).toEqual(first);
      expect(first).toEqual(handlers(routes(), method, path));
    }
    expect(handlers(cached, "GET", "/store/a/b")).toEqual([["read", { path: "a/b" }]]);
    expect(handlers(cached, "PUT", "/store/a/b")).toEqual([["write", { path: "a/b" }]]);
    expect(handlers(cached, "GET", "/store/c")).toEqual([["read", { path: "c" }]]);
    expect(handlers(cached, "DELETE", "/store/a/b")).toEqual([]);
  });

  it("stays bounded: past its size it starts over and still matches", () => {
    const router = routes();
    for (let i = 0; i <= ROUTE_CACHE_SIZE + 10; i++) router.match("GET", `/store/p${i}`);
    expect(handlers(router, "GET", "/store/p1")).toEqual([["read", { path: "p1" }]]);
    expect(handlers(router, "GET", `/store/${"x".repeat(600)}`)).toEqual([["read", { path: "x".repeat(600) }]]);
  });
});
