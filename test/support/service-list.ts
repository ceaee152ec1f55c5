// Servers some suites need that npm cannot provide (constants only: imported in workerd and Node).
// A suite that needs one wraps itself in describeWithService (test/support/requires-service.ts):
// it runs when the server answers, else it is skipped with one line saying what would enable it.

export const SERVICES = {
  mariadb: { label: "MariaDB", host: "127.0.0.1", port: 3306, enable: "start MariaDB on 127.0.0.1:3306 (apt-get install mariadb-server)" },
  redis: { label: "Redis", host: "127.0.0.1", port: 6379, enable: "start Redis on 127.0.0.1:6379 (apt-get install redis-server)" },
} as const;

export type ServiceName = keyof typeof SERVICES;
export type ServiceAvailability = Record<ServiceName, boolean>;

declare module "vitest" {
  export interface ProvidedContext {
    services: ServiceAvailability;
  }
}
