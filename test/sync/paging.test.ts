import { and, eq, isNotNull } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { syncOutbox } from "../../src/db/schema";
import { RUN_PAGE_SIZE } from "../../src/sync/run";
import { tokenWith } from "../helpers";
import { api, db, remote, target, uniquePath, waitFor } from "./helpers";

vi.setConfig({ testTimeout: 180_000 });

// Past the old limit of 200 per run, over three pages (450 also passed: 133 s, the consumer delivering one by one).
const COUNT = 250;

describe("a run over a prefix larger than one page", () => {
  it(`delivers all ${COUNT} paths in pages of ${RUN_PAGE_SIZE}, each page deciding for the caller (a denied path on page 3 is skipped)`, async () => {
    const prefix = `${uniquePath("paged")}/`;
    const values = Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`k${String(i).padStart(3, "0")}`, `paged-value-${i}`]));
    const imported = await api("POST", "/api/v1/secrets/store/import", { body: { prefix: prefix.slice(0, -1), values } });
    expect(imported.status, imported.text).toBe(201);
    // A narrow creator: read on the prefix, but denied one path that only a later page reaches.
    const denied = `${prefix}k220`;
    const policy = `paged-${Date.now().toString(36)}`;
    expect(
      (
        await api("PUT", `/api/v1/auth/policies/${policy}`, {
          body: {
            rules: [
              { paths: [`${prefix}*`], capabilities: ["read", "list"] },
              { paths: [denied], capabilities: ["read"], effect: "deny" },
            ],
          },
        })
      ).status,
    ).toBe(200);
    const { token } = await tokenWith([], { policies: [policy] } as never);
    const t = await target("webhook");
    const remotePrefix = `pg${Date.now().toString(36)}-`;
    const created = await api("POST", "/api/v1/secrets/syncs", { token, body: { target: t, prefix, remote_prefix: remotePrefix } });
    expect(created.status, created.text).toBe(201);
    // The request did one page; the rest continue in the queue.
    expect(created.body.queued).toBe(RUN_PAGE_SIZE);
    expect(created.body.continued).toBe(true);
    const id = created.body.id as string;
    const delivered = () => db().$count(syncOutbox, and(eq(syncOutbox.syncId, id), isNotNull(syncOutbox.deliveredAt), eq(syncOutbox.outcome, "delivered")));
    await waitFor(`${COUNT - 1} delivered`, async () => (await delivered()) === COUNT - 1, 170_000);
    for (const i of [0, 99, 100, 200, 249]) expect((await remote(`wh:ok:${remotePrefix}k${String(i).padStart(3, "0")}`))?.value).toBe(`paged-value-${i}`);
    expect(await remote(`wh:ok:${remotePrefix}k220`)).toBeNull();
    const audit = await api("GET", `/api/v1/audit?resource=sync:${id}&action=sync.run_page`);
    const pages = audit.body.items.filter((e: { action: string }) => e.action === "sync.run_page");
    expect(pages).toHaveLength(Math.ceil(COUNT / RUN_PAGE_SIZE) - 1);
    expect(pages.flatMap((p: { detail: { skipped: unknown[] } }) => p.detail.skipped)).toEqual([{ path: denied, reason: "access" }]);
    // Bounded work per message: no page queued more than a page of rows.
    for (const p of pages) expect(p.detail.queued).toBeLessThanOrEqual(RUN_PAGE_SIZE);
  });

  it("a run page whose caller's token was revoked queues nothing more", async () => {
    const prefix = `${uniquePath("pagedrev")}/`;
    const values = Object.fromEntries(Array.from({ length: RUN_PAGE_SIZE + 5 }, (_, i) => [`k${String(i).padStart(3, "0")}`, `rev-${i}`]));
    expect((await api("POST", "/api/v1/secrets/store/import", { body: { prefix: prefix.slice(0, -1), values } })).status).toBe(201);
    // A target that refuses at once (403, final): the first page's rows cost one attempt each.
    const t = await target("webhook", "reject");
    const runner = await tokenWith(["secrets:read"], { paths: [`${prefix}*`] });
    const created = await api("POST", "/api/v1/secrets/syncs", { body: { target: t, prefix, remote_prefix: "", run: false } });
    expect(created.status).toBe(201);
    // Revoke the runner before its second page is consumed (the first page's request already ran).
    const run = await api("POST", `/api/v1/secrets/syncs/${created.body.id}/run`, { token: runner.token });
    expect(run.body).toMatchObject({ queued: RUN_PAGE_SIZE, continued: true });
    await api("DELETE", `/api/v1/tokens/${runner.id}`);
    const page = await waitFor("the page event", async () => {
      const audit = await api("GET", `/api/v1/audit?resource=sync:${created.body.id}&action=sync.run_page`);
      return audit.body.items.find((e: { action: string }) => e.action === "sync.run_page");
    });
    expect(page).toMatchObject({ outcome: "denied", detail: expect.objectContaining({ reason: "creator-token-revoked" }) });
    expect(await db().$count(syncOutbox, eq(syncOutbox.syncId, created.body.id))).toBe(RUN_PAGE_SIZE);
    // The first page's rows each end refused (403 is final): nothing stays queued after the test,
    // which would keep the workers pool from exiting.
    await waitFor(
      "the first page settled",
      async () => (await db().$count(syncOutbox, and(eq(syncOutbox.syncId, created.body.id), isNotNull(syncOutbox.outcome)))) === RUN_PAGE_SIZE,
      170_000,
    );
  });
});
