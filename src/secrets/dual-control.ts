import type { Context } from "hono";
import { requireApproval } from "../approvals/guard";
import { authorize, onSecret } from "../auth/access";
import type { BatchItem } from "../db/client";
import type { AppEnv } from "../http/context";
import type { SecretRow } from "./store";

/**
 * What a change to stored secrets needs beyond its own capability, decided here for
 * every front door (native API, Vault subset, import, metadata changes): the native
 * routes and the Vault routes call these and nothing else, so a guarded action cannot
 * be reached around its approval. Each returns the statements that consume an approval;
 * put them in the change's own batch (see approvals/guard.ts).
 */

/** A new version of an existing secret (write, rotate, recover, Vault write/patch/undelete) is a rotation. */
export async function guardNewVersion(c: Context<AppEnv>, path: string, existing: SecretRow | undefined): Promise<BatchItem[]> {
  return existing ? requireApproval(c, "rotate", path) : [];
}

/** Soft deletion (native delete, Vault delete of versions). */
export const guardDelete = (c: Context<AppEnv>, path: string) => requireApproval(c, "delete", path);

/** Destruction for good (native destroy, Vault destroy and metadata delete). */
export const guardDestroy = (c: Context<AppEnv>, path: string) => requireApproval(c, "destroy", path);

/**
 * A lower `max_versions` destroys history: once `newest` is written, every version at or
 * below `newest - max` is crypto-shredded. Lowering it (or setting it on a secret that
 * kept everything) so that versions go needs what destroying them needs: `delete` on the
 * path and the destroy approval where a policy asks for one.
 */
export async function guardMaxVersions(
  c: Context<AppEnv>,
  existing: SecretRow | undefined,
  maxVersions: number | undefined,
  newest: number,
): Promise<BatchItem[]> {
  if (!existing || maxVersions === undefined || maxVersions <= 0) return [];
  const keptBefore = existing.maxVersions <= 0 ? Number.POSITIVE_INFINITY : existing.maxVersions;
  if (maxVersions >= keptBefore || newest <= maxVersions) return [];
  await authorize(c, "secrets:delete", "secret.destroy", onSecret(existing.path));
  return guardDestroy(c, existing.path);
}
