/** Types and limits shared by the ShareObject and the routes that call it. */

export const SHARE_STATES = ["active", "viewed", "expired", "revoked", "destroyed"] as const;
export type ShareState = (typeof SHARE_STATES)[number];

/** e2e: the client encrypted; we hold ciphertext we cannot open. sealed: we sealed it with envelope encryption. */
export type ShareMode = "e2e" | "sealed";

export const DEFAULT_TTL_SECONDS = 24 * 3600;
export const MIN_TTL_SECONDS = 300;
export const MAX_TTL_SECONDS = 30 * 24 * 3600;
export const MAX_VIEWS = 10;
/** Wrong passphrases a share survives; the fifth destroys it. */
export const MAX_PASSPHRASE_ATTEMPTS = 5;
/** A reveal nonce is good for this long after the page fetched it. */
export const NONCE_TTL_MS = 10 * 60_000;
/** Between a checked reveal and the spend of its view: the Worker opens the payload in this time. */
export const OPENING_TTL_MS = 60_000;
/** After expiry the object keeps a tombstone (state, viewed at) this long, so a late visitor learns what happened. */
export const TOMBSTONE_MS = 30 * 24 * 3600_000;

export interface PassphraseVerifier {
  salt: Uint8Array;
  hash: Uint8Array;
  iterations: number;
}

export interface NewShare {
  id: string;
  tenantId: string;
  mode: ShareMode;
  payload: Uint8Array;
  /** SHA-256 (hex) of the bearer token of a server-sealed share; never the token. */
  tokenHash: string | null;
  createdAt: number;
  expiresAt: number;
  maxViews: number;
  passphrase: PassphraseVerifier | null;
}

/** What anyone holding the id may learn: no payload, no verifier. */
export interface ShareStatus {
  id: string;
  tenantId: string;
  mode: ShareMode;
  state: ShareState;
  createdAt: number;
  expiresAt: number;
  maxViews: number;
  viewsLeft: number;
  viewedAt: number | null;
  endedAt: number | null;
  passphraseRequired: boolean;
}

/**
 * What a reveal presents: the page's nonce (public route), the SHA-256 of the bearer
 * token (server-sealed shares: always required), or both (a sealed share opened in a browser).
 */
export interface RevealCredential {
  nonce?: string;
  tokenHash?: string;
}

export type RevealFailureReason =
  | "not-found"
  | "gone"
  | "nonce-invalid"
  | "nonce-expired"
  | "token-invalid"
  | "passphrase-required"
  | "wrong-passphrase"
  /** The opening ticket is unknown or too old (the object restarted, or opening took too long). */
  | "reveal-interrupted";

type Refusal = { ok: false; reason: RevealFailureReason; status: ShareStatus | null; attemptsLeft?: number };

/**
 * A reveal that passed every check: the payload and a single-use ticket. No view is spent yet;
 * the Worker opens the payload, then spends the view with `spendView(ticket)`.
 */
export type RevealResult = { ok: true; payload: Uint8Array; status: ShareStatus; ticket: string } | Refusal;

/** The view is spent (exactly once per ticket, and never beyond `max_views`). */
export type SpendResult = { ok: true; status: ShareStatus } | Refusal;

/** Where a server-sealed payload's data key is wrapped (for the master-key re-wrap job). */
export interface SealedKey {
  tenantId: string;
  keyId: string;
  wrappedKey: Uint8Array;
}

export type RevokeResult = { ok: true; status: ShareStatus } | { ok: false; reason: "not-found" } | { ok: false; reason: "not-active"; status: ShareStatus };

export type NonceResult =
  | { ok: true; nonce: string; expiresAt: number; status: ShareStatus }
  | { ok: false; reason: "not-found" }
  | { ok: false; reason: "gone"; status: ShareStatus };
