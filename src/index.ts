import { app } from "./app";
import { consumeDeadLetters, consumeRevocations } from "./leases/revocations";
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
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch, env, ctx);
    else await consumeRevocations(batch, env, ctx);
  },
} satisfies ExportedHandler<Env>;
