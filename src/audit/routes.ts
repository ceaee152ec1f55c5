import { createRoute, z } from "@hono/zod-openapi";
import { authorize } from "../auth/access";
import { auditChainCount, MAX_AUDIT_CHAINS } from "../db/directory";
import { errorResponses, featureApp } from "../http/openapi";
import { badRequest } from "../http/problem";
import { SecretPath } from "../secrets/schemas";
import type { StoredEvent, VerifyResult } from "./chain";
import { auditChain } from "./log";

const AuditEvent = z
  .object({
    seq: z.number().int().openapi({ description: "Gapless per chain; the position in the hash chain" }),
    chain: z.number().int().openapi({ description: "Which of the tenant's audit chains holds the event (0 unless it has several)" }),
    id: z.string(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    resource: z.string().nullable(),
    outcome: z.enum(["success", "denied", "failure"]),
    status: z.number().int(),
    request_id: z.string(),
    detail: z.record(z.string(), z.unknown()).nullable(),
    hash: z.string().nullable(),
  })
  .openapi("AuditEvent");

const AuditQuery = z.object({
  path: z.string().max(256).optional(),
  resource: z.string().max(300).optional(),
  action: z.string().max(64).optional(),
  actor: z.string().max(256).optional(),
  failed_only: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(1024).optional().openapi({ description: "next_cursor of the previous page (opaque)" }),
});

const listRoute = createRoute({
  method: "get",
  path: "/",
  summary: "Audit events of the token's tenant, newest first",
  tags: ["audit"],
  request: { query: AuditQuery },
  responses: {
    200: {
      description: "A page of events",
      content: { "application/json": { schema: z.object({ items: z.array(AuditEvent), next_cursor: z.string().nullable() }) } },
    },
    ...errorResponses(400, 401, 403),
  },
});

const verifyRoute = createRoute({
  method: "get",
  path: "/verify",
  summary: "Recompute the tenant's hash chain and name the first bad event",
  tags: ["audit"],
  responses: {
    200: {
      description: "Verification result",
      content: {
        "application/json": {
          schema: z.object({
            ok: z.boolean(),
            checked: z.number().int(),
            first_bad_seq: z.number().int().optional(),
            reason: z.enum(["hash-mismatch", "missing-event", "truncated"]).optional(),
            chain: z.number().int().optional().openapi({ description: "The chain of first_bad_seq (seqs are per chain)" }),
            chains: z
              .array(z.object({ chain: z.number().int(), ok: z.boolean(), checked: z.number().int() }))
              .optional()
              .openapi({ description: "With several chains: each one's result (checked is their sum)" }),
          }),
        },
      },
    },
    ...errorResponses(401, 403),
  },
});

type Row = StoredEvent & { chain: number };

/**
 * The listing cursor: each chain's position (list below seq `n`; 0 = that chain is done), as
 * base64url JSON behind a version tag. Opaque to clients and checked here: anything else is a 400.
 * It only ever selects among the calling tenant's own chains. A bare number is the cursor of a
 * single chain from before there were several (chain 0 below it).
 */
function readCursor(cursor: string | undefined, chains: number): (number | undefined)[] {
  const start = new Array<number | undefined>(chains).fill(undefined);
  if (cursor === undefined) return start;
  if (/^[1-9][0-9]{0,15}$/.test(cursor)) return ((start[0] = Number(cursor)), start);
  const invalid = () => badRequest("cursor is not a next_cursor this listing returned");
  if (!cursor.startsWith("c1.")) throw invalid();
  let positions: unknown;
  try {
    positions = JSON.parse(atob(cursor.slice(3).replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    throw invalid();
  }
  // A cursor made with fewer chains than the tenant has now: the new chains are listed from their newest.
  if (!Array.isArray(positions) || positions.length < 1 || positions.length > chains) throw invalid();
  if (!positions.every((p) => Number.isSafeInteger(p) && p >= 0)) throw invalid();
  positions.forEach((p, k) => (start[k] = p as number));
  return start;
}

const writeCursor = (positions: number[]) => `c1.${btoa(JSON.stringify(positions)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;

/** How many chains to list and verify: the directory's count, or more if chain 0 was told of more (a lowered D1 row hides nothing). */
async function chainsOf(env: Env, tenantId: string): Promise<number> {
  return auditChainCount(env, tenantId, true);
}

export const auditApp = featureApp()
  .openapi(listRoute, async (c) => {
    await authorize(c, "audit:read", "audit.list");
    const query = c.req.valid("query");
    const tenantId = c.get("principal").tenantId;
    // The tenant's chain objects hold the log: every event is numbered and hashed as it is written.
    const resource = query.path ? `secret:${SecretPath.safeParse(query.path).data ?? query.path}` : query.resource;
    if (query.path && query.resource && resource !== query.resource) return c.json({ items: [], next_cursor: null }, 200);
    const filter = { resource, action: query.action, actor: query.actor, failedOnly: query.failed_only === "true", limit: query.limit };
    const positions = readCursor(query.cursor, MAX_AUDIT_CHAINS);
    // Chain 0 is always asked (past its end if the cursor says it is done): it knows how many chains the tenant was given.
    const pageOf = (k: number) =>
      k > 0 && positions[k] === 0
        ? { items: [], next_cursor: null, chains: 1 }
        : auditChain(c.env, tenantId, k).list(tenantId, { ...filter, cursor: positions[k] === 0 ? 1 : positions[k] }, k);
    const directoryCount = await chainsOf(c.env, tenantId);
    const pages = await Promise.all(Array.from({ length: directoryCount }, (_, k) => pageOf(k)));
    const chains = Math.min(MAX_AUDIT_CHAINS, Math.max(directoryCount, pages[0]!.chains));
    if (positions.slice(chains).some((p) => p !== undefined)) throw badRequest("cursor is not a next_cursor this listing returned");
    if (chains > pages.length) pages.push(...(await Promise.all(Array.from({ length: chains - pages.length }, (_, i) => pageOf(directoryCount + i)))));
    // Merge: each chain's page is taken in its own order (seq, newest first), so what a page takes
    // of a chain is a prefix and that chain's position is the last seq taken; among the chains'
    // next events, the newest by time, then chain, then seq goes first.
    const taken = new Array<number>(chains).fill(0);
    const items: Row[] = [];
    while (items.length < query.limit) {
      let best = -1;
      for (let k = 0; k < chains; k++) {
        const row = pages[k]!.items[taken[k]!];
        if (!row) continue;
        const top = best < 0 ? undefined : pages[best]!.items[taken[best]!]!;
        if (!top || row.at > top.at || (row.at === top.at && k > best)) best = k;
      }
      if (best < 0) break;
      items.push({ ...pages[best]!.items[taken[best]!]!, chain: best });
      taken[best]!++;
    }
    const next = pages.map((page, k) => positions[k] ?? (page.items[0] ? page.items[0].seq + 1 : 0));
    for (const row of items) next[row.chain] = row.seq;
    let more = false;
    pages.forEach((page, k) => {
      if (positions[k] !== 0 && (page.items.length > taken[k]! || page.next_cursor !== null)) more = true;
      else next[k] = 0;
    });
    return c.json(
      {
        items: items.map((row) => ({
          seq: row.seq,
          chain: row.chain,
          id: row.id,
          at: new Date(row.at).toISOString(),
          actor: row.actor,
          action: row.action,
          resource: row.resource,
          outcome: row.outcome as "success" | "denied" | "failure",
          status: row.status,
          request_id: row.request_id,
          detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
          hash: row.hash,
        })),
        next_cursor: more ? writeCursor(next) : null,
      },
      200,
    );
  })
  .openapi(verifyRoute, async (c) => {
    await authorize(c, "audit:read", "audit.verify");
    const tenantId = c.get("principal").tenantId;
    // Every chain, each bounded by the head it read; chain 0 first, since it says how many chains there were.
    const first = await auditChain(c.env, tenantId, 0).verify(tenantId, 0);
    const count = Math.min(MAX_AUDIT_CHAINS, Math.max(await chainsOf(c.env, tenantId), first.chains));
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => auditChain(c.env, tenantId, i + 1).verify(tenantId, i + 1)));
    const results: VerifyResult[] = [first, ...rest].map(({ chains: _chains, ...r }) => r);
    const checked = results.reduce((n, r) => n + r.checked, 0);
    const bad = results.findIndex((r) => !r.ok);
    const perChain = count > 1 ? { chains: results.map((r, chain) => ({ chain, ok: r.ok, checked: r.checked })) } : {};
    if (bad < 0) return c.json({ ok: true, checked, ...perChain }, 200);
    const { first_bad_seq, reason } = results[bad]!;
    return c.json({ ok: false, checked, first_bad_seq, reason, chain: bad, ...perChain }, 200);
  });
