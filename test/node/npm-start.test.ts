import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

describe("npm start", () => {
  it("a port in use says so and how to pick another, before touching anything", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const run = spawnSync(process.execPath, [join(root, "cli", "dev.mjs")], {
        cwd: root,
        env: { ...process.env, PORT: String(port) },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(run.stderr).toMatch(/How to fix: .*PORT=\d+ npm start/);
      expect(run.stdout).not.toContain("Root token");
    } finally {
      server.close();
    }
  });
});
