import { once } from "node:events";
import net from "node:net";
import { randomString } from "../../crypto/encoding";
import { ProviderError, type LeaseRef, type Provider } from "./types";

export interface RedisConfig {
  /** redis://[user[:password]@]host:port of a user allowed `ACL SETUSER/DELUSER` and `CLIENT KILL`. Sealed at rest. */
  url: string;
  /** Prefix of the ACL users this provider creates (and the only ones it will delete). */
  user_prefix: string;
}

export type RedisReply = string | number | null | RedisReply[] | RedisError;

export class RedisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisError";
  }
}

const CRLF = "\r\n";

/**
 * A minimal RESP2 client over workerd's node:net (itself over cloudflare:sockets): one
 * command at a time, replies parsed from a byte buffer. Enough for the ACL commands a
 * provider sends and a login probe; no pipelining, pub/sub or cluster redirects.
 */
export class RespConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    const fail = (err?: Error) => {
      this.failure ??= err ?? new RedisError("connection closed");
      this.waiting?.();
    };
    socket.on("error", fail);
    socket.on("close", () => fail());
  }

  static async open(host: string, port: number, timeoutMs = 10_000): Promise<RespConnection> {
    const socket = net.connect(port, host);
    const timer = setTimeout(() => socket.destroy(new Error("connect timeout")), timeoutMs);
    try {
      await Promise.race([once(socket, "connect"), once(socket, "error").then(([e]) => Promise.reject(e))]);
    } finally {
      clearTimeout(timer);
    }
    return new RespConnection(socket);
  }

  /** Sends one command; resolves with its reply (an error reply resolves as a RedisError). */
  async command(...args: string[]): Promise<RedisReply> {
    let out = `*${args.length}${CRLF}`;
    for (const arg of args) out += `$${Buffer.byteLength(arg)}${CRLF}${arg}${CRLF}`;
    this.socket.write(out);
    for (;;) {
      const parsed = this.parse(0);
      if (parsed) {
        this.buffer = this.buffer.subarray(parsed.end);
        return parsed.value;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }

  /** Like `command`, but an error reply throws. */
  async call(...args: string[]): Promise<RedisReply> {
    const reply = await this.command(...args);
    if (reply instanceof RedisError) throw reply;
    return reply;
  }

  private parse(at: number): { value: RedisReply; end: number } | undefined {
    const lineEnd = this.buffer.indexOf(CRLF, at);
    if (lineEnd < 0) return undefined;
    const type = String.fromCharCode(this.buffer[at]!);
    const line = this.buffer.toString("utf8", at + 1, lineEnd);
    const next = lineEnd + 2;
    switch (type) {
      case "+":
        return { value: line, end: next };
      case "-":
        return { value: new RedisError(line), end: next };
      case ":":
        return { value: Number(line), end: next };
      case "$": {
        const length = Number(line);
        if (length < 0) return { value: null, end: next };
        if (this.buffer.length < next + length + 2) return undefined;
        return { value: this.buffer.toString("utf8", next, next + length), end: next + length + 2 };
      }
      case "*": {
        const count = Number(line);
        if (count < 0) return { value: null, end: next };
        const items: RedisReply[] = [];
        let end = next;
        for (let i = 0; i < count; i++) {
          const item = this.parse(end);
          if (!item) return undefined;
          items.push(item.value);
          end = item.end;
        }
        return { value: items, end };
      }
      default:
        throw new RedisError(`unexpected reply type ${JSON.stringify(type)}`);
    }
  }

  async close(): Promise<void> {
    this.socket.end();
    this.socket.destroy();
  }
}

/** The ACL user of a lease: derived from the lease id, so a half-finished issue can still be deleted. */
export const redisUserOf = (prefix: string, leaseId: string) => `${prefix}${leaseId.slice("lease_".length)}`;

/** Connects (and AUTHs, when the URL or `login` names someone) and runs `run`; only our own message leaves. */
export async function withRedis<T>(
  url: string,
  what: string,
  run: (conn: RespConnection) => Promise<T>,
  login?: { user: string; password: string },
): Promise<T> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProviderError("The Redis URL is not valid");
  }
  let conn: RespConnection | undefined;
  try {
    conn = await RespConnection.open(parsed.hostname, Number(parsed.port || 6379));
    const user = login?.user ?? decodeURIComponent(parsed.username);
    const password = login?.password ?? decodeURIComponent(parsed.password);
    if (password) await conn.call("AUTH", user || "default", password);
    return await run(conn);
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    // The first word of an error reply (WRONGPASS, NOPERM, ERR); never the rest, nor a command.
    const code =
      err instanceof RedisError
        ? err.message
            .split(" ")[0]!
            .replace(/[^A-Z]/g, "")
            .slice(0, 20)
        : (err as Error)?.name;
    console.error(`redis provider: ${what} failed`, code);
    throw new ProviderError(`Redis ${what} failed${code ? ` (${code})` : ""}`);
  } finally {
    await conn?.close().catch(() => {});
  }
}

/**
 * Dynamic Redis ACL users: `ACL SETUSER <user> reset on ><password> <rules>` on issue, with
 * the role's command rules (`+get`, `-@dangerous`, ...) and key patterns (`~app:*`);
 * `ACL DELUSER` and `CLIENT KILL USER` on revoke. Redis has no user expiry: the lease's
 * alarm deletes the user when it expires.
 */
export function redisProvider(config: RedisConfig): Provider {
  const userOf = (lease: LeaseRef) => redisUserOf(config.user_prefix, lease.id);
  return {
    async issue(lease, { role }) {
      const user = userOf(lease);
      const password = randomString(32);
      const rules = [...(role.commands ?? []), ...(role.key_patterns ?? []).map((p) => `~${p}`)];
      await withRedis(config.url, "user creation", (conn) => conn.call("ACL", "SETUSER", user, "reset", "on", `>${password}`, "resetchannels", ...rules));
      const url = new URL(config.url);
      url.username = user;
      url.password = password;
      return {
        credential: { username: user, password, host: url.hostname, port: Number(url.port || 6379), url: url.toString() },
        externalId: user,
      };
    },
    async revoke(lease) {
      const user = userOf(lease);
      await withRedis(config.url, "user deletion", async (conn) => {
        // 0 when already deleted: a retried revoke is success.
        await conn.call("ACL", "DELUSER", user);
        const killed = await conn.command("CLIENT", "KILL", "USER", user);
        // "No such user" once the user is gone is fine; anything else is a failure.
        if (killed instanceof RedisError && !/no such user/i.test(killed.message)) throw killed;
      });
    },
    async health() {
      await withRedis(config.url, "health check", async (conn) => {
        if ((await conn.call("PING")) !== "PONG") throw new ProviderError("Redis did not answer PONG");
      });
    },
  };
}
