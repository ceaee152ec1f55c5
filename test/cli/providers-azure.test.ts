// The azure-keyvault provider against a local server that implements Key Vault's documented REST
// contract (no network here): reads, writes, paging, versions, 401/403-style errors, 429 and 5xx
// with retries, the managed identity endpoint, the cache, and a token that never reaches output.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeVault, type FakeVault } from "./azure-keyvault-server";
import { hush as run, type RunOptions } from "./helpers";

let vault: FakeVault;
beforeAll(async () => {
  vault = await startFakeVault();
});
afterAll(() => vault.close());

function workspace(extra: Record<string, string | undefined> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "hush-azure-"));
  const env = {
    XDG_CONFIG_HOME: join(dir, "config"),
    HUSH_ADDR: "http://127.0.0.1:9",
    HUSH_RETRIES: "0",
    HUSH_AZURE_VAULT_URL: vault.url,
    HUSH_AZURE_TOKEN: vault.token,
    HUSH_LOCAL_KEY: "azure-test-local-key-0000",
    ...extra,
  };
  const hush = (args: string[], options: RunOptions = {}) => run(args, { cwd: dir, token: null, ...options, env: { ...env, ...options.env } });
  return { dir, hush };
}

const uniq = () => Math.random().toString(36).slice(2, 8);
const AZ = ["--provider", "azure-keyvault"];

describe("the azure-keyvault provider", () => {
  it("writes, reads, lists (following nextLink), versions and deletes through the REST API", async () => {
    const { hush } = workspace();
    const top = `az${uniq()}`;
    const set = await hush(["set", `${top}/db-password`, "--stdin", ...AZ, "--tags", "db,prod", "--type", "DATABASE_CREDENTIAL"], { input: "kv-value-one" });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(new RegExp(`^Wrote ${top}/db-password: version [0-9a-f]{32} \\(azure-keyvault\\)\\n$`));
    expect(vault.requests.at(-1)).toMatchObject({ method: "PUT", path: `/secrets/${top}--db-password` });
    for (const n of ["a", "b", "c"]) await hush(["set", `${top}/k-${n}`, `v-${n}-123456`, ...AZ]);
    await hush(["rotate", `${top}/db-password`, "kv-value-two", ...AZ]);

    const got = JSON.parse((await hush(["get", `${top}/db-password`, ...AZ, "--json"])).stdout);
    expect(got).toMatchObject({ path: `${top}/db-password`, value: "kv-value-two", type: "DATABASE_CREDENTIAL", provider: "azure-keyvault" });
    const history = await hush(["history", `${top}/db-password`, ...AZ, "--json"]);
    const versions = JSON.parse(history.stdout).items;
    expect(versions).toHaveLength(2);
    const first = await hush(["get", `${top}/db-password`, ...AZ, "--version", versions[0].version, "--raw"]);
    expect(first.stdout).toBe("kv-value-one");

    const list = await hush(["list", ...AZ, "--prefix", `${top}/`]);
    expect(list.code, list.stderr).toBe(0);
    const rows = list.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^PATH\s+VERSION\s+TYPE\s+ENVIRONMENT\s+TAGS\s+UPDATED\s+PROVIDER$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/)[0])).toEqual([`${top}/db-password`, `${top}/k-a`, `${top}/k-b`, `${top}/k-c`]); // 2 pages
    expect(rows[1]).toMatch(/DATABASE_CREDENTIAL\s+-\s+db,prod\s+.*azure-keyvault$/);
    expect(list.stdout).not.toContain("kv-value");

    expect((await hush(["delete", `${top}/k-a`, ...AZ, "--yes"])).code).toBe(0);
    const gone = await hush(["get", `${top}/k-a`, ...AZ]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(new RegExp(`^Error: azure-keyvault: no secret ${top}--k-a \\(path ${top}/k-a\\) in the vault\\nHow to fix: `));
  });

  it("says how to fix a rejected token (401), and the token appears nowhere in the output, even with HUSH_DEBUG", async () => {
    const { hush } = workspace();
    const wrongToken = "eyJhbGciOi.wrong-token-value-7a7a7a7a";
    const result = await hush(["get", "any/thing", ...AZ], { env: { HUSH_AZURE_TOKEN: wrongToken, HUSH_DEBUG: "1" } });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(
      /^Error: azure-keyvault: the vault rejected the token \(401 Unauthorized\) at 127\.0\.0\.1:\d+\/secrets\/any--thing\nHow to fix: Set HUSH_AZURE_TOKEN to a current token \(az account get-access-token/,
    );
    expect(result.stdout + result.stderr).not.toContain(wrongToken);
    expect(result.stdout + result.stderr).not.toContain("wrong-token-value");

    vault.faults.push({ status: 403, path: "/secrets/no-access" });
    const forbidden = await hush(["get", "no-access", ...AZ]);
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toMatch(
      /^Error: azure-keyvault: access denied \(403 Forbidden\): .*\nHow to fix: Give this identity the Key Vault Secrets User role/,
    );

    const unknown = await hush(["get", "any/thing", "--provider", "vault"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('Error: "vault" is not a provider\nHow to fix: Use one of hush, local, env, azure-keyvault\n');

    const none = await hush(["get", "any/thing", ...AZ], { env: { HUSH_AZURE_TOKEN: undefined } });
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/^Error: azure-keyvault: no token: HUSH_AZURE_TOKEN is not set and no managed identity is configured\nHow to fix: /);
  });

  it("retries 429 (after Retry-After) and 5xx, then answers", async () => {
    const { hush } = workspace();
    const name = `retry${uniq()}`;
    await hush(["set", name, "retried-value", ...AZ]);
    const before = vault.requests.length;
    vault.faults.push(
      { status: 429, retryAfter: "1", path: `/secrets/${name}` },
      { status: 503, path: `/secrets/${name}` },
      { status: 500, path: `/secrets/${name}` },
    );
    const started = Date.now();
    const result = await hush(["get", name, ...AZ, "--raw"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("retried-value");
    expect(vault.requests.length - before).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1 was honoured
  });

  it("gives up after maxRetries, names the provider, and the chain falls back to the next provider", async () => {
    const { dir, hush } = workspace({ HUSH_AZURE_MAX_RETRIES: "1" });
    const name = `down${uniq()}`;
    vault.faults.push({ status: 503, path: `/secrets/${name}` }, { status: 503, path: `/secrets/${name}` });
    const failed = await hush(["get", name, ...AZ]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /^Error: azure-keyvault: the vault answered 503 ServiceUnavailable after 2 tries\nHow to fix: Key Vault is failing: retry later/,
    );

    writeFileSync(join(dir, ".hush.yaml"), "chain: [azure-keyvault, local, env]\n");
    await hush(["set", name, "local-copy-value", "--provider", "local"]);
    vault.faults.push({ status: 503, path: `/secrets/${name}` }, { status: 503, path: `/secrets/${name}` });
    const fell = await hush(["get", name, "--raw"]);
    expect(fell.code, fell.stderr).toBe(0);
    expect(fell.stdout).toBe("local-copy-value");
    expect(fell.stderr).toBe(`Note: ${name} came from local (azure-keyvault failed: the vault answered 503 ServiceUnavailable after 2 tries)\n`);

    const health = await hush(["health"]);
    expect(health.stdout).toMatch(
      /^PROVIDER\s+STATUS\s+PRIORITY\s+LAST CHECK\s+DETAIL\nazure-keyvault\s+healthy\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(\d+ ms\)\s+http:\/\/127\.0\.0\.1:\d+: reachable, token accepted\nlocal\s+healthy\s+2\s+.*\nenv\s+healthy\s+3\s+.*\nhush \(default\)\s+unhealthy\s+-\s+/,
    );
    expect(health.stdout).toMatch(/\n\nFallback chain: azure-keyvault → local → env\n$/);
    expect(health.code).toBe(0); // hush is not in the chain
  });

  it("gets its token from the managed identity endpoint once per process, and caches reads for cacheTtlSeconds", async () => {
    const identity = { HUSH_AZURE_TOKEN: undefined, IDENTITY_ENDPOINT: vault.identityEndpoint, IDENTITY_HEADER: vault.identityHeader };
    const { dir, hush } = workspace(identity);
    const name = `mi${uniq()}`;
    await hush(["set", name, "identity-value", ...AZ]);
    const tokensBefore = vault.tokenRequests;
    const reads = () => vault.requests.filter((r) => r.method === "GET" && r.path === `/secrets/${name}`).length;
    const node = process.execPath;
    const script = "process.stdout.write(process.env.A + ' ' + process.env.B)";
    const cached = await hush(["run", ...AZ, "--secret", `A=${name}`, "--secret", `B=${name}`, "--", node, "-e", script]);
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stdout).toBe("identity-value identity-value");
    expect(vault.tokenRequests - tokensBefore).toBe(1);
    expect(reads()).toBe(1); // the second mapping was served from the cache

    writeFileSync(join(dir, ".hush.yaml"), "providers:\n  azure-keyvault:\n    cacheTtlSeconds: 0\n");
    const uncached = await hush(["run", ...AZ, "--secret", `A=${name}`, "--secret", `B=${name}`, "--", node, "-e", script]);
    expect(uncached.code, uncached.stderr).toBe(0);
    expect(reads()).toBe(3);
    expect(cached.stderr + uncached.stderr).not.toContain(vault.token);
  });

  it("refuses plain HTTP to a remote vault, names that cannot be Key Vault names, and reports not configured", async () => {
    const { hush } = workspace();
    const remote = await hush(["get", "a/b", ...AZ], { env: { HUSH_AZURE_VAULT_URL: "http://myvault.vault.azure.net" } });
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/^Error: azure-keyvault: refusing to send a token over plain HTTP to myvault\.vault\.azure\.net\n/);
    const badName = await hush(["set", "a/under_score", "v-12345678", ...AZ]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/cannot be a Key Vault secret name\nHow to fix: Key Vault names take letters, digits and single dashes; `\/` becomes `--`/);
    const health = await hush(["health", "--json"], { env: { HUSH_AZURE_VAULT_URL: undefined } });
    const azure = JSON.parse(health.stdout).providers.find((p: { provider: string }) => p.provider === "azure-keyvault");
    expect(azure).toMatchObject({ status: "not configured", priority: null });
  });
});
