// The CLI carries the server's x-hush-bookmark from one call to the next (read-your-writes across
// processes; docs/scale.md, "Consistency"). A local server stands in for Hush so the test can see
// the header each call sends.
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { freshConfigHome, hush } from "./helpers";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe("x-hush-bookmark", () => {
  it("is sent back on the next call, also from another process, and follows the newest answer", async () => {
    const sent: (string | undefined)[] = [];
    let n = 0;
    server = createServer((req, res) => {
      sent.push(req.headers["x-hush-bookmark"] as string | undefined);
      req.resume();
      req.on("end", () => {
        n++;
        res.writeHead(200, { "content-type": "application/json", "x-hush-bookmark": `bookmark-${n}` });
        res.end(JSON.stringify(req.method === "PUT" ? { path: "app/x", version: n } : { path: "app/x", version: 1, value: "v" }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const env = { HUSH_ADDR: `http://127.0.0.1:${port}`, XDG_CONFIG_HOME: freshConfigHome() };
    expect((await hush(["set", "app/x", "--stdin"], { input: "v", env })).code).toBe(0);
    expect((await hush(["get", "app/x"], { env })).code).toBe(0);
    expect((await hush(["get", "app/x"], { env })).code).toBe(0);
    expect(sent).toEqual([undefined, "bookmark-1", "bookmark-2"]);
  });
});
