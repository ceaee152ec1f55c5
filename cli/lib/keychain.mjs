// The OS keychain, for the two secrets the CLI keeps: the local store's key (cli/lib/sealed-file.mjs)
// and the token `hush login` saves. macOS: `security` (the login keychain); Linux: libsecret's
// `secret-tool` (GNOME Keyring, KWallet; needs a desktop session's D-Bus). Elsewhere, or when the
// tool is missing or refuses, there is no keychain and callers fall back to a 0600 file.
// Secrets are passed on stdin, never on the tool's command line. HUSH_KEYCHAIN=0 turns it off.
import { spawnSync } from "node:child_process";

export const SERVICE = "hush";

/** Which tool this platform has, or null. */
function tool(env = process.env) {
  if (env.HUSH_KEYCHAIN === "0") return null;
  if (process.platform === "darwin") return "security";
  if (process.platform === "linux") return "secret-tool";
  return null;
}

const run = (cmd, args, input) =>
  spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000, input, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "ignore"] });

/** A double-quoted word for `security -i` (which reads its commands from stdin). */
const quoted = (text) => `"${String(text).replace(/["\\]/g, "\\$&")}"`;

/** Where secrets go, for messages: "the OS keychain (secret-tool)"; null without a keychain. */
export function keychainName(env = process.env) {
  const t = tool(env);
  return t ? `the OS keychain (${t})` : null;
}

/** The secret saved under this account, or null (no keychain, no entry, or the tool failed). */
export function keychainGet(account, env = process.env) {
  const t = tool(env);
  if (!t) return null;
  const result =
    t === "security" ? run(t, ["find-generic-password", "-s", SERVICE, "-a", account, "-w"]) : run(t, ["lookup", "service", SERVICE, "account", account]);
  if (result.error || result.status !== 0) return null;
  const secret = result.stdout.replace(/\r?\n$/, "");
  return secret || null;
}

/** Saves a secret; true when the keychain took it (and gives it back), false to fall back to a file. */
export function keychainSet(account, secret, label, env = process.env) {
  const t = tool(env);
  if (!t) return false;
  const result =
    t === "security"
      ? run(t, ["-i"], `add-generic-password -U -s ${quoted(SERVICE)} -a ${quoted(account)} -l ${quoted(label)} -w ${quoted(secret)}\n`)
      : run(t, ["store", `--label=${label}`, "service", SERVICE, "account", account], secret);
  if (result.error || result.status !== 0) return false;
  // A keychain that says yes but keeps nothing (a locked or absent collection) is no keychain.
  return keychainGet(account, env) === secret;
}

/** Removes the secret saved under this account; true when the keychain answered. */
export function keychainDelete(account, env = process.env) {
  const t = tool(env);
  if (!t) return false;
  const result =
    t === "security" ? run(t, ["delete-generic-password", "-s", SERVICE, "-a", account]) : run(t, ["clear", "service", SERVICE, "account", account]);
  return !result.error && result.status === 0;
}
