// describeWithService("redis", "redis provider", () => { ... }): the suite runs when the server
// answers (probed by the project's global setup), otherwise it is skipped with one line naming
// what would enable it. For servers that cannot come from npm (MariaDB, Redis).
import { describe, inject } from "vitest";
import { SERVICES, type ServiceName } from "./service-list";

/** The one line a skipped suite prints. */
export function skipLine(service: ServiceName, name: string): string {
  const { label, host, port, enable } = SERVICES[service];
  return `skipped "${name}": no ${label} on ${host}:${port}; to run it, ${enable}`;
}

export function describeWithService(service: ServiceName, name: string, suite: () => void): void {
  const available = inject("services")?.[service] ?? false;
  if (!available) console.info(skipLine(service, name));
  describe.skipIf(!available)(name, suite);
}
