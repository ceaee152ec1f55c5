import { toHex, utf8 } from "../../crypto/encoding";
import { ProviderError, type LeaseRef, type Provider } from "./types";

export interface WebhookConfig {
  /** HTTPS (plain http only to localhost, for development). */
  url: string;
  /** HMAC-SHA-256 key shared with the receiver. Sealed at rest. */
  signing_key: string;
}

export const SIGNATURE_HEADER = "X-Hush-Signature";
export const TIMESTAMP_HEADER = "X-Hush-Timestamp";
const TIMEOUT_MS = 10_000;

/** `sha256=<hex>` over `${timestamp}.${body}`: the receiver rejects replays by the timestamp. */
export async function signWebhook(key: string, timestamp: string, body: string): Promise<string> {
  const hmacKey = await crypto.subtle.importKey("raw", utf8(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `sha256=${toHex(await crypto.subtle.sign("HMAC", hmacKey, utf8(`${timestamp}.${body}`)))}`;
}

/**
 * Anything else: a signed POST per issue, renew and revoke. The receiver makes the
 * credential on issue (answering `{credential, external_id?}`) and must treat a
 * repeated revoke of the same lease_id as success (404/410 count as success too).
 */
export function webhookProvider(config: WebhookConfig): Provider {
  async function call(action: string, lease: LeaseRef, extra: Record<string, unknown> = {}): Promise<Response> {
    const body = JSON.stringify({
      action,
      lease_id: lease.id,
      tenant: lease.tenantId,
      role: lease.role,
      external_id: lease.externalId,
      expires_at: new Date(lease.expiresAt).toISOString(),
      ...extra,
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    let response: Response;
    try {
      response = await fetch(config.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: await signWebhook(config.signing_key, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: "manual",
      });
    } catch {
      throw new ProviderError(`The webhook did not answer the ${action} call`);
    }
    return response;
  }
  const failed = async (action: string, response: Response) => {
    await response.body?.cancel();
    return new ProviderError(`The webhook answered ${response.status} to ${action}`);
  };
  return {
    async issue(lease) {
      const response = await call("issue", lease);
      if (!response.ok) throw await failed("issue", response);
      const answer = (await response.json().catch(() => null)) as { credential?: unknown; external_id?: unknown } | null;
      if (!answer || typeof answer.credential !== "object" || answer.credential === null) {
        throw new ProviderError("The webhook's issue answer has no credential object");
      }
      return {
        credential: answer.credential as Record<string, unknown>,
        externalId: typeof answer.external_id === "string" ? answer.external_id.slice(0, 256) : lease.id,
      };
    },
    async revoke(lease) {
      const response = await call("revoke", lease);
      if (!response.ok && response.status !== 404 && response.status !== 410) throw await failed("revoke", response);
      await response.body?.cancel();
    },
    async renew(lease) {
      const response = await call("renew", lease);
      if (!response.ok) throw await failed("renew", response);
      await response.body?.cancel();
    },
    async health() {
      const response = await call("health", { id: "health", tenantId: "", role: "", externalId: null, expiresAt: Date.now() });
      if (!response.ok) throw await failed("health", response);
      await response.body?.cancel();
    },
  };
}
