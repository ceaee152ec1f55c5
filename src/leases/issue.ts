import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { actorOf } from "../audit/log";
import { randomBytes, toHex } from "../crypto/encoding";
import { leases, type ProviderRole } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { Problem } from "../http/problem";
import { leaseObject } from "../../durable-objects/lease";
import { safeMessage, type Provider } from "./providers/types";
import { beginRevocation, leaseResource, leaseView, sendRevocation, type Lease } from "./store";

export interface IssueRequest {
  providerName: string;
  kind: string;
  provider: Provider;
  roleName: string;
  role: ProviderRole;
  ttlSeconds: number;
}

/**
 * Issues a credential under a new lease. The lease row and its alarm exist before the
 * provider makes anything, so a crash at any later point still ends in a revocation
 * (at expiry, or by the sweeper); a failed issue is revoked at once through the outbox.
 */
export async function issueLease(
  c: Context<AppEnv>,
  request: IssueRequest,
  /** Metadata for the response (kept for a replay); may lift non-secret fields out of the credential. */
  extraResponse: (lease: Lease, credential: Record<string, unknown>) => Record<string, unknown> = () => ({}),
) {
  const { providerName, kind, provider, roleName, role, ttlSeconds } = request;
  if (ttlSeconds > role.max_ttl_seconds) {
    throw new Problem(400, "ttl-too-long", `Role ${roleName} allows at most ${role.max_ttl_seconds} seconds`, {
      max_ttl_seconds: role.max_ttl_seconds,
    });
  }
  const db = c.get("db");
  const principal = c.get("principal");
  const now = Date.now();
  const lease: Lease = {
    id: `lease_${toHex(randomBytes(12))}`,
    tenantId: principal.tenantId,
    provider: providerName,
    kind,
    role: roleName,
    state: "issued",
    externalId: null,
    createdAt: now,
    createdBy: principal.subject,
    expiresAt: now + ttlSeconds * 1000,
    maxExpiresAt: now + role.max_ttl_seconds * 1000,
    generation: 0,
    revokeReason: null,
    revokeRequestedAt: null,
    revokedAt: null,
    failedAt: null,
    attempts: 0,
    lastError: null,
  };
  await db.insert(leases).values(lease).run();
  await leaseObject(c.env, lease.id).schedule(lease.tenantId, lease.id, lease.expiresAt);

  const ref = { id: lease.id, tenantId: lease.tenantId, role: roleName, externalId: null, expiresAt: lease.expiresAt };
  let issued;
  try {
    issued = await provider.issue(ref, { db, now, role, roleName, actor: principal.subject, principal });
  } catch (err) {
    // Undo whatever the provider may have made halfway, by the usual revocation path.
    const row = await beginRevocation(db, lease, "issue-failed", actorOf(c), now);
    if (row) await sendRevocation(c.env, row);
    if (err instanceof Problem && err.status < 500) throw err;
    throw new Problem(502, "provider-failed", `Provider ${providerName} could not issue a credential: ${safeMessage(err)}`, {
      lease_id: lease.id,
    });
  }
  const issuedLease = { ...lease, externalId: issued.externalId };
  const response = {
    ...leaseView(issuedLease),
    ...extraResponse(issuedLease, issued.credential),
    credential: issued.credential,
  };
  await commit(c, [db.update(leases).set({ externalId: issued.externalId }).where(eq(leases.id, lease.id)), ...(issued.statements ?? [])], {
    audit: {
      action: "lease.issue",
      resource: leaseResource(lease.id),
      status: 201,
      detail: { provider: providerName, role: roleName, ttl_seconds: ttlSeconds, external_id: issued.externalId },
    },
    // The credential is returned once; a replay gets the lease's metadata (docs/storage.md).
    response: { status: 201, body: response, oneTime: ["credential"] },
  });
  return response;
}
