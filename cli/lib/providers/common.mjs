// What every provider shares: errors that name the provider, and a tag for "could not be reached".
import { CliError, EXIT } from "../errors.mjs";

/**
 * An error from one provider: the message starts with its name, so a fallback or a chain that
 * failed everywhere can say who failed. `unavailable` marks failures a fallback may cover
 * (unreachable, 5xx, throttled), never a denial or a missing secret.
 * @example throw providerError("local", "no secret at app/db", { exitCode: EXIT.notFound })
 * @param {string} provider
 * @param {string} message
 * @param {{ hint?: string, exitCode?: number, unavailable?: boolean }} [options]
 */
export function providerError(provider, message, { hint, exitCode = EXIT.error, unavailable = false } = {}) {
  return Object.assign(new CliError(`${provider}: ${message}`, { hint, exitCode }), { provider, unavailable });
}

/** Whether an error from the Hush API client means the server could not answer (not: said no). */
export const isUnavailable = (err) =>
  Boolean(err?.unavailable) || (err?.status === undefined && /Could not reach/.test(err?.message ?? "")) || err?.status >= 500 || err?.status === 429;

export const readOnlyError = (provider, action, hint) => providerError(provider, `is read-only: it cannot ${action}`, { exitCode: EXIT.usage, hint });
