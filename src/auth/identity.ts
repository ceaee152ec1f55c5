import { and, eq, isNull, sql } from "drizzle-orm";
import { randomBytes, toHex } from "../crypto/encoding";
import type { Db } from "../db/client";
import { apiTokens } from "../db/schema";
import type { Principal } from "../http/context";
import { badRequest, forbidden } from "../http/problem";
import { decide, globCovers } from "./access";
import { hashToken, newToken } from "./tokens";

/**
 * Identities (docs/security.md). Only root and login roles name top-level subjects;
 * every other token is minted by a token and lives under its subject, holds a subset of
 * its grants, expires no later and is revoked with it. The entity (the root-issued or
 * login-issued identity) is inherited, so one person's tokens count once in dual control.
 */

/** First segments no token may take: they name the operator, the platform and the public. */
const RESERVED = /^(?:root|system|anonymous|token|role:.*|login:.*|lease:.*|jwt:.*)$/;
export const MAX_SUBJECT_LENGTH = 256;

export const firstSegment = (subject: string) => subject.split("/", 1)[0]!;

/** The service a subject is bound to: `service:web` and everything minted under it. */
export function serviceOf(subject: string): string | null {
  const first = firstSegment(subject);
  return first.startsWith("service:") ? first.slice("service:".length) || null : null;
}

/** A top-level subject (root-issued, or a login role's): reserved names are refused. */
export function checkTopLevelSubject(subject: string, field = "subject"): void {
  if (RESERVED.test(firstSegment(subject))) {
    throw badRequest(`${field} ${firstSegment(subject)} is reserved (root, system, anonymous, token, role:, login:, lease:, jwt:)`, {
      errors: [{ field, code: "reserved_subject", message: "This subject is reserved" }],
    });
  }
}

/**
 * The subject of a token minted by `parent`: under the parent's own (`dev/alice` from `dev`).
 * Root names top-level identities, except for its own credentials (`ownCredential`: leases,
 * ephemeral keys), which nest under `root` like anyone's.
 */
export function childSubject(parent: Principal, asked: string, ownCredential = false): string {
  if (parent.isRoot && !ownCredential) {
    checkTopLevelSubject(asked);
    return asked;
  }
  const subject = asked.startsWith(`${parent.subject}/`) ? asked : `${parent.subject}/${asked}`;
  if (subject.length > MAX_SUBJECT_LENGTH) {
    throw badRequest(`The subject ${subject.slice(0, 40)}... is longer than ${MAX_SUBJECT_LENGTH} characters once nested under ${parent.subject}`);
  }
  return subject;
}

export interface Grant {
  scopes: readonly string[];
  paths: readonly string[] | null | undefined;
  policies?: readonly string[];
}

/**
 * A principal may hand out only what it holds: scopes, paths within its own, policies it
 * carries (an auth admin may rewrite every policy anyway, so it may hand any out).
 * Used for child tokens, ephemeral keys, lease credentials and the roles that issue them.
 */
export function checkGrant(principal: Principal, grant: Grant): void {
  if (principal.isRoot) return;
  const authAdmin = decide(principal, "auth:admin", "token.create").allow;
  const foreign = authAdmin ? [] : (grant.policies ?? []).filter((p) => !principal.policies?.includes(p));
  if (foreign.length) throw forbidden(`A token cannot grant policies it does not hold: ${foreign.join(", ")}`);
  const missing = grant.scopes.filter((s) => !principal.scopes.has(s));
  if (missing.length) throw forbidden(`A token cannot grant scopes it does not hold: ${missing.join(", ")}`);
  if (principal.paths === null) return;
  if (!grant.paths) throw forbidden("This token is limited to paths; what it grants must name paths within them");
  const outside = grant.paths.filter((p) => !principal.paths!.some((own) => globCovers(own, p)));
  if (outside.length) throw forbidden(`A token cannot grant paths outside its own: ${outside.join(", ")}`);
}

export type TokenRow = typeof apiTokens.$inferSelect;

/**
 * A new token row minted by `parent` (or by root): the subject nested, the grants checked
 * against the parent's, the expiry no later than the parent's, the entity inherited.
 * Returns the row and the bearer token (shown once; only its hash is stored).
 */
export async function mintToken(
  parent: Principal,
  input: Grant & {
    tenantId: string;
    subject: string;
    expiresAt: number;
    id?: string;
    /** A credential of the parent itself (lease, ephemeral key). */
    ownCredential?: boolean;
    /** The database of `tenantId` (src/db/directory.ts) when it is not the parent's tenant (root minting elsewhere). */
    database?: number;
  },
  now = Date.now(),
): Promise<{ row: TokenRow; token: string }> {
  checkGrant(parent, input);
  const ownCredential = input.ownCredential ?? false;
  const subject = childSubject(parent, input.subject, ownCredential);
  // The token names its tenant's database; another tenant's must be named by the caller.
  const index = input.database ?? (input.tenantId === parent.tenantId ? (parent.database ?? 0) : undefined);
  if (index === undefined) throw new Error("mintToken: give the database of a tenant other than the parent's");
  const token = newToken(index);
  const row: TokenRow = {
    id: input.id ?? `tok_${toHex(randomBytes(12))}`,
    tenantId: input.tenantId,
    tokenHash: await hashToken(token),
    prefix: token.slice(0, 9),
    subject,
    scopes: [...new Set(input.scopes)],
    paths: input.paths ? [...input.paths] : null,
    policies: input.policies?.length ? [...input.policies] : null,
    createdAt: now,
    createdBy: parent.subject,
    expiresAt: parent.expiresAt === null ? input.expiresAt : Math.min(input.expiresAt, parent.expiresAt),
    revokedAt: null,
    entity: parent.isRoot && !ownCredential ? `subject:${subject}` : parent.entity,
    parentId: parent.isRoot ? null : parent.tokenId,
  };
  return { row, token };
}

/**
 * Revokes a token and every token minted under it, in one statement (walks parent_id).
 * Already-revoked descendants keep their first revocation time.
 */
export function revokeWithDescendants(db: Db, tenantId: string, tokenId: string, now: number) {
  return db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(
      and(
        eq(apiTokens.tenantId, tenantId),
        isNull(apiTokens.revokedAt),
        sql`${apiTokens.id} IN (WITH RECURSIVE tree(id) AS (SELECT ${tokenId} UNION SELECT t.id FROM api_tokens t JOIN tree ON t.parent_id = tree.id) SELECT id FROM tree)`,
      ),
    );
}
