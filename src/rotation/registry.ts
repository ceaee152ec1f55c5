import type { Keyring, Place } from "../crypto/envelope";
import { idempotencyPlace } from "../http/idempotency";
import { providerPlace } from "../leases/providers";
import { rotationPlace } from "../rotations/engine";
import { versionPlace } from "../secrets/store";
import { rewrapShare, type ShareRewrap } from "../shares/service";
import { transitPlace } from "../transit/keys";
import { issuerPlace } from "../pki/issuers";
import { targetPlace } from "../sync/targets";

/** One row's primary key values, in the order of `SealedTable.primaryKey`. */
export type RowKey = (string | number)[];

/**
 * A D1 table whose rows hold data keys wrapped under a master key. The re-wrap job
 * (rotation/job.ts) walks each table in primary-key order and re-wraps every data key
 * that is not under the active master key; the sealed value itself is never touched.
 */
export interface SealedTable {
  table: string;
  /** Primary key columns, tenant first: the job's cursor walks them in this order. */
  primaryKey: readonly string[];
  /**
   * Where the wrapped data key lives: `columns` is the split layout of `seal()`
   * (`wrapped_key` + `key_id` columns, as in secret_versions); `packed` is one blob
   * column holding `pack(sealed)` (as idempotency_keys.response).
   */
  layout:
    | { kind: "columns" }
    | { kind: "packed"; column: string }
    | {
        /**
         * The sealed data lives outside D1 (a Durable Object per row); the table is its index,
         * with a `key_id` column saying which master key the object's data key is under, and
         * `live` the SQL condition of rows that still hold sealed data. `rewrap` re-wraps one
         * object's data key and reports the key it is under afterwards.
         */
        kind: "object";
        live: string;
        rewrap(env: Env, keyring: Keyring, key: RowKey): Promise<ShareRewrap>;
      };
  /** The place (crypto/envelope.ts) the row was sealed at, from its primary key. */
  place(key: RowKey): Place;
}

/** Split layout: columns `wrapped_key` and `key_id`, the tenant in the first key column. */
export const columns = (table: string, primaryKey: string[], place: (key: RowKey) => Place): SealedTable => ({
  table,
  primaryKey,
  layout: { kind: "columns" },
  place,
});

/** One blob column holding `pack(sealed)`. */
export const packed = (table: string, primaryKey: string[], column: string, place: (key: RowKey) => Place): SealedTable => ({
  table,
  primaryKey,
  layout: { kind: "packed", column },
  place,
});

/** An index table of Durable Objects that hold sealed data (see `layout.kind === "object"`). */
export const objects = (
  table: string,
  primaryKey: string[],
  live: string,
  rewrap: (env: Env, keyring: Keyring, key: RowKey) => Promise<ShareRewrap>,
): SealedTable => ({
  table,
  primaryKey,
  layout: { kind: "object", live, rewrap },
  place: () => [],
});

/**
 * Every table with sealed rows. A feature that adds one adds ONE line here, or the
 * master-key rotation leaves its rows under the old key (and they fail once it is
 * removed). Key [0] is always the tenant id.
 */
export const SEALED_TABLES: readonly SealedTable[] = [
  columns("secret_versions", ["tenant_id", "path", "version"], ([, path, version]) => versionPlace(String(path), Number(version))),
  columns("transit_key_versions", ["tenant_id", "name", "version"], ([, name, version]) => transitPlace(String(name), Number(version))),
  packed("idempotency_keys", ["tenant_id", "key"], "response", ([, key]) => idempotencyPlace(String(key))),
  columns("pki_issuers", ["tenant_id", "id"], ([, id]) => issuerPlace(String(id))),
  packed("lease_providers", ["tenant_id", "name"], "config", ([, name]) => providerPlace(String(name))),
  packed("sync_targets", ["tenant_id", "name"], "config", ([, name]) => targetPlace(String(name))),
  // The passwords of a static rotation while it runs (NULL once it is over).
  packed("static_rotations", ["tenant_id", "id"], "staged", ([, id]) => rotationPlace(String(id))),
  // Server-sealed share payloads live in their ShareObject; share_index.key_id tracks their key.
  objects("share_index", ["tenant_id", "id"], "state = 'active' AND mode = 'sealed'", (env, keyring, [, id]) => rewrapShare(env, keyring, String(id))),
];

/** SQL for a row's master key id (NULL when the row holds no sealed data, e.g. destroyed). */
export function keyIdSql(table: SealedTable): string {
  if (table.layout.kind === "columns") return "CASE WHEN wrapped_key IS NULL THEN NULL ELSE key_id END";
  if (table.layout.kind === "object") return `CASE WHEN ${table.layout.live} THEN key_id ELSE NULL END`;
  // pack(): byte 1 is the format (1), byte 2 the key id's length, then the key id.
  const blob = table.layout.column;
  return `CASE WHEN ${blob} IS NULL THEN NULL ELSE CAST(substr(${blob}, 3, unicode(CAST(substr(${blob}, 2, 1) AS TEXT))) AS TEXT) END`;
}
