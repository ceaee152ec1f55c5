import { DurableObject } from "cloudflare:workers";
import { database } from "../src/db/client";
import { tenantEnv } from "../src/db/directory";
import { expireLease } from "../src/leases/store";

interface DueRow extends Record<string, SqlStorageValue> {
  lease_id: string;
  tenant_id: string;
  due_at: number;
}

/**
 * One per lease: its expiry alarm. Rows are truth, the alarm is a reminder: the due
 * time lives in this object's SQLite, `alarm()` handles every due row and re-arms for
 * the earliest left. The expiry itself checks the lease in D1, so a renewed lease is
 * re-armed, a revoked one is left alone, and a repeated alarm does nothing twice.
 */
export class LeaseObject extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS due (lease_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, due_at INTEGER NOT NULL)");
  }

  /** Sets (or moves, on renew) the lease's expiry. */
  async schedule(tenantId: string, leaseId: string, dueAt: number): Promise<void> {
    this.ctx.storage.sql.exec(
      "INSERT INTO due (lease_id, tenant_id, due_at) VALUES (?, ?, ?) ON CONFLICT (lease_id) DO UPDATE SET due_at = excluded.due_at",
      leaseId,
      tenantId,
      dueAt,
    );
    await this.arm();
  }

  /** Forgets the lease (revoked by hand): nothing is left to fire. */
  async cancel(leaseId: string): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM due WHERE lease_id = ?", leaseId);
    await this.arm();
  }

  /** The due time this object holds, for tests and operators. */
  async dueAt(leaseId: string): Promise<number | null> {
    const row = this.ctx.storage.sql.exec<DueRow>("SELECT * FROM due WHERE lease_id = ?", leaseId).toArray()[0];
    return row?.due_at ?? null;
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.ctx.storage.sql.exec<DueRow>("SELECT * FROM due WHERE due_at <= ?", now).toArray();
    for (const row of due) {
      // The lease's tenant's own database. A throw here leaves the row in place: the runtime retries the alarm.
      const env = await tenantEnv(this.env, row.tenant_id);
      if (!env) throw new Error("LeaseObject: a tenant missing from the directory");
      const { again } = await expireLease(env, database(env.DB), row.tenant_id, row.lease_id, now, "system:lease-alarm");
      if (again === null) this.ctx.storage.sql.exec("DELETE FROM due WHERE lease_id = ? AND due_at = ?", row.lease_id, row.due_at);
      else this.ctx.storage.sql.exec("UPDATE due SET due_at = ? WHERE lease_id = ? AND due_at = ?", again, row.lease_id, row.due_at);
    }
    await this.arm();
  }

  private async arm(): Promise<void> {
    const next = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT MIN(due_at) AS at FROM due").one().at;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }
}

/** The lease's own object. */
export const leaseObject = (env: Env, leaseId: string) => env.LEASE.get(env.LEASE.idFromName(leaseId));
