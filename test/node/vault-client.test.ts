import { createRequire } from "node:module";
import { beforeAll, describe, expect, inject, it } from "vitest";

import { jwtRole } from "./vault-jwt";

// node-vault is the real third-party client this compatibility layer is for.
const require = createRequire(import.meta.url);
const nodeVault = require("node-vault") as (options: Record<string, unknown>) => any;

describe("node-vault against Hush", () => {
  const addr = inject("hushAddr");
  const token = inject("hushRootToken");
  let client: any;
  const base = `nv/${Date.now().toString(36)}`;

  const native = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${addr}/api/v1/secrets/store/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(() => {
    client = nodeVault({ apiVersion: "v1", endpoint: addr, token, noCustomHTTPVerbs: true });
  });

  it("writes, reads, reads by version and lists", async () => {
    await client.write(`secret/data/${base}/db`, { data: { password: "one" } });
    await client.write(`secret/data/${base}/db`, { data: { password: "two" } });
    await client.write(`secret/data/${base}/api/key`, { data: { key: "k" } });
    expect((await client.read(`secret/data/${base}/db`)).data.data).toEqual({ password: "two" });
    expect((await client.read(`secret/data/${base}/db?version=1`)).data.data).toEqual({ password: "one" });
    expect((await client.list(`secret/metadata/${base}`)).data.keys).toEqual(["api/", "db"]);
    const me = await client.tokenLookupSelf();
    expect(me.data.display_name).toBe("root");
  });

  it("deletes, undeletes and destroys", async () => {
    await client.write(`secret/data/${base}/life`, { data: { v: "1" } });
    await client.delete(`secret/data/${base}/life`);
    await expect(client.read(`secret/data/${base}/life`)).rejects.toMatchObject({ response: { statusCode: 404 } });
    await client.write(`secret/undelete/${base}/life`, { versions: [1] });
    expect((await client.read(`secret/data/${base}/life`)).data.data).toEqual({ v: "1" });
    await client.write(`secret/destroy/${base}/life`, { versions: [1] });
    await expect(client.read(`secret/data/${base}/life`)).rejects.toMatchObject({ response: { statusCode: 404 } });
    const meta = await client.read(`secret/metadata/${base}/life`);
    expect(meta.data.versions["1"].destroyed).toBe(true);
  });

  it("sees what the native API writes, and the native API sees what it writes", async () => {
    await client.write(`secret/data/${base}/shared`, { data: { from: "vault" } });
    const read = await native("GET", `${base}/shared`);
    expect(JSON.parse(read.body.value)).toEqual({ from: "vault" });
    await native("PUT", `${base}/shared`, { value: JSON.stringify({ from: "native" }) });
    const back = await client.read(`secret/data/${base}/shared`);
    expect(back.data).toMatchObject({ data: { from: "native" }, metadata: { version: 2 } });
  });

  it("KV v2 in full: metadata before data, cas_required, metadata patch, pruning, subkeys, config, mounts, health", async () => {
    const path = `${base}/full`;
    await client.write(`secret/metadata/${path}`, { max_versions: 2, cas_required: true, custom_metadata: { team: "a" } });
    await expect(client.write(`secret/data/${path}`, { data: { v: "1" } })).rejects.toMatchObject({ response: { statusCode: 400 } });
    for (const cas of [0, 1, 2]) await client.write(`secret/data/${path}`, { data: { v: String(cas + 1), nested: { x: "y" } }, options: { cas } });
    await client.update(`secret/metadata/${path}`, { custom_metadata: { team: null, owner: "b" } });
    const meta = (await client.read(`secret/metadata/${path}`)).data;
    expect(meta).toMatchObject({ cas_required: true, oldest_version: 2, current_version: 3, custom_metadata: { owner: "b" } });
    expect(Object.keys(meta.versions)).toEqual(["2", "3"]);
    expect((await client.read(`secret/subkeys/${path}`)).data.subkeys).toEqual({ v: null, nested: { x: null } });
    expect((await client.read("secret/config")).data.cas_required).toBe(false);
    expect((await client.mounts()).data["secret/"].options.version).toBe("2");
    const health = await nodeVault({ apiVersion: "v1", endpoint: addr }).health();
    expect(health).toMatchObject({ initialized: true, sealed: false });
  });

  it("response wrapping: a wrapped read unwraps once", async () => {
    await client.write(`secret/data/${base}/wrapped`, { data: { pw: "w" } });
    const wrapped = await client.read(`secret/data/${base}/wrapped`, { headers: { "X-Vault-Wrap-TTL": "5m" } });
    expect(wrapped.data).toBeNull();
    const anon = nodeVault({ apiVersion: "v1", endpoint: addr, token: wrapped.wrap_info.token });
    expect((await anon.unwrap()).data.data).toEqual({ pw: "w" });
    await expect(anon.unwrap()).rejects.toMatchObject({ response: { statusCode: 400 } });
  });

  it("jwt login, token create, lookup, renew and revoke", async () => {
    const { role, jwt } = await jwtRole(addr, token, `${base}/*`);
    const anon = nodeVault({ apiVersion: "v1", endpoint: addr, noCustomHTTPVerbs: true });
    const login = await anon.jwtLogin({ role, jwt });
    expect(login.auth.client_token).toMatch(/^hush_/);
    expect(anon.token).toBe(login.auth.client_token); // node-vault keeps the token
    expect((await anon.read(`secret/data/${base}/db`)).data.data).toEqual({ password: "two" });
    const child = await client.tokenCreate({ policies: ["secrets:read"], ttl: "1h", display_name: "nv" });
    const childClient = nodeVault({ apiVersion: "v1", endpoint: addr, token: child.auth.client_token });
    expect((await childClient.tokenLookupSelf()).data.display_name).toBe("nv");
    expect((await childClient.tokenRenewSelf()).auth.renewable).toBe(false);
    await childClient.tokenRevokeSelf();
    await expect(childClient.tokenLookupSelf()).rejects.toMatchObject({ response: { statusCode: 403 } });
  });

  it("a wrong token is refused", async () => {
    const bad = nodeVault({ apiVersion: "v1", endpoint: addr, token: "hush_nopenopenopenopenopenopenopenopenope", noCustomHTTPVerbs: true });
    await expect(bad.read(`secret/data/${base}/db`)).rejects.toMatchObject({ response: { statusCode: 403 } });
  });
});
