import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { inject } from "vitest";
import { database } from "../../src/db/client";
import { leases } from "../../src/db/schema";
import { beginRevocation, type Lease, type OutboxRow, type RevocationMessage } from "../../src/leases/store";
import worker from "../../src/index";
import { api } from "../helpers";
import { WEBHOOK_SIGNING_KEY } from "./fixtures";

let counter = 0;
export const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}`;

/** A webhook provider pointing at the local receiver; `scenario` scripts its answers. */
export async function webhookProvider(
  scenario: "ok" | "flaky3" | "down",
  roles: Record<string, { max_ttl_seconds: number }> = { app: { max_ttl_seconds: 3600 } },
) {
  const name = uniqueName(`wh-${scenario}`);
  const res = await api("POST", "/api/v1/secrets/providers", {
    body: { name, kind: "webhook", config: { url: `${inject("webhookUrl")}/${scenario}/${name}`, signing_key: WEBHOOK_SIGNING_KEY }, roles },
  });
  if (res.status !== 201) throw new Error(`provider: ${res.status} ${res.text}`);
  return name;
}

export async function issue(provider: string, role = "app", ttl_seconds = 600, token?: string) {
  const res = await api("POST", "/api/v1/secrets/leases", { body: { provider, role, ttl_seconds }, token });
  if (res.status !== 201) throw new Error(`issue: ${res.status} ${res.text}`);
  return res.body as { lease_id: string; expires_at: string; renewable: boolean; credential: Record<string, unknown> };
}

export async function webhookCalls(leaseId: string) {
  const res = await fetch(`${inject("webhookUrl")}/calls?lease_id=${leaseId}`);
  return (await res.json()) as { issue: number; renew: number; revoke_attempts: number; revoked: number; bad_signatures: number };
}

export const db = () => database(env.DB);

export async function leaseRow(id: string): Promise<Lease> {
  const row = await db().select().from(leases).where(eq(leases.id, id)).get();
  if (!row) throw new Error(`no lease ${id}`);
  return row;
}

/**
 * Writes a revocation's state and outbox row but sends nothing: exactly what a
 * crash between the D1 batch and the queue send leaves behind.
 */
export async function revocationWithLostSend(leaseId: string): Promise<OutboxRow> {
  const row = await beginRevocation(db(), await leaseRow(leaseId), "revoked", { tenantId: "default", actor: "test", requestId: "test" });
  if (!row) throw new Error("not revocable");
  return row;
}

export const messageFor = (row: OutboxRow): RevocationMessage => ({ outbox_id: row.id, lease_id: row.leaseId, tenant_id: row.tenantId });

/** Delivers messages to the Worker's queue handler as the runtime would, and returns what it acked and retried. */
export async function deliver(queue: "hush-revocations" | "hush-revocations-dlq", bodies: RevocationMessage[], attempts = 1) {
  const batch = createMessageBatch<RevocationMessage>(
    queue,
    bodies.map((body, i) => ({ id: `msg-${counter++}-${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, env, ctx);
  return getQueueResult(batch, ctx);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
