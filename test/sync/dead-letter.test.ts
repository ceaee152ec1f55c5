import { describe, expect, it, vi } from "vitest";
import { api, attemptTimes, bindingOf, createSync, remote, target, uniquePath, waitFor, write } from "./helpers";

// The real queue: wrangler.jsonc's hush-sync consumer (max_retries 5, dead_letter_queue hush-sync-dlq,
// max_batch_timeout 1 s) and the consumer's own backoff (2, 4, 8, 16, 32 s): about 70 s of waiting.
vi.setConfig({ testTimeout: 150_000 });

describe("a target that never recovers, through the real queue", () => {
  it("is tried 6 times with backoff, then dead-lettered: row dead, binding and audit say so, no copy", async () => {
    const path = uniquePath("dlq");
    await write(path, "never-arrives");
    const t = await target("webhook", "down");
    const key = `DLQ_${path.replace(/\W/g, "_")}`;
    const started = Date.now();
    const s = await createSync({ target: t, path, remote_key: key });
    expect(s.queued).toBe(1);
    const status = await waitFor(
      "dead-lettered",
      async () => {
        const res = await api("GET", `/api/v1/secrets/syncs/${s.id}`);
        return res.body.dead === 1 && res.body;
      },
      140_000,
    );
    expect(status.pending).toBe(0);
    expect((await bindingOf(s.id, path))?.last_error).toBe("Retries exhausted: webhook: the target answered 503");
    const times = await attemptTimes(`wh:down:${key}`);
    // max_retries 5: the first delivery and five retries, then the dead-letter queue.
    expect(times).toHaveLength(6);
    const gaps = times.slice(1).map((at, i) => (at - times[i]!) / 1000);
    // Each gap is at least the consumer's delay (2^attempt s); the batch timeout and load add to it.
    gaps.forEach((gap, i) => expect(gap, `gap ${i + 1}: ${gaps.join(", ")}`).toBeGreaterThanOrEqual(2 ** (i + 1) - 0.5));
    expect((Date.now() - started) / 1000).toBeGreaterThanOrEqual(62);
    const audit = await api("GET", `/api/v1/audit?resource=sync:${s.id}`);
    expect(audit.body.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: "sync.delivery_failed", outcome: "failure", actor: "system:sync-dlq" })]),
    );
    expect((await remote(`wh:down:${key}`))?.value ?? null).toBeNull();
    // A new run starts a new delivery of the dead binding.
    const rerun = await api("POST", `/api/v1/secrets/syncs/${s.id}/run`);
    expect(rerun.body.queued).toBe(1);
  });
});
