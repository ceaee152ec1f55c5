import { once } from "node:events";
import net from "node:net";
import postgres from "postgres";
import { randomString } from "../../crypto/encoding";
import { ProviderError, type LeaseRef, type Provider } from "./types";

export interface PostgresConfig {
  /** postgres://user[:password]@host:port/database of a role with CREATEROLE. Sealed at rest. */
  connection_url: string;
  /** Prefix of the login roles this provider creates (and the only ones it will drop). */
  role_prefix: string;
}

/** The login role of a lease: derived from the lease id, so a half-finished issue can still be revoked. */
export const loginRoleOf = (prefix: string, leaseId: string) => `${prefix}${leaseId.slice("lease_".length)}`.toLowerCase();

/**
 * A short-lived connection per call. We hand the driver a socket from workerd's
 * node:net (itself over cloudflare:sockets): the driver's own Workers socket shim
 * leaves an unhandled rejection on every close (porsager/postgres#1202).
 */
async function withConnection<T>(config: PostgresConfig, what: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  let sql: postgres.Sql;
  try {
    sql = postgres(config.connection_url, {
      max: 1,
      fetch_types: false,
      prepare: false,
      connect_timeout: 10,
      idle_timeout: 1,
      onnotice: () => {},
      socket: async ({ host, port }: { host: string[]; port: number[] }) => {
        const socket = net.connect(port[0]!, host[0]!);
        await Promise.race([once(socket, "connect"), once(socket, "error").then(([e]) => Promise.reject(e))]);
        return socket;
      },
    } as postgres.Options<{}>);
  } catch {
    throw new ProviderError("The PostgreSQL connection string is not valid");
  }
  try {
    return await run(sql);
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    // Only the SQLSTATE: a server message can quote the statement, which holds a password.
    const code = (err as { code?: unknown }).code;
    console.error(`postgresql provider: ${what} failed`, typeof code === "string" ? code : (err as Error)?.name);
    throw new ProviderError(`PostgreSQL ${what} failed${typeof code === "string" ? ` (${code})` : ""}`);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

const timestamp = (ms: number) => new Date(ms).toISOString();

/** Dynamic PostgreSQL login roles: created with a random password and VALID UNTIL, dropped on revoke. */
export function postgresProvider(config: PostgresConfig): Provider {
  const roleOf = (lease: LeaseRef) => loginRoleOf(config.role_prefix, lease.id);
  return {
    async issue(lease, { role }) {
      const username = roleOf(lease);
      const password = randomString(32);
      await withConnection(config, "role creation", async (sql) => {
        await sql.begin(async (tx) => {
          // DDL takes no bind parameters: the password is base62 and the time ISO, so both are safe literals.
          await tx.unsafe(`CREATE ROLE "${username}" WITH LOGIN PASSWORD '${password}' VALID UNTIL '${timestamp(lease.expiresAt)}'`);
          for (const grant of role.grants ?? []) await tx`GRANT ${tx(grant)} TO ${tx(username)}`;
        });
      });
      const url = new URL(config.connection_url);
      const database = decodeURIComponent(url.pathname.slice(1)) || username;
      url.username = encodeURIComponent(username);
      url.password = password;
      return {
        credential: {
          username,
          password,
          host: url.hostname,
          port: Number(url.port || 5432),
          database,
          connection_url: url.toString(),
        },
        externalId: username,
      };
    },
    async revoke(lease) {
      const username = roleOf(lease);
      await withConnection(config, "role drop", async (sql) => {
        const [exists] = await sql`SELECT 1 FROM pg_roles WHERE rolname = ${username}`;
        // Already dropped: a retried revoke is success.
        if (!exists) return;
        await sql.unsafe(`ALTER ROLE "${username}" NOLOGIN`);
        await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${username}`;
        // Leased roles only receive grants and own nothing, so DROP ROLE needs no DROP OWNED
        // (which a CREATEROLE provisioner may not run in PostgreSQL 15).
        await sql.unsafe(`DROP ROLE IF EXISTS "${username}"`);
      });
    },
    async renew(lease) {
      await withConnection(config, "role renewal", (sql) => sql.unsafe(`ALTER ROLE "${roleOf(lease)}" VALID UNTIL '${timestamp(lease.expiresAt)}'`));
    },
    async health() {
      await withConnection(config, "health check", (sql) => sql`SELECT 1`);
    },
    staticRoles: {
      async setPassword(username, password) {
        // Names are checked against PgIdentifier when bound; the password is base62 (a safe literal).
        await withConnection(config, "password change", (sql) => sql.unsafe(`ALTER ROLE "${username}" WITH LOGIN PASSWORD '${password}'`));
      },
      async verify(username, password) {
        const url = new URL(config.connection_url);
        url.username = encodeURIComponent(username);
        url.password = password;
        await withConnection({ ...config, connection_url: url.toString() }, "login with the new credential", async (sql) => {
          const [row] = await sql`SELECT 1 AS ok`;
          if (row?.ok !== 1) throw new ProviderError("PostgreSQL probe query returned nothing");
        });
      },
      async disable(username) {
        await withConnection(config, "role retire", async (sql) => {
          const [exists] = await sql`SELECT 1 FROM pg_roles WHERE rolname = ${username}`;
          if (!exists) return;
          await sql.unsafe(`ALTER ROLE "${username}" NOLOGIN`);
          await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${username}`;
        });
      },
    },
  };
}
