import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectFormat, formatExport, parseImport } from "../../cli/lib/formats.mjs";
import { FIXTURES, hush, unique } from "./helpers";

const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

/** Runs a function that should throw a usage error and returns it. */
function usageErrorOf(fn: () => unknown): { exitCode: number; message: string; details: string[] } {
  try {
    fn();
  } catch (err) {
    return err as { exitCode: number; message: string; details: string[] };
  }
  throw new Error("expected a usage error");
}

describe("import parsing (no server)", () => {
  it("reads .env files through dotenv: export, quotes, multi-line values, comments", () => {
    expect(parseImport(fixture("app.env"), "env")).toEqual({
      DATABASE_URL: "postgres://app:pw@db.internal:5432/app",
      API_KEY: "sk_live_0123456789abcdef",
      MULTILINE: "line one\nline two",
      SINGLE_QUOTED: "no $expansion here",
    });
  });

  it("reads JSON: plain values, objects with value/tags/expires_at, nested maps as paths", () => {
    expect(parseImport(fixture("secrets.json"), "json")).toEqual({
      "stripe/api-key": "sk_test_json_value_123",
      "db/password": { value: "json-db-password", tags: ["db", "prod"], type: "DATABASE_CREDENTIAL", expires_at: "2030-01-01T00:00:00Z" },
      "nested/service/token": "nested-token-value",
    });
  });

  it("reads YAML the same way, numbers as strings", () => {
    expect(parseImport(fixture("secrets.yaml"), "yaml")).toEqual({
      "redis/password": "yaml-redis-password",
      "smtp/user": "mailer",
      "smtp/password": { value: "yaml-smtp-password", tags: ["mail"] },
      port: "5432",
    });
  });

  it("rejects the whole file when one path is invalid, naming it", () => {
    const err = usageErrorOf(() => parseImport(fixture("bad-path.json"), "json"));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("nothing was imported");
    expect(err.details).toEqual(["bad path!: not a valid path"]);
  });

  it("keeps entries that ask the server to generate their value", () => {
    expect(parseImport('{"a": {"b": {"generate": {"length": 16}, "tags": ["x"]}}}', "json")).toEqual({ "a/b": { generate: { length: 16 }, tags: ["x"] } });
  });

  it("rejects unparsable files, empty files and arrays", () => {
    expect(usageErrorOf(() => parseImport("{", "json")).message).toContain("does not parse");
    expect(usageErrorOf(() => parseImport("a: [1, 2]", "yaml")).message).toContain("a: a value must be");
    expect(usageErrorOf(() => parseImport("# nothing\n", "env")).message).toContain("no entries");
    expect(usageErrorOf(() => parseImport('{"x": {"value": ""}}', "json")).details).toEqual(["x: empty value"]);
  });

  it("tells the format from the file name or --format", () => {
    expect(detectFormat("config/.env")).toBe("env");
    expect(detectFormat(".env.production")).toBe("env");
    expect(detectFormat("prod.env")).toBe("env");
    expect(detectFormat("a.JSON")).toBe("json");
    expect(detectFormat("a.yml")).toBe("yaml");
    expect(detectFormat("secrets.txt", "yaml")).toBe("yaml");
    expect(usageErrorOf(() => detectFormat("secrets.txt")).exitCode).toBe(2);
  });

  it("writes exports that parse back: JSON and YAML to the same map, env to shell-safe names", () => {
    const values = { "app/db-password": { value: 'p"w\nx', tags: ["a"] }, token: "t0k" };
    expect(parseImport(formatExport(values, "json"), "json")).toEqual(values);
    expect(parseImport(formatExport(values, "yaml"), "yaml")).toEqual(values);
    expect(parseImport(formatExport(values, "env"), "env")).toEqual({ APP_DB_PASSWORD: 'p"w\nx', TOKEN: "t0k" });
    expect(parseImport(formatExport({ a: "it's $HOME" }, "env"), "env")).toEqual({ A: "it's $HOME" });
    expect(usageErrorOf(() => formatExport({ a: `it's "both"` }, "env")).message).toContain("cannot be written as a .env line");
  });
});

describe("hush import (client side)", () => {
  it("a file over the 1,000-entry limit exits 2 before anything is sent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hush-import-"));
    const file = join(dir, "big.env");
    writeFileSync(file, Array.from({ length: 1001 }, (_, i) => `KEY_${i}=value-${i}`).join("\n"));
    const result = await hush(["import", file, "--prefix", unique("big")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("1001 entries; one import takes at most 1000");
  });

  it("a file with an invalid path exits 2 before anything is sent", async () => {
    const result = await hush(["import", join(FIXTURES, "bad-path.json"), "--prefix", unique("bad")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("bad path!: not a valid path");
  });
});

describe("hush import / export (end to end)", () => {
  it("imports .env, JSON and YAML fixtures under a prefix", async () => {
    const top = unique("imp").split("/")[0]!;
    for (const [file, sub] of [
      ["app.env", "env"],
      ["secrets.json", "json"],
      ["secrets.yaml", "yaml"],
    ] as const) {
      const result = await hush(["import", join(FIXTURES, file), "--prefix", `${top}/${sub}`]);
      expect(result.code, result.stderr).toBe(0);
    }
    expect((await hush(["get", `${top}/env/MULTILINE`, "--raw"])).stdout).toBe("line one\nline two");
    expect((await hush(["get", `${top}/json/nested/service/token`, "--raw"])).stdout).toBe("nested-token-value");
    const dbPassword = JSON.parse((await hush(["get", `${top}/json/db/password`, "--json"])).stdout);
    expect(dbPassword).toMatchObject({ value: "json-db-password", tags: ["db", "prod"], type: "DATABASE_CREDENTIAL" });
    expect((await hush(["get", `${top}/yaml/smtp/password`, "--raw"])).stdout).toBe("yaml-smtp-password");
  });

  it("a conflicting path rejects the whole import and writes nothing", async () => {
    const top = unique("conflict").split("/")[0]!;
    await hush(["set", `${top}/API_KEY`, "--stdin"], { input: "already-here" });
    const result = await hush(["import", join(FIXTURES, "app.env"), "--prefix", top]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("409");
    expect(result.stderr).toContain(`${top}/API_KEY`);
    const listed = JSON.parse((await hush(["list", "--prefix", top, "--json"])).stdout);
    expect(listed.items.map((s: { path: string }) => s.path)).toEqual([`${top}/API_KEY`]);
    expect((await hush(["get", `${top}/API_KEY`, "--raw"])).stdout).toBe("already-here");
  });

  it("exports metadata by default and values only with --include-values, re-importable", async () => {
    const top = unique("exp").split("/")[0]!;
    await hush(["set", `${top}/one`, "--stdin", "--tags", "x"], { input: "export-value-one" });
    const metadata = await hush(["export", "--prefix", top]);
    expect(metadata.code, metadata.stderr).toBe(0);
    expect(metadata.stdout).not.toContain("export-value-one");
    const withValues = await hush(["export", "--prefix", top, "--include-values", "--format", "yaml"]);
    expect(withValues.stdout).toContain("export-value-one");
    const env = await hush(["export", "--prefix", top, "--include-values", "--format", "env"]);
    expect(env.stdout).toMatch(/ONE='export-value-one'/);
    expect((await hush(["export", "--format", "env"])).code).toBe(2);
  });
});
