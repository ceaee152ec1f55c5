import { createHash } from "node:crypto";
import { once } from "node:events";
import net from "node:net";

/**
 * A minimal MySQL/MariaDB client-server protocol client over workerd's node:net (itself over
 * cloudflare:sockets): handshake v10 with `mysql_native_password` (and the auth switch to it),
 * COM_QUERY, OK/ERR packets and text result sets. No TLS, prepared statements, compression or
 * multi-statements: enough for a provider's account statements and a login probe.
 * Why not mysql2: its CommonJS build requires `process`, which workerd's module loader in the
 * test pool does not provide (see docs/leases.md).
 */
export class MysqlError extends Error {
  constructor(
    readonly errno: number,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
    this.name = "MysqlError";
  }
}

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_TRANSACTIONS = 0x2000;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const UTF8MB4 = 45;

const sha1 = (...parts: Buffer[]) => {
  const hash = createHash("sha1");
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
function nativePassword(password: string, scramble: Buffer): Buffer {
  if (!password) return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, "utf8"));
  const stage2 = sha1(stage1);
  const mix = sha1(scramble, stage2);
  for (let i = 0; i < mix.length; i++) mix[i]! ^= stage1[i]!;
  return mix;
}

export type Row = Record<string, string | null>;

export class MysqlConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;
  private seq = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    const fail = (err?: Error) => {
      this.failure ??= err ?? new Error("connection closed");
      this.waiting?.();
    };
    socket.on("error", fail);
    socket.on("close", () => fail());
  }

  static async connect(options: {
    host: string;
    port: number;
    user: string;
    password: string;
    database?: string;
    timeoutMs?: number;
  }): Promise<MysqlConnection> {
    const socket = net.connect(options.port, options.host);
    const timer = setTimeout(() => socket.destroy(new Error("connect timeout")), options.timeoutMs ?? 10_000);
    try {
      await Promise.race([once(socket, "connect"), once(socket, "error").then(([e]) => Promise.reject(e))]);
      const conn = new MysqlConnection(socket);
      await conn.handshake(options);
      return conn;
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async packet(): Promise<Buffer> {
    for (;;) {
      if (this.buffer.length >= 4) {
        const length = this.buffer.readUIntLE(0, 3);
        if (this.buffer.length >= 4 + length) {
          this.seq = (this.buffer[3]! + 1) & 0xff;
          const payload = this.buffer.subarray(4, 4 + length);
          this.buffer = this.buffer.subarray(4 + length);
          return payload;
        }
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }

  private send(payload: Buffer) {
    const header = Buffer.alloc(4);
    header.writeUIntLE(payload.length, 0, 3);
    header[3] = this.seq;
    this.seq = (this.seq + 1) & 0xff;
    this.socket.write(Buffer.concat([header, payload]));
  }

  private static error(packet: Buffer): MysqlError {
    const errno = packet.readUInt16LE(1);
    const hasState = packet[3] === 0x23; // '#'
    const sqlState = hasState ? packet.toString("ascii", 4, 9) : "HY000";
    return new MysqlError(errno, sqlState, packet.toString("utf8", hasState ? 9 : 3));
  }

  private async handshake(options: { user: string; password: string; database?: string }) {
    const hello = await this.packet();
    if (hello[0] === 0xff) throw MysqlConnection.error(hello);
    if (hello[0] !== 10) throw new Error(`unsupported protocol version ${hello[0]}`);
    let at = hello.indexOf(0, 1) + 1; // server version
    at += 4; // connection id
    const part1 = hello.subarray(at, at + 8);
    at += 8 + 1; // filler
    const capsLow = hello.readUInt16LE(at);
    at += 2 + 1 + 2; // charset, status
    const capsHigh = hello.readUInt16LE(at);
    at += 2;
    const authLength = hello[at]!;
    at += 1 + 10;
    const serverCaps = capsLow | (capsHigh << 16);
    if (!(serverCaps & CLIENT_PROTOCOL_41)) throw new Error("the server does not speak protocol 4.1");
    const part2Length = Math.max(13, authLength - 8);
    const part2 = hello.subarray(at, at + part2Length - 1); // without the trailing NUL
    at += part2Length;
    const plugin =
      serverCaps & CLIENT_PLUGIN_AUTH ? hello.toString("ascii", at, hello.indexOf(0, at) < 0 ? hello.length : hello.indexOf(0, at)) : "mysql_native_password";
    const scramble = Buffer.concat([part1, part2]);

    let caps = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
    if (options.database) caps |= CLIENT_CONNECT_WITH_DB;
    const auth = plugin === "mysql_native_password" ? nativePassword(options.password, scramble) : Buffer.alloc(0);
    const head = Buffer.alloc(32);
    head.writeUInt32LE(caps >>> 0, 0);
    head.writeUInt32LE(16 * 1024 * 1024, 4);
    head[8] = UTF8MB4;
    const parts = [head, Buffer.from(`${options.user}\0`, "utf8"), Buffer.from([auth.length]), auth];
    if (options.database) parts.push(Buffer.from(`${options.database}\0`, "utf8"));
    parts.push(Buffer.from("mysql_native_password\0", "ascii"));
    this.send(Buffer.concat(parts));

    for (;;) {
      const reply = await this.packet();
      if (reply[0] === 0x00) return;
      if (reply[0] === 0xff) throw MysqlConnection.error(reply);
      if (reply[0] === 0xfe) {
        // Auth switch: only to mysql_native_password, with the new scramble.
        const end = reply.indexOf(0, 1);
        const name = reply.toString("ascii", 1, end);
        if (name !== "mysql_native_password") throw new Error(`unsupported authentication plugin ${name}`);
        let data = reply.subarray(end + 1);
        if (data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
        this.send(nativePassword(options.password, data));
        continue;
      }
      throw new Error("unexpected packet during authentication");
    }
  }

  /** Runs one statement; resolves with its rows (text protocol), or [] for a statement without a result set. */
  async query(statement: string): Promise<Row[]> {
    this.seq = 0;
    this.send(Buffer.concat([Buffer.from([0x03]), Buffer.from(statement, "utf8")]));
    const first = await this.packet();
    if (first[0] === 0x00) return [];
    if (first[0] === 0xff) throw MysqlConnection.error(first);
    const [columnCount] = lengthEncoded(first, 0);
    const names: string[] = [];
    for (let i = 0; i < columnCount; i++) {
      const column = await this.packet();
      // catalog, schema, table, org_table, name, ...
      let at = 0;
      let value: string | null = null;
      for (let field = 0; field < 5; field++) [value, at] = lengthEncodedString(column, at);
      names.push(value ?? "");
    }
    const eof = await this.packet();
    if (eof[0] !== 0xfe) throw new Error("expected EOF after column definitions");
    const rows: Row[] = [];
    for (;;) {
      const packet = await this.packet();
      if (packet[0] === 0xfe && packet.length < 9) return rows;
      if (packet[0] === 0xff) throw MysqlConnection.error(packet);
      const row: Row = {};
      let at = 0;
      for (const name of names) {
        let value: string | null;
        [value, at] = lengthEncodedString(packet, at);
        row[name] = value;
      }
      rows.push(row);
    }
  }

  async close(): Promise<void> {
    try {
      this.seq = 0;
      this.send(Buffer.from([0x01])); // COM_QUIT
    } catch {
      // already closed
    }
    this.socket.end();
    this.socket.destroy();
  }
}

function lengthEncoded(buffer: Buffer, at: number): [number, number] {
  const first = buffer[at]!;
  if (first < 0xfb) return [first, at + 1];
  if (first === 0xfc) return [buffer.readUInt16LE(at + 1), at + 3];
  if (first === 0xfd) return [buffer.readUIntLE(at + 1, 3), at + 4];
  if (first === 0xfe) return [Number(buffer.readBigUInt64LE(at + 1)), at + 9];
  throw new Error("bad length-encoded integer");
}

function lengthEncodedString(buffer: Buffer, at: number): [string | null, number] {
  if (buffer[at] === 0xfb) return [null, at + 1];
  const [length, start] = lengthEncoded(buffer, at);
  return [buffer.toString("utf8", start, start + length), start + length];
}
