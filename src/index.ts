import { app } from "./app";
import { sweep } from "./sweeper";

export { AuditChain } from "../durable-objects/audit-chain";
export { ShareObject } from "../durable-objects/share";

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(sweep(env, controller.scheduledTime));
  },
} satisfies ExportedHandler<Env>;
