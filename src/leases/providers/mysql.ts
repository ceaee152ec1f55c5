import { MysqlConnection, MysqlError } from "./mysql-wire";
import { randomString } from "../../crypto/encoding";
import { ProviderError, type LeaseRef, type Provider } from "./types";

export interface MysqlGrant {
  privileges: string[];
  /** `database.*` or `database.table`. */
  on: string;
}

export interface MysqlConfig {
  /** mysql://user[:password]@host:port[/database] of an account with CREATE USER and GRANT OPTION. Sealed at rest. */
  connection_url: string;
  /** Prefix of the accounts this provider creates (and the only ones it will drop); at most 8 characters. */
  user_prefix: string;
  /** The host part of created accounts ('%' = any). */
  user_host: string;
}

/** Privileges a role may grant: data access only, never administration. */
export const MYSQL_PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE", "SHOW VIEW", "CREATE TEMPORARY TABLES"] as const;

/** The account of a lease: derived from the lease id (32 characters at most, MySQL's limit). */
export const mysqlUserOf = (prefix: string, leaseId: string) => `${prefix}${leaseId.slice("lease_".length)}`.toLowerCase();

interface Login {
  user?: string;
  password?: string;
}

/**
 * A short-lived connection per call (mysql-wire.ts over node:net). Only the error number
 * ever leaves: a server message can quote the statement, which holds a password.
 */
async function withConnection<T>(config: MysqlConfig, what: string, run: (conn: MysqlConnection) => Promise<T>, login: Login = {}): Promise<T> {
  let url: URL;
  try {
    url = new URL(config.connection_url);
  } catch {
    throw new ProviderError("The MySQL connection string is not valid");
  }
  let conn: MysqlConnection | undefined;
  try {
    conn = await MysqlConnection.connect({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: login.user ?? decodeURIComponent(url.username),
      password: login.password ?? decodeURIComponent(url.password),
      database: login.user ? undefined : decodeURIComponent(url.pathname.slice(1)) || undefined,
    });
    return await run(conn);
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    const code = err instanceof MysqlError ? String(err.errno) : (err as Error)?.name;
    console.error(`mysql provider: ${what} failed`, code);
    throw new ProviderError(`MySQL ${what} failed${code ? ` (${code})` : ""}`);
  } finally {
    await conn?.close().catch(() => {});
  }
}

/** A quoted account name: names are checked by the config schemas (a-z 0-9 _), the host too. */
const account = (user: string, host: string) => `'${user}'@'${host}'`;

async function killSessions(conn: MysqlConnection, user: string) {
  const rows = await conn.query(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${user}'`);
  for (const { ID } of rows) {
    await conn.query(`KILL ${Number(ID)}`).catch(() => {});
  }
}

/** Dynamic MySQL/MariaDB accounts: CREATE USER with grants on issue, DROP USER (and its sessions) on revoke. */
export function mysqlProvider(config: MysqlConfig): Provider {
  const userOf = (lease: LeaseRef) => mysqlUserOf(config.user_prefix, lease.id);
  const host = config.user_host;
  return {
    async issue(lease, { role }) {
      const user = userOf(lease);
      const password = randomString(32);
      await withConnection(config, "account creation", async (conn) => {
        // A retried issue finds the account already there: replace it.
        await conn.query(`DROP USER IF EXISTS ${account(user, host)}`);
        await conn.query(`CREATE USER ${account(user, host)} IDENTIFIED BY '${password}'`);
        for (const grant of (role.mysql_grants ?? []) as MysqlGrant[]) {
          await conn.query(`GRANT ${grant.privileges.join(", ")} ON ${grant.on} TO ${account(user, host)}`);
        }
      });
      const url = new URL(config.connection_url);
      const database = decodeURIComponent(url.pathname.slice(1));
      url.username = user;
      url.password = password;
      return {
        credential: { username: user, password, host: url.hostname, port: Number(url.port || 3306), database, connection_url: url.toString() },
        externalId: user,
      };
    },
    async revoke(lease) {
      const user = userOf(lease);
      await withConnection(config, "account drop", async (conn) => {
        // Already dropped: a retried revoke is success.
        await conn.query(`DROP USER IF EXISTS ${account(user, host)}`);
        await killSessions(conn, user);
      });
    },
    async health() {
      await withConnection(config, "health check", (conn) => conn.query("SELECT 1"));
    },
    staticRoles: {
      async setPassword(username, password) {
        await withConnection(config, "password change", (conn) =>
          conn.query(`ALTER USER ${account(username, host)} IDENTIFIED BY '${password}' ACCOUNT UNLOCK`),
        );
      },
      async verify(username, password) {
        await withConnection(
          config,
          "login with the new credential",
          async (conn) => {
            const rows = await conn.query("SELECT 1 AS ok");
            if (rows[0]?.ok !== "1") throw new ProviderError("MySQL probe query returned nothing");
          },
          { user: username, password },
        );
      },
      async disable(username) {
        await withConnection(config, "account retire", async (conn) => {
          const rows = await conn.query(`SELECT 1 AS found FROM mysql.user WHERE User = '${username}' AND Host = '${host}'`);
          if (rows.length === 0) return;
          await conn.query(`ALTER USER ${account(username, host)} ACCOUNT LOCK`);
          await killSessions(conn, username);
        });
      },
    },
  };
}
