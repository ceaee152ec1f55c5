// The floor doing Hush's *exact* storage work for an audited read, built from Hush's own modules by
// bench/run.mjs (`wrangler deploy --dry-run` with this file as the entry; never deployed):
//
//   GET /api/v1/secrets/store/<path>   Hush's token-and-read statement on Hush's tables (the token,
//                                      the secret and its current version, in one D1 statement),
//                                      Hush's envelope decryption of that version, and Hush's append
//                                      of the read event to the tenant's AuditChain; JSON out
//
// and none of Hush's code around them: no hono, middleware, validation, principal, access
// decision, read rule or metadata view, and no check that the token may read the path (a bench
// token only). Everything else (token creation, seeding) is Hush itself, so the tables, the rows
// and the chain are exactly Hush's. The floor Worker's `/read-same` (bench/floor/worker.js)
// approximates this storage work with tables of its own (two rows, three columns); this one cannot
// drift from Hush's schema. What Hush costs over it is Hush's code (bench/README.md).
import { appendEvents, newEvent } from "../../src/audit/log";
import { tokenAndRead } from "../../src/auth/tokens";
import { sha256Hex } from "../../src/crypto/encoding";
import { loadKeyring } from "../../src/crypto/envelope";
import { database } from "../../src/db/client";
import worker from "../../src/index";
import { openVersion } from "../../src/secrets/store";

export { AuditChain, LeaseObject, ShareObject } from "../../src/index";

const STORE = "/api/v1/secrets/store/";

async function storageOnlyRead(request: Request, env: Env, path: string): Promise<Response> {
  const found = await tokenAndRead(database(env.DB), await sha256Hex((request.headers.get("authorization") ?? "").slice("Bearer ".length)), path);
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

export default {
  ...worker,
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname.startsWith(STORE) && !url.search)
      return storageOnlyRead(request, env, decodeURIComponent(url.pathname.slice(STORE.length)));
    return worker.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
