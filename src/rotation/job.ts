import { z } from "@hono/zod-openapi";
import { recordChange } from "../audit/unit-of-work";
import { IntegrityError, loadKeyring, pack, rewrap, unpack, type Keyring } from "../crypto/envelope";
import { database } from "../db/client";
import { baseEnv, envAt, HOME } from "../db/directory";
import { loggable, problemOf } from "../http/errors";
import { keyIdSql, SEALED_TABLES, type RowKey, type SealedTable } from "./registry";

/** Rows re-wrapped per queue message: one D1 batch of this many updates plus the job's own. */
export const DEFAULT_PAGE_SIZE = 100;
/** A running job that has not moved for this long is resumed by the cron sweeper. */
export const STALLED_AFTER_MS = 10 * 60_000;

/**
 * The queue message: which job, which step of it, and in which D1 database (each database has
 * its own job row and position; absent means the home database). The position itself lives in D1.
 */
export const RewrapMessage = z.strictObject({
  job: z.string().min(1).max(64),
  step: z.number().int().min(0),
  database: z.number().int().min(0).max(999).optional(),
});
export type RewrapMessage = z.infer<typeof RewrapMessage>;

export interface JobRow {
  id: number;
  job_id: string;
  state: "running" | "done";
  target_key_id: string;
  table_index: number;
  cursor: string | null;
  step: number;
  total: number;
  done: number;
  failed: number;
  started_at: number;
  started_by: string;
  updated_at: number;
  finished_at: number | null;
}

export const readJob = (db: D1Database) => db.prepare("SELECT * FROM rewrap_job WHERE id = 1").first<JobRow>();

const pageSize = (env: Env) => {
  const configured = Number(env.REWRAP_PAGE_SIZE);
  return Number.isInteger(configured) && configured > 0 && configured <= 500 ? configured : DEFAULT_PAGE_SIZE;
};

const toBytes = (value: unknown): Uint8Array =>
  value instanceof Uint8Array ? value : Array.isArray(value) ? Uint8Array.from(value) : new Uint8Array(value as ArrayBuffer);

/** Rows not under `activeId`, counted per master key id, over every sealed table. */
export async function countByKey(db: D1Database): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const results = await db.batch<{ key_id: string; n: number }>(
    SEALED_TABLES.map((t) => db.prepare(`SELECT ${keyIdSql(t)} AS key_id, COUNT(*) AS n FROM ${t.table} WHERE ${keyIdSql(t)} IS NOT NULL GROUP BY 1`)),
  );
  for (const { results: rows } of results) for (const { key_id, n } of rows) counts[key_id] = (counts[key_id] ?? 0) + n;
  return counts;
}

export const notUnder = (counts: Record<string, number>, activeId: string) =>
  Object.entries(counts).reduce((sum, [id, n]) => (id === activeId ? sum : sum + n), 0);

/** The next page of `table` after `cursor` whose data keys are not under `activeId`. */
async function readPage(db: D1Database, table: SealedTable, cursor: RowKey | null, activeId: string, limit: number) {
  const pk = table.primaryKey.join(", ");
  const sealedColumn = table.layout.kind === "columns" ? "wrapped_key" : table.layout.kind === "packed" ? table.layout.column : "NULL";
  const after = cursor ? `AND (${pk}) > (${cursor.map(() => "?").join(", ")})` : "";
  const statement = db
    .prepare(
      `SELECT ${pk}, ${sealedColumn} AS sealed, ${keyIdSql(table)} AS key_id FROM ${table.table}
       WHERE ${keyIdSql(table)} IS NOT NULL AND ${keyIdSql(table)} != ? ${after}
       ORDER BY ${pk} LIMIT ?`,
    )
    .bind(activeId, ...(cursor ?? []), limit);
  const { results } = await statement.all<Record<string, unknown>>();
  return results.map((row) => ({
    key: table.primaryKey.map((column) => row[column] as string | number),
    sealed: row.sealed === null ? new Uint8Array() : toBytes(row.sealed),
    keyId: row.key_id as string,
  }));
}

/**
 * The update of one row to its re-wrapped data key. It applies only while the row is
 * still under its old key AND the job is still at this step, so a duplicated or
 * retried message changes nothing a second time. Null: the row was skipped (its object's
 * data is under a master key that is no longer configured).
 *
 * An `object` row (sealed data in a Durable Object) is re-wrapped in its object first, which
 * is idempotent; the D1 update then records the key the object reported. If the batch fails
 * afterwards, the next attempt finds the object already re-wrapped and only records it.
 */
async function rewrapRow(
  env: Env,
  keyring: Keyring,
  table: SealedTable,
  row: { key: RowKey; sealed: Uint8Array; keyId: string },
  job: RewrapMessage,
): Promise<D1PreparedStatement | null> {
  const db = env.DB;
  const tenantId = String(row.key[0]);
  const place = table.place(row.key);
  const keyWhere = table.primaryKey.map((column) => `${column} = ?`).join(" AND ");
  const stillThisStep = "EXISTS (SELECT 1 FROM rewrap_job WHERE id = 1 AND job_id = ? AND step = ? AND state = 'running')";
  if (table.layout.kind === "object") {
    const outcome = await table.layout.rewrap(env, keyring, row.key);
    if ("skipped" in outcome) return null;
    return db
      .prepare(`UPDATE ${table.table} SET key_id = ? WHERE ${keyWhere} AND key_id = ? AND ${stillThisStep}`)
      .bind(outcome.keyId, ...row.key, row.keyId, job.job, job.step);
  }
  if (table.layout.kind === "columns") {
    const next = await rewrap(keyring, tenantId, place, { wrappedKey: row.sealed, keyId: row.keyId, ciphertext: new Uint8Array(), iv: new Uint8Array() });
    return db
      .prepare(`UPDATE ${table.table} SET wrapped_key = ?, key_id = ? WHERE ${keyWhere} AND key_id = ? AND ${stillThisStep}`)
      .bind(next.wrappedKey, next.keyId, ...row.key, row.keyId, job.job, job.step);
  }
  const next = pack(await rewrap(keyring, tenantId, place, unpack(row.sealed)));
  const column = table.layout.column;
  return db
    .prepare(`UPDATE ${table.table} SET ${column} = ? WHERE ${keyWhere} AND ${column} = ? AND ${stillThisStep}`)
    .bind(next, ...row.key, row.sealed, job.job, job.step);
}

export type StepOutcome = "advanced" | "finished" | "stale" | "wrong-active-key";

/**
 * Processes one message: re-wraps one bounded page and moves the job's cursor, in one
 * D1 batch conditioned on the job still being at `message.step`. Returns what happened;
 * the caller enqueues the next step after "advanced".
 */
export async function processStep(rootEnv: Env, message: RewrapMessage): Promise<StepOutcome> {
  const index = message.database ?? HOME;
  const env = envAt(rootEnv, index);
  if (!env) return "stale";
  const db = env.DB;
  const job = await readJob(db);
  if (!job || job.job_id !== message.job || job.state !== "running" || job.step !== message.step) return "stale";
  const keyring = loadKeyring(env.MASTER_KEYS);
  // An isolate still on the old MASTER_KEYS (mid-deploy) must not wrap under the old key.
  if (keyring.activeId !== job.target_key_id) return "wrong-active-key";

  const now = Date.now();
  const limit = pageSize(env);
  let tableIndex = job.table_index;
  let cursor = job.cursor ? (JSON.parse(job.cursor) as RowKey) : null;
  const updates: D1PreparedStatement[] = [];
  let failed = 0;
  if (tableIndex < SEALED_TABLES.length) {
    const table = SEALED_TABLES[tableIndex]!;
    const page = await readPage(db, table, cursor, keyring.activeId, limit);
    for (const row of page) {
      // An object's index may lag behind the object (the object is the truth), so ask it.
      if (table.layout.kind !== "object" && !keyring.has(row.keyId)) {
        failed++; // Under a removed master key: it stays as it is and counts as remaining.
        continue;
      }
      try {
        const update = await rewrapRow(env, keyring, table, row, message);
        if (update) updates.push(update);
        else failed++;
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        console.error(JSON.stringify({ level: "error", rewrap: "integrity_failure", table: table.table, job: job.job_id }));
        failed++;
      }
    }
    if (page.length === limit) cursor = page[page.length - 1]!.key;
    else [tableIndex, cursor] = [tableIndex + 1, null];
  }
  const finished = tableIndex >= SEALED_TABLES.length;
  const advance = db
    .prepare(
      `UPDATE rewrap_job SET step = step + 1, table_index = ?, cursor = ?, done = done + ?, failed = failed + ?,
         updated_at = ?, state = ?, finished_at = ?
       WHERE id = 1 AND job_id = ? AND step = ? AND state = 'running'`,
    )
    .bind(
      tableIndex,
      cursor ? JSON.stringify(cursor) : null,
      updates.length,
      failed,
      now,
      finished ? "done" : "running",
      finished ? now : null,
      job.job_id,
      job.step,
    );
  // The job's own update goes last: the row updates test the step it is about to change.
  const results = await db.batch([...updates, advance]);
  if (!results[results.length - 1]!.meta.changes) return "stale";
  if (finished) {
    // Only the step that finished the job (its advance changed the row) records the finish.
    // The operator's tenant (`default`) lives in the home database, whichever database finished.
    await recordChange(
      database(baseEnv(env).DB),
      { tenantId: "default", actor: "system:rewrap", requestId: `rewrap_${job.job_id}` },
      [],
      {
        action: "sys.rewrap.finish",
        resource: `rewrap:${job.job_id}`,
        detail: {
          target_key_id: job.target_key_id,
          total: job.total,
          done: job.done + updates.length,
          failed: job.failed + failed,
          ...(index !== HOME && { database: index }),
        },
      },
      { now },
    );
    return "finished";
  }
  await env.REWRAP_QUEUE.send(stepMessage(job.job_id, job.step + 1, index));
  return "advanced";
}

/** The `rewrap` queue consumer: each message on its own, acked or retried. */
export async function consumeRewrap(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const parsed = RewrapMessage.safeParse(message.body);
    if (!parsed.success) {
      console.error(JSON.stringify({ level: "error", rewrap: "malformed message dropped", id: message.id }));
      message.ack();
      continue;
    }
    try {
      const outcome = await processStep(env, parsed.data);
      if (outcome === "wrong-active-key") message.retry({ delaySeconds: 60 });
      else message.ack();
    } catch (err) {
      const problem = problemOf(err);
      const reason = problem ? { error: problem.type, message: problem.detail ?? "" } : loggable(err as Error);
      console.error(JSON.stringify({ level: "error", rewrap: "step failed", job: parsed.data.job, step: parsed.data.step, ...reason }));
      message.retry({ delaySeconds: 10 });
    }
  }
}

/** The message of step `step` of `job` in database `index`. */
export const stepMessage = (job: string, step: number, index: number): RewrapMessage => (index === HOME ? { job, step } : { job, step, database: index });

/** Cron: re-sends the current step of a running job that stopped moving (a lost message); `env` is database `index`'s view. */
export async function resumeStalledRewrap(env: Env, now = Date.now(), index = HOME): Promise<void> {
  const job = await readJob(env.DB);
  if (job?.state === "running" && job.updated_at < now - STALLED_AFTER_MS) {
    await env.REWRAP_QUEUE.send(stepMessage(job.job_id, job.step, index));
  }
}
