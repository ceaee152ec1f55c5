import type { Context } from "hono";
import { audit, type AuditInput } from "../audit/log";
import { takePrefetched } from "../auth/tokens";
import { IntegrityError, loadKeyring } from "../crypto/envelope";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { Problem } from "../http/problem";
import { PURPOSES, releaseValue } from "./read-rule";
import { SecretPath } from "./schemas";
import { metadataView, openVersion, type VersionRow } from "./store";

export const secretResource = (path: string) => `secret:${path}`;

/** Opens a version's value; a ciphertext that fails its integrity check is audited, then a 500. */
export async function openAudited(c: Context<AppEnv>, version: VersionRow): Promise<string> {
  try {
    return await openVersion(loadKeyring(c.env.MASTER_KEYS), version);
  } catch (err) {
    if (err instanceof IntegrityError) {
      await audit(c, {
        action: "integrity_failure",
        resource: secretResource(version.path),
        outcome: "failure",
        status: 500,
        detail: { version: version.version },
      });
    }
    throw err;
  }
}

/** Reads one value (the current one or `version`), expanding references when asked; audited before it leaves. */
export async function readValue(
  c: Context<AppEnv>,
  path: string,
  query: { version?: number; include_expired?: "true" | "false"; resolve?: "true" | "false" },
  purpose: "read" | "history" = "read",
) {
  // A plain read's secret and version came with the token lookup (src/auth/tokens.ts `Prefetch`).
  const prefetched = purpose === "read" && query.version === undefined ? takePrefetched(c, "read", path) : undefined;
  const { secret, version, value } = await releaseValue(c, path, purpose, {
    version: query.version,
    includeExpired: query.include_expired === "true",
    ...(prefetched && { found: prefetched.found }),
  });
  const action = PURPOSES[purpose].action;
  const events: AuditInput[] = [{ action, resource: secretResource(path), detail: { version: version.version } }];
  const resolved = query.resolve === "true" ? await expandReferences(c, path, value, events) : value;
  await commit(c, [], { audit: events });
  return {
    ...metadataView(secret),
    version: version.version,
    value: resolved,
    version_created_at: new Date(version.createdAt).toISOString(),
    version_created_by: version.createdBy,
  };
}

/** `${secret.some/path}`: the path is everything up to the closing brace, checked afterwards. */
const REFERENCE = /\$\{secret\.([^}]*)\}/g;
export const MAX_REFERENCE_DEPTH = 10;
const MAX_RESOLVED_BYTES = 1024 * 1024;

/**
 * Expands references recursively (docs/secret-store.md#references): at most
 * MAX_REFERENCE_DEPTH levels, each referenced path read with the caller's own
 * rights in the caller's tenant and audited (events are pushed onto `events`).
 * A cycle is 409 with `cycle` listing the paths in order, ending where it started.
 */
export async function expandReferences(c: Context<AppEnv>, rootPath: string, value: string, events: AuditInput[]): Promise<string> {
  const expanded = new Map<string, string>();

  const resolvePath = async (ref: string, stack: string[]): Promise<string> => {
    const seen = stack.indexOf(ref);
    if (seen >= 0) {
      const cycle = [...stack.slice(seen), ref];
      throw new Problem(409, "reference-cycle", `The references form a cycle: ${cycle.join(" -> ")}`, { cycle });
    }
    if (!SecretPath.safeParse(ref).success) {
      throw new Problem(422, "reference-invalid", `The reference \${secret.${ref}} does not name a valid path`, { path: ref });
    }
    if (stack.length > MAX_REFERENCE_DEPTH) {
      throw new Problem(422, "reference-too-deep", `References nest deeper than ${MAX_REFERENCE_DEPTH} levels at ${ref}`, {
        path: ref,
        max_depth: MAX_REFERENCE_DEPTH,
      });
    }
    const cached = expanded.get(ref);
    if (cached !== undefined) return cached;
    let target: Awaited<ReturnType<typeof releaseValue>>;
    try {
      // Each reference is read with the caller's own rights, by the same rule as a direct read.
      target = await releaseValue(c, ref, "reference");
    } catch (err) {
      if (err instanceof Problem && err.status === 404) {
        throw new Problem(422, "reference-missing", `The referenced secret ${ref} does not exist`, { path: ref });
      }
      if (err instanceof Problem) throw new Problem(err.status, err.type, `${ref}: ${err.detail ?? err.title}`, { path: ref });
      throw err;
    }
    events.push({ action: "secret.read", resource: secretResource(ref), detail: { version: target.version.version, via: rootPath } });
    const result = await expand(target.value, [...stack, ref]);
    expanded.set(ref, result);
    return result;
  };

  // The result is sized before it is built: the literal text plus each reference's resolved
  // length times its occurrences. The running total is checked after every resolved reference,
  // so thousands of references to a large value stop at the first one past the limit.
  const expand = async (text: string, stack: string[]): Promise<string> => {
    const occurrences = new Map<string, number>();
    let size = text.length;
    for (const m of text.matchAll(REFERENCE)) {
      occurrences.set(m[1]!, (occurrences.get(m[1]!) ?? 0) + 1);
      size -= m[0].length;
    }
    if (occurrences.size === 0) return text;
    const values = new Map<string, string>();
    for (const [ref, count] of occurrences) {
      const resolved = await resolvePath(ref, stack);
      size += resolved.length * count;
      if (size > MAX_RESOLVED_BYTES) {
        const path = stack[stack.length - 1]!;
        throw new Problem(422, "reference-too-large", `The expanded value of ${path} would be larger than ${MAX_RESOLVED_BYTES} characters`, {
          path,
          max_size: MAX_RESOLVED_BYTES,
        });
      }
      values.set(ref, resolved);
    }
    return text.replace(REFERENCE, (_, ref: string) => values.get(ref)!);
  };

  return expand(value, [rootPath]);
}
