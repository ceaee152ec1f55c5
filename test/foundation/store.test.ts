import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";

const store = (path: string) => `/api/v1/secrets/store/${path}`;

describe("secret store round trip", () => {
  it("creates, reads, rotates, lists and soft-deletes a secret", async () => {
    const path = uniquePath("app");
    const created = await api("POST", store(path), {
      body: { value: "first-value", type: "DATABASE_CREDENTIAL", environment: "production", tags: ["db", "team-a"], description: "primary db" },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ path, version: 1, current_version: 1, type: "DATABASE_CREDENTIAL", environment: "production" });
    expect(created.text).not.toContain("first-value");

    const read = await api("GET", store(path));
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ path, version: 1, value: "first-value", tags: ["db", "team-a"], description: "primary db" });

    const rotated = await api("PUT", store(path), { body: { value: "second-value" } });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body.version).toBe(2);
    expect(rotated.body.type).toBe("DATABASE_CREDENTIAL"); // metadata kept when not given

    expect((await api("GET", store(path))).body).toMatchObject({ version: 2, value: "second-value", current_version: 2 });
    expect((await api("GET", `${store(path)}?version=1`)).body).toMatchObject({ version: 1, value: "first-value", current_version: 2 });
    expectProblem(await api("GET", `${store(path)}?version=3`), 404);

    const prefix = path.split("/").slice(0, -1).join("/") + "/";
    const listed = await api("GET", `/api/v1/secrets/store?prefix=${encodeURIComponent(prefix)}`);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((i: { path: string }) => i.path)).toContain(path);
    expect(listed.text).not.toContain("second-value");

    const deleted = await api("DELETE", store(path));
    expect(deleted.status).toBe(200);
    expectProblem(await api("GET", store(path)), 404);
    expectProblem(await api("DELETE", store(path)), 404);
    const afterDelete = await api("GET", `/api/v1/secrets/store?prefix=${encodeURIComponent(prefix)}`);
    expect(afterDelete.body.items.map((i: { path: string }) => i.path)).not.toContain(path);
    const withDeleted = await api("GET", `/api/v1/secrets/store?prefix=${encodeURIComponent(prefix)}&include_deleted=true`);
    expect(withDeleted.body.items.find((i: { path: string }) => i.path === path)?.deleted_at).toBeTruthy();

    // The versions are kept: the rows are still in D1, sealed.
    const kept = await env.DB.prepare("SELECT COUNT(*) AS n FROM secret_versions WHERE path = ?").bind(path).first<{ n: number }>();
    expect(kept?.n).toBe(2);
  });

  it("refuses to create a path twice and guards writes with cas", async () => {
    const path = uniquePath();
    expect((await api("POST", store(path), { body: { value: "a" } })).status).toBe(201);
    expectProblem(await api("POST", store(path), { body: { value: "b" } }), 409);
    const conflict = await api("PUT", store(path), { body: { value: "b", cas: 0 } });
    expectProblem(conflict, 409);
    expect(conflict.body.current_version).toBe(1);
    expect((await api("PUT", store(path), { body: { value: "b", cas: 1 } })).body.version).toBe(2);
    expect((await api("GET", store(path))).body.value).toBe("b");
  });

  it("PUT creates a missing path as version 1 and brings back a soft-deleted one", async () => {
    const path = uniquePath();
    expect((await api("PUT", store(path), { body: { value: "v1", cas: 0 } })).body.version).toBe(1);
    await api("DELETE", store(path));
    const again = await api("PUT", store(path), { body: { value: "v2" } });
    expect(again.body).toMatchObject({ version: 2, deleted_at: null });
    expect((await api("GET", store(path))).body.value).toBe("v2");
  });

  it("pages through a listing with a cursor and filters by tag, type, environment and pattern", async () => {
    const base = uniquePath("list");
    for (let i = 0; i < 5; i++) {
      await api("POST", store(`${base}/api-key-${i}`), {
        body: { value: `v${i}`, tags: i % 2 ? ["odd"] : ["even"], type: i < 2 ? "API_KEY" : "CUSTOM", environment: i < 3 ? "staging" : "production" },
      });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: any } = await api("GET", `/api/v1/secrets/store?prefix=${base}/&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((i: { path: string }) => i.path));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${base}/api-key-${i}`));

    const paths = async (query: string) =>
      (await api("GET", `/api/v1/secrets/store?prefix=${base}/&${query}`)).body.items.map((i: { path: string }) => i.path.split("/").pop());
    expect(await paths("tag=odd")).toEqual(["api-key-1", "api-key-3"]);
    expect(await paths("type=API_KEY")).toEqual(["api-key-0", "api-key-1"]);
    expect(await paths("environment=production")).toEqual(["api-key-3", "api-key-4"]);
    expect(await paths(`pattern=${encodeURIComponent(`${base}/api-key-[0-2]`.replace(/\[0-2\]/, "*"))}&limit=3`)).toHaveLength(3);
    expectProblem(await api("GET", "/api/v1/secrets/store?cursor=not-a-cursor!!"), 400);
  });

  it("never stores a value in clear in D1", async () => {
    const path = uniquePath();
    const canary = `canary-${crypto.randomUUID()}`;
    await api("POST", store(path), { body: { value: canary } });
    const dump = await env.DB.prepare("SELECT * FROM secret_versions WHERE path = ?").bind(path).all();
    const asText = JSON.stringify(dump.results, (_k, v) => (v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v));
    expect(asText).not.toContain(canary);
    const row = dump.results[0] as { ciphertext: ArrayBuffer; key_id: string };
    expect(new TextDecoder().decode(new Uint8Array(row.ciphertext))).not.toContain(canary);
    expect(row.key_id).toBe("k1");
  });
});
