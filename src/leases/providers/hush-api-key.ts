import { and, eq, isNull, sql } from "drizzle-orm";
import { hashToken, newToken } from "../../auth/tokens";
import { apiTokens } from "../../db/schema";
import type { Provider, ProviderContext } from "./types";

/** The api_tokens id of a lease's token: derived from the lease id, so revoke needs nothing stored. */
export const tokenIdOf = (leaseId: string) => `tok_${leaseId.slice("lease_".length)}`;

export interface ApiKeyGrant {
  subject: string;
  scopes: string[];
  paths: string[] | null;
  createdBy: string;
}

/**
 * Short-lived Hush API tokens. The token row is written in the lease's own batch, and
 * expiry is enforced twice: at auth time by expires_at, and by the lease setting revoked_at.
 */
export function hushApiKeyProvider(grant: (ctx: ProviderContext) => ApiKeyGrant): Provider {
  return {
    async issue(lease, ctx) {
      const { db, now } = ctx;
      const { subject, scopes, paths, createdBy } = grant(ctx);
      const token = newToken();
      const id = tokenIdOf(lease.id);
      const row = {
        id,
        tenantId: lease.tenantId,
        tokenHash: await hashToken(token),
        prefix: token.slice(0, 9),
        subject,
        scopes,
        paths,
        createdAt: now,
        createdBy,
        expiresAt: lease.expiresAt,
        revokedAt: null,
      };
      return {
        credential: { token, token_id: id, subject, scopes },
        externalId: id,
        statements: [db.insert(apiTokens).values(row)],
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
      return [
        db
          .update(apiTokens)
          .set({ expiresAt: lease.expiresAt })
          .where(and(eq(apiTokens.id, tokenIdOf(lease.id)), eq(apiTokens.tenantId, lease.tenantId), isNull(apiTokens.revokedAt))),
      ];
    },
    async health({ db }) {
      await db.run(sql`SELECT 1`);
    },
  };
}
