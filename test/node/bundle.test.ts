import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The Worker bundle exactly as `npm run deploy` uploads it (wrangler deploy --dry-run).
const KiB = 1024;
/** Today's size (336 KiB after issue 13-18 work) plus a little room: a change that adds more must say why. The target is < 300 KiB and is NOT met. */
const CEILING_GZIP_KIB = 345;

let outdir: string;
let bundle: Buffer;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "hush-bundle-"));
  execFileSync(join("node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: "pipe",
  });
  bundle = readFileSync(join(outdir, "index.js"));
}, 120_000);

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("the production bundle", () => {
  it(`stays under ${CEILING_GZIP_KIB} KiB gzipped`, () => {
    expect(gzipSync(bundle).length / KiB).toBeLessThan(CEILING_GZIP_KIB);
  });

  it("carries zod's English messages only (wrangler.jsonc alias)", () => {
    const text = bundle.toString("utf8");
    expect(text).toContain("Invalid input");
    // From zod's French locale, which the alias keeps out.
    expect(text).not.toContain("expression r");
  });
});
