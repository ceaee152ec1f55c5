import { eq, sql } from "drizzle-orm";
import type { Context } from "hono";
import type { AuditActor, AuditInput } from "../audit/log";
import { randomString } from "../crypto/encoding";
import { rewrap, type Keyring } from "../crypto/envelope";
import type { BatchItem, Db } from "../db/client";
import { shareIndex } from "../db/schema";
import { commit } from "../http/commit";
import { enterTenant } from "../http/middleware";
import type { AppEnv } from "../http/context";
import { notFound, Problem } from "../http/problem";
import { DEFAULT_TTL_SECONDS, MAX_PASSPHRASE_ATTEMPTS, type RevealFailureReason, type ShareMode, type ShareStatus } from "./model";
import { makeVerifier } from "./passphrase";
import { iso } from "../http/openapi";

/** Anonymous shares belong to the operator's tenant, so the root token can see and revoke them. */
export const ANONYMOUS_TENANT = "default";
export const ANONYMOUS = "anonymous";

export const shareStub = (env: Env, id: string) => env.SHARE.get(env.SHARE.idFromName(id));
export const newShareId = () => randomString(22);
export const shareResource = (id: string) => `share:${id}`;
/** The place a server-sealed payload is bound to (see crypto/envelope.ts). */
export const sharePlace = (id: string) => ["share", id] as const;

/** The audit actor for callers without a token: the share link is their only credential. */
export const anonymousActor = (c: Context<AppEnv>, tenantId: string): AuditActor => ({
  tenantId,
  actor: ANONYMOUS,
  requestId: c.get("requestId"),
});

export interface ShareOptions {
  expires_in_seconds?: number;
  max_views?: number;
  passphrase?: string;
}

/**
 * Creates the ShareObject, then the index row and audit event in one D1 batch. The
 * object comes first: if the batch fails, it holds a share nobody has the link to,
 * which its alarm deletes at expiry.
 */
export async function createShare(
  c: Context<AppEnv>,
  input: {
    id: string;
    mode: ShareMode;
    payload: Uint8Array;
    /** The master key id a server-sealed payload is under (null for e2e), kept in the index for the re-wrap job. */
    keyId: string | null;
    tokenHash: string | null;
    options: ShareOptions;
    who: AuditActor;
    /** Statements of the same change (a stored secret's read events and approval consumption). */
    statements?: BatchItem[];
    events?: AuditInput[];
  },
  response: (status: ShareStatus) => { status: number; body: Record<string, unknown>; oneTime?: readonly string[] },
) {
  const now = Date.now();
  const { options, who } = input;
  const status = await shareStub(c.env, input.id).create({
    id: input.id,
    tenantId: who.tenantId,
    mode: input.mode,
    payload: input.payload,
    tokenHash: input.tokenHash,
    createdAt: now,
    expiresAt: now + (options.expires_in_seconds ?? DEFAULT_TTL_SECONDS) * 1000,
    maxViews: options.max_views ?? 1,
    passphrase: options.passphrase === undefined ? null : await makeVerifier(options.passphrase),
  });
  const db = c.get("db");
  const result = response(status);
  await commit(
    c,
    [
      db.insert(shareIndex).values({
        id: status.id,
        tenantId: status.tenantId,
        mode: status.mode,
        createdAt: status.createdAt,
        createdBy: who.actor,
        expiresAt: status.expiresAt,
        maxViews: status.maxViews,
        viewsLeft: status.viewsLeft,
        state: status.state,
        passphraseRequired: status.passphraseRequired,
        keyId: input.keyId,
      }),
      ...(input.statements ?? []),
    ],
    {
      audit: [
        ...(input.events ?? []),
        {
          action: "share.create",
          resource: shareResource(status.id),
          status: 201,
          detail: { mode: status.mode, max_views: status.maxViews, expires_at: iso(status.expiresAt), passphrase: status.passphraseRequired },
        },
      ],
      response: result,
      actor: who,
    },
  );
  return result;
}

/**
 * Brings the index row up to what the object reported. Reveals may finish out of
 * order, so every column only moves forward: fewer views, later times, final states.
 */
export function syncIndex(db: Db, status: ShareStatus) {
  return db
    .update(shareIndex)
    .set({
      viewsLeft: sql`MIN(${shareIndex.viewsLeft}, ${status.viewsLeft})`,
      state: sql`CASE WHEN ${shareIndex.state} = 'active' THEN ${status.state} ELSE ${shareIndex.state} END`,
      viewedAt: status.viewedAt === null ? sql`${shareIndex.viewedAt}` : sql`MAX(COALESCE(${shareIndex.viewedAt}, 0), ${status.viewedAt})`,
      endedAt: sql`COALESCE(${shareIndex.endedAt}, ${status.endedAt})`,
      // A share that is no longer active has no payload, so nothing for the re-wrap job.
      ...(status.state === "active" ? {} : { keyId: null }),
    })
    .where(eq(shareIndex.id, status.id));
}

/** Records what happened to a share in its creator's audit log, with the index kept in step. */
export async function recordShareEvent(c: Context<AppEnv>, status: ShareStatus, event: AuditInput, actor?: AuditActor) {
  // A public reveal has no token: the share's own tenant (the object's record) names the database.
  if (!c.get("principal") && !(await enterTenant(c, status.tenantId))) throw new Error("A share of a tenant missing from the directory");
  await commit(c, [syncIndex(c.get("db"), status)], {
    audit: { resource: shareResource(status.id), ...event },
    actor: actor ?? anonymousActor(c, status.tenantId),
  });
}

const describeEnd = (status: ShareStatus): string => {
  const at = iso(status.endedAt);
  switch (status.state) {
    case "viewed":
      return `This share was already viewed (at ${iso(status.viewedAt)})`;
    case "expired":
      return `This share expired at ${iso(status.expiresAt)}`;
    case "revoked":
      return `The sender revoked this share at ${at}`;
    case "destroyed":
      return `This share was destroyed after ${MAX_PASSPHRASE_ATTEMPTS} wrong passphrases at ${at}`;
    case "active":
      return "This share is active";
  }
};

/** 410 for a share that exists but can no longer be read. */
export const goneProblem = (status: ShareStatus) =>
  new Problem(410, "share-gone", describeEnd(status), {
    state: status.state,
    viewed_at: iso(status.viewedAt),
    ended_at: iso(status.endedAt),
  });

/** Maps a refused reveal to its problem document (the detailed reason is audited). */
export function revealProblem(reason: RevealFailureReason, status: ShareStatus | null, attemptsLeft?: number): Problem {
  switch (reason) {
    case "not-found":
      return notFound("share");
    case "gone":
      return goneProblem(status!);
    case "nonce-invalid":
      return new Problem(403, "invalid-nonce", "The reveal nonce is unknown or was already used; fetch a new one from /nonce");
    case "nonce-expired":
      return new Problem(403, "nonce-expired", "The reveal nonce expired; fetch a new one from /nonce");
    case "token-invalid":
      return new Problem(403, "invalid-share-token", "The share token does not match this share");
    case "passphrase-required":
      return new Problem(403, "passphrase-required", "This share is protected by a passphrase; send it as `passphrase`");
    case "reveal-interrupted":
      return new Problem(409, "reveal-interrupted", "The reveal did not complete and no view was spent; fetch a new nonce and try again");
    case "wrong-passphrase":
      return new Problem(
        403,
        "wrong-passphrase",
        attemptsLeft === 0
          ? `Wrong passphrase; after ${MAX_PASSPHRASE_ATTEMPTS} wrong attempts the share has been destroyed`
          : `Wrong passphrase; ${attemptsLeft} attempt(s) left before the share is destroyed`,
        { attempts_left: attemptsLeft ?? 0 },
      );
  }
}

/** Metadata for the creator: state, views, times; never the payload or token. */
export function shareView(row: typeof shareIndex.$inferSelect, live: ShareStatus | null) {
  const status = live ?? {
    state: row.state,
    viewsLeft: row.viewsLeft,
    viewedAt: row.viewedAt,
    endedAt: row.endedAt,
  };
  return {
    id: row.id,
    mode: row.mode,
    state: status.state,
    created_at: iso(row.createdAt)!,
    created_by: row.createdBy,
    expires_at: iso(row.expiresAt)!,
    max_views: row.maxViews,
    views_left: status.viewsLeft,
    passphrase_required: row.passphraseRequired,
    viewed_at: iso(status.viewedAt),
    ended_at: iso(status.endedAt),
  };
}

/** The operator's switch (wrangler.jsonc [vars]): "true" makes share creation need an API token. */
export const tokenRequired = (env: Env) => (env.SHARES_REQUIRE_TOKEN as string) === "true";

export const shareUrl = (c: Context<AppEnv>, id: string) => `${new URL(c.req.url).origin}/s/${id}`;
export const isoTime = iso;

/** What the re-wrap job learns from one share: the key its payload is under now, or that it was skipped. */
export type ShareRewrap = { keyId: string | null } | { skipped: "master-key-removed" };

/**
 * Re-wraps a server-sealed share's data key under the active master key (the master-key
 * rotation job, src/rotation/). The payload lives in the ShareObject, which holds no master
 * key: the Worker reads the wrapped key, re-wraps it here, and the object swaps it in only if
 * the payload still holds the old one. Returns the key id the payload is under afterwards
 * (null: the share has no payload any more), so the job records it in `share_index.key_id`.
 * Throws IntegrityError when the wrapped key does not open.
 */
export async function rewrapShare(env: Env, keyring: Keyring, id: string): Promise<ShareRewrap> {
  const stub = shareStub(env, id);
  const current = await stub.sealedKey();
  if (!current) return { keyId: null };
  if (current.keyId === keyring.activeId) return { keyId: current.keyId };
  if (!keyring.has(current.keyId)) return { skipped: "master-key-removed" };
  const sealed = { keyId: current.keyId, wrappedKey: new Uint8Array(current.wrappedKey), ciphertext: new Uint8Array(), iv: new Uint8Array() };
  const next = await rewrap(keyring, current.tenantId, sharePlace(id), sealed);
  return { keyId: await stub.replaceSealedKey(sealed.wrappedKey, { keyId: next.keyId, wrappedKey: next.wrappedKey }) };
}
