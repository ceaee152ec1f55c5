import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, lt, or } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { authorize } from "../auth/access";
import { releaseValue } from "../secrets/read-rule";
import { authenticate, unauthorized } from "../auth/tokens";
import { actorOf } from "../audit/log";
import { fromBase64, fromUtf8, randomString, sha256Hex, toBase64Url, utf8, wipe } from "../crypto/encoding";
import { IntegrityError, loadKeyring, MasterKeyRemovedError, open, pack, seal, unpack } from "../crypto/envelope";
import { shareIndex } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { body, errorResponses, featureApp, json } from "../http/openapi";
import { badRequest, notFound, Problem } from "../http/problem";
import type { RevealCredential, RevealResult, ShareStatus } from "./model";
import {
  CreatedSealedShare,
  CreatedShare,
  CreateE2eShareBody,
  CreateSealedShareBody,
  E2E_OVERHEAD_BYTES,
  MAX_ANONYMOUS_SHARE_BYTES,
  MAX_SHARE_BYTES,
  NonceResponse,
  RedeemBody,
  RedeemResponse,
  RevealBody,
  RevealResponse,
  SHARE_TOKEN,
  ShareIdParams,
  ShareMetadata,
} from "./schemas";
import {
  ANONYMOUS_TENANT,
  anonymousActor,
  createShare,
  goneProblem,
  isoTime,
  newShareId,
  recordShareEvent,
  revealProblem,
  shareResource,
  sharePlace,
  shareStub,
  shareUrl,
  shareView,
  syncIndex,
  tokenRequired,
} from "./service";

/** The share a well-formed token names, and the hash the object compares. */
export async function parseShareToken(token: string, id?: string): Promise<{ id: string; tokenHash: string }> {
  const match = SHARE_TOKEN.exec(token);
  if (!match || (id !== undefined && match[1] !== id)) throw badRequest("This is not a share token for this share");
  return { id: match[1]!, tokenHash: await sha256Hex(token) };
}

/**
 * Checks a reveal in the object: a refusal is audited in the creator's tenant (when the share
 * exists) and becomes its problem; a success returns the payload, the status and the ticket
 * that `spendOrThrow` needs. No view is spent here.
 */
export async function revealOrThrow(c: Context<AppEnv>, id: string, action: string, credential: RevealCredential, passphrase?: string) {
  const result = await shareStub(c.env, id).reveal(credential, passphrase);
  if (result.ok) return result;
  if (result.reason !== "gone") await throttleFailedRedeem(c);
  return refused(c, action, result);
}

/**
 * Spends the view of a checked reveal, once what it returns is in hand (the payload opened).
 * A refusal here (a concurrent reveal took the last view or the nonce) is audited like any.
 */
export async function spendOrThrow(c: Context<AppEnv>, id: string, action: string, ticket: string) {
  const result = await shareStub(c.env, id).spendView(ticket);
  if (result.ok) return result;
  return refused(c, action, result);
}

async function refused(c: Context<AppEnv>, action: string, result: Extract<RevealResult, { ok: false }>): Promise<never> {
  if (result.status) {
    const problem = revealProblem(result.reason, result.status, result.attemptsLeft);
    await recordShareEvent(c, result.status, {
      action,
      outcome: result.reason === "gone" ? "failure" : "denied",
      status: problem.status,
      detail: { reason: result.reason, ...(result.attemptsLeft === undefined ? {} : { attempts_left: result.attemptsLeft }) },
    });
    throw problem;
  }
  throw revealProblem(result.reason, null);
}

/**
 * Counts a refused redemption (unknown share, bad token or nonce, wrong passphrase)
 * against the client's IP; past the limit the answer is 429. An already-viewed share
 * (410) does not count: a crowd opening a real link is not guessing.
 */
async function throttleFailedRedeem(c: Context<AppEnv>): Promise<void> {
  const { success } = await c.env.SHARE_REDEEM_LIMITER.limit({ key: c.req.header("cf-connecting-ip") ?? "unknown" });
  if (!success) {
    throw new Problem(
      429,
      "rate-limited",
      "Too many failed redemptions from this address; wait a minute and try again",
      {},
      {
        "Retry-After": "60",
      },
    );
  }
}

/**
 * The ShareObject spends the view before the Worker can audit it; if the audit event cannot be
 * written, the value is not sent (fail closed) and the view is given back to the share.
 */
export async function recordRevealOrGiveBack(c: Context<AppEnv>, status: ShareStatus, payload: Uint8Array, action: string) {
  try {
    await recordShareEvent(c, status, { action, detail: { views_left: status.viewsLeft } });
  } catch (err) {
    await shareStub(c.env, status.id).restoreView(payload);
    throw err;
  }
}

/**
 * Opens a server-sealed payload before its view is spent; a failure (tampering, or a master key
 * that MASTER_KEYS no longer holds) is audited as an integrity failure and spends nothing.
 */
export async function openSealed(c: Context<AppEnv>, status: ShareStatus, payload: Uint8Array): Promise<string> {
  const keyring = loadKeyring(c.env.MASTER_KEYS);
  try {
    const plain = await open(keyring, status.tenantId, sharePlace(status.id), unpack(payload));
    const value = fromUtf8(plain);
    wipe(plain);
    return value;
  } catch (err) {
    const keyRemoved = err instanceof MasterKeyRemovedError;
    if (err instanceof IntegrityError || keyRemoved) {
      await recordShareEvent(c, status, {
        action: "integrity_failure",
        outcome: "failure",
        status: 500,
        detail: { reason: keyRemoved ? "master-key-removed" : "integrity", views_spent: 0 },
      });
    }
    throw err;
  }
}

// --- server-sealed mode (/api/v1/secrets/shares): for scripts, redeemed with a bearer token ---

const createSealedRoute = createRoute({
  method: "post",
  path: "/",
  summary: "Share a value once: the server seals it and returns a bearer token (shown once)",
  tags: ["shares"],
  request: body(CreateSealedShareBody),
  responses: { 201: { description: "Created", ...json(CreatedSealedShare) }, ...errorResponses(400, 401, 403, 413, 415, 503) },
});

const redeemRoute = createRoute({
  method: "post",
  path: "/redeem",
  summary: "Redeem a server-sealed share with its token (no API token needed); 410 once used up",
  tags: ["shares"],
  request: body(RedeemBody),
  responses: { 200: { description: "The value", ...json(RedeemResponse) }, ...errorResponses(400, 403, 404, 410, 415, 503) },
});

const readShareRoute = createRoute({
  method: "get",
  path: "/{id}",
  summary: "Metadata and state of a share this tenant created (never its value)",
  tags: ["shares"],
  request: { params: ShareIdParams },
  responses: { 200: { description: "Metadata", ...json(ShareMetadata) }, ...errorResponses(400, 401, 403, 404) },
});

const listSharesRoute = createRoute({
  method: "get",
  path: "/",
  summary: "Shares the caller's identity created (root: every share of the tenant), newest first: metadata and state, never a value or token",
  tags: ["shares"],
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z
        .string()
        .regex(/^\d{1,15}\.[A-Za-z0-9]{22}$/, "Not a cursor this API returned")
        .optional(),
    }),
  },
  responses: {
    200: { description: "A page of shares", ...json(z.object({ items: z.array(ShareMetadata), next_cursor: z.string().nullable() })) },
    ...errorResponses(400, 401, 403),
  },
});

const revokeShareRoute = createRoute({
  method: "delete",
  path: "/{id}",
  summary: "Revoke a share before it is read: its payload is deleted at once",
  tags: ["shares"],
  request: { params: ShareIdParams },
  responses: { 200: { description: "Revoked", ...json(ShareMetadata) }, ...errorResponses(400, 401, 403, 404, 409) },
});

async function findOwnShare(c: Context<AppEnv>, id: string) {
  const row = await c
    .get("db")
    .select()
    .from(shareIndex)
    .where(and(eq(shareIndex.id, id), eq(shareIndex.tenantId, c.get("principal").tenantId)))
    .get();
  if (!row) throw notFound("share");
  return { row };
}

/** `/redeem` is public, so the routes that need a token check that one was given. */
const requirePrincipal: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get("principal")) throw unauthorized('Send an API token in the header "Authorization: Bearer <token>"');
  await next();
};

export const sealedSharesApp = featureApp()
  .openapi({ ...createSealedRoute, middleware: [requirePrincipal] }, async (c) => {
    await authorize(c, "secrets:write", "share.create");
    const input = c.req.valid("json");
    // A stored secret leaves by the one read rule (access, allowed_services, expiry, state) and
    // its `share` approval, consumed in the share's own batch; the read is audited there too.
    const stored = input.path === undefined ? undefined : await releaseValue(c, input.path, "share");
    const plain = utf8(stored?.value ?? input.value!);
    if (plain.length > MAX_SHARE_BYTES) {
      throw new Problem(413, "value-too-large", `Shared values are limited to ${MAX_SHARE_BYTES} bytes of UTF-8`);
    }
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const who = actorOf(c);
    const id = newShareId();
    const events = stored ? [{ action: "secret.share", resource: `secret:${input.path}`, detail: { version: stored.version.version, share: id } }] : [];
    const token = `hshr_${id}.${randomString(32)}`;
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
        options: input,
        who,
        statements: stored?.approval,
        events,
      },
      (status) => ({
        status: 201,
        body: { id, token, url: `${shareUrl(c, id)}#${token}`, expires_at: isoTime(status.expiresAt)! },
        oneTime: ["token", "url"], // the url carries the token in its fragment
      }),
    );
    return c.json(created.body as z.infer<typeof CreatedSealedShare>, 201);
  })
  .openapi(redeemRoute, async (c) => {
    const input = c.req.valid("json");
    const { id, tokenHash } = await parseShareToken(input.token);
    loadKeyring(c.env.MASTER_KEYS); // fail closed before a view is spent
    const { payload, status, ticket } = await revealOrThrow(c, id, "share.redeem", { tokenHash }, input.passphrase);
    const value = await openSealed(c, status, payload); // opened first: a failure spends no view
    const spent = await spendOrThrow(c, id, "share.redeem", ticket);
    await recordRevealOrGiveBack(c, spent.status, payload, "share.redeem");
    return c.json({ value, views_left: spent.status.viewsLeft }, 200);
  })
  .openapi({ ...listSharesRoute, middleware: [requirePrincipal] }, async (c) => {
    await authorize(c, "secrets:read", "share.list");
    const principal = c.get("principal");
    const { limit, cursor } = c.req.valid("query");
    const [at, id] = cursor ? [Number(cursor.split(".")[0]), cursor.split(".")[1]!] : [];
    // Only the shares of the caller's own identity (its root-issued subject and every token under
    // it, such as its console session): a share's id lets anyone spend its views, so ids of other
    // people's shares are not handed out. Root, and root's own credentials (its console session), see them all.
    const owner = principal.entity.startsWith("subject:") ? principal.entity.slice("subject:".length) : principal.subject;
    const rows = await c
      .get("db")
      .select()
      .from(shareIndex)
      .where(
        and(
          eq(shareIndex.tenantId, principal.tenantId),
          // "/" sorts just before "0": [owner/, owner0) is everything under owner.
          principal.isRoot || principal.entity === "root"
            ? undefined
            : or(eq(shareIndex.createdBy, owner), and(gte(shareIndex.createdBy, `${owner}/`), lt(shareIndex.createdBy, `${owner}0`))),
          at === undefined ? undefined : or(lt(shareIndex.createdAt, at), and(eq(shareIndex.createdAt, at), lt(shareIndex.id, id!))),
        ),
      )
      .orderBy(desc(shareIndex.createdAt), desc(shareIndex.id))
      .limit(limit + 1)
      .all();
    const page = rows.slice(0, limit);
    const now = Date.now();
    const last = page[page.length - 1];
    return c.json(
      {
        // The index row's state; an active share past its expiry reads expired (its alarm deletes the payload).
        items: page.map((row) => ({ ...shareView(row, null), ...(row.state === "active" && row.expiresAt <= now && { state: "expired" as const }) })),
        next_cursor: rows.length > limit && last ? `${last.createdAt}.${last.id}` : null,
      },
      200,
    );
  })
  .openapi({ ...readShareRoute, middleware: [requirePrincipal] }, async (c) => {
    const { id } = c.req.valid("param");
    await authorize(c, "secrets:read", "share.read");
    const { row } = await findOwnShare(c, id);
    return c.json(shareView(row, await shareStub(c.env, id).status()), 200);
  })
  .openapi({ ...revokeShareRoute, middleware: [requirePrincipal] }, async (c) => {
    const { id } = c.req.valid("param");
    await authorize(c, "secrets:write", "share.revoke");
    const { row } = await findOwnShare(c, id);
    const result = await shareStub(c.env, id).revoke();
    if (!result.ok) {
      if (result.reason === "not-found") throw notFound("share");
      const gone = goneProblem(result.status);
      throw new Problem(409, "share-not-active", `Only an active share can be revoked. ${gone.detail}`, gone.extras);
    }
    const view = shareView(row, result.status);
    await commit(c, [syncIndex(c.get("db"), result.status)], {
      audit: { action: "share.revoke", resource: shareResource(id) },
      response: { status: 200, body: view },
    });
    return c.json(view, 200);
  });

// --- end-to-end mode (/api/v1/shares): the client encrypts; the pinned contract in docs/shares.md ---

const createE2eRoute = createRoute({
  method: "post",
  path: "/",
  summary: "Store a client-encrypted share (public unless the operator requires a token; rate-limited per IP)",
  tags: ["shares"],
  request: body(CreateE2eShareBody),
  responses: { 201: { description: "Created", ...json(CreatedShare) }, ...errorResponses(400, 401, 403, 413, 415, 429) },
});

const nonceRoute = createRoute({
  method: "post",
  path: "/{id}/nonce",
  summary: "A short-lived single-use nonce for the reveal; never consumes the share",
  tags: ["shares"],
  request: { params: ShareIdParams },
  responses: { 200: { description: "A nonce and the share's state", ...json(NonceResponse) }, ...errorResponses(400, 404, 410) },
});

const revealRoute = createRoute({
  method: "post",
  path: "/{id}/reveal",
  summary: "Consume one view: returns the ciphertext (or, for a server-sealed share with its token, the value)",
  tags: ["shares"],
  request: { params: ShareIdParams, ...body(RevealBody) },
  responses: { 200: { description: "The payload", ...json(RevealResponse) }, ...errorResponses(400, 403, 404, 410, 415, 503) },
});

/**
 * Who may create: a request with a bearer token is authenticated and needs
 * secrets:write; without one it is anonymous, refused when the operator set
 * SHARES_REQUIRE_TOKEN, and otherwise rate-limited per client IP.
 */
const creatorGate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.header("authorization") !== undefined) {
    return authenticate(c, async () => {
      await authorize(c, "secrets:write", "share.create");
      await next();
    });
  }
  if (tokenRequired(c.env)) {
    throw unauthorized('This server requires an API token to create shares: send "Authorization: Bearer <token>"');
  }
  const ip = c.req.header("cf-connecting-ip") ?? "unknown";
  const { success } = await c.env.SHARE_CREATE_LIMITER.limit({ key: ip });
  if (!success) {
    throw new Problem(
      429,
      "rate-limited",
      "Too many shares created from this address; wait a minute and try again",
      {},
      {
        "Retry-After": "60",
      },
    );
  }
  await next();
};

export const e2eSharesApp = featureApp()
  .openapi({ ...createE2eRoute, middleware: [creatorGate] }, async (c) => {
    const input = c.req.valid("json");
    let payload: Uint8Array;
    try {
      payload = fromBase64(input.ciphertext);
    } catch {
      throw badRequest("ciphertext is not valid base64url", { errors: [{ field: "ciphertext", code: "invalid_format" }] });
    }
    const principal = c.get("principal");
    const limit = principal ? MAX_SHARE_BYTES : MAX_ANONYMOUS_SHARE_BYTES;
    if (payload.length <= E2E_OVERHEAD_BYTES) throw badRequest("ciphertext is shorter than an IV, a tag and one byte");
    if (payload.length > limit + E2E_OVERHEAD_BYTES) {
      throw new Problem(413, "value-too-large", `Shares are limited to ${limit} bytes${principal ? "" : " without an API token"}`);
    }
    const who = principal ? actorOf(c) : anonymousActor(c, ANONYMOUS_TENANT);
    const id = newShareId();
    const created = await createShare(c, { id, mode: "e2e", payload, keyId: null, tokenHash: null, options: input, who }, (status) => ({
      status: 201,
      body: { id, url: shareUrl(c, id), expires_at: isoTime(status.expiresAt)! },
    }));
    return c.json(created.body as z.infer<typeof CreatedShare>, 201);
  })
  .openapi(nonceRoute, async (c) => {
    const { id } = c.req.valid("param");
    const result = await shareStub(c.env, id).issueNonce();
    if (!result.ok) throw result.reason === "not-found" ? notFound("share") : goneProblem(result.status);
    const { status } = result;
    return c.json(
      {
        nonce: result.nonce,
        nonce_expires_at: isoTime(result.expiresAt)!,
        mode: status.mode,
        passphrase_required: status.passphraseRequired,
        expires_at: isoTime(status.expiresAt)!,
        views_left: status.viewsLeft,
      },
      200,
    );
  })
  .openapi(revealRoute, async (c) => {
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const credential: RevealCredential = { nonce: input.nonce };
    if (input.token !== undefined) {
      credential.tokenHash = (await parseShareToken(input.token, id)).tokenHash;
      loadKeyring(c.env.MASTER_KEYS); // fail closed before a view is spent
    }
    const { payload, status, ticket } = await revealOrThrow(c, id, "share.reveal", credential, input.passphrase);
    // A sealed payload is opened before its view is spent: a failure spends nothing.
    const revealed = status.mode === "e2e" ? { ciphertext: toBase64Url(payload) } : { value: await openSealed(c, status, payload) };
    const spent = await spendOrThrow(c, id, "share.reveal", ticket);
    await recordRevealOrGiveBack(c, spent.status, payload, "share.reveal");
    return c.json({ ...revealed, views_left: spent.status.viewsLeft }, 200);
  });
