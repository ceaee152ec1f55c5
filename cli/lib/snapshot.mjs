// `hush run --fallback`: an encrypted snapshot of the last successful fetch, used only when the
// providers could not be reached, never past its maximum age. Its time is inside the ciphertext,
// so neither the file's mtime nor a copied-back older file can make it look younger.
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.mjs";
import { info } from "./output.mjs";
import { project } from "./project.mjs";
import { keyMaterial, readSealed, seal, writePrivate } from "./sealed-file.mjs";

const FORMAT = "hush run snapshot v1";
/** A snapshot stamped further ahead than this is refused (a clock set back must not extend its life). */
const CLOCK_SKEW_MS = 5 * 60_000;

/** "3h 12m", "2d 4h", "45s". */
export function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  /** @type {[number, string][]} */
  const parts = [
    [86400, "d"],
    [3600, "h"],
    [60, "m"],
    [1, "s"],
  ];
  const out = [];
  let left = s;
  for (const [size, unit] of parts) {
    if (left >= size && out.length < 2) {
      out.push(`${Math.floor(left / size)}${unit}`);
      left %= size;
    }
  }
  return out.join(" ") || "0s";
}

/**
 * The snapshot for one `hush run` setup: the address, the chain and the NAME -> path mapping.
 * Another mapping gets another file, and its id is bound into the ciphertext's AAD.
 */
export function snapshotFor({ addr, names, mapping, maxAgeSeconds }) {
  const id = createHash("sha256")
    .update(JSON.stringify({ addr, names, mapping: [...mapping].sort() }))
    .digest("hex")
    .slice(0, 32);
  const file = join(project().configDir, "snapshots", `${id}.enc`);
  const aad = `${FORMAT} ${id}`;
  const meta = {
    what: "The fallback snapshot",
    keyHint: "Set HUSH_LOCAL_KEY to the key it was written with, or delete the file and run once while the server is up",
  };
  return {
    file,
    /** Saves a successful fetch; a failure to save is a warning, not a failed run. */
    save(entries) {
      try {
        writePrivate(file, seal({ created_at: new Date().toISOString(), values: Object.fromEntries(entries) }, keyMaterial("the fallback snapshot"), aad));
      } catch (err) {
        info(`Warning: --fallback could not save a snapshot (${err.message}); the next outage will have none. ${err.hint ?? ""}`.trim());
      }
    },
    /** The saved entries, announced on stderr; throws when there is none, it is expired or it does not open. */
    load(cause) {
      const why = String(cause?.message ?? cause);
      const opened = readSealed(file, keyMaterial("the fallback snapshot"), aad, meta);
      if (!opened) {
        throw new CliError(`${why}; and --fallback has no snapshot for this command yet`, {
          hint: "Run it once with --fallback while the server is up; that run saves the snapshot the next outage uses",
          details: cause?.details ?? [],
        });
      }
      const created = Date.parse(opened.doc.created_at);
      const elapsed = Date.now() - created;
      const maxMs = maxAgeSeconds * 1000;
      if (!Number.isFinite(created) || elapsed < -CLOCK_SKEW_MS) {
        throw new CliError(`${why}; and the fallback snapshot claims a time in the future (${opened.doc.created_at}), so it is not used`, {
          hint: `Check the machine's clock, then delete ${file} and run once while the server is up`,
        });
      }
      if (elapsed > maxMs) {
        rmSync(file, { force: true });
        throw new CliError(
          `${why}; and the fallback snapshot is ${age(elapsed)} old, past its maximum age of ${age(maxMs)}, so it was not used (and is deleted)`,
          {
            hint: "Bring the server back (`hush health` shows which provider is down), or allow an older snapshot with --fallback-max-age",
            details: cause?.details ?? [],
          },
        );
      }
      info(`Warning: ${why}`);
      info(`Warning: using the fallback snapshot from ${opened.doc.created_at} (${age(elapsed)} old; maximum ${age(maxMs)}): these values may be stale`);
      return Object.entries(opened.doc.values);
    },
  };
}
