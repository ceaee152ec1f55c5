import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hush, tokenWith, unique } from "./helpers";

const VALUE = "correct horse battery staple";

describe("hush set / get / list / rotate / delete", () => {
  it("round-trips a secret: set from stdin, get masked, list, rotate, delete", async () => {
    const path = unique("db/password");
    const set = await hush(["set", path, "--stdin", "--type", "database_credential", "--env", "production", "--tags", "db,prod"], { input: `${VALUE}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`Wrote ${path}: version 1`);

    const get = await hush(["get", path]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/value\s+\*{8}ple\n/);
    expect(get.stdout).not.toContain(VALUE);
    expect(get.stdout).toMatch(/type\s+DATABASE_CREDENTIAL/);
    expect(get.stdout).toMatch(/tags\s+db, prod/);

    const raw = await hush(["get", path, "--raw"]);
    expect(raw.stdout).toBe(VALUE); // stdin's trailing newline dropped; no newline added for pipes

    const list = await hush(["list", "--prefix", path.split("/")[0]!]);
    expect(list.code).toBe(0);
    const [header, row] = list.stdout.trim().split("\n");
    expect(header).toMatch(/^PATH\s+VERSION\s+TYPE\s+ENVIRONMENT\s+TAGS\s+UPDATED\s+PROVIDER$/);
    expect(row).toMatch(new RegExp(`^${path}\\s+1\\s+DATABASE_CREDENTIAL\\s+production\\s+db,prod\\s+\\d{4}-.*\\s+hush$`));
    expect(list.stdout).not.toContain(VALUE);

    const rotate = await hush(["rotate", path, "--stdin"], { input: "the second value" });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(rotate.stdout).toContain(`Rotated ${path}: version 2`);
    expect((await hush(["get", path, "--raw"])).stdout).toBe("the second value");
    expect((await hush(["get", path, "--raw", "--version", "1"])).stdout).toBe(VALUE);

    const del = await hush(["delete", path, "--yes"]);
    expect(del.code, del.stderr).toBe(0);
    const gone = await hush(["get", path]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain("No such secret");
    expect(gone.stderr).toContain("How to fix:");
    const deletedList = await hush(["list", "--prefix", path.split("/")[0]!, "--include-deleted", "--json"]);
    expect(JSON.parse(deletedList.stdout).items[0].deleted_at).not.toBeNull();
  });

  it("prints JSON that parses for get, set, list and rotate --generate", async () => {
    const path = unique("api-key");
    const set = await hush(["set", path, "--stdin", "--json", "--expires", "30d"], { input: "json-value-123" });
    const written = JSON.parse(set.stdout);
    expect(written).toMatchObject({ path, version: 1 });
    expect(Date.parse(written.expires_at) - Date.now()).toBeGreaterThan(29 * 86400_000);

    const got = JSON.parse((await hush(["get", path, "--json"])).stdout);
    expect(got).toMatchObject({ path, version: 1, value: "json-value-123" });

    const rotated = JSON.parse((await hush(["rotate", path, "--generate", "40", "--charset", "hex", "--json"])).stdout);
    expect(rotated.version).toBe(2);
    const generated = JSON.parse((await hush(["get", path, "--json"])).stdout).value;
    expect(generated).toMatch(/^[0-9a-f]{40}$/);

    const listed = JSON.parse((await hush(["list", "--prefix", path.split("/")[0]!, "--json"])).stdout);
    expect(listed.items.map((s: { path: string }) => s.path)).toEqual([path]);
  });

  it("shows the whole value only with --show-full, and masks short values entirely", async () => {
    const path = unique("short");
    await hush(["set", path, "--stdin"], { input: "abc12" });
    expect((await hush(["get", path])).stdout).toMatch(/value\s+\*{8}\n/);
    expect((await hush(["get", path, "--show-full"])).stdout).toMatch(/value\s+abc12\n/);
  });

  it("reads the value from a file exactly as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hush-cli-"));
    const file = join(dir, "cert.pem");
    writeFileSync(file, "-----BEGIN-----\nabc\n-----END-----\n");
    const path = unique("cert");
    expect((await hush(["set", path, "--from-file", file])).code).toBe(0);
    expect((await hush(["get", path, "--raw"])).stdout).toBe("-----BEGIN-----\nabc\n-----END-----\n");
  });

  it("filters the list by pattern and tags", async () => {
    const top = unique("x").split("/")[0]!;
    await hush(["set", `${top}/api-key-one`, "--stdin", "--tags", "red,blue"], { input: "v1-value" });
    await hush(["set", `${top}/api-key-two`, "--stdin", "--tags", "red"], { input: "v2-value" });
    await hush(["set", `${top}/other`, "--stdin", "--tags", "red,blue"], { input: "v3-value" });
    const byPattern = JSON.parse((await hush(["list", "--pattern", `${top}/api-key-*`, "--json"])).stdout);
    expect(byPattern.items.map((s: { path: string }) => s.path).sort()).toEqual([`${top}/api-key-one`, `${top}/api-key-two`]);
    const byTags = JSON.parse((await hush(["list", "--prefix", top, "--tags", "red,blue", "--json"])).stdout);
    expect(byTags.items.map((s: { path: string }) => s.path).sort()).toEqual([`${top}/api-key-one`, `${top}/other`]);
  });

  it("refuses to delete without a terminal unless --yes, and deletes nothing", async () => {
    const path = unique("keep");
    await hush(["set", path, "--stdin"], { input: "still-here" });
    const refused = await hush(["delete", path]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");
    expect((await hush(["get", path, "--raw"])).stdout).toBe("still-here");
  });

  it("rotates with --expire-old through the rotate endpoint", async () => {
    const path = unique("graceful");
    await hush(["set", path, "--stdin"], { input: "old-value-1" });
    const rotated = await hush(["rotate", path, "--stdin", "--expire-old", "1s", "--json"], { input: "new-value-2" });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout).version).toBe(2);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await hush(["get", path, "--version", "1"])).code).toBe(3);
    expect((await hush(["get", path, "--raw"])).stdout).toBe("new-value-2");
  });
});

describe("hush history / recover / undelete / destroy", () => {
  it("lists versions without values", async () => {
    const path = unique("hist");
    await hush(["set", path, "--stdin"], { input: "first-value" });
    await hush(["rotate", path, "--stdin"], { input: "second-value" });
    const history = await hush(["history", path]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/^VERSION\s+STATE\s+CREATED\s+CREATED BY\s+NOTE\n/);
    expect(history.stdout).toMatch(/\n2\s+live\s/);
    expect(history.stdout).not.toContain("first-value");
    const json = JSON.parse((await hush(["history", path, "--json"])).stdout);
    expect(json.items.map((v: { version: number }) => v.version).sort()).toEqual([1, 2]);
  });

  it("recovers the version current at a time as the next version", async () => {
    const path = unique("recover");
    await hush(["set", path, "--stdin"], { input: "before-value" });
    await new Promise((r) => setTimeout(r, 1100));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    await hush(["rotate", path, "--stdin"], { input: "after-value" });
    const recovered = await hush(["recover", path, "--at", between, "--json"]);
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(JSON.parse(recovered.stdout).version).toBe(3);
    expect((await hush(["get", path, "--raw"])).stdout).toBe("before-value");
  });

  it("undeletes a soft-deleted secret", async () => {
    const path = unique("undelete");
    await hush(["set", path, "--stdin"], { input: "come-back" });
    await hush(["delete", path, "--yes"]);
    expect((await hush(["get", path])).code).toBe(3);
    const restored = await hush(["undelete", path]);
    expect(restored.code, restored.stderr).toBe(0);
    expect((await hush(["get", path, "--raw"])).stdout).toBe("come-back");
  });

  it("destroys a version for good: reading it is exit 3 (410)", async () => {
    const path = unique("destroy");
    await hush(["set", path, "--stdin"], { input: "doomed-value" });
    await hush(["rotate", path, "--stdin"], { input: "kept-value" });
    expect((await hush(["destroy", path, "--versions", "1"])).code).toBe(2); // no TTY, no --yes
    const destroyed = await hush(["destroy", path, "--versions", "1", "--yes"]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    const read = await hush(["get", path, "--version", "1"]);
    expect(read.code).toBe(3);
    expect(read.stderr).toContain("destroyed");
    expect((await hush(["get", path, "--raw"])).stdout).toBe("kept-value");
  });

  it("expands references with --resolve", async () => {
    const top = unique("ref").split("/")[0]!;
    await hush(["set", `${top}/host`, "--stdin"], { input: "db.internal" });
    await hush(["set", `${top}/url`, "--stdin"], { input: "postgres://${secret." + top + "/host}/app" });
    expect((await hush(["get", `${top}/url`, "--raw"])).stdout).toBe("postgres://${secret." + top + "/host}/app");
    expect((await hush(["get", `${top}/url`, "--raw", "--resolve"])).stdout).toBe("postgres://db.internal/app");
  });
});

describe("errors: what happened and how to fix it", () => {
  it("a wrong token exits 4 and says how to fix it, without a stack", async () => {
    const result = await hush(["list"], { token: "hush_not_a_real_token_at_all_000000000000" });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^Error: /);
    expect(result.stderr).toContain("How to fix:");
    expect(result.stderr).toContain("hush login");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("a token without the scope exits 4 (403) and names the missing scope", async () => {
    const reader = await tokenWith(["secrets:read"]);
    const result = await hush(["set", unique("nope"), "--stdin"], { input: "x-value-1", token: reader });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("secrets:write");
    expect(result.stderr).toContain("How to fix:");
  });

  it("usage mistakes exit 2", async () => {
    expect((await hush(["get"])).code).toBe(2);
    expect((await hush(["frobnicate"])).code).toBe(2);
    expect((await hush(["set", unique("two-ways"), "inline", "--stdin"], { input: "x" })).code).toBe(2);
    expect((await hush(["set", unique("exp"), "--stdin", "--expires", "soon"], { input: "x" })).code).toBe(2);
    const badPath = await hush(["set", "bad path!", "--stdin"], { input: "x" });
    expect(badPath.code).toBe(2);
    expect(badPath.stderr).toContain("How to fix:");
  });

  it("an unreachable server is exit 1 and names the address", async () => {
    const result = await hush(["list"], { env: { HUSH_ADDR: "http://127.0.0.1:9" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Could not reach Hush at http://127.0.0.1:9");
    expect(result.stderr).toContain("HUSH_ADDR");
  });

  it("refuses to send a token over plain HTTP to a remote host", async () => {
    const result = await hush(["list"], { env: { HUSH_ADDR: "http://hush.example.com" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("plain HTTP");
  });
});

describe("hush audit", () => {
  it("shows events with a summary of failed attempts, and verifies the chain", async () => {
    const path = unique("audited");
    await hush(["set", path, "--stdin"], { input: "audited-value" });
    await hush(["get", path]);
    await hush(["get", path, "--version", "9"]); // a failed read
    const audit = await hush(["audit", path]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/^TIME\s+ACTOR\s+ACTION\s+RESOURCE\s+OUTCOME\s+STATUS\n/);
    expect(audit.stdout).toMatch(/failed attempts\s+1\n/);
    expect(audit.stdout).toMatch(/most frequent\s+root \(3\)/);
    expect(audit.stdout).not.toContain("audited-value");
    const json = JSON.parse((await hush(["audit", path, "--failed-only", "--json"])).stdout);
    expect(json.items).toHaveLength(1);
    expect(json.summary.failed).toBe(1);
    const verify = await hush(["audit", "verify"]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/Audit chain intact: \d+ events checked/);
  });
});

describe("hush token", () => {
  it("creates, lists and revokes a token; the revoked token is then denied", async () => {
    const created = JSON.parse((await hush(["token", "create", "--subject", "cli-revoke", "--scopes", "secrets:read", "--ttl", "1h", "--json"])).stdout);
    expect(created.token).toMatch(/^hush_/);
    const list = await hush(["token", "list", "--subject", "cli-revoke"]);
    expect(list.stdout).toContain(created.id);
    expect(list.stdout).not.toContain(created.token);
    expect((await hush(["list"], { token: created.token })).code).toBe(0);
    expect((await hush(["token", "revoke", created.id])).code).toBe(0);
    expect((await hush(["list"], { token: created.token })).code).toBe(4);
  });
});
