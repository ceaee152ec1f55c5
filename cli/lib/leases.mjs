// Issuing and renewing leases with sensible defaults: without --ttl a lease lives as long as its
// role allows, at most DEFAULT_TTL_CAP; a renewal extends by at most what the role still allows.
import { CliError, usageError } from "./errors.mjs";
import { api } from "./context.mjs";
import { shortTime } from "./output.mjs";

const BASE = "/api/v1/secrets/leases";
/** The longest default TTL and renewal: credentials should be short-lived unless asked for. */
export const DEFAULT_TTL_CAP = 3600;

/** "provider/role" -> { provider, role }. */
export function parseLeaseSpec(spec, option = "") {
  const slash = spec.indexOf("/");
  if (slash < 1 || slash === spec.length - 1) {
    throw usageError(`${option ? `${option} ` : ""}${spec} is not provider/role`, `Write ${option ? `${option} ` : "hush lease issue "}postgresql/readonly`);
  }
  return { provider: spec.slice(0, slash), role: spec.slice(slash + 1) };
}

/**
 * Issues a lease. Without ttlSeconds: the role's maximum, capped at DEFAULT_TTL_CAP. The cap is
 * asked for first; when the role allows less the server answers 400 ttl-too-long with the role's
 * max_ttl_seconds and issues nothing, and that maximum is asked for instead. (Reading the roles
 * from GET /api/v1/secrets/providers would need providers:admin, and its denial would be audited
 * for every lease user.)
 * @returns {Promise<{ lease: any, ttlSeconds: number }>}
 */
export async function issueLease(provider, role, ttlSeconds) {
  if (ttlSeconds) return { lease: await api().post(BASE, { provider, role, ttl_seconds: ttlSeconds }), ttlSeconds };
  const ttl = DEFAULT_TTL_CAP;
  try {
    return { lease: await api().post(BASE, { provider, role, ttl_seconds: ttl }), ttlSeconds: ttl };
  } catch (err) {
    const allowed = err?.problem?.max_ttl_seconds;
    if (err?.status === 400 && Number.isInteger(allowed) && allowed > 0 && allowed < ttl) {
      return { lease: await api().post(BASE, { provider, role, ttl_seconds: allowed }), ttlSeconds: allowed };
    }
    throw err;
  }
}

/** Seconds a lease may still be extended by: up to its max_expires_at (the role's max TTL). */
export function renewableSeconds(lease) {
  const max = Date.parse(lease.max_expires_at ?? "");
  const now = Date.parse(lease.expires_at ?? "");
  if (Number.isNaN(max) || Number.isNaN(now)) return null;
  return Math.max(0, Math.floor((max - now) / 1000));
}

/**
 * Renews a lease. Without extendSeconds: by DEFAULT_TTL_CAP or what the role still allows, whichever is less.
 * @param {string} id
 * @param {number} [extendSeconds]
 */
export async function renewLease(id, extendSeconds) {
  const one = `${BASE}/${encodeURIComponent(id)}`;
  let extend = extendSeconds;
  if (!extend) {
    const lease = await api().get(one);
    const left = renewableSeconds(lease);
    if (left === 0) {
      throw new CliError(`Lease ${id} already lasts as long as its role allows (until ${shortTime(lease.max_expires_at)})`, {
        hint: `Issue a new lease when this one ends: hush lease issue ${lease.provider}/${lease.role}`,
      });
    }
    extend = Math.min(DEFAULT_TTL_CAP, left ?? DEFAULT_TTL_CAP);
  }
  return { lease: await api().post(`${one}/renew`, { extend_seconds: extend }), extendSeconds: extend };
}
