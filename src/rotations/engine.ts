import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { AuditActor, AuditInput } from "../audit/log";
import { recordChange } from "../audit/unit-of-work";
import { fromUtf8, randomBytes, randomString, toHex, utf8, wipe } from "../crypto/encoding";
import { loadKeyring, open, pack, seal, unpack, type Keyring } from "../crypto/envelope";
import type { BatchItem, Db } from "../db/client";
import { secrets, staticRotations, type RotationPhase } from "../db/schema";
import { isConstraintError } from "../http/commit";
import { resolveProvider } from "../leases/providers";
import { ProviderError, safeMessage, type StaticRoles } from "../leases/providers/types";
import { secretResource } from "../secrets/read";
import { findSecretVersion, nextVersionStatements, openVersion, sealVersion, type SecretRow } from "../secrets/store";

export type Run = typeof staticRotations.$inferSelect;
export type Binding = { key: string; provider: string; strategy: "single" | "alternate"; usernames: string[]; graceSeconds: number };

/** How long one worker holds a run while it calls the database. */
export const CLAIM_MS = 120_000;
/** A rollback step that keeps failing stops here: the run is `failed`, visible and audited. */
export const MAX_ATTEMPTS = 20;
/** A failed scheduled rotation that published nothing is tried again after this. */
export const RETRY_SCHEDULED_MS = 3600_000;

/**
 * Failure points the tests inject (never reachable from a request): `fail` makes that phase's
 * database call fail; `crashAfterEffect` stops after the phase's database call and before its
 * D1 commit, `crashAfterCommit` right after the commit: what a Worker killed there leaves.
 */
export interface Faults {
  fail?: RotationPhase;
  crashAfterEffect?: RotationPhase;
  crashAfterCommit?: RotationPhase;
}

export class InjectedCrash extends Error {
  constructor(public readonly at: string) {
    super(`injected crash ${at}`);
    this.name = "InjectedCrash";
  }
}

export const rotationPlace = (id: string) => ["static-rotation", id] as const;
export const refOf = (key: string, version: number | null) => (version === null ? null : `${key}@${version}`);
export const rotationResource = (id: string) => `rotation:${id}`;

interface Passwords {
  new: string;
  old: string;
}

async function sealPasswords(keyring: Keyring, tenantId: string, id: string, passwords: Passwords) {
  const plaintext = utf8(JSON.stringify(passwords));
  try {
    return pack(await seal(keyring, tenantId, rotationPlace(id), plaintext));
  } finally {
    wipe(plaintext);
  }
}

async function openPasswords(keyring: Keyring, run: Run): Promise<Passwords> {
  if (!run.staged) throw new Error("the run holds no staged credential");
  const plaintext = await open(keyring, run.tenantId, rotationPlace(run.id), unpack(run.staged));
  try {
    return JSON.parse(fromUtf8(plaintext)) as Passwords;
  } finally {
    wipe(plaintext);
  }
}

/** The credential a secret at a rotation's key holds: a JSON object with at least username and password. */
export function parseCredential(value: string): Record<string, unknown> & { username: string; password: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = null;
  }
  const object = parsed as Record<string, unknown> | null;
  if (!object || typeof object !== "object" || Array.isArray(object) || typeof object.username !== "string" || typeof object.password !== "string") {
    throw new ProviderError('The secret must hold a JSON object with "username" and "password"');
  }
  return object as Record<string, unknown> & { username: string; password: string };
}

/** The old value with the login replaced (and a connection URL in it rewritten to match). */
function withLogin(value: Record<string, unknown>, username: string, password: string): string {
  const next: Record<string, unknown> = { ...value, username, password };
  if (typeof value.connection_url === "string" && URL.canParse(value.connection_url)) {
    const url = new URL(value.connection_url);
    url.username = encodeURIComponent(username);
    url.password = encodeURIComponent(password);
    next.connection_url = url.toString();
  }
  return JSON.stringify(next);
}

/**
 * Start of a run: the current version is read, its login must be one the binding names, and
 * the next login and a fresh password are chosen. The row (with both passwords sealed) lands
 * with its audit event before the database is touched, so every later step can be resumed.
 * The unique index on running rows makes a second concurrent start fail (null).
 */
export async function createRun(
  env: Env,
  db: Db,
  who: AuditActor,
  binding: Binding,
  current: { secret: SecretRow; value: string },
  trigger: "api" | "schedule",
  extra: { statements?: BatchItem[]; audit?: AuditInput[] } = {},
  now = Date.now(),
): Promise<Run | null> {
  const credential = parseCredential(current.value);
  if (!binding.usernames.includes(credential.username)) {
    throw new ProviderError(`The secret's username is not one this key is bound to (${binding.usernames.join(", ")})`);
  }
  const newUsername = binding.strategy === "single" ? credential.username : binding.usernames.find((u) => u !== credential.username)!;
  const id = `rot_${toHex(randomBytes(12))}`;
  const keyring = loadKeyring(env.MASTER_KEYS);
  const run: Run = {
    id,
    tenantId: who.tenantId,
    key: binding.key,
    provider: binding.provider,
    strategy: binding.strategy,
    state: "running",
    phase: "stage",
    failedPhase: null,
    oldVersion: current.secret.currentVersion,
    oldUsername: credential.username,
    newUsername,
    newVersion: null,
    republishedVersion: null,
    staged: await sealPasswords(keyring, who.tenantId, id, { new: randomString(32), old: credential.password }),
    retireAt: null,
    claimedUntil: now + CLAIM_MS,
    attempts: 0,
    lastError: null,
    trigger,
    createdAt: now,
    createdBy: who.actor,
    updatedAt: now,
    finishedAt: null,
  };
  try {
    await recordChange(
      db,
      who,
      [...(extra.statements ?? []), db.insert(staticRotations).values(run)],
      [
        ...(extra.audit ?? []),
        {
          action: "rotation.start",
          resource: rotationResource(id),
          detail: {
            key: run.key,
            provider: run.provider,
            strategy: run.strategy,
            old_version: run.oldVersion,
            old_username: run.oldUsername,
            new_username: newUsername,
            trigger,
          },
        },
      ],
      { now },
    );
  } catch (err) {
    if (isConstraintError(err)) return null;
    throw err;
  }
  return run;
}

/** Takes the run for CLAIM_MS (null if another worker holds it or it is over). */
async function claim(db: Db, id: string, now: number): Promise<Run | null> {
  const result = await db
    .update(staticRotations)
    .set({ claimedUntil: now + CLAIM_MS })
    .where(
      and(eq(staticRotations.id, id), eq(staticRotations.state, "running"), or(isNull(staticRotations.claimedUntil), lt(staticRotations.claimedUntil, now))),
    )
    .run();
  if (!result.meta.changes) return null;
  return (await db.select().from(staticRotations).where(eq(staticRotations.id, id)).get()) ?? null;
}

/** The statement moving a run from the phase it was read at (so a duplicate worker's commit changes nothing). */
const move = (db: Db, run: Run, set: Partial<Run>, now: number) =>
  db
    .update(staticRotations)
    .set({ ...set, updatedAt: now })
    .where(and(eq(staticRotations.id, run.id), eq(staticRotations.state, "running"), eq(staticRotations.phase, run.phase)));

const systemWho = (run: Run, actor: string): AuditActor => ({ tenantId: run.tenantId, actor, requestId: `rotation:${run.id}` });

interface Step {
  env: Env;
  db: Db;
  keyring: Keyring;
  roles: StaticRoles;
  who: AuditActor;
  faults: Faults;
}

/**
 * Runs a rotation's phases from where it stands until it is over, waits (retire before its
 * time, a failing rollback step) or the worker dies. Every phase is one database call (idempotent:
 * a resumed run repeats it) and one D1 batch that moves the phase and writes its audit event.
 * Callers: the request that started it, and the sweeper for any run whose claim lapsed.
 */
export async function advance(
  env: Env,
  db: Db,
  id: string,
  options: { who?: AuditActor; faults?: Faults; now?: () => number; claimed?: boolean } = {},
): Promise<Run> {
  const clock = options.now ?? Date.now;
  let run = options.claimed ? await db.select().from(staticRotations).where(eq(staticRotations.id, id)).get() : await claim(db, id, clock());
  if (!run) return (await db.select().from(staticRotations).where(eq(staticRotations.id, id)).get())!;
  const keyring = loadKeyring(env.MASTER_KEYS);
  const who = options.who ?? systemWho(run, "system:rotations");
  const resolved = await resolveProvider(env, db, run.tenantId, run.provider);
  const step: Step | null = resolved?.provider.staticRoles
    ? { env, db, keyring, roles: resolved.provider.staticRoles, who, faults: options.faults ?? {} }
    : null;
  for (;;) {
    if (run.state !== "running") return run;
    const now = clock();
    if (!step) {
      // The provider was removed (or changed kind): nothing can be staged or re-enabled.
      run = await finish(db, run, who, "failed", `Provider ${run.provider} is no longer a database provider`, now);
      return run;
    }
    if (run.phase === "retire" && run.retireAt !== null && run.retireAt > now) {
      // Not yet: the sweeper comes back once retire_at has passed.
      await db.update(staticRotations).set({ claimedUntil: null }).where(eq(staticRotations.id, run.id)).run();
      return { ...run, claimedUntil: null };
    }
    let next: Run | "wait";
    try {
      next = await runPhase(step, run, now);
    } catch (err) {
      if (err instanceof InjectedCrash) throw err;
      next = await failed(step, run, err, now);
    }
    if (next === "wait") return (await db.select().from(staticRotations).where(eq(staticRotations.id, run.id)).get())!;
    run = next;
  }
}

function inject(step: Step, phase: RotationPhase, point: "fail" | "crashAfterEffect" | "crashAfterCommit") {
  if (step.faults[point] !== phase) return;
  if (point === "fail") throw new ProviderError(`Injected ${phase} failure`);
  throw new InjectedCrash(`${point === "crashAfterEffect" ? "before the commit of" : "after the commit of"} ${phase}`);
}

/** One phase: its database call, then its D1 batch. Returns the run as it now stands. */
async function runPhase(step: Step, run: Run, now: number): Promise<Run | "wait"> {
  const { db, roles, keyring, who } = step;
  const base = { key: run.key, provider: run.provider, strategy: run.strategy };
  switch (run.phase) {
    case "stage": {
      const passwords = await openPasswords(keyring, run);
      inject(step, "stage", "fail");
      await roles.setPassword(run.newUsername, passwords.new);
      inject(step, "stage", "crashAfterEffect");
      const next = { phase: "cutover" as const, attempts: 0, lastError: null };
      await commitPhase(step, run, next, [], { action: "rotation.stage", detail: { ...base, username: run.newUsername } }, now);
      inject(step, "stage", "crashAfterCommit");
      return { ...run, ...next, updatedAt: now };
    }
    case "cutover": {
      const found = await findSecretVersion(db, run.tenantId, run.key);
      if (!found || found.secret.deletedAt !== null || found.secret.currentVersion !== run.oldVersion || !found.version) {
        throw new ProviderError(`The secret at ${run.key} changed during the rotation (now at version ${found?.secret.currentVersion ?? "none"})`);
      }
      inject(step, "cutover", "fail");
      const passwords = await openPasswords(keyring, run);
      const old = parseCredential(await openVersion(keyring, found.version));
      const version = run.oldVersion + 1;
      const sealed = await sealVersion(keyring, run.tenantId, run.key, version, withLogin(old, run.newUsername, passwords.new));
      const { statements } = nextVersionStatements(db, found.secret, { version, sealed, now, actor: who.actor });
      const next = { phase: "verify" as const, newVersion: version, attempts: 0, lastError: null };
      await commitPhase(
        step,
        run,
        next,
        statements,
        { action: "rotation.cutover", detail: { ...base, version, previous_version: run.oldVersion, username: run.newUsername } },
        now,
        [{ action: "secret.rotate", resource: secretResource(run.key), detail: { version, previous_version: run.oldVersion, static_rotation: run.id } }],
      );
      inject(step, "cutover", "crashAfterCommit");
      return { ...run, ...next, updatedAt: now };
    }
    case "verify": {
      const passwords = await openPasswords(keyring, run);
      inject(step, "verify", "fail");
      await roles.verify(run.newUsername, passwords.new);
      inject(step, "verify", "crashAfterEffect");
      const binding = await currentGrace(db, run);
      const next = { phase: "retire" as const, retireAt: run.strategy === "alternate" ? now + binding * 1000 : now, attempts: 0, lastError: null };
      await commitPhase(
        step,
        run,
        next,
        [],
        { action: "rotation.verify", detail: { ...base, username: run.newUsername, retire_at: new Date(next.retireAt).toISOString() } },
        now,
      );
      inject(step, "verify", "crashAfterCommit");
      return { ...run, ...next, updatedAt: now };
    }
    case "retire": {
      inject(step, "retire", "fail");
      // Single: the old password stopped at stage; alternate: the old login stops now.
      if (run.strategy === "alternate" && run.oldUsername !== run.newUsername) await roles.disable(run.oldUsername);
      inject(step, "retire", "crashAfterEffect");
      return finish(db, run, who, "completed", null, now, {
        action: "rotation.retire",
        detail: { ...base, username: run.oldUsername, version: run.newVersion },
      });
    }
    case "rollback":
      return rollback(step, run, now);
  }
}

/** The grace period of the key's binding now (it may have been changed since the run started). */
async function currentGrace(db: Db, run: Run): Promise<number> {
  const row = await db.get<{ grace_seconds: number }>(sql`SELECT grace_seconds FROM static_roles WHERE tenant_id = ${run.tenantId} AND key = ${run.key}`);
  return row?.grace_seconds ?? 0;
}

async function commitPhase(
  step: Step,
  run: Run,
  set: Partial<Run>,
  statements: BatchItem[],
  event: { action: string; detail: Record<string, unknown> },
  now: number,
  more: AuditInput[] = [],
) {
  await recordChange(
    step.db,
    step.who,
    [...statements, move(step.db, run, set, now)],
    [{ action: event.action, resource: rotationResource(run.id), detail: event.detail }, ...more],
    { now },
  );
}

/**
 * A phase failed. Before verify has passed, the run rolls back. A retire that fails is retried
 * (the consumer already holds a working, verified credential; the old one merely lives longer).
 * A failing rollback step is retried until MAX_ATTEMPTS, then the run is `failed`.
 */
async function failed(step: Step, run: Run, err: unknown, now: number): Promise<Run | "wait"> {
  const message = safeMessage(err);
  if (!(err instanceof ProviderError)) console.error("static rotation: unexpected failure", run.id, run.phase, (err as Error)?.name);
  if (run.phase === "retire" || run.phase === "rollback") {
    if (run.attempts + 1 >= MAX_ATTEMPTS && run.phase === "rollback") return finish(step.db, run, step.who, "failed", message, now);
    await step.db
      .update(staticRotations)
      .set({ attempts: run.attempts + 1, lastError: message, claimedUntil: null, updatedAt: now })
      .where(and(eq(staticRotations.id, run.id), eq(staticRotations.phase, run.phase)))
      .run();
    return "wait";
  }
  const next = { phase: "rollback" as const, failedPhase: run.phase, attempts: 0, lastError: message };
  await commitPhase(step, run, next, [], { action: "rotation.phase_failed", detail: { key: run.key, failed_phase: run.phase, error: message } }, now);
  return { ...run, ...next, updatedAt: now };
}

/**
 * Rollback, each step idempotent: (1) if the cutover published the new login and nobody wrote
 * the secret since, the previous version's value is published again as the next version;
 * (2) the old login gets its old password back and may log in; (3) in the a/b strategy the
 * staged login is disabled again. Then the run is `rolled_back`, naming the failed phase.
 */
async function rollback(step: Step, run: Run, now: number): Promise<Run> {
  const { db, keyring, roles, who } = step;
  const passwords = await openPasswords(keyring, run);
  inject(step, "rollback", "fail");
  if (run.newVersion !== null && run.republishedVersion === null) {
    const found = await findSecretVersion(db, run.tenantId, run.key);
    if (found && found.secret.currentVersion === run.newVersion && found.version) {
      const previous = await findSecretVersion(db, run.tenantId, run.key, run.oldVersion);
      // The previous value as it was; if max_versions destroyed it, the current one with the old login.
      const value = previous?.version?.ciphertext
        ? await openVersion(keyring, previous.version)
        : withLogin(parseCredential(await openVersion(keyring, found.version)), run.oldUsername, passwords.old);
      const version = run.newVersion + 1;
      const sealed = await sealVersion(keyring, run.tenantId, run.key, version, value);
      const { statements } = nextVersionStatements(db, found.secret, { version, sealed, now, actor: who.actor, sourceVersion: run.oldVersion });
      const set = { republishedVersion: version };
      await recordChange(
        db,
        who,
        [...statements, move(db, run, set, now)],
        [
          {
            action: "rotation.republish",
            resource: rotationResource(run.id),
            detail: { key: run.key, version, source_version: run.oldVersion, failed_phase: run.failedPhase },
          },
          {
            action: "secret.rotate",
            resource: secretResource(run.key),
            detail: { version, previous_version: run.newVersion, source_version: run.oldVersion, static_rotation: run.id, rollback: true },
          },
        ],
        { now },
      );
      run = { ...run, ...set, updatedAt: now };
    }
  }
  await roles.setPassword(run.oldUsername, passwords.old);
  if (run.strategy === "alternate" && run.newUsername !== run.oldUsername) await roles.disable(run.newUsername);
  inject(step, "rollback", "crashAfterEffect");
  // A scheduled rotation that published nothing moves next_rotation_at, so the sweeper does not retry it every run.
  const postpone =
    run.trigger === "schedule" && run.republishedVersion === null
      ? [
          db
            .update(secrets)
            .set({ nextRotationAt: now + RETRY_SCHEDULED_MS })
            .where(and(eq(secrets.tenantId, run.tenantId), eq(secrets.path, run.key))),
        ]
      : [];
  return finish(
    db,
    run,
    who,
    "rolled_back",
    run.lastError,
    now,
    {
      action: "rotation.rollback",
      detail: { key: run.key, failed_phase: run.failedPhase, republished_version: run.republishedVersion, username: run.oldUsername },
    },
    postpone,
  );
}

/** The run is over: state, the sealed passwords shredded, and the closing audit event, in one batch. */
async function finish(
  db: Db,
  run: Run,
  who: AuditActor,
  state: "completed" | "rolled_back" | "failed",
  lastError: string | null,
  now: number,
  event?: { action: string; detail: Record<string, unknown> },
  statements: BatchItem[] = [],
): Promise<Run> {
  const set = { state, staged: null, finishedAt: now, claimedUntil: null, lastError };
  const events: AuditInput[] = [];
  if (event) events.push({ action: event.action, resource: rotationResource(run.id), detail: event.detail });
  if (state !== "rolled_back" || !event) {
    events.push({
      action: state === "completed" ? "rotation.complete" : "rotation.failed",
      resource: rotationResource(run.id),
      outcome: state === "completed" ? "success" : "failure",
      detail: { key: run.key, phase: run.phase, failed_phase: run.failedPhase, error: lastError },
    });
  }
  await recordChange(db, who, [...statements, move(db, run, set, now)], events, { now });
  return { ...run, ...set, updatedAt: now };
}
