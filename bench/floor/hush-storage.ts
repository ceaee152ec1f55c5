// The floor doing Hush's *exact* storage work for an audited read and write, built from Hush's own
// modules by bench/run.mjs (`wrangler deploy --dry-run` with this file as the entry; never deployed):
//
//   GET /api/v1/secrets/store/<path>   Hush's token-and-read statement on Hush's tables (the token,
//                                      the secret and its current version, in one D1 statement),
//                                      Hush's envelope decryption of that version, and Hush's append
//                                      of the read event to the tenant's AuditChain; JSON out
//   PUT /api/v1/secrets/store/<path>   Hush's token-and-write statement, the intent appended (started
//                                      before the sealing, as Hush does), the value sealed, and Hush's
//                                      audited unit of work: the versioned batch with the event's copy,
//                                      then the settle; for a secret that exists, as the bench writes
//
// and none of Hush's code around them: no hono, middleware, validation, principal, access
// decision, read rule, dual-control check, idempotency or metadata view, and no check that the
// token may touch the path (a bench token only). Everything else (token creation, seeding) is Hush
// itself, so the tables, the rows and the chain are exactly Hush's. The floor Worker's `/read-same`
// and `/write-same` (bench/floor/worker.js) approximate this storage work with tables of their own;
// this one cannot drift from Hush's schema. What Hush costs over it is Hush's code (bench/README.md).
import { appendEvents, newEvent } from "../../src/audit/log";
import { recordChange, StartedIntents } from "../../src/audit/unit-of-work";
import { bearerFrom, hashToken, tokenAndRead, tokenAndWrite } from "../../src/auth/tokens";
import { loadKeyring } from "../../src/crypto/envelope";
import { database } from "../../src/db/client";
import worker from "../../src/index";
import { nextVersionStatements, openVersion, sealVersion } from "../../src/secrets/store";

export { AuditChain, LeaseObject, ShareObject } from "../../src/index";

const STORE = "/api/v1/secrets/store/";

/** The bearer token's hash, as `authenticate` computes it. */
const tokenHashOf = (request: Request) => hashToken(bearerFrom(request.headers.get("authorization") ?? undefined) ?? "");

async function storageOnlyRead(request: Request, env: Env, path: string): Promise<Response> {
  const found = await tokenAndRead(database(env.DB), await tokenHashOf(request), path);
  if (!found) return new Response("unauthorized", { status: 401 });
  if (!found.secret || !found.version) return new Response("not found", { status: 404 });
  const value = await openVersion(loadKeyring(env.MASTER_KEYS), found.version);
  const who = { tenantId: found.token.tenantId, actor: found.token.subject, requestId: crypto.randomUUID() };
  await appendEvents(
    env,
    who.tenantId,
    [newEvent(who, { action: "secret.read", resource: `secret:${path}`, detail: { version: found.version.version } })],
    "event",
  );
  return Response.json({ path, value });
}

async function storageOnlyWrite(request: Request, env: Env, ctx: ExecutionContext, path: string): Promise<Response> {
  const body = await request.text();
  const { value } = JSON.parse(body) as { value: string };
  const db = database(env.DB);
  const found = await tokenAndWrite(db, await tokenHashOf(request), path);
  if (!found) return new Response("unauthorized", { status: 401 });
  // A first version (the seeding): Hush's own route.
  if (!found.secret) return worker.fetch(new Request(request, { body }), env, ctx);
  const existing = found.secret;
  const version = existing.currentVersion + 1;
  const who = { tenantId: found.token.tenantId, actor: found.token.subject, requestId: crypto.randomUUID() };
  const audit = StartedIntents.start(env, who, { action: "secret.write", resource: `secret:${path}`, detail: { version } });
  const sealed = await sealVersion(loadKeyring(env.MASTER_KEYS), who.tenantId, path, version, value);
  // { generator: null }: what Hush's PUT of a plain value changes besides the version.
  const { statements } = nextVersionStatements(db, existing, { version, sealed, now: Date.now(), actor: who.actor }, { generator: null });
  await recordChange(db, who, statements, audit, { kick: { env, ctx } });
  return Response.json({ path, version });
}

export default {
  ...worker,
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.startsWith(STORE) && !url.search) {
      const path = decodeURIComponent(url.pathname.slice(STORE.length));
      if (request.method === "GET") return storageOnlyRead(request, env, path);
      if (request.method === "PUT") return storageOnlyWrite(request, env, ctx, path);
    }
    return worker.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
