// The local audit log for the providers that have no server to audit them (local, env): one JSON
// line per operation (who, what, when, outcome), written only when enableAuditLog is on. Entries
// are built from named fields only; no value can reach them.
import { appendFileSync, closeSync, mkdirSync, openSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname } from "node:path";
import { checkPrivate } from "./sealed-file.mjs";
import { project } from "./project.mjs";

const actor = () => {
  let user;
  try {
    user = userInfo().username;
  } catch {
    user = String(process.getuid?.() ?? "unknown");
  }
  return `${user}@${hostname()}`;
};

/**
 * Appends one event. `reason` is an error message (these name paths and providers, never values).
 * `force`: write it even with enableAuditLog off (accessControl denials are always recorded).
 * @param {{ provider: string, action: string, path?: string, count?: number, outcome: "ok" | "not_found" | "denied" | "error", reason?: string }} event
 * @param {{ force?: boolean }} [options]
 */
export function audit(event, { force = false } = {}) {
  const settings = project();
  if (!settings.enableAuditLog && !force) return;
  const file = settings.auditLogPath;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, "a", 0o600));
  checkPrivate(file, "The audit log");
  const line = {
    time: new Date().toISOString(),
    actor: actor(),
    provider: event.provider,
    action: event.action,
    ...(event.path !== undefined ? { path: event.path } : {}),
    ...(event.count !== undefined ? { count: event.count } : {}),
    outcome: event.outcome,
    ...(event.reason ? { reason: event.reason } : {}),
    pid: process.pid,
  };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}
