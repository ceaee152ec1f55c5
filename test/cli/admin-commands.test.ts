// The commands for what was curl-only (issue 14, section 5): policies, login roles, tenants, lease
// providers, approvals and transit, each run as the real `hush` against the suite's `wrangler dev`,
// and each with what a token with less than admin must not be able to do.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hush, tokenWith, unique } from "./helpers";

const name = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const json = (stdout: string) => JSON.parse(stdout);

describe("hush policy", () => {
  it("puts, lists, shows and deletes a policy, and a token naming it gets exactly its grants", async () => {
    const policy = name("cli-pol");
    const prefix = unique("pol");
    const put = await hush(["policy", "put", policy, "--rule", `paths=${prefix.split("/")[0]}/*;capabilities=read,list`, "--description", "read one prefix"]);
    expect(put.stderr).toBe("");
    expect(put.stdout).toContain(`Stored policy ${policy} (1 rule)`);
    const list = await hush(["policy", "list", "--json"]);
    const listed = json(list.stdout).items.find((p: { name: string }) => p.name === policy);
    expect(listed).toMatchObject({
      description: "read one prefix",
      rules: [{ paths: [`${prefix.split("/")[0]}/*`], capabilities: ["read", "list"], effect: "allow" }],
    });
    const shown = await hush(["policy", "get", policy]);
    expect(shown.stdout).toMatch(/allow\s+read,list/);

    // From a file, with a deny rule: replaced in place.
    const file = join(mkdtempSync(join(tmpdir(), "hush-pol-")), "policy.json");
    writeFileSync(file, JSON.stringify({ rules: [{ paths: ["x/*"], capabilities: ["read"], effect: "deny" }] }));
    expect((await hush(["policy", "put", policy, "--file", file])).code).toBe(0);
    expect(json((await hush(["policy", "get", policy, "--json"])).stdout).rules).toEqual([{ paths: ["x/*"], capabilities: ["read"], effect: "deny" }]);

    const del = await hush(["policy", "delete", policy, "--yes"]);
    expect(del.stdout).toContain(`Deleted policy ${policy}`);
    expect((await hush(["policy", "get", policy])).code).toBe(3);
  });

  it("a bad --rule is a usage error naming the fix, and nothing is sent", async () => {
    const bad = await hush(["policy", "put", name("cli-pol"), "--rule", "paths=app/*"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("needs paths= and capabilities=");
    expect(bad.stderr).toContain("How to fix:");
  });

  it("a token without auth:admin cannot write a policy that would widen its own reach", async () => {
    const reader = await tokenWith(["secrets:read"], "cli-pol-reader");
    const put = await hush(["policy", "put", name("cli-pol"), "--rule", "paths=*;capabilities=read,write,admin"], { token: reader });
    expect(put.code).toBe(4);
    expect(put.stderr).toContain("How to fix:");
    expect((await hush(["policy", "list"], { token: reader })).code).toBe(4);
  });
});

describe("hush login-role", () => {
  it("creates a role from stdin (the JWKS never on argv), lists, shows and deletes it", async () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const role = name("cli-role");
    const policy = name("cli-role-pol");
    expect((await hush(["policy", "put", policy, "--rule", "paths=ci/*;capabilities=read"])).code).toBe(0);
    const body = {
      name: role,
      issuer: "https://issuer.example",
      audience: "hush",
      jwks: { keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1" }] },
      bound_claims: { repository: "acme/app" },
      policies: [policy],
    };
    const created = await hush(["login-role", "create"], { input: JSON.stringify(body) });
    expect(created.stderr).toBe("");
    expect(created.stdout).toContain(`Stored login role ${role}`);
    const listed = json((await hush(["login-role", "list", "--json"])).stdout).items.map((r: { name: string }) => r.name);
    expect(listed).toContain(role);
    const shown = await hush(["login-role", "get", role]);
    expect(shown.stdout).toContain("repository=acme/app");
    expect(shown.stdout).toContain("1 inline key(s)");
    expect((await hush(["login-role", "delete", role, "--yes"])).code).toBe(0);
    expect((await hush(["login-role", "get", role])).code).toBe(3);
  });

  it("invalid JSON on stdin is a usage error, and a non-admin token cannot create a role", async () => {
    const notJson = await hush(["login-role", "create"], { input: "{nope" });
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain("stdin is not JSON");
    const writer = await tokenWith(["secrets:read", "secrets:write"], "cli-role-writer");
    const denied = await hush(["login-role", "create"], {
      input: JSON.stringify({ name: name("r"), issuer: "https://x", audience: "a", jwks_url: "https://x/jwks", bound_claims: { sub: "*" }, policies: ["ci"] }),
      token: writer,
    });
    expect(denied.code).toBe(4);
  });
});

describe("hush tenant", () => {
  it("the root token creates and lists tenants; another token may not", async () => {
    const id = name("t").replace(/[^a-z0-9-]/g, "");
    const created = await hush(["tenant", "create", id, "--name", "CLI Tenant", "--json"]);
    expect(created.stderr).toBe("");
    expect(json(created.stdout)).toMatchObject({ id, name: "CLI Tenant" });
    const listed = await hush(["tenant", "list"]);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+CLI Tenant`));
    const admin = await tokenWith(["auth:admin", "secrets:read"], "cli-tenant-admin");
    expect((await hush(["tenant", "create", `${id}x`], { token: admin })).code).toBe(4);
    expect((await hush(["tenant", "list"], { token: admin })).code).toBe(4);
  });

  it("root spreads a tenant's audit log over more chains; lowering it or another token is refused", async () => {
    const id = name("tc").replace(/[^a-z0-9-]/g, "");
    expect((await hush(["tenant", "create", id])).code).toBe(0);
    const updated = await hush(["tenant", "update", id, "--audit-chains", "4"]);
    expect(updated.stderr).toBe("");
    expect(updated.stdout).toContain(`Tenant ${id}: 4 audit chains`);
    expect(json((await hush(["tenant", "list", "--json"])).stdout).items.find((t: { id: string }) => t.id === id)).toMatchObject({
      audit_chains: 4,
      database: 0,
    });
    expect((await hush(["tenant", "list"])).stdout).toContain("AUDIT CHAINS");
    const lower = await hush(["tenant", "update", id, "--audit-chains", "2"]);
    expect(lower.code).not.toBe(0);
    expect(lower.stderr).toMatch(/only grow|lower/i);
    const admin = await tokenWith(["tokens:admin", "auth:admin"], "cli-tenant-chains");
    const refused = await hush(["tenant", "update", id, "--audit-chains", "8"], { token: admin });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("Only the operator's root token can do this");
    expect((await hush(["tenant", "update", id, "--audit-chains", "zero"])).code).not.toBe(0);
  });
});

describe("hush provider", () => {
  it("puts a provider from stdin, lists it with its roles, checks health, and issues a lease from it", async () => {
    const provider = name("cli-prov");
    const body = { name: provider, kind: "hush-api-key", roles: { reader: { max_ttl_seconds: 600, scopes: ["secrets:read"], paths: ["app/*"] } } };
    const put = await hush(["provider", "put"], { input: JSON.stringify(body) });
    expect(put.stderr).toBe("");
    expect(put.stdout).toContain(`Stored provider ${provider} (hush-api-key; roles reader)`);
    const listed = await hush(["provider", "list"]);
    expect(listed.stdout).toMatch(new RegExp(`${provider}\\s+hush-api-key\\s+reader \\(max 600s\\)`));
    const health = json((await hush(["provider", "health", "--json"])).stdout).items.find((p: { name: string }) => p.name === provider);
    expect(health).toMatchObject({ kind: "hush-api-key", status: "ok" });
    const lease = await hush(["lease", "issue", `${provider}/reader`, "--json"]);
    expect(lease.code).toBe(0);
    const revoked = await hush(["provider", "revoke-leases", provider, "--yes", "--json"]);
    expect(json(revoked.stdout)).toMatchObject({ provider, count: 1 });
  });

  it("a token without the operator's grants cannot add a provider", async () => {
    const reader = await tokenWith(["secrets:read"], "cli-prov-reader");
    const body = { name: name("cli-prov"), kind: "hush-api-key", roles: { admin: { max_ttl_seconds: 600, scopes: ["auth:admin"] } } };
    const put = await hush(["provider", "put"], { input: JSON.stringify(body), token: reader });
    expect(put.code).toBe(4);
  });
});

describe("hush approval", () => {
  it("a guarded delete waits for another person's approval given with `hush approval approve`; never the requester's own", async () => {
    const path = unique("guarded/key");
    const approver = name("approver");
    const requester = name("requester");
    const policy = await hush(["approval", "policy", "create", "--paths", path, "--actions", "delete", "--required", "1", "--approvers", approver, "--json"]);
    expect(policy.stderr).toBe("");
    const policyId = json(policy.stdout).id;
    expect((await hush(["set", path, "--stdin"], { input: "v1" })).code).toBe(0);

    const requesterToken = await tokenWith(["secrets:read", "secrets:write", "secrets:delete"], requester);
    const asked = await hush(["delete", path, "--yes"], { token: requesterToken });
    expect(asked.code).toBe(4);
    const id = /apr_[0-9a-f]{24}/.exec(asked.stderr)?.[0];
    expect(id, asked.stderr).toBeDefined();

    const mine = await hush(["approval", "list", "--json"], { token: requesterToken });
    expect(json(mine.stdout).items.map((r: { id: string }) => r.id)).toContain(id);
    const selfApproval = await hush(["approval", "approve", id!, "--yes"], { token: requesterToken });
    expect(selfApproval.code).toBe(4);
    expect(selfApproval.stderr).toContain("never approve their own");

    const approverToken = await tokenWith(["secrets:read"], approver);
    const approved = await hush(["approval", "approve", id!, "--yes"], { token: approverToken });
    expect(approved.stderr).toBe("");
    expect(approved.stdout).toContain(`Approved ${id}: delete ${path} is approved`);
    const shown = await hush(["approval", "show", id!]);
    expect(shown.stdout).toMatch(/approvals\s+1 of 1 \(/);

    expect((await hush(["delete", path, "--yes"], { token: requesterToken })).code).toBe(0);
    expect((await hush(["approval", "policy", "list", "--json"])).stdout).toContain(policyId);
    expect((await hush(["approval", "policy", "delete", policyId, "--yes"])).code).toBe(0);
  });

  it("an outsider can neither approve nor manage approval policies", async () => {
    const outsider = await tokenWith(["secrets:read", "secrets:write"], name("outsider"));
    const create = await hush(["approval", "policy", "create", "--paths", "*", "--actions", "delete", "--required", "1", "--approvers", "outsider"], {
      token: outsider,
    });
    expect(create.code).toBe(4);
    // Deny is an approver's act too: the outsider is refused, and an unknown request is a 404.
    const deny = await hush(["approval", "deny", "apr_000000000000000000000000", "--yes"], { token: outsider });
    expect(deny.code).not.toBe(0);
    expect(deny.stdout).toBe("");
  });
});

describe("hush transit", () => {
  it("encrypts stdin and decrypts it back to the same bytes, with a context; rotation keeps old ciphertexts readable", async () => {
    const key = name("cli-transit");
    expect((await hush(["transit", "key", "create", key])).stdout).toContain(`Created transit key ${key} (aes256-gcm, version 1)`);
    const plaintext = "4111 1111 1111 1111\n\u00e9";
    const enc = await hush(["transit", "encrypt", key, "--context", "customer-42"], { input: plaintext });
    expect(enc.stderr).toBe("");
    const ciphertext = enc.stdout.trim();
    expect(ciphertext).toMatch(/^hush:v1:/);
    expect(ciphertext).not.toContain("4111");
    const dec = await hush(["transit", "decrypt", key, "--context", "customer-42"], { input: `${ciphertext}\n` });
    expect(dec.stdout).toBe(plaintext);
    expect((await hush(["transit", "decrypt", key, ciphertext])).code).not.toBe(0); // without its context

    expect((await hush(["transit", "key", "rotate", key])).stdout).toContain("version 2");
    const again = await hush(["transit", "encrypt", key], { input: "x" });
    expect(again.stdout).toMatch(/^hush:v2:/);
    expect((await hush(["transit", "decrypt", key, ciphertext, "--context", "customer-42"])).stdout).toBe(plaintext);
    const rewrapped = await hush(["transit", "rewrap", key, ciphertext, "--context", "customer-42"]);
    expect(rewrapped.stdout).toMatch(/^hush:v2:/);
    const shown = await hush(["transit", "key", "show", key, "--json"]);
    expect(json(shown.stdout)).toMatchObject({ name: key, latest_version: 2, deletion_allowed: false });
    const listed = await hush(["transit", "key", "list"]);
    expect(listed.stdout).toMatch(new RegExp(`${key}\\s+aes256-gcm\\s+2\\s+1\\s+no`));
    expect((await hush(["transit", "key", "list"], { token: await tokenWith(["secrets:read"], "cli-transit-reader") })).code).toBe(4);
  });

  it("hmac and sign, and verify exits 1 on a mismatch", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hush-transit-"));
    const file = join(dir, "body.json");
    writeFileSync(file, '{"event":"paid"}');
    const hmacKey = name("cli-hmac");
    expect((await hush(["transit", "key", "create", hmacKey, "--type", "hmac"])).code).toBe(0);
    const mac = (await hush(["transit", "hmac", hmacKey, "--file", file])).stdout.trim();
    expect((await hush(["transit", "verify", hmacKey, "--file", file, "--hmac", mac])).stdout).toBe("valid\n");
    const tampered = await hush(["transit", "verify", hmacKey, "--hmac", mac], { input: '{"event":"refunded"}' });
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toBe("invalid\n");

    const signKey = name("cli-sign");
    expect((await hush(["transit", "key", "create", signKey, "--type", "ed25519"])).code).toBe(0);
    const signature = (await hush(["transit", "sign", signKey, "--file", file])).stdout.trim();
    expect((await hush(["transit", "verify", signKey, "--file", file, "--signature", signature])).code).toBe(0);
    expect((await hush(["transit", "key", "show", signKey])).stdout).toContain("PUBLIC KEY");
  });

  it("a token that may only encrypt cannot decrypt, rotate or delete", async () => {
    const key = name("cli-transit");
    await hush(["transit", "key", "create", key, "--deletion-allowed"]);
    const encryptOnly = await tokenWith(["transit:encrypt"], "cli-transit-enc");
    const enc = await hush(["transit", "encrypt", key], { input: "secret", token: encryptOnly });
    expect(enc.code).toBe(0);
    expect((await hush(["transit", "decrypt", key, enc.stdout.trim()], { token: encryptOnly })).code).toBe(4);
    expect((await hush(["transit", "key", "rotate", key], { token: encryptOnly })).code).toBe(4);
    expect((await hush(["transit", "key", "delete", key, "--yes"], { token: encryptOnly })).code).toBe(4);
    expect((await hush(["transit", "key", "delete", key, "--yes"])).stdout).toContain(`Deleted transit key ${key}`);
  });
});
