import { DurableObject } from "cloudflare:workers";
import { chainHash, chainMac, copyHash, GENESIS, MAC_INFO, type ChainEvent, type ChainRow, type StoredEvent, type VerifyResult } from "../src/audit/chain";
import { loadKeyring } from "../src/crypto/envelope";
import { MAX_AUDIT_CHAINS, tenantEnv } from "../src/db/directory";

/** An event as a request hands it over: the chain gives it `seq`, `prev`, `hash` and `mac`. */
export type NewEvent = Omit<ChainEvent, "seq" | "kind">;

export interface AuditQuery {
  resource?: string;
  action?: string;
  actor?: string;
  failedOnly?: boolean;
  cursor?: number;
  limit: number;
}

interface Head {
  seq: number;
  hash: string;
}

/** An intent whose D1 batch has not been settled after this long is resolved from D1 (docs/decisions.md). */
export const PENDING_MS = 60_000;
/** The witness also keeps every CHECKPOINT-th hash, so a rewritten tail is located, not only detected. */
const CHECKPOINT = 100;
const PAGE = 500;
/** Appends within this long share one witness call (docs/decisions.md, "Witness": the window it opens). */
export const WITNESS_DELAY_MS = 100;

/**
 * The tenant's audit log, and the single writer of its hash chain (docs/decisions.md, "The audit
 * chain"). Each event is numbered, hashed and MACed as it is appended to this object's own SQLite,
 * in order, before the request that records it may answer. A change is recorded as an intent
 * before its D1 batch (whose batch carries the intent's copy) and settled after it: a batch that
 * fails appends a failure outcome, one never settled (the Worker died) is resolved from D1 by the
 * alarm. The head is witnessed by a second object (`witness:<tenant>`), so deleting the newest
 * events here is caught too.
 *
 * The same class serves as the witness: `witness()` and `witnessed()` are only called on those.
 */
export class AuditChain extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private head: Head;
  private keys = new Map<string, Promise<Uint8Array>>();
  private witnessedSeq = 0;
  private witnessing: Promise<void> | undefined;
  private alarmSet = false;
  private tenantKnown = false;
  /** Which of its tenant's chains this object is (0: the object named after the tenant; k: `<tenant>#k`). */
  private chain = 0;
  private chainKnown = false;
  private witnessId: DurableObjectId | undefined;
  private witnessTimer: ReturnType<typeof setTimeout> | undefined;
  /** true once the tenant's pre-chain events (D1 audit_events_legacy) are in this chain; else the import under way. */
  private legacy: true | Promise<void> | undefined;

  /** The D1 database of the tenant's event copies (src/db/directory.ts). */
  private async database(tenantId: string): Promise<D1Database> {
    const env = await tenantEnv(this.env, tenantId);
    if (!env) throw new Error("AuditChain: a tenant missing from the directory");
    return env.DB;
  }

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY, id TEXT NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
      resource TEXT, outcome TEXT NOT NULL, status INTEGER NOT NULL, request_id TEXT NOT NULL, detail TEXT,
      kind TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL, key_id TEXT NOT NULL, state TEXT)`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_resource ON events (resource, seq)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_actor ON events (actor, seq)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_action ON events (action, seq)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_failed ON events (seq) WHERE outcome != 'success'");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_pending ON events (seq) WHERE kind = 'intent' AND state IS NULL");
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    this.head = this.tableHead();
    if (this.sql.exec("SELECT 1 FROM meta WHERE k = 'legacy'").toArray().length) this.legacy = true;
    const chain = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'chain'").toArray()[0];
    if (chain) (this.chain = Number(chain.v)), (this.chainKnown = true);
  }

  /**
   * Every call names the chain this object is (callers derive the object from it: `<tenant>#k`).
   * Kept in meta for the alarm. Chains other than 0 have no legacy rows to import.
   */
  private enter(chain: number): void {
    if (this.chainKnown) return;
    this.chain = chain;
    this.chainKnown = true;
    if (chain !== 0) {
      this.sql.exec("INSERT OR IGNORE INTO meta (k, v) VALUES ('chain', ?)", String(chain));
      this.sql.exec("INSERT OR IGNORE INTO meta (k, v) VALUES ('legacy', '1')");
      this.legacy = true;
    }
  }

  /** The name this chain is hashed and witnessed under: the tenant id for chain 0, `<tenant>#k` otherwise. */
  private label(tenantId: string): string {
    return this.chain === 0 ? tenantId : `${tenantId}#${this.chain}`;
  }

  /**
   * Appends events in order and returns their place in the chain. Resolves only once they are
   * durable here (the witness follows asynchronously); a rejection means the caller must fail its request.
   */
  async append(
    tenantId: string,
    events: readonly NewEvent[],
    kind: ChainEvent["kind"],
    committed?: readonly number[],
    chain = 0,
  ): Promise<{ seq: number; hash: string }[]> {
    if (!this.chainKnown) this.enter(chain);
    if (this.legacy !== true) await this.importLegacy(tenantId);
    const keyId = loadKeyring(this.env.MASTER_KEYS).activeId;
    const key = await this.key(tenantId, keyId);
    const placed = this.appendNow(tenantId, events, kind, key, keyId, undefined, committed);
    if (kind === "intent" && !this.alarmSet) {
      this.alarmSet = true;
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PENDING_MS + 1000);
    }
    // The witness is updated off the append's path (docs/decisions.md, "Witness"): at most
    // WITNESS_DELAY_MS after this append, one call (one in flight at a time) carries the newest head.
    if (!this.witnessTimer) {
      this.witnessTimer = setTimeout(() => {
        this.witnessTimer = undefined;
        this.witnessUpTo(tenantId, this.head.seq).catch(() => undefined);
      }, WITNESS_DELAY_MS);
    }
    return placed;
  }

  /** The append itself: one synchronous transaction (nothing yields, so no other append interleaves). */
  private appendNow(
    tenantId: string,
    events: readonly NewEvent[],
    kind: ChainEvent["kind"],
    key: Uint8Array,
    keyId: string,
    legacyAfter?: number,
    committed?: readonly number[],
  ) {
    return this.ctx.storage.transactionSync(() => {
      if (!this.tenantKnown) this.sql.exec("INSERT OR IGNORE INTO meta (k, v) VALUES ('tenant', ?)", tenantId), (this.tenantKnown = true);
      // Intents whose D1 batch committed, carried by this append instead of a settle call of their own.
      for (const seq of committed ?? []) this.sql.exec("UPDATE events SET state = 'committed' WHERE seq = ? AND kind = 'intent' AND state IS NULL", seq);
      let head = this.head;
      const out: { seq: number; hash: string }[] = [];
      for (const event of events) {
        const row: ChainEvent = { ...event, seq: head.seq + 1, kind };
        const hash = chainHash(head.hash, this.label(tenantId), row);
        this.sql.exec(
          "INSERT INTO events (seq, id, at, actor, action, resource, outcome, status, request_id, detail, kind, prev, hash, mac, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
          kind,
          head.hash,
          hash,
          chainMac(key, hash),
          keyId,
        );
        head = { seq: row.seq, hash };
        out.push(head);
      }
      if (legacyAfter !== undefined) this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('legacy_after', ?)", String(legacyAfter));
      this.head = head;
      return out;
    });
  }

  /**
   * Before this chain's first own event: the tenant's events written before the chain existed
   * (migration 0016_audit_chain moved them to D1 audit_events_legacy) are appended first, in their commit
   * order (`n`), as ordinary events: numbered, hashed and MACed from here on, so listing and
   * verify cover them. Paged and resumable (meta legacy_after); once done (meta legacy) never again.
   * Concurrent callers share the one import.
   */
  private importLegacy(tenantId: string): Promise<void> {
    if (this.legacy === true) return Promise.resolve();
    this.legacy ??= (async () => {
      const keyId = loadKeyring(this.env.MASTER_KEYS).activeId;
      const key = await this.key(tenantId, keyId);
      let after = Number(this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'legacy_after'").toArray()[0]?.v ?? 0);
      for (;;) {
        let results: LegacyRow[];
        try {
          ({ results } = await (await this.database(tenantId))
            .prepare(
              "SELECT n, id, at, actor, action, resource, outcome, status, request_id, detail FROM audit_events_legacy WHERE tenant_id = ? AND n > ? ORDER BY n LIMIT ?",
            )
            .bind(tenantId, after, PAGE)
            .all<LegacyRow>());
        } catch (err) {
          if (/no such table/i.test(String((err as Error)?.message ?? err))) break; // a database that never had events before the chain
          throw err;
        }
        if (results.length) {
          after = results[results.length - 1]!.n;
          const events = results.map(({ n: _n, ...e }) => ({
            ...e,
            at: Number(e.at),
            status: Number(e.status),
            detail: e.detail === null ? null : String(e.detail),
          }));
          this.appendNow(tenantId, events, "event", key, keyId, after);
        }
        if (results.length < PAGE) break;
      }
      this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('legacy', '1')");
    })().then(
      () => {
        this.legacy = true;
      },
      (err) => {
        this.legacy = undefined;
        throw err;
      },
    );
    return this.legacy;
  }

  /**
   * After an intent's D1 batch: committed, or (with `failure`) rolled back, which appends a failure
   * outcome per intent so the attempt stays in the log. Settling twice changes nothing.
   */
  async settle(tenantId: string, seqs: readonly number[], failure?: { status: number; problem: string }, chain = 0): Promise<void> {
    if (!this.chainKnown) this.enter(chain);
    if (!failure) {
      for (const seq of seqs) this.sql.exec("UPDATE events SET state = 'committed' WHERE seq = ? AND kind = 'intent' AND state IS NULL", seq);
      return;
    }
    const outcomes: NewEvent[] = [];
    for (const seq of seqs) {
      const intent = this.sql
        .exec<Record<string, SqlStorageValue>>("SELECT * FROM events WHERE seq = ? AND kind = 'intent' AND state IS NULL", seq)
        .toArray()[0];
      if (!intent) continue;
      this.sql.exec("UPDATE events SET state = 'aborted' WHERE seq = ?", seq);
      outcomes.push({
        id: crypto.randomUUID(),
        at: Date.now(),
        actor: String(intent.actor),
        action: String(intent.action),
        resource: intent.resource === null ? null : String(intent.resource),
        outcome: "failure",
        status: failure.status,
        request_id: String(intent.request_id),
        detail: JSON.stringify({ intent_seq: seq, problem: failure.problem }),
      });
    }
    if (outcomes.length) await this.append(tenantId, outcomes, "event", undefined, this.chain);
  }

  /** Intents never settled (the Worker died around its D1 batch): their D1 copy says whether the change committed. */
  override async alarm(): Promise<void> {
    this.alarmSet = false;
    const tenantId = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'tenant'").toArray()[0]?.v;
    if (!tenantId) return;
    const cutoff = Date.now() - PENDING_MS;
    const pending = this.sql
      .exec<{ seq: number; at: number }>("SELECT seq, at FROM events WHERE kind = 'intent' AND state IS NULL ORDER BY seq LIMIT ?", PAGE)
      .toArray();
    const due = pending.filter((p) => p.at <= cutoff).map((p) => p.seq);
    if (due.length) await this.resolve(tenantId, due);
    const left = this.sql.exec<{ at: number }>("SELECT at FROM events WHERE kind = 'intent' AND state IS NULL ORDER BY seq LIMIT 1").toArray()[0];
    if (left) {
      this.alarmSet = true;
      await this.ctx.storage.setAlarm(Math.max(Date.now() + 1000, left.at + PENDING_MS + 1000));
    }
  }

  private async resolve(tenantId: string, seqs: number[]): Promise<void> {
    const { results } = await (await this.database(tenantId))
      .prepare(`SELECT seq FROM audit_events WHERE tenant_id = ? AND chain = ? AND seq IN (${seqs.map(() => "?").join(",")})`)
      .bind(tenantId, this.chain, ...seqs)
      .all<{ seq: number }>();
    const committed = new Set(results.map((r) => r.seq));
    await this.settle(
      tenantId,
      seqs.filter((s) => committed.has(s)),
      undefined,
      this.chain,
    );
    await this.settle(
      tenantId,
      seqs.filter((s) => !committed.has(s)),
      { status: 500, problem: "abandoned" },
      this.chain,
    );
  }

  /**
   * A page of this chain's events, newest first (aborted intents are left out: their failure
   * outcome is listed). Chain 0 also says how many chains it was told the tenant has (`grow`).
   */
  async list(tenantId: string, query: AuditQuery, chain = 0): Promise<{ items: StoredEvent[]; next_cursor: number | null; chains: number }> {
    if (!this.chainKnown) this.enter(chain);
    if (this.legacy !== true) await this.importLegacy(tenantId);
    const where = ["(kind = 'event' OR state IS NOT 'aborted')"];
    const binds: SqlStorageValue[] = [];
    if (query.resource !== undefined) where.push("resource = ?"), binds.push(query.resource);
    if (query.action !== undefined) where.push("action = ?"), binds.push(query.action);
    if (query.actor !== undefined) where.push("actor = ?"), binds.push(query.actor);
    if (query.failedOnly) where.push("outcome != 'success'");
    if (query.cursor !== undefined) where.push("seq < ?"), binds.push(query.cursor);
    const rows = this.sql
      .exec<StoredEvent & Record<string, SqlStorageValue>>(
        `SELECT * FROM events WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
        ...binds,
        query.limit + 1,
      )
      .toArray();
    const items = rows.slice(0, query.limit);
    return { items, next_cursor: rows.length > query.limit ? items[items.length - 1]!.seq : null, chains: this.knownChains() };
  }

  /**
   * On chain 0: records that the tenant now has `chains` chains, before the directory says so
   * (src/auth/routes.ts). Listing and verify use the larger of this and the directory's count, so
   * lowering the count in D1 alone hides no chain. Never moves back.
   */
  grow(chains: number): number {
    const n = Math.max(this.knownChains(), Math.floor(chains));
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('chains', ?)", String(n));
    return n;
  }

  private knownChains(): number {
    const n = Number(this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'chains'").toArray()[0]?.v ?? 1);
    return Number.isSafeInteger(n) && n >= 1 ? Math.min(n, MAX_AUDIT_CHAINS) : 1;
  }

  /**
   * Checks the chain up to the head read at the start (appends meanwhile are not looked at):
   * order, hashes and MACs here; the witnessed head; and every D1 copy against its intent.
   */
  async verify(tenantId: string, chain = 0): Promise<VerifyResult & { chains: number }> {
    if (!this.chainKnown) this.enter(chain);
    if (this.legacy !== true) await this.importLegacy(tenantId);
    const label = this.label(tenantId);
    const keyring = loadKeyring(this.env.MASTER_KEYS);
    const keys = new Map<string, Uint8Array>();
    for (const id of keyring.ids) keys.set(id, await this.key(tenantId, id));
    // Bring the witness up to this object's head first (a lagging witness is the normal case).
    await this.witnessUpTo(tenantId, this.head.seq).catch(() => undefined);
    const witnessed = await this.witnessStub(tenantId).witnessed(label);
    // One synchronous pass: a consistent snapshot bounded by the last row at this moment.
    const bound = this.tableHead().seq;
    const chains = this.knownChains();
    const bad = (seq: number, reason: VerifyResult["reason"]) => ({ ok: false, checked: seq - 1, first_bad_seq: seq, reason, chains });
    let expected = 1;
    let previous = GENESIS;
    for (const row of this.sql.exec<StoredEvent & Record<string, SqlStorageValue>>("SELECT * FROM events WHERE seq <= ? ORDER BY seq", bound)) {
      if (row.seq !== expected) return bad(expected, "missing-event");
      const key = keys.get(row.key_id);
      const hash = chainHash(previous, label, row);
      if (row.prev !== previous || row.hash !== hash || !key || chainMac(key, hash) !== row.mac) return bad(row.seq, "hash-mismatch");
      const checkpoint = witnessed.checkpoints[row.seq];
      if (checkpoint !== undefined && checkpoint !== hash) return bad(Math.max(1, row.seq - CHECKPOINT + 1), "hash-mismatch");
      previous = hash;
      expected++;
    }
    const checked = expected - 1;
    if (checked < this.head.seq || witnessed.seq > checked) return bad(checked + 1, "truncated");
    if (witnessed.seq > 0) {
      const at = this.sql.exec<{ hash: string }>("SELECT hash FROM events WHERE seq = ?", witnessed.seq).toArray()[0];
      if (at?.hash !== witnessed.hash) return bad(lastCheckpointBefore(witnessed.seq) + 1, "hash-mismatch");
    }
    const copies = await this.verifyCopies(tenantId, bound);
    return copies ? { ...copies, chains } : { ok: true, checked, chains };
  }

  /** Every D1 copy matches a live intent; every committed intent has its copy. */
  private async verifyCopies(tenantId: string, bound: number): Promise<VerifyResult | undefined> {
    let after = 0;
    let firstMissing: number | undefined;
    for (;;) {
      const { results } = await (await this.database(tenantId))
        .prepare(
          "SELECT tenant_id, seq, id, at, actor, action, resource, outcome, status, request_id, detail, hash FROM audit_events WHERE tenant_id = ? AND chain = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        )
        .bind(tenantId, this.chain, after, bound, PAGE)
        .all<ChainRow>();
      const hi = results.length < PAGE ? bound : results[results.length - 1]!.seq!;
      const intents = this.sql
        .exec<{ seq: number; prev: string; hash: string; state: string | null }>(
          "SELECT seq, prev, hash, state FROM events WHERE kind = 'intent' AND seq > ? AND seq <= ? ORDER BY seq",
          after,
          hi,
        )
        .toArray();
      const bySeq = new Map(intents.map((i) => [i.seq, i]));
      const copied = new Set<number>();
      for (const row of results) {
        const intent = bySeq.get(row.seq!);
        if (!intent || intent.state === "aborted" || copyHash(intent.prev, row, this.label(tenantId)) !== intent.hash || row.hash !== intent.hash) {
          return { ok: false, checked: row.seq! - 1, first_bad_seq: row.seq!, reason: "hash-mismatch" };
        }
        copied.add(row.seq!);
        if (firstMissing !== undefined) return { ok: false, checked: firstMissing - 1, first_bad_seq: firstMissing, reason: "missing-event" };
      }
      for (const intent of intents) {
        if (intent.state === "committed" && !copied.has(intent.seq) && firstMissing === undefined) firstMissing = intent.seq;
      }
      // A committed intent without its copy, followed by a copy: an event deleted from D1.
      if (firstMissing !== undefined && results.some((r) => r.seq! > firstMissing!)) {
        return { ok: false, checked: firstMissing - 1, first_bad_seq: firstMissing, reason: "missing-event" };
      }
      after = hi;
      if (results.length < PAGE) break;
    }
    if (firstMissing !== undefined) return { ok: false, checked: firstMissing - 1, first_bad_seq: firstMissing, reason: "truncated" };
    // A copy numbered past the chain is one the chain never wrote: every real copy's intent is
    // appended before the copy's batch, so read D1 first, then the head.
    const top = await (await this.database(tenantId))
      .prepare("SELECT MAX(seq) AS seq FROM audit_events WHERE tenant_id = ? AND chain = ?")
      .bind(tenantId, this.chain)
      .first<{ seq: number | null }>();
    const head = this.tableHead().seq;
    if (top?.seq != null && top.seq > head) return { ok: false, checked: head, first_bad_seq: head + 1, reason: "hash-mismatch" };
    return undefined;
  }

  // ---- the witness (another instance of this class, named witness:<tenant>) ----

  /** Records a chain's head (and the checkpoints it passed), never moving it back. */
  witness(chain: string, seq: number, hash: string, checkpoints: Record<number, string>): void {
    const current = this.ctx.storage.kv.get<Head>(`head:${chain}`);
    if (current && current.seq >= seq) return;
    for (const [at, cp] of Object.entries(checkpoints)) this.ctx.storage.kv.put(`cp:${chain}:${at}`, cp);
    this.ctx.storage.kv.put(`head:${chain}`, { seq, hash });
  }

  witnessed(chain: string): { seq: number; hash: string; checkpoints: Record<number, string> } {
    const head = this.ctx.storage.kv.get<Head>(`head:${chain}`) ?? { seq: 0, hash: GENESIS };
    const checkpoints: Record<number, string> = {};
    for (const [k, v] of this.ctx.storage.kv.list<string>({ prefix: `cp:${chain}:` })) checkpoints[Number(k.slice(k.lastIndexOf(":") + 1))] = v;
    return { ...head, checkpoints };
  }

  // ---- internals ----

  /** Each chain has its own witness: `witness:<tenant>` for chain 0, `witness:<tenant>#k` for chain k. */
  private witnessStub(tenantId: string) {
    this.witnessId ??= this.env.AUDIT_CHAIN.idFromName(`witness:${this.label(tenantId)}`);
    return this.env.AUDIT_CHAIN.get(this.witnessId);
  }

  /** One witness call in flight at a time, carrying the newest head: concurrent appends share it. */
  private async witnessUpTo(tenantId: string, seq: number): Promise<void> {
    while (this.witnessedSeq < seq) {
      if (!this.witnessing) {
        const from = this.witnessedSeq;
        const head = this.head;
        const checkpoints: Record<number, string> = {};
        for (let at = (Math.floor(from / CHECKPOINT) + 1) * CHECKPOINT; at <= head.seq; at += CHECKPOINT) {
          const row = this.sql.exec<{ hash: string }>("SELECT hash FROM events WHERE seq = ?", at).toArray()[0];
          if (row) checkpoints[at] = row.hash;
        }
        this.witnessing = this.witnessStub(tenantId)
          .witness(this.label(tenantId), head.seq, head.hash, checkpoints)
          .then(() => {
            this.witnessedSeq = Math.max(this.witnessedSeq, head.seq);
          })
          .finally(() => {
            this.witnessing = undefined;
          });
      }
      await this.witnessing;
    }
  }

  private tableHead(): Head {
    const row = this.sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").toArray()[0];
    return row ?? { seq: 0, hash: GENESIS };
  }

  private key(tenantId: string, keyId: string): Promise<Uint8Array> {
    let key = this.keys.get(keyId);
    if (!key) {
      key = loadKeyring(this.env.MASTER_KEYS).derive(keyId, tenantId, MAC_INFO);
      key.catch(() => this.keys.delete(keyId));
      this.keys.set(keyId, key);
    }
    return key;
  }
}

type LegacyRow = Omit<NewEvent, "detail"> & { n: number; detail: string | null };

const lastCheckpointBefore = (seq: number) => Math.floor((seq - 1) / CHECKPOINT) * CHECKPOINT;
