import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, asc, eq, sql } from "drizzle-orm";
import { allows, authorize, onSecret } from "../auth/access";
import { audit } from "../audit/log";
import { fromBase64, toHex } from "../crypto/encoding";
import { loadKeyring } from "../crypto/envelope";
import { scanFindings, scanRuns, secrets, secretVersions } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { body, errorResponses, featureApp, iso, json } from "../http/openapi";
import { notFound, Problem } from "../http/problem";
import { readRefusal } from "../secrets/read-rule";
import { macsOfDigest } from "./mac";

/** The rule a client names for a probe: a candidate that is a finding only if it is a stored value the scanner may read. */
export const STORED_VALUE_RULE = "hush/stored-value";
export const MAX_FINDINGS = 2000;
export const MAX_CANDIDATES = 2000;

const Redacted = z
  .string()
  .regex(/^[\x21-\x29\x2b-\x7e]{0,4}\*{8}$/, "A redacted preview: at most 4 leading characters of the match, then ********")
  .openapi({ example: "AKIA********" });
const Digest = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, "base64 of a 32-byte SHA-256 digest")
  .openapi({ description: 'SHA-256("hush-scan-v1:" || candidate), base64. Never the candidate. Used once and discarded.' });

const FindingIn = z.object({
  rule: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9@/._:-]+$/),
  file: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[^\x00-\x1f]+$/, "No control characters"),
  line: z.number().int().min(1).max(100_000_000),
  column: z.number().int().min(1).max(100_000_000).optional(),
  commit: z
    .string()
    .regex(/^[0-9a-f]{7,64}$/)
    .nullable()
    .optional(),
  fingerprint: z.string().regex(/^[0-9a-f]{32,64}$/),
  preview: Redacted,
  candidate: Digest.optional(),
});

const ScanIn = z
  .object({
    source: z.enum(["working-tree", "git"]),
    rules_active: z.array(z.string().min(1).max(128)).max(500),
    findings: z.array(FindingIn).max(MAX_FINDINGS),
  })
  .openapi("ScanRequest");

const Match = z.object({ path: z.string(), version: z.number().int(), current: z.boolean() });
type MatchRow = z.infer<typeof Match>;
const Finding = z
  .object({
    seq: z.number().int(),
    rule: z.string(),
    file: z.string(),
    line: z.number().int(),
    column: z.number().int().nullable(),
    commit: z.string().nullable(),
    fingerprint: z.string(),
    preview: z.string(),
    matches: z.array(Match).openapi({ description: "Stored versions with this value that the caller may read; empty otherwise" }),
  })
  .openapi("ScanFinding");
const Run = z
  .object({
    run_id: z.string(),
    source: z.string(),
    rules_active: z.array(z.string()),
    created_at: z.string(),
    created_by: z.string(),
    findings: z.array(Finding),
  })
  .openapi("ScanRun");

const createScan = createRoute({
  method: "post",
  path: "/scans",
  summary: "Store a scan run (metadata only) and name the stored secrets its findings match",
  tags: ["scanning"],
  request: body(ScanIn),
  responses: { 201: { description: "The run", ...json(Run) }, ...errorResponses(400, 401, 403, 413, 429, 503) },
});

const listFindings = createRoute({
  method: "get",
  path: "/findings",
  summary: "The findings of one scan run",
  tags: ["scanning"],
  request: { query: z.object({ run_id: z.string().regex(/^scan_[A-Za-z0-9_-]{10,64}$/) }) },
  responses: { 200: { description: "The run and its findings", ...json(Run) }, ...errorResponses(400, 401, 403, 404) },
});

/** Scans per token per minute (wrangler.jsonc SCAN_MATCH_LIMITER): each may carry MAX_CANDIDATES digests. */
async function throttle(c: Context<AppEnv>) {
  const principal = c.get("principal");
  const { success } = await c.env.SCAN_MATCH_LIMITER.limit({ key: `${principal.tenantId}:${principal.tokenId}` });
  if (!success) {
    await audit(c, { action: "scan.create", outcome: "denied", status: 429, detail: { reason: "rate-limited" } });
    throw new Problem(429, "rate-limited", "Too many scans from this token; wait a minute and try again", {}, { "Retry-After": "60" });
  }
}

/**
 * The stored versions each digest matches, as far as the read rule lets `principal` see them.
 * Digests are MACed under every configured master key and looked up in one indexed query per
 * chunk; they live only in this function's memory.
 */
async function matchDigests(c: Context<AppEnv>, digests: string[]): Promise<Map<string, MatchRow[]>> {
  const principal = c.get("principal");
  const keyring = loadKeyring(c.env.MASTER_KEYS);
  const byMac = new Map<string, string>();
  for (const digest of new Set(digests)) {
    const bytes = fromBase64(digest);
    for (const mac of await macsOfDigest(keyring, principal.tenantId, bytes)) byMac.set(mac, digest);
    bytes.fill(0);
  }
  const out = new Map<string, MatchRow[]>();
  const macs = [...byMac.keys()];
  const db = c.get("db");
  for (let i = 0; i < macs.length; i += 500) {
    const chunk = JSON.stringify(macs.slice(i, i + 500));
    const rows = await db
      .select({ secret: secrets, version: secretVersions })
      .from(secretVersions)
      .innerJoin(secrets, and(eq(secrets.tenantId, secretVersions.tenantId), eq(secrets.path, secretVersions.path)))
      .where(and(eq(secretVersions.tenantId, principal.tenantId), sql`${secretVersions.valueMac} IN (SELECT unhex(value) FROM json_each(${chunk}))`))
      .all();
    for (const { secret, version } of rows) {
      // The one read rule, with the scanner's principal: a match is named only where the value could be read.
      if (readRefusal(principal, "read", secret.path, { secret, version })) continue;
      const digest = byMac.get(toHex(version.valueMac!))!;
      const list = out.get(digest) ?? [];
      list.push({ path: secret.path, version: version.version, current: version.version === secret.currentVersion });
      out.set(digest, list);
    }
  }
  for (const list of out.values()) list.sort((a, b) => Number(b.current) - Number(a.current) || a.path.localeCompare(b.path) || b.version - a.version);
  return out;
}

type FindingRow = typeof scanFindings.$inferSelect;
const findingView = (row: FindingRow, seeMatch: (path: string) => boolean) => ({
  seq: row.seq,
  rule: row.rule,
  file: row.file,
  line: row.line,
  column: row.column,
  commit: row.commit,
  fingerprint: row.fingerprint,
  preview: row.preview,
  matches: (row.matches ?? []).filter((m) => seeMatch(m.path)),
});

export const scansApp = featureApp().openapi(createScan, async (c) => {
  await authorize(c, "secrets:read", "scan.create");
  const input = c.req.valid("json");
  const candidates = input.findings.filter((f) => f.candidate !== undefined).length;
  if (candidates > MAX_CANDIDATES) throw new Problem(413, "too-many-candidates", `At most ${MAX_CANDIDATES} candidates per scan; split the scan`);
  await throttle(c);
  const principal = c.get("principal");
  const matches = await matchDigests(
    c,
    input.findings.flatMap((f) => (f.candidate ? [f.candidate] : [])),
  );
  const runId = `scan_${crypto.randomUUID().replace(/-/g, "")}`;
  const now = Date.now();
  const kept = input.findings
    // A probe that matched nothing the scanner may read is dropped: it is not a finding, and it says nothing.
    .filter((f) => f.rule !== STORED_VALUE_RULE || (f.candidate && matches.has(f.candidate)))
    .map(
      (f, seq): FindingRow => ({
        tenantId: principal.tenantId,
        runId,
        seq: seq + 1,
        rule: f.rule,
        file: f.file,
        line: f.line,
        column: f.column ?? null,
        commit: f.commit ?? null,
        fingerprint: f.fingerprint,
        preview: f.preview,
        matches: (f.candidate && matches.get(f.candidate)) || [],
      }),
    );
  const db = c.get("db");
  const statements = [
    db.insert(scanRuns).values({
      tenantId: principal.tenantId,
      id: runId,
      createdAt: now,
      createdBy: principal.subject,
      source: input.source,
      rulesActive: input.rules_active,
      findingCount: kept.length,
    }),
    // 11 columns a row: 9 rows a statement stay under D1's 100 bound parameters.
    ...chunks(kept, 9).map((rows) => db.insert(scanFindings).values(rows)),
  ];
  const response = {
    run_id: runId,
    source: input.source,
    rules_active: input.rules_active,
    created_at: iso(now),
    created_by: principal.subject,
    findings: kept.map((row) => findingView(row, () => true)),
  };
  const matched = kept.flatMap((row) => (row.matches ?? []).map((m) => `${m.path}@${m.version}`));
  await commit(c, statements, {
    audit: {
      action: "scan.create",
      resource: null,
      detail: { run_id: runId, source: input.source, findings: kept.length, candidates, matched: [...new Set(matched)].slice(0, 100) },
    },
    response: { status: 201, body: response },
  });
  return c.json(response, 201);
});

export const discoveryApp = featureApp().openapi(listFindings, async (c) => {
  await authorize(c, "secrets:read", "scan.findings.list");
  const principal = c.get("principal");
  const { run_id } = c.req.valid("query");
  const db = c.get("db");
  const run = await db
    .select()
    .from(scanRuns)
    .where(and(eq(scanRuns.tenantId, principal.tenantId), eq(scanRuns.id, run_id)))
    .get();
  if (!run) throw notFound("scan run");
  const rows = await db
    .select()
    .from(scanFindings)
    .where(and(eq(scanFindings.tenantId, principal.tenantId), eq(scanFindings.runId, run_id)))
    .orderBy(asc(scanFindings.seq))
    .all();
  // Each match is decided for the reader: another reader of the run sees a match only on paths it may read.
  const seeMatch = (path: string) => allows(principal, "secrets:read", "secret.read", onSecret(path));
  const response = {
    run_id: run.id,
    source: run.source,
    rules_active: run.rulesActive,
    created_at: iso(run.createdAt),
    created_by: run.createdBy,
    findings: rows.map((row) => findingView(row, seeMatch)),
  };
  await audit(c, { action: "scan.findings.list", resource: null, outcome: "success", status: 200, detail: { run_id, findings: rows.length } });
  return c.json(response, 200);
});

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
