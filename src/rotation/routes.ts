import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { Context } from "hono";
import { audit } from "../audit/log";
import { loadKeyring } from "../crypto/envelope";
import { rewrapJob } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { errorResponses, featureApp, iso } from "../http/openapi";
import { forbidden } from "../http/problem";
import { countByKey, notUnder, readJob, type JobRow, type RewrapMessage } from "./job";

const RewrapStatus = z
  .object({
    state: z.enum(["idle", "running", "done"]),
    active_key_id: z.string(),
    target_key_id: z.string().nullable(),
    total: z.number().int().openapi({ description: "Data keys not under the target key when the job started" }),
    done: z.number().int().openapi({ description: "Data keys re-wrapped by the job" }),
    failed: z.number().int().openapi({ description: "Rows skipped: under a removed master key, or failed integrity" }),
    remaining: z.number().int().openapi({ description: "Data keys not under the active key right now (counted live)" }),
    by_key_id: z.record(z.string(), z.number().int()).openapi({ description: "Rows per master key id, counted live" }),
    started_at: z.string().nullable(),
    updated_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi("RewrapStatus");


function requireRoot(c: Context<AppEnv>): void {
  if (!c.get("principal").isRoot) throw forbidden("Only the operator's root token may run a master-key re-wrap");
}

async function status(c: Context<AppEnv>, job: JobRow | null) {
  const activeId = loadKeyring(c.env.MASTER_KEYS).activeId;
  const byKey = await countByKey(c.env.DB);
  return {
    state: job?.state ?? ("idle" as const),
    active_key_id: activeId,
    target_key_id: job?.target_key_id ?? null,
    total: job?.total ?? 0,
    done: job?.done ?? 0,
    failed: job?.failed ?? 0,
    remaining: notUnder(byKey, activeId),
    by_key_id: byKey,
    started_at: iso(job?.started_at),
    updated_at: iso(job?.updated_at),
    finished_at: iso(job?.finished_at),
  };
}

const startRoute = createRoute({
  method: "post",
  path: "/rewrap",
  summary:
    "Start (or resume) re-wrapping every data key under the active master key, in the background (root token only)",
  tags: ["system"],
  responses: { 202: { description: "Started or resumed", content: { "application/json": { schema: RewrapStatus } } }, ...errorResponses(401, 403, 503) },
});

const statusRoute = createRoute({
  method: "get",
  path: "/rewrap",
  summary: "Progress of the master-key re-wrap (root token only)",
  tags: ["system"],
  responses: { 200: { description: "Progress", content: { "application/json": { schema: RewrapStatus } } }, ...errorResponses(401, 403, 503) },
});

export const rewrapApp = featureApp()
  .openapi(startRoute, async (c) => {
    requireRoot(c);
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const db = c.get("db");
    const current = await readJob(c.env.DB);
    const resuming = current?.state === "running" && current.target_key_id === keyring.activeId;
    if (!resuming) {
      // A new job: also replaces a running one whose target is no longer the active key.
      const now = Date.now();
      const job = {
        id: 1,
        jobId: crypto.randomUUID(),
        state: "running" as const,
        targetKeyId: keyring.activeId,
        tableIndex: 0,
        cursor: null,
        step: 0,
        total: notUnder(await countByKey(c.env.DB), keyring.activeId),
        done: 0,
        failed: 0,
        startedAt: now,
        startedBy: c.get("principal").subject,
        updatedAt: now,
        finishedAt: null,
      };
      const { id: _, ...restart } = job;
      // Two racing starts: the second finds a running job for this key and leaves it.
      const start = db
        .insert(rewrapJob)
        .values(job)
        .onConflictDoUpdate({
          target: rewrapJob.id,
          set: restart,
          where: sql`${rewrapJob.state} != 'running' OR ${rewrapJob.targetKeyId} != ${keyring.activeId}`,
        });
      await commit(c, [start], { audit: { action: "sys.rewrap.start", resource: "rewrap", status: 202, detail: { target_key_id: keyring.activeId, total: job.total } } });
    } else {
      await audit(c, { action: "sys.rewrap.resume", resource: "rewrap", status: 202, detail: { job: current.job_id, step: current.step } });
    }
    // Send the current step (a resume re-sends it; a duplicate is ignored by the consumer).
    const job = (await readJob(c.env.DB))!;
    if (job.state === "running") await c.env.REWRAP_QUEUE.send({ job: job.job_id, step: job.step } satisfies RewrapMessage);
    return c.json(await status(c, job), 202);
  })
  .openapi(statusRoute, async (c) => {
    requireRoot(c);
    return c.json(await status(c, await readJob(c.env.DB)), 200);
  });
