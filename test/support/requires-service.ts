// describeWithService("redis", "redis provider", () => { ... }): the suite runs when the server
// answers (probed by the project's global setup), otherwise it is skipped with one line naming
// what would enable it. For servers that cannot come from npm (MariaDB, Redis).
import { describe, inject } from "vitest";
import { SERVICES, type ServiceName } from "./service-list";

export function describeWithService(service: ServiceName, name: string, suite: () => void): void {
  const available = inject("services")?.[service] ?? false;
  const { label, host, port, enable } = SERVICES[service];
  if (!available) console.info(`skipped "${name}": no ${label} on ${host}:${port}; to run it, ${enable}`);
  describe.skipIf(!available)(name, suite);
}
