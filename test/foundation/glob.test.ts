import { describe, expect, it } from "vitest";
import { matchesGlob as cliMatchesGlob } from "../../cli/lib/access-control.mjs";
import { globCovers, matchesGlob } from "../../src/auth/access";

/** The matcher main used (a regex per glob), as a reference on inputs small enough for it. */
const viaRegExp = (glob: string, path: string) =>
  new RegExp(
    `^${glob
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  ).test(path);

describe("matchesGlob: `*` matches any run of characters, `/` included", () => {
  const cases: [glob: string, path: string, expected: boolean][] = [
    ["*", "", true],
    ["*", "a", true],
    ["*", "app/db/password", true],
    ["", "", true],
    ["", "a", false],
    ["app", "app", true],
    ["app", "ap", false],
    ["app", "apps", false],
    ["app/*", "app/", true],
    ["app/*", "app/x", true],
    ["app/*", "app/x/y/z", true],
    ["app/*", "app", false],
    ["app/*", "apps/x", false],
    ["*/password", "app/db/password", true],
    ["*/password", "password", false],
    ["*password", "password", true],
    ["*password", "app/password2", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXbYcZ", false],
    ["a*b*c", "acb", false],
    ["a**b", "ab", true],
    ["a**b", "a/x/b", true],
    ["***", "", true],
    ["***", "anything/at/all", true],
    ["app//*", "app//x", true],
    ["app//*", "app/x", false],
    ["app/*/db", "app//db", true],
    ["app/*/db", "app/db", false],
    ["*a*a*b", "aab", true],
    ["*a*a*b", "aaaaaaab", true],
    ["*a*a*b", "aaaaaaa", false],
    ["app.*", "appXy", false],
    ["a+b", "aab", false],
    ["a+b", "a+b", true],
  ];
  for (const [glob, path, expected] of cases) {
    it(`${JSON.stringify(glob)} ${expected ? "matches" : "does not match"} ${JSON.stringify(path)}`, () => {
      expect(matchesGlob(glob, path)).toBe(expected);
    });
  }

  it("agrees with the old regex matcher on every small glob and path, and so does the CLI's copy", () => {
    const alphabet = ["a", "b", "/", "*"];
    const words = (max: number, chars: string[]) => {
      const out = [""];
      for (let n = 0, level = [""]; n < max; n++) {
        level = level.flatMap((w) => chars.map((ch) => w + ch));
        out.push(...level);
      }
      return out;
    };
    const globs = words(5, alphabet);
    const paths = words(5, ["a", "b", "/"]);
    let checked = 0;
    for (const glob of globs) {
      for (const path of paths) {
        const expected = viaRegExp(glob, path);
        if (matchesGlob(glob, path) !== expected) throw new Error(`${JSON.stringify(glob)} vs ${JSON.stringify(path)}`);
        // The CLI's copy (cli/lib/access-control.mjs: the CLI runs unbundled and cannot import this TS).
        if (cliMatchesGlob(glob, path) !== expected) throw new Error(`cli: ${JSON.stringify(glob)} vs ${JSON.stringify(path)}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100_000);
  });

  it("a many-star glob against a long path answers in milliseconds", () => {
    const started = performance.now();
    for (let i = 0; i < 100; i++) {
      expect(matchesGlob("*a*a*a*a*a*a*a*b", "a".repeat(120))).toBe(false);
      expect(matchesGlob("*a*a*a*a*a*a*a*a*", "a".repeat(256))).toBe(true);
      expect(matchesGlob(`${"*a".repeat(8)}b`, "a".repeat(4096))).toBe(false);
    }
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe("globCovers (unchanged)", () => {
  it("is exact without a star, prefix-based with one trailing star, equality otherwise", () => {
    expect(globCovers("app/x", "app/x")).toBe(true);
    expect(globCovers("app/x", "app/y")).toBe(false);
    expect(globCovers("app/*", "app/x/*")).toBe(true);
    expect(globCovers("app/*", "app/x")).toBe(true);
    expect(globCovers("app/*", "db/*")).toBe(false);
    expect(globCovers("*", "anything/*")).toBe(true);
    expect(globCovers("a*b", "a*b")).toBe(true);
    expect(globCovers("a*b", "axb")).toBe(false);
  });
});
