// `hush run --cert <role>` (issue 17): the child gets a TLS identity in files named by
// HUSH_CERT_FILE / HUSH_KEY_FILE / HUSH_CA_FILE; when it exits the certificate is revoked
// through its lease (so validators reject it) and the files are gone.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { hush } from "./helpers";

const node = process.execPath;
const suffix = Date.now().toString(36);
const ISSUER = `cli-run-${suffix}`;
const ROLE = `cli-run-${suffix}`;
const work = mkdtempSync(join(tmpdir(), "hush-run-cert-test-"));

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${inject("hushAddr")}${path}`, {
    method,
    headers: { authorization: `Bearer ${inject("hushRootToken")}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text.startsWith("{") ? JSON.parse(text) : text;
}

const openssl = (...args: string[]) => spawnSync("openssl", args, { encoding: "utf8" });

beforeAll(async () => {
  // An issuer and role of this file's own: other suites set the tenant's default issuer and role.
  await call("POST", "/api/v1/pki/issuers", { type: "root", issuer_id: ISSUER, common_name: "Hush run --cert Test Root" });
  await call("PUT", `/api/v1/pki/roles/${ROLE}`, {
    issuer: ISSUER,
    allowed_domains: ["localhost"],
    allow_bare_domains: true,
    allow_ip_sans: true,
    max_ttl_seconds: 3600,
  });
});

// The child: checks the files and their modes, runs a TLS server with cert.pem/key.pem and a
// client that trusts only ca.pem, and reports everything (with copies of the PEMs) to a file.
const CHILD = `
const fs = require("fs"), tls = require("tls"), path = require("path");
const [cert, key, ca] = [process.env.HUSH_CERT_FILE, process.env.HUSH_KEY_FILE, process.env.HUSH_CA_FILE];
const report = {
  files: { cert, key, ca },
  lease_id: process.env.HUSH_CERT_LEASE_ID, serial: process.env.HUSH_CERT_SERIAL,
  keyMode: fs.statSync(key).mode & 0o777, dirMode: fs.statSync(path.dirname(key)).mode & 0o777,
  pem: { cert: fs.readFileSync(cert, "utf8"), ca: fs.readFileSync(ca, "utf8") },
  hasToken: "HUSH_TOKEN" in process.env,
};
const server = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (s) => s.end("hello over tls"));
server.listen(0, "127.0.0.1", () => {
  const socket = tls.connect({ host: "127.0.0.1", port: server.address().port, servername: "localhost", ca: fs.readFileSync(ca) }, () => {
    report.authorized = socket.authorized;
  });
  let data = "";
  socket.on("data", (d) => (data += d));
  socket.on("end", () => {
    report.greeting = data;
    fs.writeFileSync(process.argv[1], JSON.stringify(report));
    server.close();
  });
  socket.on("error", (e) => { report.error = String(e); fs.writeFileSync(process.argv[1], JSON.stringify(report)); process.exit(3); });
});
`;

describe("hush run --cert", () => {
  it("gives the child cert.pem, key.pem (0600) and ca.pem that make a TLS identity, then revokes it and deletes the files", async () => {
    const out = join(work, "seen.json");
    const result = await hush(["run", "--cert", ROLE, "--cert-cn", "localhost", "--cert-san", "127.0.0.1", "--cert-ttl", "30m", "--", node, "-e", CHILD, out]);
    expect(result.code, result.stderr).toBe(0);
    const seen = JSON.parse(readFileSync(out, "utf8"));

    // While the child ran: a private directory, a 0600 key, and a real handshake trusting only the CA.
    expect(seen.error).toBeUndefined();
    expect(seen.authorized).toBe(true);
    expect(seen.greeting).toBe("hello over tls");
    expect(seen.keyMode).toBe(0o600);
    expect(seen.dirMode).toBe(0o700);
    expect(new Set([dirname(seen.files.cert), dirname(seen.files.key), dirname(seen.files.ca)]).size).toBe(1);
    expect(seen.hasToken).toBe(false);
    // The private key never reaches the CLI's output.
    expect(result.stdout + result.stderr).not.toContain("PRIVATE KEY");

    // Afterwards: the files and their directory are gone...
    for (const file of Object.values(seen.files) as string[]) expect(existsSync(file), file).toBe(false);
    expect(existsSync(dirname(seen.files.key))).toBe(false);

    // ...and the certificate is revoked through its lease: openssl accepted it, the CRL now rejects it.
    const certPath = join(work, "cert.pem");
    const caPath = join(work, "ca.pem");
    writeFileSync(certPath, seen.pem.cert);
    writeFileSync(caPath, seen.pem.ca);
    const subject = openssl("x509", "-in", certPath, "-noout", "-subject", "-serial");
    expect(subject.stdout).toMatch(/CN ?= ?localhost/);
    expect(subject.stdout.toLowerCase().replace(/[^0-9a-f=\n]/g, "")).toContain(
      String(seen.serial)
        .toLowerCase()
        .replace(/[^0-9a-f]/g, ""),
    );
    expect(openssl("verify", "-CAfile", caPath, certPath).status).toBe(0);

    let lease: { state: string } = { state: "" };
    for (let i = 0; i < 100 && lease.state !== "revoked"; i++) {
      lease = await call("GET", `/api/v1/secrets/leases/${seen.lease_id}`);
      if (lease.state !== "revoked") await new Promise((r) => setTimeout(r, 200));
    }
    expect(lease.state).toBe("revoked");
    const crlPath = join(work, "crl.pem");
    writeFileSync(crlPath, await call("GET", `/api/v1/pki/issuers/${ISSUER}/crl`));
    const checked = openssl("verify", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPath, certPath);
    expect(checked.status).not.toBe(0);
    expect(checked.stdout + checked.stderr).toContain("certificate revoked");
  });
});
