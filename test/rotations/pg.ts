// PostgreSQL from inside workerd, as the application holding the credential connects.
import { once } from "node:events";
import net from "node:net";
import postgres from "postgres";

export function pgConnect(url: string) {
  return postgres(url, {
    max: 1,
    fetch_types: false,
    prepare: false,
    connect_timeout: 5,
    onnotice: () => {},
    socket: async ({ host, port }: { host: string[]; port: number[] }) => {
      const socket = net.connect(port[0]!, host[0]!);
      await Promise.race([once(socket, "connect"), once(socket, "error").then(([e]) => Promise.reject(e))]);
      return socket;
    },
  } as postgres.Options<{}>);
}

/** Logs in and runs a probe; resolves 1 or rejects with the server's SQLSTATE (28P01 bad password, 28000 no login). */
export async function pgLogin(base: string, username: string, password: string): Promise<number> {
  const url = new URL(base);
  url.username = username;
  url.password = password;
  const sql = pgConnect(url.toString());
  try {
    const [row] = await sql`SELECT 1 AS ok`;
    return row!.ok as number;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Runs statements as the provisioner (it creates the static roles, so it may alter them). */
export async function asProvisioner(base: string, ...statements: string[]) {
  const sql = pgConnect(base);
  try {
    for (const statement of statements) await sql.unsafe(statement);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
