import { beforeAll, describe, expect, inject, it } from "vitest";
import Vault from "hashi-vault-js";
import { jwtRole } from "./vault-jwt";

// hashi-vault-js: a second, independent stock Vault client (axios-based, its own request code).
describe("hashi-vault-js against Hush", () => {
  const addr = inject("hushAddr");
  const root = inject("hushRootToken");
  const base = `hv/${Date.now().toString(36)}`;
  let vault: any;

  beforeAll(() => {
    vault = new (Vault as any)({ https: false, baseUrl: `${addr}/v1`, rootPath: "secret", timeout: 10_000 });
  });

  it("health and seal status without a token", async () => {
    expect(await vault.healthCheck()).toMatchObject({ initialized: true, sealed: false, standby: false });
    expect(await vault.sealStatus()).toMatchObject({ sealed: false, type: "shamir" });
  });

  it("KV v2: create, update with cas, read, metadata, engine config", async () => {
    await vault.createKVSecret(root, `${base}/app`, { user: "u", pw: "1" });
    await vault.updateKVSecret(root, `${base}/app`, { user: "u", pw: "2" }, 1);
    await expect(vault.updateKVSecret(root, `${base}/app`, { pw: "3" }, 1)).rejects.toMatchObject({ isVaultError: true, response: { status: 400 } });
    const read = await vault.readKVSecret(root, `${base}/app`);
    expect(read.data).toEqual({ user: "u", pw: "2" });
    expect((await vault.readKVSecret(root, `${base}/app`, 1)).data).toEqual({ user: "u", pw: "1" });
    await vault.createKVSecretMeta(root, `${base}/meta-first`, { max_versions: 3, custom_metadata: { owner: "hv" } });
    const meta = await vault.readKVSecretMeta(root, `${base}/meta-first`);
    expect(meta).toMatchObject({ current_version: 0, max_versions: 3, custom_metadata: { owner: "hv" } });
    expect(await vault.readKVEngineConfig(root)).toMatchObject({ cas_required: false });
  });

  it("JWT login (its Kubernetes call against the jwt mount), then tokens", async () => {
    const { role, jwt } = await jwtRole(addr, root, `${base}/*`);
    const login = await vault.loginWithK8s(role, jwt, "auth/jwt");
    expect(login.client_token).toMatch(/^hush_/);
    expect((await vault.readKVSecret(login.client_token, `${base}/app`)).data.pw).toBe("2");
    const k8s = await vault.loginWithK8s(role, (await jwtRole(addr, root, `${base}/*`)).jwt, "auth/kubernetes").catch((e: unknown) => e);
    expect(k8s).toMatchObject({ isVaultError: true }); // a JWT of another role's issuer key is refused
    const child = await vault.createToken(root, { policies: ["secrets:read"], ttl: "1h", display_name: "hv" });
    expect(child.client_token).toMatch(/^hush_/);
    expect((await vault.lookupSelfToken(child.client_token)).display_name).toBe("hv");
    await vault.revokeSelfToken(child.client_token);
    await expect(vault.lookupSelfToken(child.client_token)).rejects.toMatchObject({ isVaultError: true });
  });

  it("listing: this client sends the LIST verb, which workerd refuses with 501 before the Worker runs", async () => {
    await expect(vault.listKVSecrets(root, base)).rejects.toMatchObject({ response: { status: 501 } });
  });
});
