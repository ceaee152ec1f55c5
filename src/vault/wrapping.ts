import { Hono } from "hono";
import { authorize } from "../auth/access";
import { actorOf, type AuditActor, type AuditInput } from "../audit/log";
import { randomString, sha256Hex, utf8, wipe } from "../crypto/encoding";
import { loadKeyring, pack, seal } from "../crypto/envelope";
import type { BatchItem } from "../db/client";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { problemOf } from "../http/errors";
import { Problem } from "../http/problem";
import { SHARE_TOKEN } from "../shares/schemas";
import { openSealed, recordRevealOrGiveBack, revealOrThrow, spendOrThrow } from "../shares/routes";
import { anonymousActor, createShare, newShareId, sharePlace, shareStub } from "../shares/service";
import { envelope, jsonBody, vaultError, type VaultContext } from "./common";
import { parseDuration, rfc3339 } from "./kv";

/**
 * Vault response wrapping on the one-time share machinery: a wrapped response is sealed into
 * its own ShareObject (server-sealed mode, one view) and the wrapping token is that share's
 * bearer token (`hshr_<id>.<secret>`, only its hash is kept). Unwrapping is a redemption:
 * checked, opened and spent inside the object, so it succeeds exactly once under any
 * concurrency, and it is audited in the creator's tenant.
 */

export const MIN_WRAP_TTL = 1;
export const MAX_WRAP_TTL = 30 * 24 * 3600;
const DEFAULT_WRAP_TTL = 300;

/** What a wrapping token's share holds, sealed. */
interface Wrapped {
  v: 1;
  creation_path: string;
  creation_time: number;
  ttl: number;
  /** The response that was wrapped, as the original route would have answered it. */
  response: Record<string, unknown>;
}

/** The asked wrap TTL (`X-Vault-Wrap-TTL`), in seconds, or undefined when the header is absent. */
export function wrapTtl(c: VaultContext): number | undefined {
  const header = c.req.header("x-vault-wrap-ttl");
  if (header === undefined || header === "") return undefined;
  const ttl = parseDuration(header);
  if (ttl === undefined || ttl < MIN_WRAP_TTL || ttl > MAX_WRAP_TTL) {
    throw vaultError(400, `invalid wrap TTL "${header.slice(0, 32)}": a duration between ${MIN_WRAP_TTL}s and ${MAX_WRAP_TTL / 86400}d`);
  }
  return ttl;
}

const creationPath = (c: VaultContext) => c.req.path.replace(/^\/v1\//, "");

/**
 * Answers a Vault route: its change (statements and audit events) is committed with the
 * response, or, when the caller asked for wrapping, the response is sealed into a new
 * ShareObject and only `wrap_info` is returned; the change, the share's index row and every
 * audit event then land in one batch. Creating a wrapping token is creating a share, so it
 * needs what a native share needs (`secrets:write`, action share.create).
 */
export async function respond(
  c: VaultContext,
  body: Record<string, unknown>,
  change: { statements?: BatchItem[]; events?: AuditInput[]; oneTime?: readonly string[]; status?: 200 | 204; actor?: AuditActor } = {},
  ttl: number | undefined = wrapTtl(c),
): Promise<Response> {
  const statements = change.statements ?? [];
  const events = change.events ?? [];
  if (ttl === undefined) {
    const status = change.status ?? 200;
    if (statements.length || events.length) {
      await commit(c, statements, { audit: events, response: { status, body: status === 204 ? "" : body, oneTime: change.oneTime }, actor: change.actor });
    }
    return status === 204 ? c.body(null, 204) : c.json(body, status);
  }
  await authorize(c, "secrets:write", "share.create");
  const { request_id: _, ...response } = body;
  return c.json(await wrapResponse(c, { v: 1, creation_path: creationPath(c), creation_time: Date.now(), ttl, response }, actorOf(c), statements, events));
}

/** Seals `wrapped` into a new single-view ShareObject and answers Vault's wrap_info envelope. */
async function wrapResponse(c: VaultContext, wrapped: Wrapped, who: AuditActor, statements: BatchItem[] = [], events: AuditInput[] = []) {
  const keyring = loadKeyring(c.env.MASTER_KEYS);
  const id = newShareId();
  const token = `hshr_${id}.${randomString(32)}`;
  const plain = utf8(JSON.stringify(wrapped));
  const sealed = await seal(keyring, who.tenantId, sharePlace(id), plain);
  wipe(plain);
  const created = await createShare(
    c,
    {
      id,
      mode: "sealed",
      payload: pack(sealed),
      keyId: sealed.keyId,
      tokenHash: await sha256Hex(token),
      options: { expires_in_seconds: wrapped.ttl, max_views: 1 },
      who,
      statements,
      events: [...events, { action: "vault.wrap", resource: `share:${id}`, detail: { creation_path: wrapped.creation_path, ttl: wrapped.ttl } }],
    },
    (status) => ({
      status: 200,
      body: envelope(c, null, {
        wrap_info: {
          token,
          accessor: id,
          ttl: wrapped.ttl,
          creation_time: rfc3339(status.createdAt),
          creation_path: wrapped.creation_path,
          wrapped_accessor: "",
        },
      }),
      oneTime: ["wrap_info.token"], // a replay says the token was issued, never shows it again
    }),
  );
  return created.body;
}

const INVALID = "wrapping token is not valid or does not exist";

/** The wrapping token of an unwrap, lookup or rewrap: in the body (`token`) or in X-Vault-Token. */
async function tokenOf(c: VaultContext): Promise<{ id: string; tokenHash: string }> {
  const body = c.req.method === "GET" ? {} : await jsonBody(c);
  const raw = typeof body.token === "string" && body.token ? body.token : (c.req.query("token") ?? c.req.header("x-vault-token") ?? "");
  const match = SHARE_TOKEN.exec(raw);
  if (!match) throw vaultError(400, INVALID);
  return { id: match[1]!, tokenHash: await sha256Hex(raw) };
}

/**
 * A refused redemption (unknown, used up, expired, wrong token) is Vault's 400 with Vault's body;
 * 429 stays 429. A token whose share has ended (the ShareObject says so to anyone naming the id,
 * as the native share routes' 410 do) also gets `X-Hush-Wrapping-State: viewed | expired |
 * revoked | destroyed`, which Vault clients ignore and the unwrap page turns into a clear message.
 */
async function asVault<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const problem = problemOf(err);
    if (problem && problem.status === 429) throw err;
    if (problem && problem.status === 410 && typeof problem.extras.state === "string") {
      throw new Problem(400, "vault", INVALID, { errors: [INVALID] }, { "X-Hush-Wrapping-State": problem.extras.state });
    }
    if (problem && problem.status < 500) throw vaultError(400, INVALID);
    throw err;
  }
}

/** Checks the token in its ShareObject and opens the payload; spends nothing yet. */
async function check(c: VaultContext, action: string) {
  const { id, tokenHash } = await tokenOf(c);
  loadKeyring(c.env.MASTER_KEYS); // fail closed before anything is spent
  return asVault(async () => {
    const revealed = await revealOrThrow(c, id, action, { tokenHash });
    const wrapped = JSON.parse(await openSealed(c, revealed.status, revealed.payload)) as Wrapped;
    return { id, ...revealed, wrapped };
  });
}

export const wrappingApp = new Hono<AppEnv>();

// Wraps the request's own data (any valid token; creating the share needs secrets:write).
wrappingApp.on(["POST", "PUT"], "/sys/wrapping/wrap", async (c) => {
  const data = await jsonBody(c);
  return respond(c, envelope(c, data), {}, wrapTtl(c) ?? DEFAULT_WRAP_TTL);
});

// Public: the wrapping token is the credential. Exactly once: the ShareObject spends the one view.
wrappingApp.on(["POST", "PUT"], "/sys/wrapping/unwrap", async (c) => {
  const { id, status, payload, ticket, wrapped } = await check(c, "vault.unwrap");
  const spent = await asVault(() => spendOrThrow(c, id, "vault.unwrap", ticket));
  await recordRevealOrGiveBack(c, spent.status, payload, "vault.unwrap");
  void status;
  return c.json({ ...wrapped.response, request_id: c.get("requestId") });
});

// Public, and never consumes: what the token wraps is not shown, only when and where it was made.
const lookup = async (c: VaultContext) => {
  const { status, wrapped } = await check(c, "vault.wrap_lookup");
  return c.json(
    envelope(c, {
      creation_path: wrapped.creation_path,
      creation_time: rfc3339(status.createdAt),
      creation_ttl: wrapped.ttl,
    }),
  );
};
wrappingApp.on(["POST", "PUT"], "/sys/wrapping/lookup", lookup);
wrappingApp.get("/sys/wrapping/lookup", lookup);

// Public: the old token is spent and a new one with the same TTL wraps the same response.
// The new share is made first; if another request spent the old token meanwhile, it is revoked.
wrappingApp.on(["POST", "PUT"], "/sys/wrapping/rewrap", async (c) => {
  const { id, status, payload, ticket, wrapped } = await check(c, "vault.rewrap");
  const who = anonymousActor(c, status.tenantId);
  const fresh = { ...wrapped, creation_time: Date.now() };
  const answer = await wrapResponse(c, fresh, who);
  const newId = (answer.wrap_info as { accessor: string }).accessor;
  try {
    const spent = await asVault(() => spendOrThrow(c, id, "vault.rewrap", ticket));
    await recordRevealOrGiveBack(c, spent.status, payload, "vault.rewrap");
  } catch (err) {
    await shareStub(c.env, newId).revoke();
    throw err;
  }
  return c.json(answer);
});
