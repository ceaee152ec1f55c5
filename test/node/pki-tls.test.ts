// Issue 17's done-when checks with real validators: Debian's openssl, node:tls (TLS and mTLS),
// node-vault and the `hush pki issue` CLI, against a `wrangler dev` of the Worker.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { beforeAll, describe, expect, inject, it } from "vitest";

const require = createRequire(import.meta.url);
const nodeVault = require("node-vault") as (options: Record<string, unknown>) => any;

const addr = inject("hushAddr");
const token = inject("hushRootToken");
const dir = mkdtempSync(join(tmpdir(), "hush-pki-"));
const suffix = Date.now().toString(36);

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${addr}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // PEM
  }
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return parsed;
}

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const openssl = (...args: string[]) => spawnSync("openssl", args, { encoding: "utf8" });

let caPath: string;
let server: { cert: string; key: string; serial: string; lease: string };
let client: { cert: string; key: string };

beforeAll(async () => {
  const root = await call("POST", "/api/v1/pki/issuers", { type: "root", issuer_id: `tls-root-${suffix}`, common_name: "Hush TLS Test Root", default: true });
  caPath = write("ca.pem", root.certificate);
  await call("PUT", "/api/v1/pki/roles/default", {
    allowed_domains: ["localhost", "example.com"],
    allow_bare_domains: true,
    allow_subdomains: true,
    allow_ip_sans: true,
    max_ttl_seconds: 7200,
  });
  const s = await call("POST", "/api/v1/pki/issue/default", { common_name: "localhost", ip_sans: ["127.0.0.1"], ttl: "1h" });
  server = { cert: s.certificate, key: s.credential.private_key, serial: s.serial_number, lease: s.lease_id };
  const c = await call("POST", "/api/v1/pki/issue/default", { common_name: "client.example.com", ttl: "1h" });
  client = { cert: c.certificate, key: c.credential.private_key };
});

describe("issued certificates against real validators", () => {
  it("openssl verify -CAfile accepts an issued chain", () => {
    const result = openssl("verify", "-CAfile", caPath, write("server.pem", server.cert));
    expect(result.stdout + result.stderr).toContain(": OK");
    expect(result.status).toBe(0);
  });

  it("a node:tls handshake with an issued server certificate, a client that trusts only the CA, and mTLS", async () => {
    const ca = readFileSync(caPath, "utf8");
    const srv = tls.createServer({ key: server.key, cert: server.cert, ca, requestCert: true, rejectUnauthorized: true }, (socket) => {
      socket.end(`hello ${(socket.getPeerCertificate() as any).subject.CN}`);
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    try {
      const greeting = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca, key: client.key, cert: client.cert }, () => {
          if (!socket.authorized) reject(new Error(String(socket.authorizationError)));
        });
        let data = "";
        socket.on("data", (d) => (data += d));
        socket.on("end", () => resolve(data));
        socket.on("error", reject);
      });
      expect(greeting).toBe("hello client.example.com");
      // Without a client certificate the server refuses (mTLS is enforced, not decorative).
      await expect(
        new Promise((resolve, reject) => {
          const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca }, () => socket.on("data", resolve));
          socket.on("error", reject);
          socket.on("end", () => reject(new Error("closed")));
        }),
      ).rejects.toBeTruthy();
    } finally {
      srv.close();
    }
  });

  it("a revoked serial is in a CRL that openssl verifies, and openssl verify -crl_check then rejects the certificate", async () => {
    const before = write("crl-before.pem", await call("GET", "/v1/pki/crl/pem"));
    const ok = openssl("verify", "-crl_check", "-CAfile", caPath, "-CRLfile", before, join(dir, "server.pem"));
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);

    await call("POST", "/api/v1/pki/revoke", { serial_number: server.serial });
    const crlPath = write("crl.pem", await call("GET", "/v1/pki/crl/pem"));
    const check = openssl("crl", "-in", crlPath, "-CAfile", caPath, "-noout");
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout + check.stderr).toMatch(/verify OK/);
    const text = execFileSync("openssl", ["crl", "-in", crlPath, "-noout", "-text"], { encoding: "utf8" });
    expect(text.toUpperCase()).toContain(server.serial.replace(/:/g, "").toUpperCase());
    const rejected = openssl("verify", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPath, join(dir, "server.pem"));
    expect(rejected.status).not.toBe(0);
    expect(rejected.stdout + rejected.stderr).toContain("certificate revoked");
    // The DER form is the same CRL.
    const der = Buffer.from(await (await fetch(`${addr}/v1/pki/crl`, { headers: { "x-vault-token": token } })).arrayBuffer());
    const derCheck = spawnSync("openssl", ["crl", "-inform", "DER", "-CAfile", caPath, "-noout"], { input: der, encoding: "utf8" });
    expect(derCheck.status, derCheck.stderr).toBe(0);
  });

  it("node-vault: write pki/issue/default common_name=... ttl=1h", async () => {
    const vault = nodeVault({ apiVersion: "v1", endpoint: addr, token, noCustomHTTPVerbs: true });
    const res = await vault.write("pki/issue/default", { common_name: "payments.example.com", ttl: "1h" });
    expect(res.data.private_key).toMatch(/BEGIN PRIVATE KEY/);
    const result = openssl("verify", "-CAfile", caPath, write("payments.pem", res.data.certificate));
    expect(result.status, result.stdout + result.stderr).toBe(0);
    await expect(vault.write("pki/issue/default", { common_name: "payments.evil.com" })).rejects.toThrow(/allowed_domains/);
  });

  it("hush pki issue <role> --cn --san --ttl -o DIR writes cert.pem, key.pem (0600) and ca.pem", () => {
    const out = join(dir, "cli");
    const cli = spawnSync(
      process.execPath,
      [
        join(import.meta.dirname, "..", "..", "cli", "hush.mjs"),
        "pki",
        "issue",
        "default",
        "--cn",
        "cli.example.com",
        "--san",
        "www.example.com",
        "--ttl",
        "30m",
        "-o",
        out,
        "--json",
      ],
      {
        encoding: "utf8",
        env: { ...process.env, HUSH_ADDR: addr, HUSH_URL: addr, HUSH_TOKEN: token },
      },
    );
    expect(cli.status, cli.stdout + cli.stderr).toBe(0);
    expect(statSync(join(out, "key.pem")).mode & 0o777).toBe(0o600);
    const result = openssl("verify", "-CAfile", join(out, "ca.pem"), join(out, "cert.pem"));
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(readFileSync(join(out, "key.pem"), "utf8")).toMatch(/BEGIN PRIVATE KEY/);
  });
});
