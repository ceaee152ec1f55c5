import { env as globalEnv } from "cloudflare:workers";
import type { BatchItem, Db } from "../db/client";
import { appendEvents, auditChain, copyInsert, newEvent, settleCommitted, takeAuditInserts, type AuditActor, type AuditInput, type Placed } from "./log";

type WaitUntil = { waitUntil(p: Promise<unknown>): void };

/**
 * The one audited unit of work (docs/decisions.md, "One audited unit of work"). A change is
 * recorded in the tenant's audit chain as an intent before its D1 batch runs (numbered, hashed
 * and MACed there; if that fails, nothing runs), its D1 batch carries a copy of each intent, and
 * the intent is then settled: committed, or rolled back with a failure outcome appended. A Worker
 * that dies in between leaves a pending intent that the chain resolves from D1 (the copy exists
 * exactly when the change committed). With no statements at all, the events are simply appended:
 * nothing is written to D1. Requests go through `commit` (http/commit.ts), which adds the
 * idempotency record; system jobs, queue consumers and Durable Objects call this directly.
 * Returns the batch's results, statements first, in order.
 *
 * @example
 * await recordChange(db, systemActor, [markRevoked], { action: "lease.revoked", resource }, { kick: { env, ctx } });
 */
export async function recordChange(
  db: Db,
  who: AuditActor,
  statements: readonly BatchItem[],
  events: AuditInput | readonly AuditInput[] | StartedIntents,
  options: {
    now?: number;
    /** Run after the events, in the same batch (the idempotency record). */
    after?: readonly BatchItem[];
    /** The Worker's env (defaults to the module env); with `ctx`, a committed change's settle runs in its waitUntil. */
    kick?: { env: Env; ctx?: WaitUntil };
    env?: Env;
  } = {},
) {
  const env = options.kick?.env ?? options.env ?? (globalEnv as Env);
  const now = options.now ?? Date.now();
  const hidden = takeAuditInserts(statements);
  const started = events instanceof StartedIntents ? events.take() : undefined;
  const list = (started ? [] : Array.isArray(events) ? events : [events]) as readonly AuditInput[];
  const byTenant = [...list.map((event) => ({ who, event, now })), ...hidden.events];
  const after = options.after ?? [];
  const changes = [...hidden.statements, ...after];
  if (changes.length === 0 && !started) {
    // Audit only (a read, a denial): the chain object is the whole record.
    await Promise.all(
      groupByTenant(byTenant).map(([tenantId, items]) =>
        appendEvents(
          env,
          tenantId,
          items.map((i) => newEvent(i.who, i.event, i.now)),
          "event",
        ),
      ),
    );
    return [];
  }
  const groups = groupByTenant(byTenant).map(([tenantId, items]) => ({ tenantId, events: items.map((i) => newEvent(i.who, i.event, i.now)) }));
  const placing: Promise<Placed[]>[] = groups.map((g) => appendEvents(env, g.tenantId, g.events, "intent"));
  if (started) {
    groups.unshift({ tenantId: started.tenantId, events: started.events });
    placing.unshift(started.placed);
  }
  const placed = await Promise.all(placing);
  if (changes.length === 0) {
    // Intents begun ahead of a change that turned out to write nothing: nothing in D1 to wait for.
    await settleAll(env, groups, placed);
    return [];
  }
  const copies = groups.flatMap((g, i) => g.events.map((event, j) => copyInsert(db, g.tenantId, event, placed[i]![j]!)));
  const items: BatchItem[] = [...hidden.statements, ...copies, ...after];
  let results;
  try {
    results = await db.batch(items as [BatchItem, ...BatchItem[]]);
  } catch (err) {
    const problem = err instanceof Error ? err.name : "error";
    const status = /UNIQUE constraint failed|PRIMARY KEY constraint failed/i.test(errorText(err)) ? 409 : 500;
    await settleAll(env, groups, placed, { status, problem }).catch(() => undefined); // the chain's alarm resolves it otherwise
    throw err;
  }
  // The change committed: the settle only records that, so a request answers at once and the
  // settle rides on the isolate's next append (or its own call, in waitUntil). If it is lost, the
  // alarm finds the copy and settles it the same way.
  const ctx = options.kick?.ctx;
  if (ctx)
    groups.forEach((g, i) =>
      settleCommitted(
        env,
        g.tenantId,
        placed[i]!.map((p) => p.seq),
        ctx,
        placed[i]![0]?.chain ?? 0,
      ),
    );
  else await settleAll(env, groups, placed).catch(() => undefined);
  return results.slice(0, hidden.statements.length).concat(results.slice(hidden.statements.length + copies.length)) as typeof results;
}

/**
 * A change's intents appended ahead of its D1 batch, while the handler still does its own reads
 * (http/commit.ts `beginChange`): the Durable Object round trip overlaps them instead of adding
 * to the request's path. `recordChange` waits for the append before the batch, so nothing commits
 * without its event; intents never taken by a change are settled as a failure (`abandon`), or by
 * the chain's alarm if the Worker died.
 */
export class StartedIntents {
  readonly placed: Promise<Placed[]>;
  private taken = false;
  constructor(
    private readonly env: Env,
    readonly tenantId: string,
    readonly events: ReturnType<typeof newEvent>[],
  ) {
    this.placed = appendEvents(env, tenantId, events, "intent");
    this.placed.catch(() => undefined); // awaited by the change; if none comes, nothing waits on it
  }

  static start(env: Env, who: AuditActor, events: AuditInput | readonly AuditInput[], now = Date.now()): StartedIntents {
    const list = (Array.isArray(events) ? events : [events]) as readonly AuditInput[];
    return new StartedIntents(
      env,
      who.tenantId,
      list.map((event) => newEvent(who, event, now)),
    );
  }

  take(): this {
    if (this.taken) throw new Error("intents already used by a change");
    this.taken = true;
    return this;
  }

  get used(): boolean {
    return this.taken;
  }

  /** The request ended without the change: each intent gets a failure outcome with the answer's status. */
  async abandon(status: number): Promise<void> {
    if (this.taken) return;
    this.taken = true;
    const placed = await this.placed.catch(() => undefined);
    if (!placed) return;
    const chain = placed[0]?.chain ?? 0;
    await auditChain(this.env, this.tenantId, chain).settle(
      this.tenantId,
      placed.map((p) => p.seq),
      { status: status >= 400 ? status : 500, problem: "not-committed" },
      chain,
    );
  }
}

function settleAll(env: Env, groups: { tenantId: string }[], placed: Placed[][], failure?: { status: number; problem: string }) {
  return Promise.all(
    groups.map((g, i) => {
      const chain = placed[i]![0]?.chain ?? 0;
      return auditChain(env, g.tenantId, chain).settle(
        g.tenantId,
        placed[i]!.map((p) => p.seq),
        failure,
        chain,
      );
    }),
  );
}

function groupByTenant<T extends { who: AuditActor }>(items: T[]): [string, T[]][] {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const list = map.get(item.who.tenantId);
    if (list) list.push(item);
    else map.set(item.who.tenantId, [item]);
  }
  return [...map];
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}` : "");
