// Suites for servers that npm cannot provide run when the server answers and are skipped with
// one line otherwise (test/support/requires-service.ts). Redis serves as the example here.
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { canConnect } from "../support/net";
import { describeWithService, skipLine } from "../support/requires-service";

describe("server detection", () => {
  it("tells a listening port from a closed one", async () => {
    const server = createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    expect(await canConnect("127.0.0.1", port)).toBe(true);
    server.close();
    await once(server, "close");
    expect(await canConnect("127.0.0.1", port)).toBe(false);
  });

  it("names what would enable a skipped suite", () => {
    expect(skipLine("mariadb", "mariadb provider")).toBe(
      'skipped "mariadb provider": no MariaDB on 127.0.0.1:3306; to run it, start MariaDB on 127.0.0.1:3306 (apt-get install mariadb-server)',
    );
  });
});

describeWithService("redis", "a suite that needs Redis", () => {
  it("runs only when Redis answers", async () => {
    const socket = connect(6379, "127.0.0.1");
    await once(socket, "connect");
    socket.write("PING\r\n");
    const [reply] = await once(socket, "data");
    socket.destroy();
    expect(String(reply)).toBe("+PONG\r\n");
  });
});
