// The CLI's version: the package's own (one source, read once at start).
import { readFileSync } from "node:fs";

export const VERSION = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
