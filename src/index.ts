import { app } from "./app";
import { consumeDeadLetters, consumeRevocations } from "./leases/revocations";
import { consumeRewrap } from "./rotation/job";
import { consumeSync, consumeSyncDeadLetters } from "./sync/deliver";
import { sweep } from "./sweeper";

export { AuditChain } from "../durable-objects/audit-chain";
export { ShareObject } from "../durable-objects/share";
export { LeaseObject } from "../durable-objects/lease";

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(sweep(env, controller.scheduledTime));
  },
  async queue(batch, env, ctx) {
    switch (batch.queue) {
      case "hush-revocations":
        return consumeRevocations(batch, env, ctx);
      case "hush-revocations-dlq":
        return consumeDeadLetters(batch, env, ctx);
      case "hush-sync":
        return consumeSync(batch, env, ctx);
      case "hush-sync-dlq":
        return consumeSyncDeadLetters(batch, env, ctx);
      case "hush-rewrap":
        return consumeRewrap(batch, env);
      default:
        // An unknown queue: leave its messages to retry (and dead-letter) rather than lose them.
        console.error(JSON.stringify({ level: "error", queue: batch.queue, detail: "no consumer for this queue" }));
        batch.retryAll();
    }
  },
} satisfies ExportedHandler<Env>;
