import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { vendorDocs } from "./scripts/vendor-docs.mjs";

// Fixed test-only key material; real deployments set these with `wrangler secret put`.
// k2 is held but not active: the master-key rotation tests (test/rotation) seal data under it.
export const TEST_MASTER_KEYS = JSON.stringify({
  active: "k1",
  keys: { k1: "q1Yl0n1X4mV5m3rXl0J8c2Zp0m9dW8l3cJ9v6yH2x0s=", k2: "s2QH57D+wqPMRwQBZd19TbvGSP6BbA3TOnXLUx+ckXQ=" },
});
export const TEST_ROOT_TOKEN = "hush_root_test_token_0123456789abcdefghij";

export default defineConfig(async () => {
  // The API reference's renderer in public/docs/vendor/ (static assets of `wrangler dev` and the pool).
  vendorDocs();
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    test: {
      projects: [
        {
          // Unit and integration suites inside workerd, against real D1, DOs and queues.
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.jsonc" },
              miniflare: {
                bindings: { TEST_MIGRATIONS: migrations, MASTER_KEYS: TEST_MASTER_KEYS, ROOT_TOKEN: TEST_ROOT_TOKEN },
                // A queue nothing consumes: the rewrap tests send the job's messages here and drive
                // the consumer themselves, one message at a time (test/rotation).
                queueProducers: { REWRAP_PARKED: { queueName: "hush-rewrap-parked" } },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/**/*.test.ts"],
            exclude: ["test/e2e/**", "test/cli/**", "test/node/**", "test/console/**"],
            setupFiles: ["./test/setup.ts"],
            // Two files at a time (each has its own workerd and storage): vitest's default on a
            // 2-core machine is one, and many files mostly wait on queues and alarms. A test gets
            // 20 s because a loaded machine stretches the concurrent ones (50 reveals at once).
            maxWorkers: 2,
            testTimeout: 20_000,
            // A webhook receiver and a PostgreSQL role/database for the lease providers.
            globalSetup: ["./test/leases/global-setup.ts", "./test/sync/global-setup.ts"],
          },
        },
        {
          // Suites that act as real clients (CLI, browser, third-party libraries) against `wrangler dev`.
          test: {
            name: "node",
            environment: "node",
            include: ["test/e2e/**/*.test.ts", "test/cli/**/*.test.ts", "test/node/**/*.test.ts", "test/console/**/*.test.ts"],
            // A `wrangler dev` for the clients, and the Chromium the browser suites launch.
            globalSetup: ["./test/node/dev-server.ts", "./test/support/node-project-setup.ts"],
            testTimeout: 60_000,
            hookTimeout: 120_000,
            fileParallelism: false,
          },
        },
      ],
    },
  };
});
