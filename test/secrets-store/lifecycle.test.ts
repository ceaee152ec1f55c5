import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectProblem, tokenWith, uniquePath } from "../helpers";

const store = (path: string) => `/api/v1/secrets/store/${path}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function writeVersions(path: string, values: string[]) {
  for (const value of values) {
    const res = await api("PUT", store(path), { body: { value } });
    expect(res.status, res.text).toBe(200);
  }
}

describe("routing of /store/... sub-resources", () => {
  it("sends each specific route to its own handler, not to the generic /store/{path}", async () => {
    const path = uniquePath("route");
    await writeVersions(path, ["one", "two"]);
    const versions = await api("GET", `${store(path)}/versions`);
    expect(versions.status, versions.text).toBe(200);
    expect(versions.body.items.map((v: any) => v.version)).toEqual([2, 1]);
    const history = await api("GET", `/api/v1/secrets/store/history/${path}?version=1`);
    expect(history.body.value).toBe("one");
    const patch = await api("PATCH", `${store(path)}/metadata`, { body: { description: "d" } });
    expect(patch.body.description).toBe("d");
    const rotate = await api("POST", `${store(path)}/rotate`, { body: { value: "three" } });
    expect(rotate.body.version).toBe(3);
    const destroy = await api("POST", `/api/v1/secrets/store/destroy/${path}`, { body: { versions: [1] } });
    expect(destroy.body.destroyed).toEqual([1]);
    const undelete = await api("POST", `/api/v1/secrets/store/undelete/${path}`);
    expectProblem(undelete, 409); // reached the undelete handler: the path is not deleted
    const recover = await api("POST", `/api/v1/secrets/store/recover/${path}`, { body: { at: new Date().toISOString() } });
    expect(recover.body.recovered_from).toBe(3);
    const imported = await api("POST", "/api/v1/secrets/store/import", { body: { prefix: uniquePath("routeimp"), values: { a: "x" } } });
    expect(imported.status, imported.text).toBe(201);
  });

  it("documents every new route in /openapi.json", async () => {
    const doc = await api("GET", "/openapi.json", { token: null });
    const paths = Object.keys(doc.body.paths);
    for (const path of [
      "/api/v1/secrets/store/{path}/versions",
      "/api/v1/secrets/store/history/{path}",
      "/api/v1/secrets/store/recover/{path}",
      "/api/v1/secrets/store/undelete/{path}",
      "/api/v1/secrets/store/destroy/{path}",
      "/api/v1/secrets/store/{path}/metadata",
      "/api/v1/secrets/store/{path}/rotate",
      "/api/v1/secrets/store/import",
      "/api/v1/secrets/export",
      "/api/v1/secrets/rotation/pending",
      "/api/v1/secrets/expiring",
      "/api/v1/secrets/stats",
    ]) {
      expect(paths).toContain(path);
    }
  });

  it("treats another method on a sub-resource as the generic route on a reserved path (400)", async () => {
    const res = await api("DELETE", `${store(uniquePath("route405"))}/versions`);
    expectProblem(res, 400);
    expect(res.body.errors[0].message).toContain("may not end with");
  });

  it.each(["a/versions", "a/metadata", "a/rotate", "history/a", "import/x"])("refuses to store a secret at the reserved path %s", async (path) => {
    const res = await api("PUT", store(path), { body: { value: "v" } });
    expectProblem(res, 400);
  });
});

describe("GET /store/{path}/versions and /store/history/{path}", () => {
  it("lists every version's metadata newest first with pagination, never values", async () => {
    const path = uniquePath("versions");
    await writeVersions(path, ["canary-v1", "canary-v2", "canary-v3"]);
    const first = await api("GET", `${store(path)}/versions?limit=2`);
    expect(first.body.items.map((v: any) => [v.version, v.state])).toEqual([
      [3, "live"],
      [2, "live"],
    ]);
    expect(first.text).not.toContain("canary");
    const second = await api("GET", `${store(path)}/versions?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.items.map((v: any) => v.version)).toEqual([1]);
    expect(second.body.next_cursor).toBeNull();
  });

  it("reads a historical version, audited, and needs a version number", async () => {
    const path = uniquePath("hist");
    await writeVersions(path, ["old", "new"]);
    const res = await api("GET", `/api/v1/secrets/store/history/${path}?version=1`);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ value: "old", version: 1, current_version: 2 });
    const audit = await api("GET", `/api/v1/audit?path=${path}&action=secret.history`);
    expect(audit.body.items.length, audit.text).toBe(1);
    expectProblem(await api("GET", `/api/v1/secrets/store/history/${path}`), 400);
    expectProblem(await api("GET", `/api/v1/secrets/store/history/${path}?version=9`), 404);
  });
});

describe("POST /store/recover/{path}", () => {
  it("republishes the version current at a time between two versions as a new version", async () => {
    const path = uniquePath("recov");
    await writeVersions(path, ["first"]);
    await sleep(5);
    const between = new Date().toISOString();
    await sleep(5);
    await writeVersions(path, ["second"]);
    const res = await api("POST", `/api/v1/secrets/store/recover/${path}`, { body: { at: between } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ version: 3, recovered_from: 1 });
    expect((await api("GET", store(path))).body).toMatchObject({ value: "first", version: 3 });
    // History is kept, never rewritten.
    expect((await api("GET", `${store(path)}?version=2`)).body.value).toBe("second");
    const versions = await api("GET", `${store(path)}/versions`);
    expect(versions.body.items[0]).toMatchObject({ version: 3, source_version: 1 });
  });

  it("is 404 when nothing was current at that time", async () => {
    const path = uniquePath("recover404");
    await writeVersions(path, ["v"]);
    const res = await api("POST", `/api/v1/secrets/store/recover/${path}`, { body: { at: "2001-01-01T00:00:00Z" } });
    expectProblem(res, 404);
  });

  it("brings back a soft-deleted path", async () => {
    const path = uniquePath("recoverdeleted");
    await writeVersions(path, ["keep-me"]);
    expect((await api("DELETE", store(path))).status).toBe(200);
    expectProblem(await api("GET", store(path)), 404);
    const res = await api("POST", `/api/v1/secrets/store/recover/${path}`, { body: { at: new Date().toISOString() } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.deleted_at).toBeNull();
    expect((await api("GET", store(path))).body).toMatchObject({ value: "keep-me", version: 2 });
  });
});

describe("POST /store/undelete/{path}", () => {
  it("restores a soft-deleted secret with its current version", async () => {
    const path = uniquePath("undel");
    await writeVersions(path, ["a", "b"]);
    await api("DELETE", store(path));
    const res = await api("POST", `/api/v1/secrets/store/undelete/${path}`);
    expect(res.status, res.text).toBe(200);
    expect((await api("GET", store(path))).body).toMatchObject({ value: "b", version: 2 });
    expectProblem(await api("POST", `/api/v1/secrets/store/undelete/${uniquePath("nothing")}`), 404);
  });

  it("needs secrets:write on the path", async () => {
    const path = uniquePath("undelete403");
    await writeVersions(path, ["a"]);
    await api("DELETE", store(path));
    const { token } = await tokenWith(["secrets:read"]);
    expectProblem(await api("POST", `/api/v1/secrets/store/undelete/${path}`, { token }), 403);
  });
});

describe("POST /store/destroy/{path}", () => {
  it("crypto-shreds the versions in D1, keeps their metadata and reads them 410", async () => {
    const path = uniquePath("destr");
    await writeVersions(path, ["v1", "v2", "v3"]);
    const res = await api("POST", `/api/v1/secrets/store/destroy/${path}`, { body: { versions: [1, 2] } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ destroyed: [1, 2], already_destroyed: [] });
    const rows = await env.DB.prepare(
      "SELECT version, state, ciphertext, iv, wrapped_key, destroyed_at, created_by FROM secret_versions WHERE path = ? ORDER BY version",
    )
      .bind(path)
      .all<any>();
    expect(rows.results.map((r) => [r.version, r.state, r.ciphertext, r.iv, r.wrapped_key])).toEqual([
      [1, "destroyed", null, null, null],
      [2, "destroyed", null, null, null],
      [3, "live", expect.anything(), expect.anything(), expect.anything()],
    ]);
    expect(rows.results[0].destroyed_at).toBeTypeOf("number");
    expect(rows.results[0].created_by).toBeTruthy();
    expectProblem(await api("GET", `${store(path)}?version=1`), 410);
    expectProblem(await api("GET", `/api/v1/secrets/store/history/${path}?version=2`), 410);
    expect((await api("GET", store(path))).body.value).toBe("v3");
    const again = await api("POST", `/api/v1/secrets/store/destroy/${path}`, { body: { versions: [2, 3] } });
    expect(again.body).toMatchObject({ destroyed: [3], already_destroyed: [2] });
    expectProblem(await api("GET", store(path)), 410);
    const versions = await api("GET", `${store(path)}/versions`);
    expect(versions.body.items.map((v: any) => v.state)).toEqual(["destroyed", "destroyed", "destroyed"]);
  });

  it("is 404 naming versions that do not exist, and destroys nothing then", async () => {
    const path = uniquePath("destroy404");
    await writeVersions(path, ["v1"]);
    const res = await api("POST", `/api/v1/secrets/store/destroy/${path}`, { body: { versions: [1, 7] } });
    expectProblem(res, 404);
    expect(res.body.versions).toEqual([7]);
    expect((await api("GET", store(path))).body.value).toBe("v1");
  });

  it("needs secrets:delete", async () => {
    const path = uniquePath("destroy403");
    await writeVersions(path, ["v1"]);
    const { token } = await tokenWith(["secrets:read", "secrets:write"]);
    expectProblem(await api("POST", `/api/v1/secrets/store/destroy/${path}`, { token, body: { versions: [1] } }), 403);
  });
});

describe("max_versions", () => {
  it("destroys versions beyond the limit in the write's own batch", async () => {
    const path = uniquePath("maxv");
    const created = await api("POST", store(path), { body: { value: "v1", max_versions: 2 } });
    expect(created.body.max_versions).toBe(2);
    await writeVersions(path, ["v2", "v3", "v4"]);
    const states = await env.DB.prepare("SELECT version, state, ciphertext IS NULL AS shredded FROM secret_versions WHERE path = ? ORDER BY version")
      .bind(path)
      .all<any>();
    expect(states.results.map((r) => [r.version, r.state, r.shredded])).toEqual([
      [1, "destroyed", 1],
      [2, "destroyed", 1],
      [3, "live", 0],
      [4, "live", 0],
    ]);
    expectProblem(await api("GET", `${store(path)}?version=2`), 410);
  });

  it("prunes at once when PATCH lowers it", async () => {
    const path = uniquePath("maxvpatch");
    await writeVersions(path, ["v1", "v2", "v3"]);
    const res = await api("PATCH", `${store(path)}/metadata`, { body: { max_versions: 1 } });
    expect(res.status, res.text).toBe(200);
    const live = await env.DB.prepare("SELECT version FROM secret_versions WHERE path = ? AND state = 'live'").bind(path).all<any>();
    expect(live.results.map((r) => r.version)).toEqual([3]);
  });
});

describe("PATCH /store/{path}/metadata", () => {
  it("changes metadata without a new version", async () => {
    const path = uniquePath("patch");
    await writeVersions(path, ["v"]);
    const res = await api("PATCH", `${store(path)}/metadata`, {
      body: {
        description: "primary db",
        tags: ["db"],
        environment: "production",
        type: "DATABASE_CREDENTIAL",
        rotation_policy: "ON_DEMAND",
        rotation_days: 30,
        custom_metadata: { owner: "team-a" },
      },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      current_version: 1,
      description: "primary db",
      environment: "production",
      type: "DATABASE_CREDENTIAL",
      rotation_policy: "ON_DEMAND",
      rotation_days: 30,
      custom_metadata: { owner: "team-a" },
    });
    expect(Date.parse(res.body.next_rotation_at) - Date.parse(res.body.created_at)).toBe(30 * 86_400_000);
    const read = await api("GET", store(path));
    expect(read.body).toMatchObject({ version: 1, value: "v", environment: "production" });
    const cleared = await api("PATCH", `${store(path)}/metadata`, { body: { environment: null, rotation_days: null } });
    expect(cleared.body).toMatchObject({ environment: null, rotation_days: null, next_rotation_at: null });
  });

  it.each([
    [{}, 400],
    [{ value: "x" }, 400],
    [{ type: "NOPE" }, 400],
    [{ max_versions: -1 }, 400],
    [{ rotation_policy: "SOMETIMES" }, 400],
  ])("rejects %j with %i", async (input, status) => {
    const path = uniquePath("patchbad");
    await writeVersions(path, ["v"]);
    expectProblem(await api("PATCH", `${store(path)}/metadata`, { body: input }), status);
  });

  it("is 404 for a missing path", async () => {
    expectProblem(await api("PATCH", `${store(uniquePath("patch404"))}/metadata`, { body: { description: "x" } }), 404);
  });
});

describe("POST /store/{path}/rotate", () => {
  it("writes the next version and ends the previous one's readability after the grace period", async () => {
    const path = uniquePath("rotate");
    await writeVersions(path, ["old"]);
    const res = await api("POST", `${store(path)}/rotate`, { body: { value: "new", expire_old_after_seconds: 3600 } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.version).toBe(2);
    expect((await api("GET", `${store(path)}?version=1`)).body.value).toBe("old");
    // Move the grace period into the past directly in D1 (a clock we control).
    await env.DB.prepare("UPDATE secret_versions SET readable_until = ? WHERE path = ? AND version = 1")
      .bind(Date.now() - 1, path)
      .run();
    expectProblem(await api("GET", `${store(path)}?version=1`), 410);
    expect((await api("GET", store(path))).body.value).toBe("new");
    const audit = await api("GET", `/api/v1/audit?path=${path}&action=secret.rotate`);
    expect(audit.body.items.length).toBe(1);
  });

  it("generates a value when asked and refuses both or neither", async () => {
    const path = uniquePath("rotategen");
    await writeVersions(path, ["old"]);
    const res = await api("POST", `${store(path)}/rotate`, { body: { generate: { length: 40, charset: "hex" } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.generated).toEqual({ length: 40, charset: "hex" });
    expect((await api("GET", store(path))).body.value).toMatch(/^[0-9a-f]{40}$/);
    expectProblem(await api("POST", `${store(path)}/rotate`, { body: { value: "x", generate: { length: 16 } } }), 400);
    expectProblem(await api("POST", `${store(path)}/rotate`, { body: {} }), 400);
  });
});
