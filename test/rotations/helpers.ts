// Shared by the static-rotation suites: bindings, direct engine runs with injected faults, audit checks.
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { expect } from "vitest";
import { loadKeyring } from "../../src/crypto/envelope";
import { database } from "../../src/db/client";
import { staticRoles, staticRotations } from "../../src/db/schema";
import { advance, CLAIM_MS, createRun, type Faults, type Run } from "../../src/rotations/engine";
import { advanceRotations, STALE_MS } from "../../src/rotations/sweeper";
import { findSecretVersion, openVersion } from "../../src/secrets/store";
import { api } from "../helpers";
import { auditDb } from "../support/audit-store";

export const db = () => database(env.DB);
export const store = (path: string) => `/api/v1/secrets/store/${path}`;
let counter = 0;
export const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;

export interface Credential {
  username: string;
  password: string;
  connection_url?: string;
}

export async function bind(key: string, provider: string, strategy: "single" | "alternate", usernames: string[], grace_seconds = 0, token?: string) {
  return api("PUT", "/api/v1/secrets/rotations/static-roles", { token, body: { key, provider, strategy, usernames, grace_seconds } });
}

export async function currentCredential(key: string): Promise<Credential & { version: number }> {
  const res = await api("GET", store(key));
  expect(res.status, res.text).toBe(200);
  return { ...(JSON.parse(res.body.value) as Credential), version: res.body.version };
}

/** A run started and advanced straight through the engine, with faults a request can never set. */
export async function runDirect(key: string, faults: Faults): Promise<{ run: Run | null; crash: Error | null; id: string }> {
  const tenantId = "default";
  const binding = (await db()
    .select()
    .from(staticRoles)
    .where(and(eq(staticRoles.tenantId, tenantId), eq(staticRoles.key, key)))
    .get())!;
  const found = (await findSecretVersion(db(), tenantId, key))!;
  const value = await openVersion(loadKeyring(env.MASTER_KEYS), found.version!);
  const created = await createRun(env, db(), { tenantId, actor: "test", requestId: "test" }, binding, { secret: found.secret, value }, "api");
  if (!created) throw new Error("a run is already going");
  try {
    return { run: await advance(env, db(), created.id, { claimed: true, faults }), crash: null, id: created.id };
  } catch (err) {
    return { run: null, crash: err as Error, id: created.id };
  }
}

/** The sweeper, as a later cron run would see the world (claims lapsed, grace periods over). */
export const sweepLater = (ms = CLAIM_MS + STALE_MS + 1000) => advanceRotations(env, Date.now() + ms);

export const runRow = async (id: string) => (await db().select().from(staticRotations).where(eq(staticRotations.id, id)).get())!;

/** Every audit row written for the key and the runs, as text: the password must appear in none. */
export async function auditText(): Promise<string> {
  const rows = await auditDb.prepare("SELECT action, resource, detail FROM audit_events ORDER BY rowid DESC LIMIT 2000").all();
  return JSON.stringify(rows.results);
}

export async function rotationRowsText(): Promise<string> {
  const rows = await env.DB.prepare("SELECT id, key, old_username, new_username, last_error, hex(staged) AS staged FROM static_rotations").all();
  return JSON.stringify(rows.results);
}
