import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Fixed test-only key material; real deployments set these with `wrangler secret put`.
export const TEST_MASTER_KEYS = JSON.stringify({
  active: "k1",
  keys: { k1: "q1Yl0n1X4mV5m3rXl0J8c2Zp0m9dW8l3cJ9v6yH2x0s=" },
});
export const TEST_ROOT_TOKEN = "hush_root_test_token_0123456789abcdefghij";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: { TEST_MIGRATIONS: migrations, MASTER_KEYS: TEST_MASTER_KEYS, ROOT_TOKEN: TEST_ROOT_TOKEN },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      exclude: ["test/e2e/**", "test/cli/**"],
      setupFiles: ["./test/setup.ts"],
    },
  };
});
