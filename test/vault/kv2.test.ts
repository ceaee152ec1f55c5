import { describe, expect, it } from "vitest";
import { api, tokenWith as mint, uniquePath } from "../helpers";

const tokenWith = async (...args: Parameters<typeof mint>) => (await mint(...args)).token;
import { vault } from "./helpers";

const write = (path: string, data: unknown, options?: unknown, token?: string) =>
  vault("POST", `secret/data/${path}`, { body: { data, ...(options ? { options } : {}) }, token });

describe("Vault KV v2, every difference the issue lists", () => {
  it("cas_required on a key is stored and enforced with Vault's 400", async () => {
    const path = uniquePath("kv2");
    expect((await write(path, { a: 1 })).status).toBe(200);
    expect((await vault("POST", `secret/metadata/${path}`, { body: { cas_required: true } })).status).toBe(204);
    expect((await vault("GET", `secret/metadata/${path}`)).body.data.cas_required).toBe(true);
    const bare = await write(path, { a: 2 });
    expect(bare.status).toBe(400);
    expect(bare.body.errors).toEqual(["check-and-set parameter required for this call"]);
    // PATCH too needs the caller's own cas
    expect(
      (await vault("PATCH", `secret/data/${path}`, { body: { data: { b: 1 } }, headers: { "content-type": "application/merge-patch+json" } })).status,
    ).toBe(400);
    expect((await write(path, { a: 2 }, { cas: 1 })).body.data.version).toBe(2);
  });

  it("cas_required on the mount (secret/config) is stored and enforced", async () => {
    const path = uniquePath("kv2");
    try {
      expect((await vault("POST", "secret/config", { body: { cas_required: true } })).status).toBe(204);
      expect((await vault("GET", "secret/config")).body.data).toMatchObject({ cas_required: true, max_versions: 0, delete_version_after: "0s" });
      expect((await write(path, { a: 1 })).body.errors).toEqual(["check-and-set parameter required for this call"]);
      expect((await write(path, { a: 1 }, { cas: 0 })).status).toBe(200);
    } finally {
      await vault("POST", "secret/config", { body: { cas_required: false } });
    }
    expect((await write(path, { a: 2 })).status).toBe(200);
    // mount-wide pruning and scheduled deletion are refused, not silently ignored
    expect((await vault("POST", "secret/config", { body: { max_versions: 3 } })).status).toBe(400);
    expect((await vault("POST", "secret/config", { body: { delete_version_after: "1h" } })).status).toBe(400);
  });

  it("secret/config needs write on the whole tree", async () => {
    const narrow = await tokenWith(["secrets:read", "secrets:write"], { paths: ["app/*"] });
    expect((await vault("GET", "secret/config", { token: narrow })).status).toBe(200);
    expect((await vault("POST", "secret/config", { token: narrow, body: { cas_required: true } })).status).toBe(403);
  });

  it("delete_version_after is stored, shown and enforced: the version reads as deleted once it passes", async () => {
    const path = uniquePath("kv2");
    expect((await vault("POST", `secret/metadata/${path}`, { body: { delete_version_after: "1s" } })).status).toBe(204);
    expect((await vault("GET", `secret/metadata/${path}`)).body.data.delete_version_after).toBe("1s");
    const w = await write(path, { a: 1 });
    expect(w.body.data.deletion_time).not.toBe("");
    expect((await vault("GET", `secret/data/${path}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const gone = await vault("GET", `secret/data/${path}`);
    expect(gone.status).toBe(404);
    expect(gone.body.data.metadata.deletion_time).toBe(w.body.data.deletion_time);
    // the native API sees the same deletion (one read rule)
    expect((await api("GET", `/api/v1/secrets/store/${path}`)).status).toBe(404);
    // undelete brings it back
    expect((await vault("POST", `secret/undelete/${path}`, { body: { versions: [1] } })).status).toBe(204);
    expect((await vault("GET", `secret/data/${path}`)).body.data.data).toEqual({ a: 1 });
    expect((await vault("POST", `secret/metadata/${path}`, { body: { delete_version_after: "soon" } })).status).toBe(400);
  });

  it("delete_version_after needs the delete capability (scheduling deletions is deleting)", async () => {
    const path = uniquePath("kv2");
    const writer = await tokenWith(["secrets:read", "secrets:write"]);
    expect((await vault("POST", `secret/metadata/${path}`, { token: writer, body: { delete_version_after: "1h" } })).status).toBe(403);
    expect((await vault("POST", `secret/metadata/${path}`, { token: writer, body: { max_versions: 0 } })).status).toBe(204);
  });

  it("metadata before data: Vault allows it, and the first write is version 1", async () => {
    const path = uniquePath("kv2");
    expect((await vault("POST", `secret/metadata/${path}`, { body: { max_versions: 5, custom_metadata: { owner: "team-a" } } })).status).toBe(204);
    const meta = await vault("GET", `secret/metadata/${path}`);
    expect(meta.status).toBe(200);
    expect(meta.body.data).toMatchObject({ current_version: 0, oldest_version: 0, max_versions: 5, custom_metadata: { owner: "team-a" }, versions: {} });
    expect((await vault("GET", `secret/data/${path}`)).status).toBe(404);
    const first = await write(path, { a: 1 }, { cas: 0 });
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ version: 1, custom_metadata: { owner: "team-a" } });
  });

  it("metadata PATCH merges (vault kv metadata patch)", async () => {
    const path = uniquePath("kv2");
    await write(path, { a: 1 });
    await vault("POST", `secret/metadata/${path}`, { body: { max_versions: 4, custom_metadata: { a: "1", b: "2" } } });
    const patch = await vault("PATCH", `secret/metadata/${path}`, {
      body: { custom_metadata: { b: null, c: "3" }, cas_required: true },
      headers: { "content-type": "application/merge-patch+json" },
    });
    expect(patch.status).toBe(204);
    expect((await vault("GET", `secret/metadata/${path}`)).body.data).toMatchObject({
      max_versions: 4,
      cas_required: true,
      custom_metadata: { a: "1", c: "3" },
    });
    expect((await vault("PATCH", `secret/metadata/${uniquePath("none")}`, { body: { max_versions: 1 } })).status).toBe(404);
  });

  it("sys/mounts, sys/mounts/secret and secret/config answer instead of 404", async () => {
    const mounts = await vault("GET", "sys/mounts");
    expect(mounts.status).toBe(200);
    expect(mounts.body.data["secret/"]).toMatchObject({ type: "kv", options: { version: "2" } });
    expect(mounts.body["secret/"]).toMatchObject({ type: "kv" });
    expect((await vault("GET", "sys/mounts/secret")).body.data).toMatchObject({ type: "kv", options: { version: "2" } });
    expect((await vault("GET", "sys/internal/ui/mounts/secret/x")).body.data.options.version).toBe("2");
    expect((await vault("GET", "secret/config")).status).toBe(200);
  });

  it("max_versions pruning: after three writes with max_versions=2, v1 is gone from versions and oldest_version moves", async () => {
    const path = uniquePath("kv2");
    await vault("POST", `secret/metadata/${path}`, { body: { max_versions: 2 } });
    for (const v of [1, 2, 3]) await write(path, { v });
    const meta = (await vault("GET", `secret/metadata/${path}`)).body.data;
    expect(Object.keys(meta.versions)).toEqual(["2", "3"]);
    expect(meta.oldest_version).toBe(2);
    expect(meta.current_version).toBe(3);
    expect((await vault("GET", `secret/data/${path}?version=1`)).status).toBe(404);
  });

  it("destroying a version that was never deleted leaves its deletion_time empty", async () => {
    const path = uniquePath("kv2");
    await write(path, { v: 1 });
    await write(path, { v: 2 });
    expect((await vault("POST", `secret/destroy/${path}`, { body: { versions: [1] } })).status).toBe(204);
    const meta = (await vault("GET", `secret/metadata/${path}`)).body.data;
    expect(meta.versions["1"]).toMatchObject({ destroyed: true, deletion_time: "" });
    const read = await vault("GET", `secret/data/${path}?version=1`);
    expect(read.status).toBe(404);
    expect(read.body.data.metadata).toMatchObject({ destroyed: true, deletion_time: "" });
  });

  it("subkeys shows the structure without values, by the read rule", async () => {
    const path = uniquePath("kv2");
    await write(path, { user: "u", db: { host: "h", port: { n: 1 } } });
    const all = await vault("GET", `secret/subkeys/${path}`);
    expect(all.status).toBe(200);
    expect(all.body.data.subkeys).toEqual({ user: null, db: { host: null, port: { n: null } } });
    expect((await vault("GET", `secret/subkeys/${path}?depth=1`)).body.data.subkeys).toEqual({ user: null, db: null });
    const outsider = await tokenWith(["secrets:read"], { paths: ["elsewhere/*"] });
    expect((await vault("GET", `secret/subkeys/${path}`, { token: outsider })).status).toBe(403);
    expect((await vault("GET", `secret/subkeys/${path}?depth=x`)).status).toBe(400);
  });

  it("custom_metadata limits: 64 keys, 128-byte keys, 512-byte values", async () => {
    const path = uniquePath("kv2");
    await write(path, { a: 1 });
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    for (const custom of [many, { ["k".repeat(129)]: "v" }, { k: "v".repeat(513) }, { k: 1 }]) {
      const res = await vault("POST", `secret/metadata/${path}`, { body: { custom_metadata: custom } });
      expect(res.status).toBe(400);
      expect(res.body.errors[0]).toContain("custom_metadata");
    }
    const edge = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`${i}`.padEnd(128, "k"), "v".repeat(512)]));
    expect((await vault("POST", `secret/metadata/${path}`, { body: { custom_metadata: edge } })).status).toBe(204);
  });

  it("bad input is Vault's errors body, never a 500", async () => {
    const path = uniquePath("kv2");
    const cases: [string, string, unknown][] = [
      ["POST", `secret/data/${path}`, "not an object"],
      ["POST", `secret/metadata/${path}`, { max_versions: -1 }],
      ["POST", `secret/metadata/${path}`, { cas_required: "yes" }],
      ["POST", "auth/token/create", { ttl: "forever" }],
      ["POST", "sys/wrapping/unwrap", { token: "nope" }],
      ["POST", "auth/jwt/login", { role: 5 }],
    ];
    for (const [method, p, body] of cases) {
      const res = await vault(method, p, { body });
      expect(res.status, `${method} ${p}`).toBe(400);
      expect(Array.isArray(res.body.errors)).toBe(true);
    }
    const raw = await vault("GET", `secret/data/${path}`, { headers: { "x-vault-wrap-ttl": "forever" } });
    expect(raw.status).toBe(400);
  });
});
