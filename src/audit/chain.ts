import { sha256Hex } from "../crypto/encoding";

/** The columns an event's hash covers, read raw from D1 so the text is exact. */
export interface ChainRow {
  n: number;
  tenant_id: string;
  seq: number;
  id: string;
  at: number;
  actor: string;
  action: string;
  resource: string | null;
  outcome: string;
  status: number;
  request_id: string;
  detail: string | null;
  hash: string | null;
}

export const GENESIS = "0".repeat(64);

/** hash(n) = SHA-256(hash(n-1) || canonical(event n)). */
export function chainHash(previous: string, row: ChainRow): Promise<string> {
  return sha256Hex(
    JSON.stringify([
      previous,
      row.tenant_id,
      row.seq,
      row.id,
      row.at,
      row.actor,
      row.action,
      row.resource,
      row.outcome,
      row.status,
      row.request_id,
      row.detail,
    ]),
  );
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  first_bad_seq?: number;
  reason?: "hash-mismatch" | "missing-event" | "truncated";
}
