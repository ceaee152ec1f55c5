#!/usr/bin/env node
// Copies the API reference's renderer (swagger-ui-dist, pinned in package.json) from node_modules
// into public/docs/vendor/, where the Worker serves it as static assets (no third-party origin).
// Generated, gitignored; run by the test config, `npm start` and `npm run deploy`
// (docs/decisions.md: "The API reference renderer").
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"];

/** Copies the files when they are absent or from another swagger-ui-dist version; returns the version. */
export function vendorDocs(dest = join(root, "public", "docs", "vendor")) {
  const source = join(root, "node_modules", "swagger-ui-dist");
  const { version } = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));
  const stamp = join(dest, "VERSION");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === version && FILES.every((f) => existsSync(join(dest, f)))) return version;
  mkdirSync(dest, { recursive: true });
  for (const file of FILES) {
    // No source map is shipped, so the comment pointing at one goes (it would be a 404 in devtools).
    const text = readFileSync(join(source, file), "utf8").replace(/\n?\/[*/]# sourceMappingURL=\S+(?: \*\/)?\s*$/, "\n");
    // Write then rename: a concurrent reader (another test run) never sees half a file.
    const tmp = join(dest, `.${file}.${process.pid}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(dest, file));
  }
  writeFileSync(stamp, version);
  return version;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`swagger-ui-dist ${vendorDocs()} in public/docs/vendor/`);
}
