import { createRequire } from "node:module";
import { beforeAll, describe, expect, inject, it } from "vitest";

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

  it("a wrong token is refused", async () => {
    const bad = nodeVault({ apiVersion: "v1", endpoint: addr, token: "hush_nopenopenopenopenopenopenopenopenope", noCustomHTTPVerbs: true });
    await expect(bad.read(`secret/data/${base}/db`)).rejects.toMatchObject({ response: { statusCode: 403 } });
  });
});
