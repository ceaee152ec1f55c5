// `hush pki issue <role>`: a short-lived TLS identity written to files (issue 17).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { api, command, examples } from "../lib/context.mjs";
import { info, parseDuration, printFields, printJson } from "../lib/output.mjs";

const collect = (value, previous = []) => [...previous, value];

export function register(program) {
  const pki = program.command("pki").description("short-lived certificates from a PKI role");
  examples(pki, ["hush pki issue web --cn api.example.com -o ./tls", "hush help pki issue"]);

  const issue = command(pki, "issue <role>", "issue a certificate and key; write cert.pem, key.pem (0600) and ca.pem")
    .option("--cn <name>", "common name")
    .option("--san <name>", "subject alternative name (repeat; IPs and URIs are sorted out)", collect)
    .option("--ttl <duration>", "time to live, like 1h (default: the role's)")
    .option("-o, --out <dir>", "directory for cert.pem, key.pem, ca.pem", ".")
    .action(async (role, opts) => {
      const sans = opts.san ?? [];
      const body = {
        ...(opts.cn && { common_name: opts.cn }),
        alt_names: sans.filter((s) => !/^[0-9.]+$|:/.test(s)),
        ip_sans: sans.filter((s) => /^[0-9.]+$/.test(s) || (/^[0-9a-f:]+$/i.test(s) && s.includes(":"))),
        uri_sans: sans.filter((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s)),
        ...(opts.ttl && { ttl_seconds: parseDuration(opts.ttl, "--ttl") }),
      };
      const result = await api().post(`/api/v1/pki/issue/${encodeURIComponent(role)}`, body);
      const dir = resolve(opts.out);
      mkdirSync(dir, { recursive: true });
      const keyPath = join(dir, "key.pem");
      // The key file is created 0600 and never readable by others, even for a moment.
      writeFileSync(keyPath, result.credential.private_key, { mode: 0o600 });
      chmodSync(keyPath, 0o600);
      writeFileSync(join(dir, "cert.pem"), result.certificate);
      writeFileSync(join(dir, "ca.pem"), result.ca_chain.join("\n"));
      const summary = { lease_id: result.lease_id, serial_number: result.serial_number, expires_at: result.expires_at, cert: join(dir, "cert.pem"), key: keyPath, ca: join(dir, "ca.pem") };
      if (opts.json) return printJson(summary);
      printFields(Object.entries(summary));
      info("The private key exists only in key.pem; Hush did not keep it. Revoke with: hush lease revoke " + result.lease_id);
    });
  examples(issue, ["hush pki issue web --cn api.example.com --san www.example.com --ttl 1h -o ./tls"]);
}
