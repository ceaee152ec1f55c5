import { createHash, createHmac } from "node:crypto";

/**
 * One event as the tenant's AuditChain object stores it (its own SQLite, `events`), and as the
 * D1 copy of a mutation's event carries it. `hash` chains it to the one before, `mac` binds the
 * hash to a key derived from MASTER_KEYS, so whoever can write a store but does not hold the
 * master keys cannot produce a valid event (see docs/decisions.md, "The audit chain").
 */
export interface ChainEvent {
  seq: number;
  id: string;
  at: number;
  actor: string;
  action: string;
  resource: string | null;
  outcome: string;
  status: number;
  request_id: string;
  /** JSON text, exactly as stored. */
  detail: string | null;
  /** "event": complete when written (a read, a denial, an outcome); "intent": a change about to commit in D1. */
  kind: "event" | "intent";
}

export interface StoredEvent extends ChainEvent {
  prev: string;
  hash: string;
  mac: string;
  key_id: string;
  /** Not hashed: where an intent's D1 batch stands (NULL pending, "committed", "aborted"). */
  state: string | null;
}

/** The columns an event's D1 copy holds (audit_events), read raw so the text is exact. */
export type ChainRow = Omit<ChainEvent, "seq" | "kind"> & {
  tenant_id: string;
  seq: number | null;
  hash: string | null;
};

export const GENESIS = "0".repeat(64);
/** HKDF info of the audit MAC key: its own, so the key is used for nothing else. */
export const MAC_INFO = "hush audit mac v1";

/** hash(n) = SHA-256(hash(n-1) || canonical(event n)). Synchronous, so an append never yields mid-chain. */
export function chainHash(previous: string, tenantId: string, event: Omit<ChainEvent, "kind"> & { kind?: string }): string {
  return createHash("sha256")
    .update(
      JSON.stringify([
        previous,
        tenantId,
        event.seq,
        event.id,
        event.at,
        event.actor,
        event.action,
        event.resource,
        event.outcome,
        event.status,
        event.request_id,
        event.detail,
        event.kind ?? "intent",
      ]),
    )
    .digest("hex");
}

/** mac(n) = HMAC-SHA-256(audit key, hash(n)). */
export function chainMac(key: Uint8Array, hash: string): string {
  return createHmac("sha256", key).update(hash).digest("hex");
}

/**
 * The hash a D1 copy of an intent would have, given the chain's previous hash. `label` is the
 * name the chain hashes under: the tenant id for chain 0, `<tenant>#k` for chain k (so an event
 * moved to another chain of the tenant does not verify there).
 */
export function copyHash(previous: string, row: ChainRow, label = row.tenant_id): string {
  return chainHash(previous, label, { ...row, seq: row.seq ?? -1, kind: "intent" });
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  /** With several chains: the chain of `first_bad_seq` (seqs are per chain). */
  chain?: number;
  first_bad_seq?: number;
  reason?: "hash-mismatch" | "missing-event" | "truncated";
}
