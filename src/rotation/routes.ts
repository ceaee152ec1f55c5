import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { Context } from "hono";
import { audit } from "../audit/log";
import { loadKeyring } from "../crypto/envelope";
import { rewrapJob } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { errorResponses, featureApp, iso } from "../http/openapi";
import { authorize, DEPLOYMENT } from "../auth/access";
import { database } from "../db/client";
import { d1Databases, HOME } from "../db/directory";
import { countByKey, notUnder, readJob, stepMessage, type JobRow } from "./job";

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

/** Rows per master key id over every D1 database (src/db/directory.ts). */
async function countEverywhere(c: Context<AppEnv>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const d1 of d1Databases(c.env)) {
    for (const [id, n] of Object.entries(await countByKey(d1))) counts[id] = (counts[id] ?? 0) + n;
  }
  return counts;
}

/**
 * Each database has its own job row (its rows are re-wrapped by its own chain of messages);
 * the operator sees one job: running while any database's is, its counts summed.
 */
async function readJobs(c: Context<AppEnv>): Promise<JobRow | null> {
  const jobs = (await Promise.all(d1Databases(c.env).map((d1) => readJob(d1)))).filter((j): j is JobRow => j !== null);
  const [first] = jobs;
  if (!first) return null;
  const running = jobs.some((j) => j.state === "running");
  return {
    ...first,
    state: running ? "running" : "done",
    total: jobs.reduce((n, j) => n + j.total, 0),
    done: jobs.reduce((n, j) => n + j.done, 0),
    failed: jobs.reduce((n, j) => n + j.failed, 0),
    updated_at: Math.max(...jobs.map((j) => j.updated_at)),
    finished_at: running ? null : Math.max(...jobs.map((j) => j.finished_at ?? 0)),
  };
}

async function status(c: Context<AppEnv>, job: JobRow | null) {
  const activeId = loadKeyring(c.env.MASTER_KEYS).activeId;
  const byKey = await countEverywhere(c);
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
  summary: "Start (or resume) re-wrapping every data key under the active master key, in the background (root token only)",
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
    await authorize(c, "tokens:admin", "rewrap.start", DEPLOYMENT);
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const databases = d1Databases(c.env);
    // The home database's job is the operator's; every other database runs one with the same id.
    const home = database(databases[HOME]!);
    const current = await readJob(databases[HOME]!);
    const resuming = current?.state === "running" && current.target_key_id === keyring.activeId;
    const now = Date.now();
    const jobId = resuming ? current.job_id : crypto.randomUUID();
    const totals = await Promise.all(databases.map(async (d1) => notUnder(await countByKey(d1), keyring.activeId)));
    // A database with nothing to re-wrap joins the job already done (no messages to send).
    const jobIn = (index: number) => ({
      id: 1,
      jobId,
      state: index !== HOME && totals[index] === 0 ? ("done" as const) : ("running" as const),
      targetKeyId: keyring.activeId,
      tableIndex: 0,
      cursor: null,
      step: 0,
      total: totals[index]!,
      done: 0,
      failed: 0,
      startedAt: now,
      startedBy: c.get("principal").subject,
      updatedAt: now,
      finishedAt: index !== HOME && totals[index] === 0 ? now : null,
    });
    if (!resuming) {
      // A new job: also replaces a running one whose target is no longer the active key.
      const { id: _, ...restart } = jobIn(HOME);
      // Two racing starts: the second finds a running job for this key and leaves it.
      const start = home
        .insert(rewrapJob)
        .values(jobIn(HOME))
        .onConflictDoUpdate({
          target: rewrapJob.id,
          set: restart,
          where: sql`${rewrapJob.state} != 'running' OR ${rewrapJob.targetKeyId} != ${keyring.activeId}`,
        });
      const total = totals.reduce((n, t) => n + t, 0);
      await commit(c, [start], {
        audit: { action: "sys.rewrap.start", resource: "rewrap", status: 202, detail: { target_key_id: keyring.activeId, total, databases: databases.length } },
      });
    } else {
      await audit(c, { action: "sys.rewrap.resume", resource: "rewrap", status: 202, detail: { job: current.job_id, step: current.step } });
    }
    // The other databases join the job (once: a database that already ran this job keeps its outcome).
    const homeJob = (await readJob(databases[HOME]!))!;
    for (let index = 1; index < databases.length; index++) {
      const { id: _, ...restart } = jobIn(index);
      await database(databases[index]!)
        .insert(rewrapJob)
        .values({ ...jobIn(index), jobId: homeJob.job_id })
        .onConflictDoUpdate({
          target: rewrapJob.id,
          set: { ...restart, jobId: homeJob.job_id },
          where: sql`${rewrapJob.jobId} != ${homeJob.job_id} AND (${rewrapJob.state} != 'running' OR ${rewrapJob.targetKeyId} != ${keyring.activeId})`,
        })
        .run();
    }
    // Send each database's current step (a resume re-sends it; a duplicate is ignored by the consumer).
    for (let index = 0; index < databases.length; index++) {
      const job = await readJob(databases[index]!);
      if (job?.state === "running") await c.env.REWRAP_QUEUE.send(stepMessage(job.job_id, job.step, index));
    }
    return c.json(await status(c, await readJobs(c)), 202);
  })
  .openapi(statusRoute, async (c) => {
    await authorize(c, "tokens:admin", "rewrap.status", DEPLOYMENT);
    return c.json(await status(c, await readJobs(c)), 200);
  });
