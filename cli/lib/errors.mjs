// One error type for the CLI: what happened, how to fix it, and the exit code.
// The entry point prints these two lines and exits; nothing prints a stack trace.

export const EXIT = { ok: 0, error: 1, usage: 2, notFound: 3, denied: 4 };

export class CliError extends Error {
  /**
   * @param {string} message what happened
   * @param {{ hint?: string, exitCode?: number, details?: string[] }} [options]
   */
  constructor(message, { hint, exitCode = EXIT.error, details = [] } = {}) {
    super(message);
    this.name = "CliError";
    this.hint = hint;
    this.exitCode = exitCode;
    this.details = details;
    /** The HTTP status, when the error is the API's answer (set by the API client). @type {number | undefined} */
    this.status = undefined;
    /** The problem document of that answer. @type {any} */
    this.problem = undefined;
  }
}

export const usageError = (message, hint) => new CliError(message, { hint, exitCode: EXIT.usage });

/** Maps an HTTP status from the API to the CLI's exit code. */
export function exitCodeForStatus(status) {
  if (status === 401 || status === 403) return EXIT.denied;
  if (status === 404 || status === 410) return EXIT.notFound;
  if (status === 400) return EXIT.usage;
  return EXIT.error;
}
