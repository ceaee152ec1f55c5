#!/usr/bin/env node
// Builds the installable CLI package in dist/cli: one bundled file (the CLI and its own
// dependencies, none of the Worker's), a package.json whose version is the repository's, and a
// README. `npm run pack:cli` then packs it; the tarball has no dependencies to fetch, so
// `npm install -g hush-cli-<version>.tgz` works offline.
//   node cli/build.mjs [--out DIR]
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outFlag = process.argv.indexOf("--out");
const out = resolve(outFlag > 0 ? process.argv[outFlag + 1] : join(root, "dist", "cli"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(root, "cli", "hush.mjs")],
  outfile: join(out, "hush.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: false,
  legalComments: "eof",
  define: { __HUSH_VERSION__: JSON.stringify(pkg.version) },
  // Some dependencies are CommonJS and call require(): give the ESM bundle one.
  banner: { js: 'import { createRequire as __hushRequire } from "node:module"; const require = __hushRequire(import.meta.url);' },
  logLevel: "warning",
  metafile: true,
});
chmodSync(join(out, "hush.mjs"), 0o755);

writeFileSync(
  join(out, "package.json"),
  `${JSON.stringify(
    {
      name: "hush-cli",
      version: pkg.version,
      description: "The command-line client of Hush, a secrets manager on Cloudflare Workers",
      type: "module",
      bin: { hush: "hush.mjs" },
      files: ["hush.mjs", "README.md"],
      engines: { node: ">=20" },
      license: pkg.license,
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  join(out, "README.md"),
  `# hush-cli ${pkg.version}\n\nThe \`hush\` command-line client of Hush. One file, no dependencies; Node.js 20 or newer.\n\n    npm install -g ./hush-cli-${pkg.version}.tgz\n    hush login --addr https://hush.example.com\n    hush help\n\nShell completion: \`hush completion bash|zsh|fish\`. See the Hush README for every command.\n`,
);
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`${join(out, "hush.mjs")}: ${(bytes / 1024).toFixed(0)} KiB (hush-cli ${pkg.version})\n`);
