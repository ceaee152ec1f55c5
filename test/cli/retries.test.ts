// The CLI retries 429, 503 and network errors with the same Idempotency-Key, so a retried
// mutation is applied once. A scripted local server stands in for Hush here: it fails the first
// tries on purpose, which a real server cannot be made to do on demand.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { hush } from "./helpers";

interface Seen {
  method: string;
  url: string;
  key: string | undefined;
}

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Serves `script[i]` for the i-th request (the last one repeats); returns its address and what it saw. */
async function scripted(script: ((req: IncomingMessage, res: ServerResponse) => void)[]) {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, key: req.headers["idempotency-key"] as string | undefined });
    req.resume();
    req.on("end", () => script[Math.min(seen.length - 1, script.length - 1)]!(req, res));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server!.address() as { port: number };
  return { addr: `http://127.0.0.1:${port}`, seen };
}

const problem =
  (status: number, headers: Record<string, string> = {}) =>
  (_: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { "content-type": "application/problem+json", ...headers });
    res.end(JSON.stringify({ type: "about:blank", title: "busy", status, detail: "try again" }));
  };
const written = (_: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ path: "app/x", version: 2 }));
};
const dropConnection = (req: IncomingMessage) => req.socket.destroy();

describe("retries", () => {
  it.each([
    ["503", problem(503, { "retry-after": "0" })],
    ["429", problem(429, { "retry-after": "0" })],
    ["a dropped connection", dropConnection],
  ])("a write retried after %s keeps its Idempotency-Key, so it is applied once", async (_, failure) => {
    const { addr, seen } = await scripted([failure, failure, written]);
    const result = await hush(["set", "app/x", "--stdin"], { input: "v", env: { HUSH_ADDR: addr } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("version 2");
    expect(seen).toHaveLength(3);
    expect(seen.every((s) => s.method === "PUT" && s.key && s.key === seen[0]!.key)).toBe(true);
  });

  it("gives up after HUSH_RETRIES more tries and says how often it tried", async () => {
    const { addr, seen } = await scripted([dropConnection]);
    const result = await hush(["set", "app/x", "--stdin"], { input: "v", env: { HUSH_ADDR: addr, HUSH_RETRIES: "1" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("tried 2 times");
    expect(result.stderr).toContain("How to fix:");
    expect(seen).toHaveLength(2);
  });

  it("does not retry an answer that will not change (400), nor wait out a long Retry-After", async () => {
    const bad = await scripted([problem(400)]);
    expect((await hush(["set", "app/x", "--stdin"], { input: "v", env: { HUSH_ADDR: bad.addr } })).code).toBe(2);
    expect(bad.seen).toHaveLength(1);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const later = await scripted([problem(429, { "retry-after": "120" })]);
    const started = Date.now();
    expect((await hush(["set", "app/x", "--stdin"], { input: "v", env: { HUSH_ADDR: later.addr } })).code).toBe(1);
    expect(later.seen).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
