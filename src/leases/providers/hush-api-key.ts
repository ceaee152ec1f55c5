import { and, eq, isNull, sql } from "drizzle-orm";
import { mintToken } from "../../auth/identity";
import { apiTokens } from "../../db/schema";
import type { Provider, ProviderContext } from "./types";

/** The api_tokens id of a lease's token: derived from the lease id, so revoke needs nothing stored. */
export const tokenIdOf = (leaseId: string) => `tok_${leaseId.slice("lease_".length)}`;

export interface ApiKeyGrant {
  /** Nested under the caller's subject when the token is minted. */
  subject: string;
  scopes: string[];
  paths: string[] | null;
}

/**
 * Short-lived Hush API tokens, minted under the caller (identity.ts): within the caller's
 * grants, no later than the caller's expiry, revoked with it. The token row is written in
 * the lease's own batch, and expiry is enforced twice: at auth time by expires_at, and by
 * the lease setting revoked_at.
 */
export function hushApiKeyProvider(grant: (ctx: ProviderContext) => ApiKeyGrant): Provider {
  return {
    async issue(lease, ctx) {
      const { row, token } = await mintToken(
        ctx.principal,
        { ...grant(ctx), tenantId: lease.tenantId, expiresAt: lease.expiresAt, id: tokenIdOf(lease.id), ownCredential: true },
        ctx.now,
      );
      return {
        credential: { token, token_id: row.id, subject: row.subject, scopes: row.scopes },
        externalId: row.id,
        statements: [ctx.db.insert(apiTokens).values(row)],
      };
    },
    async revoke(lease, { db, now }) {
      await db
        .update(apiTokens)
        .set({ revokedAt: now })
        .where(and(eq(apiTokens.id, tokenIdOf(lease.id)), eq(apiTokens.tenantId, lease.tenantId), isNull(apiTokens.revokedAt)))
        .run();
    },
    async renew(lease, { db }) {
      // Never past the token that minted it.
      const parentExpiry = sql`(SELECT p.expires_at FROM api_tokens p WHERE p.id = ${apiTokens.parentId})`;
      return [
        db
          .update(apiTokens)
          .set({ expiresAt: sql`MIN(${lease.expiresAt}, COALESCE(${parentExpiry}, ${lease.expiresAt}))` })
          .where(and(eq(apiTokens.id, tokenIdOf(lease.id)), eq(apiTokens.tenantId, lease.tenantId), isNull(apiTokens.revokedAt))),
      ];
    },
    async health({ db }) {
      await db.run(sql`SELECT 1`);
    },
  };
}
