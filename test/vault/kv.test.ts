import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE, ROOT, createTenant, tokenWith, uniquePath } from "../helpers";

async function vault(method: string, path: string, options: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? ROOT : options.token;
  if (token) headers["x-vault-token"] = token;
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
  const res = await exports.default.fetch(
    new Request(`${BASE}/v1/${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) }),
  );
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

describe("Vault KV v2 subset", () => {
  it("writes, reads (latest and by version) with Vault's envelope", async () => {
    const path = uniquePath("vault");
    const w1 = await vault("POST", `secret/data/${path}`, { body: { data: { user: "app", password: "p1" } } });
    expect(w1.status).toBe(200);
    expect(w1.body).toMatchObject({
      lease_id: "",
      renewable: false,
      lease_duration: 0,
      wrap_info: null,
      data: { version: 1, destroyed: false, deletion_time: "" },
    });
    await vault("PUT", `secret/data/${path}`, { body: { data: { user: "app", password: "p2" } } });

    const latest = await vault("GET", `secret/data/${path}`);
    expect(latest.status).toBe(200);
    expect(latest.body.data).toMatchObject({ data: { user: "app", password: "p2" }, metadata: { version: 2, destroyed: false } });
    expect(latest.body.request_id).toBeTruthy();
    const first = await vault("GET", `secret/data/${path}?version=1`);
    expect(first.body.data.data.password).toBe("p1");
  });

  it("shares versions with the native API, both ways", async () => {
    const path = uniquePath("vault");
    await vault("POST", `secret/data/${path}`, { body: { data: { k: "from-vault" } } });
    const native = await api("GET", `/api/v1/secrets/store/${path}`);
    expect(JSON.parse(native.body.value)).toEqual({ k: "from-vault" });
    await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: JSON.stringify({ k: "from-native" }) } });
    const back = await vault("GET", `secret/data/${path}`);
    expect(back.body.data).toMatchObject({ data: { k: "from-native" }, metadata: { version: 2 } });

    const plain = uniquePath("vault");
    await api("POST", `/api/v1/secrets/store/${plain}`, { body: { value: "not json" } });
    expect((await vault("GET", `secret/data/${plain}`)).body.data.data).toEqual({ value: "not json" });
  });

  it("cas mismatch is 400 with Vault's message; cas 0 creates only", async () => {
    const path = uniquePath("vault");
    expect((await vault("POST", `secret/data/${path}`, { body: { data: { a: 1 }, options: { cas: 0 } } })).status).toBe(200);
    const again = await vault("POST", `secret/data/${path}`, { body: { data: { a: 2 }, options: { cas: 0 } } });
    expect(again.status).toBe(400);
    expect(again.body.errors[0]).toContain("check-and-set");
    expect((await vault("POST", `secret/data/${path}`, { body: { data: { a: 2 }, options: { cas: 1 } } })).body.data.version).toBe(2);
  });

  it("PATCH merges into a new version", async () => {
    const path = uniquePath("vault");
    await vault("POST", `secret/data/${path}`, { body: { data: { a: "1", b: "2" } } });
    const patched = await vault("PATCH", `secret/data/${path}`, {
      body: { data: { b: null, c: "3" } },
      headers: { "content-type": "application/merge-patch+json" },
    });
    expect(patched.status).toBe(200);
    expect((await vault("GET", `secret/data/${path}`)).body.data.data).toEqual({ a: "1", c: "3" });
    expect((await vault("PATCH", `secret/data/${uniquePath("nothing")}`, { body: { data: { a: 1 } } })).status).toBe(404);
  });

  it("delete, undelete and destroy versions; a deleted version is 404 with its metadata", async () => {
    const path = uniquePath("vault");
    await vault("POST", `secret/data/${path}`, { body: { data: { v: 1 } } });
    await vault("POST", `secret/data/${path}`, { body: { data: { v: 2 } } });
    expect((await vault("DELETE", `secret/data/${path}`)).status).toBe(204);
    const deleted = await vault("GET", `secret/data/${path}`);
    expect(deleted.status).toBe(404);
    expect(deleted.body.data).toMatchObject({ data: null, metadata: { version: 2, destroyed: false } });
    expect(deleted.body.data.metadata.deletion_time).not.toBe("");
    expect((await api("GET", `/api/v1/secrets/store/${path}`)).status).toBe(404);

    expect((await vault("POST", `secret/undelete/${path}`, { body: { versions: [2] } })).status).toBe(204);
    expect((await vault("GET", `secret/data/${path}`)).body.data.data).toEqual({ v: 2 });

    expect((await vault("PUT", `secret/destroy/${path}`, { body: { versions: [1] } })).status).toBe(204);
    const destroyed = await vault("GET", `secret/data/${path}?version=1`);
    expect(destroyed.status).toBe(404);
    expect(destroyed.body.data.metadata.destroyed).toBe(true);
    expect((await vault("POST", `secret/undelete/${path}`, { body: { versions: [1] } })).status).toBe(204);
    expect((await vault("GET", `secret/data/${path}?version=1`)).body.data.metadata.destroyed).toBe(true);
    expect((await vault("POST", `secret/delete/${path}`, { body: { versions: [] } })).status).toBe(400);

    const meta = await vault("GET", `secret/metadata/${path}`);
    expect(meta.body.data).toMatchObject({ current_version: 2, oldest_version: 1 });
    expect(meta.body.data.versions["1"].destroyed).toBe(true);
    expect(meta.body.data.versions["2"].deletion_time).toBe("");
  });

  it("lists folders with ?list=true and writes and deletes metadata", async () => {
    const base = uniquePath("vlist");
    for (const p of ["a", "b", "sub/c", "sub/d"]) await vault("POST", `secret/data/${base}/${p}`, { body: { data: { p } } });
    const listed = await vault("GET", `secret/metadata/${base}?list=true`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.keys).toEqual(["a", "b", "sub/"]);
    expect((await vault("GET", `secret/metadata/${base}/sub/?list=1`)).body.data.keys).toEqual(["c", "d"]);
    expect((await vault("GET", `secret/metadata/${base}/nothing?list=true`)).status).toBe(404);

    expect((await vault("POST", `secret/metadata/${base}/a`, { body: { max_versions: 3, custom_metadata: { owner: "team-a" } } })).status).toBe(204);
    expect((await vault("GET", `secret/metadata/${base}/a`)).body.data).toMatchObject({ max_versions: 3, custom_metadata: { owner: "team-a" } });
    expect((await vault("DELETE", `secret/metadata/${base}/a`)).status).toBe(204);
    expect((await vault("GET", `secret/data/${base}/a`)).status).toBe(404);
    expect((await vault("GET", `secret/metadata/${base}?list=true`)).body.data.keys).toEqual(["b", "sub/"]);
  });

  it("answers lookup-self and the mount probe of the vault CLI", async () => {
    const lookup = await vault("GET", "auth/token/lookup-self");
    expect(lookup.body.data).toMatchObject({ display_name: "root", id: "root" });
    expect(JSON.stringify(lookup.body)).not.toContain(ROOT);
    const mount = await vault("GET", "sys/internal/ui/mounts/secret/app/x");
    expect(mount.body.data).toMatchObject({ path: "secret/", type: "kv", options: { version: "2" } });
  });

  it("takes Authorization: Bearer too; a bad token is 403 with Vault's error body", async () => {
    const path = uniquePath("vault");
    await vault("POST", `secret/data/${path}`, { body: { data: { a: 1 } } });
    expect((await vault("GET", `secret/data/${path}`, { token: null, headers: { authorization: `Bearer ${ROOT}` } })).status).toBe(200);
    const bad = await vault("GET", `secret/data/${path}`, { token: "hush_wrongwrongwrongwrongwrongwrongwrong1234" });
    expect(bad.status).toBe(403);
    expect(bad.body).toEqual({ errors: ["permission denied"] });
    expect((await vault("GET", `secret/data/${path}`, { token: null })).status).toBe(403);
  });

  it("enforces scopes, path globs and tenants like the native API", async () => {
    const path = `db/${uniquePath("vault")}`;
    await vault("POST", `secret/data/${path}`, { body: { data: { a: 1 } } });
    const appOnly = await tokenWith(["secrets:read", "secrets:write"], { paths: ["app/*"] });
    expect((await vault("GET", `secret/data/${path}`, { token: appOnly.token })).status).toBe(403);
    expect((await vault("POST", `secret/data/${path}`, { token: appOnly.token, body: { data: { a: 2 } } })).status).toBe(403);
    expect((await vault("GET", "secret/metadata/db?list=true", { token: appOnly.token })).status).toBe(404);
    await createTenant("vault-other");
    const other = await tokenWith(["secrets:read"], { tenant: "vault-other" });
    expect((await vault("GET", `secret/data/${path}`, { token: other.token })).status).toBe(404);
  });

  it("bad input gets Vault-style 4xx, never a 500", async () => {
    const path = uniquePath("vault");
    for (const body of [{}, { data: "x" }, { data: [1] }, { data: { a: 1 }, options: { cas: -1 } }]) {
      const res = await vault("POST", `secret/data/${path}`, { body });
      expect(res.status).toBe(400);
      expect(Array.isArray(res.body.errors)).toBe(true);
    }
    const malformed = await exports.default.fetch(
      new Request(`${BASE}/v1/secret/data/${path}`, { method: "POST", headers: { "x-vault-token": ROOT }, body: "{not json" }),
    );
    expect(malformed.status).toBe(400);
    expect((await vault("GET", "secret/data/bad%2F..%2Fpath")).status).toBe(400);
    expect((await vault("POST", `secret/data/${path}`, { body: { data: { big: "x".repeat(70_000) } } })).status).toBe(413);
    expect((await vault("GET", "nothing/here")).status).toBe(404);
  });

  it("an Idempotency-Key retry writes once", async () => {
    const path = uniquePath("vault");
    const headers = { "idempotency-key": `vault-${path}` };
    const a = await vault("POST", `secret/data/${path}`, { body: { data: { a: 1 } }, headers });
    const b = await vault("POST", `secret/data/${path}`, { body: { data: { a: 1 } }, headers });
    expect(b.body.data.version).toBe(1);
    expect(a.body.data.version).toBe(1);
    expect((await vault("GET", `secret/metadata/${path}`)).body.data.current_version).toBe(1);
  });
});
