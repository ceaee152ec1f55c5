import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gte, isNull, lt } from "drizzle-orm";
import { authorize } from "../auth/access";
import { secrets, secretVersions } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { errorResponses, featureApp, json } from "../http/openapi";
import { Problem } from "../http/problem";
import type { Context } from "hono";
import { listable, readRefusal } from "./read-rule";
import { Environment } from "./schemas";
import type { SecretRow, VersionRow } from "./store";

/** More than this on one side is a sign the prefixes are too wide: the answer is 422, never a partial diff. */
export const MAX_COMPARE_SIDE = 2000;

const PREFIX = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;
const Side = z
  .string()
  .min(1)
  .max(256)
  .refine(
    (s) => (s.startsWith("env:") ? Environment.safeParse(s.slice(4)).success : PREFIX.test(s.replace(/\/$/, "")) && !/(?:^|\/)\.\.?(?:\/|$)/.test(s)),
    "A prefix like app/staging, or env:<environment>",
  )
  .openapi({ example: "app/staging" });

const Status = z.enum(["only-left", "only-right", "same", "differs", "withheld", "unknown"]);
const Entry = z.object({ path: z.string(), version: z.number().int() }).nullable();
const CompareResult = z.object({
  left: z.string(),
  right: z.string(),
  items: z.array(z.object({ key: z.string(), left: Entry, right: Entry, status: Status })),
  counts: z.record(Status, z.number().int()),
});

const compareRoute = createRoute({
  method: "get",
  path: "/compare",
  summary:
    "Compare two prefixes (or env:<name>) key by key by keyed fingerprint, never revealing values: only-left, only-right, same, differs; withheld where the read rule refuses either side",
  tags: ["secrets"],
  request: { query: z.object({ left: Side, right: Side }) },
  responses: { 200: { description: "The comparison (no values)", ...json(CompareResult) }, ...errorResponses(400, 401, 403, 422) },
});

type Row = { secret: SecretRow; version: Pick<VersionRow, "version" | "state" | "deletedAt" | "readableUntil" | "valueMac" | "valueMacKeyId"> | null };

/**
 * The key a path has on its side: the rest after the prefix, or for an environment the path
 * without a segment named like the environment (`app/staging/db` in env:staging is `app/db`).
 */
export function keyOf(side: string, path: string): string {
  if (side.startsWith("env:")) {
    const parts = path.split("/");
    const at = parts.indexOf(side.slice(4));
    return at >= 0 && parts.length > 1 ? [...parts.slice(0, at), ...parts.slice(at + 1)].join("/") : path;
  }
  return path.slice(side.replace(/\/$/, "").length + 1);
}

async function rowsOf(c: Context<AppEnv>, side: string): Promise<Row[]> {
  const tenantId = c.get("principal").tenantId;
  let where;
  if (side.startsWith("env:")) where = eq(secrets.environment, side.slice(4));
  else {
    const prefix = `${side.replace(/\/$/, "")}/`;
    where = and(gte(secrets.path, prefix), lt(secrets.path, `${prefix}\x7f`));
  }
  const rows = await c
    .get("db")
    .select({
      secret: secrets,
      // Never the ciphertext: the comparison reads the stored keyed MACs only.
      version: {
        version: secretVersions.version,
        state: secretVersions.state,
        deletedAt: secretVersions.deletedAt,
        readableUntil: secretVersions.readableUntil,
        valueMac: secretVersions.valueMac,
        valueMacKeyId: secretVersions.valueMacKeyId,
      },
    })
    .from(secrets)
    .leftJoin(
      secretVersions,
      and(eq(secretVersions.tenantId, secrets.tenantId), eq(secretVersions.path, secrets.path), eq(secretVersions.version, secrets.currentVersion)),
    )
    .where(and(eq(secrets.tenantId, tenantId), isNull(secrets.deletedAt), where))
    .orderBy(asc(secrets.path))
    .limit(MAX_COMPARE_SIDE + 1)
    .all();
  if (rows.length > MAX_COMPARE_SIDE) {
    throw new Problem(422, "compare-too-large", `${side} holds more than ${MAX_COMPARE_SIDE} secrets; compare narrower prefixes`, {
      side,
      max: MAX_COMPARE_SIDE,
    });
  }
  return rows as Row[];
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * GET /secrets/compare (docs/console.md#compare). Equal values in one tenant have equal scan MACs
 * (HMAC under the tenant's scan key, whatever the path: src/scanning/mac.ts), so "same" and
 * "differs" come from stored MACs: nothing is decrypted. A path shows only if the token may list
 * it; whether two values are equal is said only if the read rule would release both (purpose
 * `compare`), otherwise the row is `withheld`.
 */
export const compareApp = featureApp().openapi(compareRoute, async (c) => {
  const { left, right } = c.req.valid("query");
  await authorize(c, "secrets:read", "secret.list");
  const principal = c.get("principal");
  const now = Date.now();
  const side = async (spec: string) => {
    const map = new Map<string, Row>();
    for (const row of await rowsOf(c, spec)) {
      if (listable(principal, row.secret.path)) map.set(keyOf(spec, row.secret.path), row);
    }
    return map;
  };
  const [l, r] = await Promise.all([side(left), side(right)]);
  const released = (row: Row) =>
    readRefusal(principal, "compare", row.secret.path, { secret: row.secret, version: row.version as VersionRow | null }, {}, now) === undefined;
  const counts = { "only-left": 0, "only-right": 0, same: 0, differs: 0, withheld: 0, unknown: 0 };
  const items = [...new Set([...l.keys(), ...r.keys()])].sort().map((key) => {
    const a = l.get(key);
    const b = r.get(key);
    let status: z.infer<typeof Status>;
    if (!a) status = "only-right";
    else if (!b) status = "only-left";
    else if (!released(a) || !released(b)) status = "withheld";
    else {
      const [x, y] = [a.version!, b.version!];
      // A MAC under another master key (a rotation before its backfill) cannot be compared.
      status = x.valueMac && y.valueMac && x.valueMacKeyId === y.valueMacKeyId ? (equalBytes(x.valueMac, y.valueMac) ? "same" : "differs") : "unknown";
    }
    counts[status]++;
    const entry = (row: Row | undefined) => (row ? { path: row.secret.path, version: row.secret.currentVersion } : null);
    return { key, left: entry(a), right: entry(b), status };
  });
  await commit(c, [], { audit: { action: "secret.compare", resource: null, detail: { left, right, ...counts } } });
  return c.json({ left, right, items, counts }, 200);
});
