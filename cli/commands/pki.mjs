// `hush pki issue <role>`: a short-lived TLS identity written to files (issue 17).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { api, command, examples } from "../lib/context.mjs";
import { info, parseDuration, printFields, printJson } from "../lib/output.mjs";

const collect = (value, previous = []) => [...previous, value];

/**
 * POST /api/v1/pki/issue/{role} with --cn, --san (sorted into DNS, IP and URI SANs) and --ttl.
 * @param {string} role
 * @param {{ cn?: string, san?: string[], ttl?: string, ttlOption?: string }} [options]
 */
export function requestCertificate(role, { cn, san, ttl, ttlOption = "--ttl" } = {}) {
  const sans = san ?? [];
  const body = {
    ...(cn && { common_name: cn }),
    alt_names: sans.filter((s) => !/^[0-9.]+$|:/.test(s)),
    ip_sans: sans.filter((s) => /^[0-9.]+$/.test(s) || (/^[0-9a-f:]+$/i.test(s) && s.includes(":"))),
    uri_sans: sans.filter((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s)),
    ...(ttl && { ttl_seconds: parseDuration(ttl, ttlOption) }),
  };
  return api().post(`/api/v1/pki/issue/${encodeURIComponent(role)}`, body);
}

/** Writes cert.pem, key.pem (created 0600) and ca.pem (the issuing chain) into dir. */
export function writeIdentity(dir, result) {
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, "key.pem");
  // The key file is created 0600 and never readable by others, even for a moment.
  writeFileSync(keyPath, result.credential.private_key, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  const certPath = join(dir, "cert.pem");
  const caPath = join(dir, "ca.pem");
  writeFileSync(certPath, result.certificate);
  writeFileSync(caPath, result.ca_chain.join("\n"));
  return { dir, certPath, keyPath, caPath };
}

export function register(program) {
  const pki = program.command("pki").description("short-lived certificates from a PKI role");
  examples(pki, ["hush pki issue web --cn api.example.com -o ./tls", "hush help pki issue"]);

  const issue = command(pki, "issue <role>", "issue a certificate and key; write cert.pem, key.pem (0600) and ca.pem")
    .option("--cn <name>", "common name")
    .option("--san <name>", "subject alternative name (repeat; IPs and URIs are sorted out)", collect)
    .option("--ttl <duration>", "time to live, like 1h (default: the role's)")
    .option("-o, --out <dir>", "directory for cert.pem, key.pem, ca.pem", ".")
    .action(async (role, opts) => {
      const result = await requestCertificate(role, opts);
      const { certPath, keyPath, caPath } = writeIdentity(resolve(opts.out), result);
      const summary = {
        lease_id: result.lease_id,
        serial_number: result.serial_number,
        expires_at: result.expires_at,
        cert: certPath,
        key: keyPath,
        ca: caPath,
      };
      if (opts.json) return printJson(summary);
      printFields(Object.entries(summary));
      info("The private key exists only in key.pem; Hush did not keep it. Revoke with: hush lease revoke " + result.lease_id);
    });
  examples(issue, ["hush pki issue web --cn api.example.com --san www.example.com --ttl 1h -o ./tls"]);
}
