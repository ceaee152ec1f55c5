import { and, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import { recordChange } from "../audit/unit-of-work";
import { utf8, wipe } from "../crypto/encoding";
import { loadKeyring } from "../crypto/envelope";
import { database, type BatchItem } from "../db/client";
import { secretVersions } from "../db/schema";
import { openVersion } from "../secrets/store";
import { valueMac } from "./mac";

/**
 * The scan-MAC backfill (docs/scanning.md), one page per cron sweep: versions written before
 * scanning existed have no MAC, and a master-key rotation leaves MACs under the old key. Each
 * page opens up to `limit` such versions, MACs them under the active key and writes the MAC
 * conditioned on the version not having been destroyed meanwhile (a destroyed version never
 * gets a MAC back). Versions under a master key no longer configured are left alone.
 * Returns how many versions were done.
 */
export async function backfillValueMacs(env: Env, limit = 200, now = Date.now()): Promise<number> {
  const db = database(env.DB);
  let keyring;
  try {
    keyring = loadKeyring(env.MASTER_KEYS);
  } catch {
    return 0; // no keys: nothing can be opened (the request paths answer 503)
  }
  const pending = await db
    .select()
    .from(secretVersions)
    .where(
      and(
        // Spelled as in the partial index secret_versions_mac_pending, so SQLite can use it.
        sql`${secretVersions.state} <> 'destroyed'`,
        or(isNull(secretVersions.valueMacKeyId), ne(secretVersions.valueMacKeyId, keyring.activeId)),
        inArray(secretVersions.keyId, keyring.ids),
      ),
    )
    .limit(limit)
    .all();
  const byTenant = new Map<string, BatchItem[]>();
  for (const version of pending) {
    let mac: Awaited<ReturnType<typeof valueMac>>;
    try {
      const value = await openVersion(keyring, version);
      const bytes = utf8(value);
      mac = await valueMac(keyring, version.tenantId, bytes);
      wipe(bytes);
    } catch {
      continue; // fails integrity: left for the operator (the read paths report it)
    }
    const statements = byTenant.get(version.tenantId) ?? [];
    statements.push(
      db
        .update(secretVersions)
        .set(mac)
        .where(
          and(
            eq(secretVersions.tenantId, version.tenantId),
            eq(secretVersions.path, version.path),
            eq(secretVersions.version, version.version),
            ne(secretVersions.state, "destroyed"),
          ),
        ),
    );
    byTenant.set(version.tenantId, statements);
  }
  let done = 0;
  for (const [tenantId, statements] of byTenant) {
    await recordChange(
      db,
      { tenantId, actor: "system", requestId: `cron_${now}` },
      statements,
      {
        action: "scan.mac_backfill",
        resource: null,
        detail: { versions: statements.length, key_id: keyring.activeId },
      },
      { now },
    );
    done += statements.length;
  }
  return done;
}
