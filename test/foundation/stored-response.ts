import { env } from "cloudflare:workers";
import { fromUtf8 } from "../../src/crypto/encoding";
import { loadKeyring, open, unpack } from "../../src/crypto/envelope";
import { idempotencyPlace } from "../../src/http/idempotency";

/** Opens the response stored under an Idempotency-Key, as the replay would (test-only). */
export async function storedResponse(key: string, tenantId = "default"): Promise<string> {
  const row = await env.DB.prepare("SELECT response FROM idempotency_keys WHERE tenant_id = ? AND key = ?")
    .bind(tenantId, key)
    .first<{ response: ArrayBuffer }>();
  if (!row) throw new Error(`no stored response for ${key}`);
  const plain = await open(loadKeyring(env.MASTER_KEYS), tenantId, idempotencyPlace(key), unpack(new Uint8Array(row.response)));
  return fromUtf8(plain);
}
