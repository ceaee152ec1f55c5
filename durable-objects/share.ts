import { DurableObject } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { recordChange } from "../src/audit/unit-of-work";
import { randomBytes, toBase64Url } from "../src/crypto/encoding";
import { pack, unpack } from "../src/crypto/envelope";
import { database } from "../src/db/client";
import { tenantEnv } from "../src/db/directory";
import { shareIndex } from "../src/db/schema";
import {
  MAX_PASSPHRASE_ATTEMPTS,
  NONCE_TTL_MS,
  OPENING_TTL_MS,
  TOMBSTONE_MS,
  type NewShare,
  type NonceResult,
  type RevealCredential,
  type RevealFailureReason,
  type RevealResult,
  type RevokeResult,
  type SealedKey,
  type ShareState,
  type ShareStatus,
  type SpendResult,
} from "../src/shares/model";
import { candidateHash, sameBytes } from "../src/shares/passphrase";

interface Row extends Record<string, SqlStorageValue> {
  id: string;
  tenant_id: string;
  mode: "e2e" | "sealed";
  payload: ArrayBuffer | null;
  token_hash: string | null;
  created_at: number;
  expires_at: number;
  max_views: number;
  views_left: number;
  state: ShareState;
  viewed_at: number | null;
  ended_at: number | null;
  pass_salt: ArrayBuffer | null;
  pass_hash: ArrayBuffer | null;
  pass_iterations: number | null;
  failed_attempts: number;
}

/** Outstanding reveal nonces per share; the oldest is dropped beyond this. */
const MAX_NONCES = 100;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS share (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  payload BLOB,
  token_hash TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  max_views INTEGER NOT NULL,
  views_left INTEGER NOT NULL,
  state TEXT NOT NULL,
  viewed_at INTEGER,
  ended_at INTEGER,
  pass_salt BLOB,
  pass_hash BLOB,
  pass_iterations INTEGER,
  failed_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
`;

const statusOf = (row: Row): ShareStatus => ({
  id: row.id,
  tenantId: row.tenant_id,
  mode: row.mode,
  state: row.state,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  maxViews: row.max_views,
  viewsLeft: row.views_left,
  viewedAt: row.viewed_at,
  endedAt: row.ended_at,
  passphraseRequired: row.pass_hash !== null,
});

/**
 * One per share: holds the payload (ciphertext only), the views left, the expiry and
 * the passphrase verifier. Every state change is a synchronous block of SQL inside
 * `transactionSync`, so no other call can interleave between the check and the
 * change: under any number of concurrent reveals exactly `max_views` succeed, and the
 * payload is deleted in the same transaction as the last successful read.
 * The alarm at expiry deletes the payload; a tombstone (state, viewed at) stays for
 * TOMBSTONE_MS so a late visitor learns what happened, then everything is deleted.
 *
 * A reveal is two calls: `reveal` checks everything and hands out the payload with a ticket,
 * spending nothing; the Worker opens the payload (server-sealed shares) and only then calls
 * `spendView(ticket)`, which re-checks and spends in one synchronous block. A payload that
 * cannot be opened (a removed master key, tampering) therefore never costs a view.
 * The object holds no master key: the Worker does all envelope crypto, including the
 * re-wrap (`sealedKey` / `replaceSealedKey`).
 */
export class ShareObject extends DurableObject<Env> {
  private schemaReady = false;
  /**
   * Tickets of reveals that passed their checks and wait for their spend, with the nonce they
   * presented. In memory on purpose: a ticket lives for milliseconds, and one lost to a restart
   * only means the reveal is refused ("reveal-interrupted") with nothing spent.
   */
  private openings = new Map<string, { nonce?: string; expiresAt: number }>();

  private get sql() {
    return this.ctx.storage.sql;
  }

  /** The share row, with a due expiry applied first (rows are truth, the alarm is a reminder). */
  private current(now = Date.now()): Row | undefined {
    if (!this.schemaReady) {
      // Probing an unknown id must not create storage, so the schema is made only by `create`.
      const exists = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'share'").toArray().length > 0;
      if (!exists) return undefined;
      this.schemaReady = true;
    }
    const row = this.sql.exec<Row>("SELECT * FROM share LIMIT 1").toArray()[0];
    if (row && row.state === "active" && now >= row.expires_at) {
      this.end("expired", now);
      return this.sql.exec<Row>("SELECT * FROM share LIMIT 1").one();
    }
    return row;
  }

  /** Moves to a final state and deletes the payload and nonces in the same transaction. */
  private end(state: Exclude<ShareState, "active">, now: number, viewed = false): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "UPDATE share SET state = ?, payload = NULL, ended_at = ?, viewed_at = CASE WHEN ? THEN ? ELSE viewed_at END, views_left = CASE WHEN ? THEN 0 ELSE views_left END",
        state,
        now,
        viewed ? 1 : 0,
        now,
        viewed ? 1 : 0,
      );
      this.sql.exec("DELETE FROM nonces");
    });
    this.openings.clear();
  }

  async create(share: NewShare): Promise<ShareStatus> {
    this.sql.exec(SCHEMA);
    this.schemaReady = true;
    if (this.current()) throw new Error("share id already in use");
    this.sql.exec(
      `INSERT INTO share (id, tenant_id, mode, payload, token_hash, created_at, expires_at, max_views, views_left, state,
        pass_salt, pass_hash, pass_iterations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)`,
      share.id,
      share.tenantId,
      share.mode,
      share.payload,
      share.tokenHash,
      share.createdAt,
      share.expiresAt,
      share.maxViews,
      share.maxViews,
      share.passphrase?.salt ?? null,
      share.passphrase?.hash ?? null,
      share.passphrase?.iterations ?? null,
    );
    await this.ctx.storage.setAlarm(share.expiresAt);
    return statusOf(this.current()!);
  }

  /** State for pages and the creator; never consumes anything. */
  async status(): Promise<ShareStatus | null> {
    const row = this.current();
    return row ? statusOf(row) : null;
  }

  /** A short-lived, single-use nonce the reveal must present (see docs/shares.md). */
  async issueNonce(): Promise<NonceResult> {
    const now = Date.now();
    const row = this.current(now);
    if (!row) return { ok: false, reason: "not-found" };
    if (row.state !== "active") return { ok: false, reason: "gone", status: statusOf(row) };
    const nonce = toBase64Url(randomBytes(24));
    const expiresAt = now + NONCE_TTL_MS;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM nonces WHERE expires_at <= ?", now);
      this.sql.exec("DELETE FROM nonces WHERE nonce NOT IN (SELECT nonce FROM nonces ORDER BY expires_at DESC LIMIT ?)", MAX_NONCES - 1);
      this.sql.exec("INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)", nonce, expiresAt);
    });
    return { ok: true, nonce, expiresAt, status: statusOf(row) };
  }

  private credentialFailure(row: Row, credential: RevealCredential, now: number): RevealFailureReason | undefined {
    if (row.mode === "sealed") {
      const given = new TextEncoder().encode(credential.tokenHash ?? "");
      if (row.token_hash === null || !sameBytes(new TextEncoder().encode(row.token_hash), given)) return "token-invalid";
    }
    if (credential.nonce !== undefined) {
      const found = this.sql.exec<{ expires_at: number }>("SELECT expires_at FROM nonces WHERE nonce = ?", credential.nonce).toArray()[0];
      if (!found) return "nonce-invalid";
      if (found.expires_at <= now) return "nonce-expired";
    } else if (row.mode === "e2e") {
      // Only the token route reveals without a nonce, and an e2e share has no token.
      return "token-invalid";
    }
    return undefined;
  }

  /**
   * Checks a reveal and returns the payload with a single-use ticket, or says why not. Spends
   * nothing: the view goes only when `spendView(ticket)` follows. A wrong passphrase counts an
   * attempt (the fifth destroys the share) and leaves the nonce usable.
   */
  async reveal(credential: RevealCredential, passphrase?: string): Promise<RevealResult> {
    const refuse = (reason: RevealFailureReason, row: Row | undefined, attemptsLeft?: number): RevealResult => ({
      ok: false,
      reason,
      status: row ? statusOf(row) : null,
      ...(attemptsLeft === undefined ? {} : { attemptsLeft }),
    });
    const first = this.current();
    if (!first) return refuse("not-found", first);
    if (first.state !== "active") return refuse("gone", first);
    const early = this.credentialFailure(first, credential, Date.now());
    if (early) return refuse(early, first);
    let candidate: Uint8Array | undefined;
    if (first.pass_hash !== null) {
      if (passphrase === undefined) return refuse("passphrase-required", first);
      candidate = await candidateHash(passphrase, { salt: new Uint8Array(first.pass_salt!), iterations: first.pass_iterations! });
    }

    // From here on nothing awaits: the checks are repeated on fresh state and the
    // change is made in one transaction, so concurrent reveals are strictly ordered.
    const now = Date.now();
    const row = this.current(now);
    if (!row) return refuse("not-found", row);
    if (row.state !== "active") return refuse("gone", row);
    const late = this.credentialFailure(row, credential, now);
    if (late) return refuse(late, row);
    if (row.pass_hash !== null && !sameBytes(candidate!, new Uint8Array(row.pass_hash))) {
      const attempts = row.failed_attempts + 1;
      if (attempts >= MAX_PASSPHRASE_ATTEMPTS) this.end("destroyed", now);
      else this.sql.exec("UPDATE share SET failed_attempts = ?", attempts);
      return refuse("wrong-passphrase", this.current(now), MAX_PASSPHRASE_ATTEMPTS - attempts);
    }
    for (const [ticket, opening] of this.openings) if (opening.expiresAt <= now) this.openings.delete(ticket);
    if (this.openings.size >= MAX_NONCES) this.openings.delete(this.openings.keys().next().value!);
    const ticket = toBase64Url(randomBytes(18));
    this.openings.set(ticket, { nonce: credential.nonce, expiresAt: now + OPENING_TTL_MS });
    return { ok: true, payload: new Uint8Array(row.payload!), status: statusOf(row), ticket };
  }

  /**
   * Spends the view of a checked reveal whose payload the Worker has opened. Synchronous from
   * the first check to the change (no await), so under any concurrency exactly `max_views`
   * spends succeed; the ticket and the reveal's nonce are used up with the view.
   */
  async spendView(ticket: string): Promise<SpendResult> {
    const now = Date.now();
    const opening = this.openings.get(ticket);
    this.openings.delete(ticket);
    const row = this.current(now);
    if (!row) return { ok: false, reason: "not-found", status: null };
    if (row.state !== "active") return { ok: false, reason: "gone", status: statusOf(row) };
    if (!opening || opening.expiresAt <= now) return { ok: false, reason: "reveal-interrupted", status: statusOf(row) };
    if (opening.nonce !== undefined) {
      // Another reveal with the same nonce may have spent it since the checks.
      const found = this.sql.exec<{ expires_at: number }>("SELECT expires_at FROM nonces WHERE nonce = ?", opening.nonce).toArray()[0];
      if (!found) return { ok: false, reason: "nonce-invalid", status: statusOf(row) };
      if (found.expires_at <= now) return { ok: false, reason: "nonce-expired", status: statusOf(row) };
    }
    if (row.views_left <= 1) {
      this.end("viewed", now, true);
    } else {
      this.ctx.storage.transactionSync(() => {
        this.sql.exec("UPDATE share SET views_left = views_left - 1, viewed_at = ?", now);
        if (opening.nonce !== undefined) this.sql.exec("DELETE FROM nonces WHERE nonce = ?", opening.nonce);
      });
    }
    return { ok: true, status: statusOf(this.current(now)!) };
  }

  /** The master key id and wrapped data key of a live server-sealed payload; null when there is none. */
  async sealedKey(): Promise<SealedKey | null> {
    const row = this.current();
    if (row?.state !== "active" || row.mode !== "sealed" || row.payload === null) return null;
    const { keyId, wrappedKey } = unpack(new Uint8Array(row.payload));
    return { tenantId: row.tenant_id, keyId, wrappedKey };
  }

  /**
   * Puts a re-wrapped data key in place of `from`, only while the payload is live and still
   * holds `from` (the ciphertext is untouched). Returns the master key id the payload is under
   * afterwards, or null when it is gone. Idempotent: a repeat finds `to` already there.
   */
  async replaceSealedKey(from: Uint8Array, to: { keyId: string; wrappedKey: Uint8Array }): Promise<string | null> {
    const row = this.current();
    if (row?.state !== "active" || row.mode !== "sealed" || row.payload === null) return null;
    const sealed = unpack(new Uint8Array(row.payload));
    if (!sameBytes(sealed.wrappedKey, new Uint8Array(from))) return sealed.keyId;
    this.sql.exec("UPDATE share SET payload = ?", pack({ ...sealed, keyId: to.keyId, wrappedKey: new Uint8Array(to.wrappedKey) }));
    return to.keyId;
  }

  /**
   * Gives back a view that was spent but never delivered: the Worker could not write its audit
   * event, so it answered with an error instead of the value. Revoked, expired and destroyed
   * shares stay as they are.
   */
  async restoreView(payload: Uint8Array): Promise<void> {
    const row = this.current();
    if (!row || (row.state !== "active" && row.state !== "viewed")) return;
    this.sql.exec("UPDATE share SET state = 'active', payload = COALESCE(payload, ?), ended_at = NULL, views_left = views_left + 1", payload);
  }

  /** Revokes an active share (idempotent on a revoked one); the payload goes at once. */
  async revoke(): Promise<RevokeResult> {
    const now = Date.now();
    const row = this.current(now);
    if (!row) return { ok: false, reason: "not-found" };
    if (row.state === "active") this.end("revoked", now);
    else if (row.state !== "revoked") return { ok: false, reason: "not-active", status: statusOf(row) };
    return { ok: true, status: statusOf(this.current(now)!) };
  }

  /** At expiry: delete the payload and mark the index; after the tombstone period: delete everything. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const row = this.current(now);
    if (!row) return;
    if (row.state === "expired") await this.markIndexExpired(row);
    if (now >= row.expires_at + TOMBSTONE_MS) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.schemaReady = false;
      return;
    }
    await this.ctx.storage.setAlarm(row.state === "active" ? row.expires_at : row.expires_at + TOMBSTONE_MS);
  }

  /** Idempotent: a repeated alarm finds the index already marked and writes nothing. */
  private async markIndexExpired(row: Row): Promise<void> {
    // The share's tenant's own database (src/db/directory.ts).
    const env = await tenantEnv(this.env, row.tenant_id);
    if (!env) throw new Error("ShareObject: a tenant missing from the directory");
    const db = database(env.DB);
    const where = and(eq(shareIndex.id, row.id), eq(shareIndex.state, "active"));
    const pending = await db.select({ id: shareIndex.id }).from(shareIndex).where(where).get();
    if (!pending) return;
    await recordChange(
      db,
      { tenantId: row.tenant_id, actor: "system", requestId: `alarm:${row.id}` },
      [db.update(shareIndex).set({ state: "expired", endedAt: row.ended_at, keyId: null }).where(where)],
      { action: "share.expire", resource: `share:${row.id}`, status: 200 },
    );
  }
}
