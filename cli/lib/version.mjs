// The CLI's version: the package's own (one source). The published bundle has it compiled in by
// cli/build.mjs (there is no ../../package.json next to it); from the checkout it is read at start.
import { readFileSync } from "node:fs";

/* global __HUSH_VERSION__ */
export const VERSION =
  typeof __HUSH_VERSION__ === "string" ? __HUSH_VERSION__ : JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
