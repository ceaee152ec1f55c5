import type { BatchItem, Db } from "../../db/client";
import type { ProviderRole } from "../../db/schema";
import type { Principal } from "../../http/context";

/** What a provider knows about the lease it acts on: identifiers only. */
export interface LeaseRef {
  id: string;
  tenantId: string;
  role: string;
  /** Issued credentials are named after the lease, so revoke works even if issue died halfway. */
  externalId: string | null;
  expiresAt: number;
}

export interface Issued {
  /** Returned to the caller once, never stored. */
  credential: Record<string, unknown>;
  externalId: string;
  /** D1 writes that belong to the issue (hush-api-key's token row), run in the lease's batch. */
  statements?: BatchItem[];
}

export interface ProviderContext {
  db: Db;
  now: number;
  role: ProviderRole;
  roleName: string;
  /** Subject of the caller asking for the credential. */
  actor: string;
  /** The caller: a credential that is a Hush token is minted under it (auth/identity.ts). */
  principal: Principal;
}

/**
 * One backend that mints and destroys credentials. `revoke` must be idempotent: a
 * second revoke of the same lease (a retried message) is success, never an error.
 */
export interface Provider {
  issue(lease: LeaseRef, ctx: ProviderContext): Promise<Issued>;
  revoke(lease: LeaseRef, ctx: { db: Db; now: number }): Promise<void>;
  /** Moves the credential's own expiry when the lease is renewed (where the backend has one). */
  renew?(lease: LeaseRef, ctx: { db: Db; now: number }): Promise<BatchItem[] | void>;
  health(ctx: { db: Db }): Promise<void>;
  /** Database providers: the static-rotation operations on existing roles (src/rotations/). */
  staticRoles?: StaticRoles;
}

/**
 * What a static rotation asks of a database provider, on login names an operator bound to
 * a secret path (never on names a caller supplies). Every operation is idempotent: a resumed
 * rotation repeats the last one it may not have finished.
 */
export interface StaticRoles {
  /** Sets `username`'s password and lets it log in. */
  setPassword(username: string, password: string): Promise<void>;
  /** Logs in as `username` with `password` and runs a probe query; throws ProviderError if either fails. */
  verify(username: string, password: string): Promise<void>;
  /** Stops `username` logging in and ends its sessions (the a/b strategy's retire). */
  disable(username: string): Promise<void>;
}

/**
 * A provider failure with a message we wrote. Only this message is stored and
 * shown: a driver's own error may echo a connection string or a password.
 */
export class ProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProviderError";
  }
}

/** The provider's failure as a safe one-liner for last_error and problem details. */
export const safeMessage = (err: unknown) => (err instanceof ProviderError ? err.message.slice(0, 300) : "The provider failed (see the Worker log)");
