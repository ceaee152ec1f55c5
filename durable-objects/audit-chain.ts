import { DurableObject } from "cloudflare:workers";
import { chainHash, GENESIS, type ChainRow, type VerifyResult } from "../src/audit/chain";
import { tenantEnv } from "../src/db/directory";

interface Head {
  seq: number;
  hash: string;
}

const PAGE = 500;
/** Every CHECKPOINT-th hash is also kept here, so a rewritten chain is located, not only detected. */
const CHECKPOINT = 100;

/**
 * One per tenant: the single writer of the audit hash chain. Requests insert events
 * in their own D1 batch; this object numbers (`seq`, gapless) and hashes them in
 * commit order soon after, and keeps the chain head in its own storage, outside D1,
 * so that a rewrite of D1 alone (even one that recomputes every hash) does not match
 * the head.
 */
export class AuditChain extends DurableObject<Env> {
  private sealing: Promise<Head> | undefined;

  /** Hashes every event not yet in the chain; safe to call any number of times. */
  async seal(tenantId: string): Promise<{ head_seq: number }> {
    // D1 calls do not close the input gate, so serialise passes by hand.
    while (this.sealing) await this.sealing.catch(() => undefined);
    this.sealing = this.sealPending(tenantId);
    try {
      return { head_seq: (await this.sealing).seq };
    } finally {
      this.sealing = undefined;
    }
  }

  async verify(tenantId: string): Promise<VerifyResult> {
    await this.seal(tenantId);
    const head = await this.head();
    const db = await this.database(tenantId);
    let expected = 1;
    let previous = GENESIS;
    for (;;) {
      const { results } = await db.prepare(
        "SELECT * FROM audit_events WHERE tenant_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
      )
        .bind(tenantId, expected, PAGE)
        .all<ChainRow>();
      for (const row of results) {
        if (row.seq !== expected) return { ok: false, checked: expected - 1, first_bad_seq: expected, reason: "missing-event" };
        const hash = await chainHash(previous, row);
        if (row.hash !== hash) return { ok: false, checked: expected - 1, first_bad_seq: row.seq, reason: "hash-mismatch" };
        if (row.seq % CHECKPOINT === 0) {
          const checkpoint = await this.ctx.storage.get<string>(`checkpoint:${row.seq}`);
          if (checkpoint !== undefined && checkpoint !== hash) {
            return { ok: false, checked: expected - 1, first_bad_seq: row.seq - CHECKPOINT + 1, reason: "hash-mismatch" };
          }
        }
        previous = hash;
        expected++;
      }
      if (results.length < PAGE) break;
    }
    const checked = expected - 1;
    if (checked < head.seq) return { ok: false, checked, first_bad_seq: expected, reason: "truncated" };
    if (checked > head.seq) return { ok: false, checked: head.seq, first_bad_seq: head.seq + 1, reason: "hash-mismatch" };
    if (head.seq > 0 && previous !== head.hash) {
      return { ok: false, checked, first_bad_seq: head.seq - ((head.seq - 1) % CHECKPOINT), reason: "hash-mismatch" };
    }
    return { ok: true, checked };
  }

  /** The D1 database of the tenant's events (src/db/directory.ts). */
  private async database(tenantId: string): Promise<D1Database> {
    const env = await tenantEnv(this.env, tenantId);
    if (!env) throw new Error("AuditChain: a tenant missing from the directory");
    return env.DB;
  }

  private async head(): Promise<Head> {
    return (await this.ctx.storage.get<Head>("head")) ?? { seq: 0, hash: GENESIS };
  }

  /** Numbers and hashes the tenant's unsealed events in commit (`n`) order. */
  private async sealPending(tenantId: string): Promise<Head> {
    let head = await this.head();
    const db = await this.database(tenantId);
    for (;;) {
      const { results } = await db.prepare(
        "SELECT * FROM audit_events WHERE tenant_id = ? AND seq IS NULL ORDER BY n LIMIT ?",
      )
        .bind(tenantId, PAGE)
        .all<ChainRow>();
      if (results.length === 0) return head;
      const updates: D1PreparedStatement[] = [];
      const checkpoints: Record<string, string> = {};
      let next = head;
      for (const row of results) {
        const seq = next.seq + 1;
        const hash = await chainHash(next.hash, { ...row, seq });
        updates.push(
          db.prepare("UPDATE audit_events SET seq = ?, hash = ? WHERE n = ? AND seq IS NULL").bind(seq, hash, row.n),
        );
        if (seq % CHECKPOINT === 0) checkpoints[`checkpoint:${seq}`] = hash;
        next = { seq, hash };
      }
      await db.batch(updates);
      await this.ctx.storage.put({ ...checkpoints, head: next });
      head = next;
      if (results.length < PAGE) return head;
    }
  }
}
