import { describe, expect, it } from "vitest";
import { openShare, parseShareLink, sealShare, shareLink } from "../../cli/lib/share.mjs";
import { hush } from "./helpers";

describe("share encryption (the pinned hush share v1 contract, no server)", () => {
  it("round-trips UTF-8 with a fresh 32-byte key and 12-byte IV, as unpadded base64url", async () => {
    const secret = "pässwörd 🔑 with\nnewline";
    const a = await sealShare(secret);
    const b = await sealShare(secret);
    expect(a.key).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes
    expect(a.ciphertext).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(a.ciphertext, "base64url").length).toBe(12 + Buffer.byteLength(secret) + 16);
    expect(a.key).not.toBe(b.key);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(await openShare(a.ciphertext, a.key)).toBe(secret);
  });

  it("binds the ciphertext to the 'hush share v1' additional data", async () => {
    const { webcrypto } = await import("node:crypto");
    const { ciphertext, key } = await sealShare("bound");
    const bytes = Buffer.from(ciphertext, "base64url");
    const k = await webcrypto.subtle.importKey("raw", new Uint8Array(Buffer.from(key, "base64url")), "AES-GCM", false, ["decrypt"]);
    const iv = new Uint8Array(bytes.subarray(0, 12));
    const body = new Uint8Array(bytes.subarray(12));
    const aad = new Uint8Array(new TextEncoder().encode("hush share v1"));
    expect(new TextDecoder().decode(await webcrypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad }, k, body))).toBe("bound");
    await expect(webcrypto.subtle.decrypt({ name: "AES-GCM", iv }, k, body)).rejects.toThrow();
  });

  it("fails with another key or a changed ciphertext", async () => {
    const { ciphertext } = await sealShare("x");
    const other = await sealShare("y");
    await expect(openShare(ciphertext, other.key)).rejects.toThrow();
    const flipped = Buffer.from(ciphertext, "base64url");
    flipped[flipped.length - 1]! ^= 1;
    const { key } = await sealShare("z");
    await expect(openShare(flipped.toString("base64url"), key)).rejects.toThrow();
  });

  it("parses links: the key comes from the fragment, the id from /s/<id>", () => {
    const key = "A".repeat(43);
    const link = shareLink("https://hush.example.com/s/abc_DEF-123", key);
    expect(link).toBe(`https://hush.example.com/s/abc_DEF-123#${key}`);
    expect(parseShareLink(link)).toEqual({ mode: "e2e", origin: "https://hush.example.com", id: "abc_DEF-123", key });
    expect(parseShareLink(`http://127.0.0.1:8787/s/x1#${key}`).origin).toBe("http://127.0.0.1:8787");
  });

  it("rejects links without a key or an id with a usage error", async () => {
    expect(() => parseShareLink("https://hush.example.com/s/abc")).toThrow(/no key/);
    expect(() => parseShareLink(`https://hush.example.com/x/abc#${"A".repeat(43)}`)).toThrow(/\/s\/<id>/);
    const result = await hush(["share", "open", "https://hush.example.com/s/abc"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Quote the link");
  });
});

describe("hush share create / open (end to end)", () => {
  it("creates a link and opens it exactly once", async () => {
    const secret = "share me once: 9f2c";
    const created = await hush(["share", "create", "--expires", "1h", "--views", "1"], { input: secret });
    expect(created.code, created.stderr).toBe(0);
    const link = created.stdout.trim();
    expect(link).toMatch(/\/s\/[A-Za-z0-9_-]+#[A-Za-z0-9_-]{43}$/);
    expect(created.stdout + created.stderr).not.toContain(secret);
    const opened = await hush(["share", "open", link], { token: null });
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toBe(secret);
    const again = await hush(["share", "open", link], { token: null });
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("already viewed");
    expect(again.stdout).toBe("");
  });

  it("requires the passphrase when the share has one", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const file = join(mkdtempSync(join(tmpdir(), "hush-share-")), "phrase");
    writeFileSync(file, "open sesame\n");
    const created = await hush(["share", "create", "--views", "2", "--passphrase-file", file, "--json"], { input: "guarded" });
    expect(created.code, created.stderr).toBe(0);
    const { link } = JSON.parse(created.stdout);
    expect((await hush(["share", "open", link], { token: null })).code).toBe(2);
    const opened = await hush(["share", "open", link, "--passphrase-file", file, "--json"], { token: null });
    expect(JSON.parse(opened.stdout)).toMatchObject({ secret: "guarded", views_left: 1 });
  });
});
