import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { storedResponse } from "../foundation/stored-response";
import { api, createTenant, expectProblem, tokenWith } from "../helpers";
import { auditDb } from "../support/audit-store";

const b64 = (text: string) => btoa(text);
const unb64 = (text: string) => atob(text);
let counter = 0;
const keyName = (prefix = "k") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

async function createKey(type: string, extra: Record<string, unknown> = {}, token?: string) {
  const name = keyName(type);
  const res = await api("POST", `/api/v1/transit/keys/${name}`, { body: { type, ...extra }, token });
  expect(res.status, res.text).toBe(201);
  return name;
}

const encrypt = (name: string, body: unknown, token?: string) => api("POST", `/api/v1/transit/encrypt/${name}`, { body, token });
const decrypt = (name: string, body: unknown, token?: string) => api("POST", `/api/v1/transit/decrypt/${name}`, { body, token });

describe("POST /api/v1/transit/keys/{name}", () => {
  it("creates a key and GET shows its versions and settings, never key material", async () => {
    const name = await createKey("aes256-gcm");
    const res = await api("GET", `/api/v1/transit/keys/${name}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name, type: "aes256-gcm", latest_version: 1, min_decryption_version: 1, deletion_allowed: false });
    expect(res.body.versions).toEqual([{ version: 1, created_at: expect.any(String), public_key: null }]);
    const row = await env.DB.prepare("SELECT ciphertext, key_id FROM transit_key_versions WHERE name = ?")
      .bind(name)
      .first<{ ciphertext: ArrayBuffer; key_id: string }>();
    expect(row?.key_id).toBe("k1");
    expect(new Uint8Array(row!.ciphertext).length).toBe(32 + 16); // the 32-byte key, sealed (GCM tag)
  });

  it("refuses a second key of the same name (409) and an unknown type (400)", async () => {
    const name = await createKey("hmac");
    expectProblem(await api("POST", `/api/v1/transit/keys/${name}`, { body: { type: "hmac" } }), 409);
    expectProblem(await api("POST", `/api/v1/transit/keys/${keyName()}`, { body: { type: "rsa-4096" } }), 400);
    expectProblem(await api("POST", `/api/v1/transit/keys/${keyName()}`, { body: { type: "hmac", exportable: true } }), 400);
    expectProblem(await api("POST", `/api/v1/transit/keys/bad%20name`, { body: { type: "hmac" } }), 400);
  });

  it("signing keys publish their public key (SPKI)", async () => {
    const name = await createKey("ed25519");
    const res = await api("GET", `/api/v1/transit/keys/${name}`);
    expect(res.body.versions[0].public_key).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });
});

describe("POST /api/v1/transit/encrypt and /decrypt (aes256-gcm)", () => {
  it("round-trips bytes, with and without a context, and never stores or audits the plaintext", async () => {
    const name = await createKey("aes256-gcm");
    const plaintext = b64("card 4111-1111-1111-1111");
    const enc = await encrypt(name, { plaintext });
    expect(enc.status).toBe(200);
    expect(enc.body.ciphertext).toMatch(/^hush:v1:[A-Za-z0-9+/]+=*$/);
    expect(enc.body.key_version).toBe(1);
    const dec = await decrypt(name, { ciphertext: enc.body.ciphertext });
    expect(dec.status).toBe(200);
    expect(dec.body).toEqual({ plaintext, key_version: 1 });

    const context = b64("customer-42");
    const withContext = await encrypt(name, { plaintext, context });
    expect((await decrypt(name, { ciphertext: withContext.body.ciphertext, context })).body.plaintext).toBe(plaintext);

    const events = await api("GET", `/api/v1/audit?path=&action=transit.decrypt`);
    expect(events.status).toBe(200);
    const audited = await auditDb.prepare("SELECT detail FROM audit_events WHERE resource = ?").bind(`transit:${name}`).all();
    expect(audited.results.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(audited.results)).not.toContain(plaintext);
    expect(JSON.stringify(audited.results)).not.toContain("4111");
  });

  it("two encryptions of the same plaintext differ (random IV)", async () => {
    const name = await createKey("aes256-gcm");
    const a = await encrypt(name, { plaintext: b64("same") });
    const b = await encrypt(name, { plaintext: b64("same") });
    expect(a.body.ciphertext).not.toBe(b.body.ciphertext);
  });

  it("refuses a context mismatch, a missing context and an added one with 400", async () => {
    const name = await createKey("aes256-gcm");
    const enc = await encrypt(name, { plaintext: b64("bound"), context: b64("tenant-a") });
    for (const body of [{ ciphertext: enc.body.ciphertext, context: b64("tenant-b") }, { ciphertext: enc.body.ciphertext }]) {
      const res = await decrypt(name, body);
      expectProblem(res, 400);
      expect(res.body.type).toContain("decryption-failed");
    }
    const plain = await encrypt(name, { plaintext: b64("unbound") });
    expectProblem(await decrypt(name, { ciphertext: plain.body.ciphertext, context: b64("x") }), 400);
  });

  it("refuses tampered ciphertexts with a clear 400, never a 500, and audits the failure", async () => {
    const name = await createKey("aes256-gcm");
    const { ciphertext } = (await encrypt(name, { plaintext: b64("do not alter") })).body as { ciphertext: string };
    const bytes = Uint8Array.from(atob(ciphertext.slice("hush:v1:".length)), (ch) => ch.charCodeAt(0));
    bytes[bytes.length - 1]! ^= 1;
    const flipped = `hush:v1:${btoa(String.fromCharCode(...bytes))}`;
    const cases: [string, string][] = [
      [flipped, "decryption-failed"],
      [ciphertext.slice(0, -8), "decryption-failed"],
      ["hush:v1:AAAA", "invalid-ciphertext"],
      ["vault:v1:abcd", "invalid-ciphertext"],
      ["hush:v1:not base64!", "invalid-ciphertext"],
      [ciphertext.replace("hush:v1:", "hush:v7:"), "unknown-key-version"],
      [ciphertext.replace("hush:v1:", "hush:v0:"), "invalid-ciphertext"],
    ];
    for (const [bad, type] of cases) {
      const res = await decrypt(name, { ciphertext: bad });
      expectProblem(res, 400);
      expect(res.body.type, bad).toContain(type);
    }
    const failures = await auditDb
      .prepare("SELECT COUNT(*) AS n FROM audit_events WHERE resource = ? AND action = 'transit.decrypt' AND outcome = 'failure'")
      .bind(`transit:${name}`)
      .first<{ n: number }>();
    expect(failures?.n).toBe(cases.length);
  });

  it("a ciphertext of one key does not open under another key of the same tenant", async () => {
    const a = await createKey("aes256-gcm");
    const b = await createKey("aes256-gcm");
    const enc = await encrypt(a, { plaintext: b64("for a") });
    expectProblem(await decrypt(b, { ciphertext: enc.body.ciphertext }), 400);
  });

  it("refuses encryption with a key of another type (400) and bad base64 (400)", async () => {
    const hmac = await createKey("hmac");
    const res = await encrypt(hmac, { plaintext: b64("x") });
    expectProblem(res, 400);
    expect(res.body.type).toContain("unsupported-operation");
    const aes = await createKey("aes256-gcm");
    expectProblem(await encrypt(aes, { plaintext: "%%%" }), 400);
    expectProblem(await encrypt(aes, { plaintext: b64("x"), extra: 1 }), 400);
  });
});

describe("rotation and min_decryption_version", () => {
  it("rotates: new data uses the latest version, old versions still decrypt, rewrap moves them forward", async () => {
    const name = await createKey("aes256-gcm");
    const v1 = (await encrypt(name, { plaintext: b64("one"), context: b64("c") })).body.ciphertext as string;
    const rotated = await api("POST", `/api/v1/transit/keys/${name}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.latest_version).toBe(2);
    expect(rotated.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    const v2 = (await encrypt(name, { plaintext: b64("two") })).body.ciphertext as string;
    expect(v2.startsWith("hush:v2:")).toBe(true);
    expect((await decrypt(name, { ciphertext: v1, context: b64("c") })).body).toEqual({ plaintext: b64("one"), key_version: 1 });
    expect((await decrypt(name, { ciphertext: v2 })).body.plaintext).toBe(b64("two"));

    const rewrapped = await api("POST", `/api/v1/transit/rewrap/${name}`, { body: { ciphertext: v1, context: b64("c") } });
    expect(rewrapped.status).toBe(200);
    expect(rewrapped.body).toEqual({ ciphertext: expect.stringMatching(/^hush:v2:/), key_version: 2 });
    expect(rewrapped.text).not.toContain(b64("one"));
    expect((await decrypt(name, { ciphertext: rewrapped.body.ciphertext, context: b64("c") })).body.plaintext).toBe(b64("one"));

    // Once every ciphertext is on v2, v1 can be retired.
    const patched = await api("PATCH", `/api/v1/transit/keys/${name}`, { body: { min_decryption_version: 2 } });
    expect(patched.status).toBe(200);
    expect(patched.body.min_decryption_version).toBe(2);
    const refused = await decrypt(name, { ciphertext: v1, context: b64("c") });
    expectProblem(refused, 400);
    expect(refused.body.type).toContain("below-min-decryption-version");
    expect((await decrypt(name, { ciphertext: v2 })).status).toBe(200);
    expectProblem(await api("POST", `/api/v1/transit/rewrap/${name}`, { body: { ciphertext: v1, context: b64("c") } }), 400);
  });

  it("refuses a min_decryption_version above the latest version", async () => {
    const name = await createKey("aes256-gcm");
    expectProblem(await api("PATCH", `/api/v1/transit/keys/${name}`, { body: { min_decryption_version: 2 } }), 400);
    expectProblem(await api("PATCH", `/api/v1/transit/keys/${name}`, { body: { min_decryption_version: 0 } }), 400);
  });
});

describe("batch_input", () => {
  it("encrypts and decrypts a batch with per-item results, good and bad items mixed", async () => {
    const name = await createKey("aes256-gcm");
    const items = Array.from({ length: 50 }, (_, i) => ({ plaintext: b64(`item ${i}`), context: b64(`ctx ${i % 3}`) }));
    const enc = await encrypt(name, { batch_input: items });
    expect(enc.status).toBe(200);
    expect(enc.body.batch_results).toHaveLength(50);
    const ciphertexts = enc.body.batch_results.map((r: { ciphertext: string }) => r.ciphertext);

    const batch = [
      { ciphertext: ciphertexts[0], context: items[0]!.context },
      { ciphertext: ciphertexts[1], context: b64("wrong context") },
      { ciphertext: "garbage" },
      { ciphertext: ciphertexts[3], context: items[3]!.context },
    ];
    const dec = await decrypt(name, { batch_input: batch });
    expect(dec.status).toBe(200);
    const results = dec.body.batch_results;
    expect(results[0]).toEqual({ plaintext: b64("item 0"), key_version: 1 });
    expect(results[1].error).toMatchObject({ status: 400, type: "decryption-failed" });
    expect(results[2].error).toMatchObject({ status: 400, type: "invalid-ciphertext" });
    expect(results[3]).toEqual({ plaintext: b64("item 3"), key_version: 1 });
  });

  it("decrypts a batch of 1,000 spanning two key versions", async () => {
    const name = await createKey("aes256-gcm");
    const first = await encrypt(name, { batch_input: Array.from({ length: 500 }, (_, i) => ({ plaintext: b64(`a${i}`) })) });
    await api("POST", `/api/v1/transit/keys/${name}/rotate`);
    const second = await encrypt(name, { batch_input: Array.from({ length: 500 }, (_, i) => ({ plaintext: b64(`b${i}`) })) });
    const all = [...first.body.batch_results, ...second.body.batch_results].map((r: { ciphertext: string }) => ({ ciphertext: r.ciphertext }));
    const dec = await decrypt(name, { batch_input: all });
    expect(dec.status).toBe(200);
    expect(dec.body.batch_results).toHaveLength(1000);
    expect(dec.body.batch_results[0]).toEqual({ plaintext: b64("a0"), key_version: 1 });
    expect(dec.body.batch_results[999]).toEqual({ plaintext: b64("b499"), key_version: 2 });
  });

  it("refuses more than 1,000 items with 413 and an empty batch with 400", async () => {
    const name = await createKey("aes256-gcm");
    const res = await encrypt(name, { batch_input: Array.from({ length: 1001 }, () => ({ plaintext: "YQ==" })) });
    expectProblem(res, 413);
    expect(res.body.type).toContain("batch-too-large");
    expectProblem(await decrypt(name, { batch_input: Array.from({ length: 1001 }, () => ({ ciphertext: "hush:v1:AAAA" })) }), 413);
    expectProblem(await encrypt(name, { batch_input: [] }), 400);
  });
});

describe("HMAC and signatures", () => {
  it("hmac: verify accepts the HMAC of the same input, rejects another input, and works across rotation", async () => {
    const name = await createKey("hmac");
    const mac = await api("POST", `/api/v1/transit/hmac/${name}`, { body: { input: b64("message") } });
    expect(mac.status).toBe(200);
    expect(mac.body.hmac).toMatch(/^hush:v1:/);
    const verify = (input: string, hmac: string) => api("POST", `/api/v1/transit/verify/${name}`, { body: { input, hmac } });
    expect((await verify(b64("message"), mac.body.hmac)).body).toEqual({ valid: true });
    expect((await verify(b64("messagE"), mac.body.hmac)).body).toEqual({ valid: false });
    await api("POST", `/api/v1/transit/keys/${name}/rotate`);
    const mac2 = await api("POST", `/api/v1/transit/hmac/${name}`, { body: { input: b64("message") } });
    expect(mac2.body.hmac).toMatch(/^hush:v2:/);
    expect(mac2.body.hmac).not.toBe(mac.body.hmac.replace("v1", "v2"));
    expect((await verify(b64("message"), mac.body.hmac)).body.valid).toBe(true);
    expect((await verify(b64("message"), mac2.body.hmac)).body.valid).toBe(true);
    await api("PATCH", `/api/v1/transit/keys/${name}`, { body: { min_decryption_version: 2 } });
    expectProblem(await verify(b64("message"), mac.body.hmac), 400);
    expectProblem(await verify(b64("message"), "not-an-hmac"), 400);
  });

  for (const type of ["ed25519", "ecdsa-p256"] as const) {
    it(`${type}: signs, verifies, rejects a changed input or signature, and old versions verify after rotation`, async () => {
      const name = await createKey(type);
      const sign = (input: string) => api("POST", `/api/v1/transit/sign/${name}`, { body: { input } });
      const verify = (input: string, signature: string) => api("POST", `/api/v1/transit/verify-signature/${name}`, { body: { input, signature } });
      const signed = await sign(b64("release 1.2.3"));
      expect(signed.status, signed.text).toBe(200);
      expect(signed.body.signature).toMatch(/^hush:v1:/);
      expect((await verify(b64("release 1.2.3"), signed.body.signature)).body).toEqual({ valid: true });
      expect((await verify(b64("release 1.2.4"), signed.body.signature)).body).toEqual({ valid: false });
      const sig = Uint8Array.from(unb64(signed.body.signature.slice(8)), (ch) => ch.charCodeAt(0));
      sig[0]! ^= 0xff;
      expect((await verify(b64("release 1.2.3"), `hush:v1:${btoa(String.fromCharCode(...sig))}`)).body).toEqual({ valid: false });

      // The published public key verifies the signature outside Hush.
      const meta = await api("GET", `/api/v1/transit/keys/${name}`);
      const algorithm = type === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
      const pub = await crypto.subtle.importKey(
        "spki",
        Uint8Array.from(unb64(meta.body.versions[0].public_key), (ch) => ch.charCodeAt(0)),
        algorithm,
        false,
        ["verify"],
      );
      const raw = Uint8Array.from(unb64(signed.body.signature.slice(8)), (ch) => ch.charCodeAt(0));
      const verifyAlgorithm = type === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
      expect(await crypto.subtle.verify(verifyAlgorithm, pub, raw, new TextEncoder().encode("release 1.2.3"))).toBe(true);

      await api("POST", `/api/v1/transit/keys/${name}/rotate`);
      const signed2 = await sign(b64("release 2"));
      expect(signed2.body.signature).toMatch(/^hush:v2:/);
      expect((await verify(b64("release 1.2.3"), signed.body.signature)).body.valid).toBe(true);
      expect((await verify(b64("release 2"), signed2.body.signature)).body.valid).toBe(true);
      expectProblem(await api("POST", `/api/v1/transit/encrypt/${name}`, { body: { plaintext: b64("x") } }), 400);
    });
  }

  it("signing with an hmac or aes key is refused with 400", async () => {
    const name = await createKey("aes256-gcm");
    const res = await api("POST", `/api/v1/transit/sign/${name}`, { body: { input: b64("x") } });
    expectProblem(res, 400);
    expect(res.body.type).toContain("unsupported-operation");
  });
});

describe("deletion", () => {
  it("DELETE is refused until deletion_allowed, then removes the key and every version", async () => {
    const name = await createKey("aes256-gcm");
    await api("POST", `/api/v1/transit/keys/${name}/rotate`);
    const refused = await api("DELETE", `/api/v1/transit/keys/${name}`);
    expectProblem(refused, 409);
    expect(refused.body.type).toContain("deletion-not-allowed");
    expect((await api("PATCH", `/api/v1/transit/keys/${name}`, { body: { deletion_allowed: true } })).body.deletion_allowed).toBe(true);
    expect((await api("DELETE", `/api/v1/transit/keys/${name}`)).status).toBe(200);
    expectProblem(await api("GET", `/api/v1/transit/keys/${name}`), 404);
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM transit_key_versions WHERE name = ?").bind(name).first<{ n: number }>();
    expect(left?.n).toBe(0);
    expectProblem(await encrypt(name, { plaintext: b64("x") }), 404);
  });
});

describe("access", () => {
  it("another tenant's key is 404 for every operation; its own key of the same name is a different key", async () => {
    await createTenant("transit-other");
    const other = await tokenWith(["transit:admin", "transit:encrypt", "transit:decrypt"], { tenant: "transit-other" });
    const name = await createKey("aes256-gcm");
    const enc = await encrypt(name, { plaintext: b64("mine") });
    expectProblem(await api("GET", `/api/v1/transit/keys/${name}`, { token: other.token }), 404);
    expectProblem(await encrypt(name, { plaintext: b64("x") }, other.token), 404);
    expectProblem(await decrypt(name, { ciphertext: enc.body.ciphertext }, other.token), 404);
    expectProblem(await api("POST", `/api/v1/transit/keys/${name}/rotate`, { token: other.token }), 404);
    expectProblem(await api("DELETE", `/api/v1/transit/keys/${name}`, { token: other.token }), 404);

    // Same name in the other tenant: its own material, so the first tenant's ciphertext does not open.
    expect((await api("POST", `/api/v1/transit/keys/${name}`, { body: { type: "aes256-gcm" }, token: other.token })).status).toBe(201);
    expectProblem(await decrypt(name, { ciphertext: enc.body.ciphertext }, other.token), 400);
  });

  it("scopes: encrypt needs transit:encrypt, decrypt transit:decrypt, key management transit:admin (403)", async () => {
    const name = await createKey("aes256-gcm");
    const encOnly = await tokenWith(["transit:encrypt"]);
    const decOnly = await tokenWith(["transit:decrypt"]);
    const secretsOnly = await tokenWith(["secrets:read"]);
    const enc = await encrypt(name, { plaintext: b64("x") }, encOnly.token);
    expect(enc.status).toBe(200);
    expectProblem(await decrypt(name, { ciphertext: enc.body.ciphertext }, encOnly.token), 403);
    expect((await decrypt(name, { ciphertext: enc.body.ciphertext }, decOnly.token)).status).toBe(200);
    expectProblem(await encrypt(name, { plaintext: b64("x") }, decOnly.token), 403);
    expectProblem(await api("POST", `/api/v1/transit/keys/${name}/rotate`, { token: encOnly.token }), 403);
    expectProblem(await api("POST", `/api/v1/transit/keys/${keyName()}`, { body: { type: "hmac" }, token: encOnly.token }), 403);
    expect((await api("GET", `/api/v1/transit/keys/${name}`, { token: encOnly.token })).status).toBe(200);
    expectProblem(await api("GET", `/api/v1/transit/keys/${name}`, { token: secretsOnly.token }), 403);
  });
});

describe("GET /openapi.json", () => {
  it("describes the transit and rewrap routes", async () => {
    const doc = await api("GET", "/openapi.json", { token: null });
    for (const path of ["/api/v1/transit/keys/{name}", "/api/v1/transit/encrypt/{name}", "/api/v1/transit/verify-signature/{name}", "/api/v1/sys/rewrap"]) {
      expect(Object.keys(doc.body.paths), path).toContain(path);
    }
  });
});

describe("idempotent retries", () => {
  it("a replayed transit decrypt does not return the plaintext again", async () => {
    const name = await createKey("aes256-gcm");
    const plaintext = `replayed-${crypto.randomUUID()}`;
    const one = (await encrypt(name, { plaintext: b64(plaintext) })).body.ciphertext;
    const two = (await encrypt(name, { plaintext: b64(`${plaintext}-2`) })).body.ciphertext;
    for (const body of [{ ciphertext: one }, { batch_input: [{ ciphertext: one }, { ciphertext: "hush:v1:bad" }, { ciphertext: two }] }]) {
      const headers = { "idempotency-key": `decrypt-${crypto.randomUUID()}` };
      const first = await api("POST", `/api/v1/transit/decrypt/${name}`, { body, headers });
      expect(first.status, first.text).toBe(200);
      expect(first.text).toContain(b64(plaintext));
      const again = await api("POST", `/api/v1/transit/decrypt/${name}`, { body, headers });
      expect(again.status).toBe(200);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body.credential_already_issued).toBe(true);
      expect(again.text).not.toContain(b64(plaintext));
      expect(await storedResponse(headers["idempotency-key"])).not.toContain(b64(plaintext));
      if ("batch_input" in body) {
        // Per item: the key version stays, the plaintext goes, an item's error is kept as it was.
        expect(again.body.batch_results[0]).toEqual({ key_version: 1 });
        expect(again.body.batch_results[1]).toEqual(first.body.batch_results[1]);
        expect(again.body.batch_results[2]).toEqual({ key_version: 1 });
      } else {
        expect(again.body).toEqual({ key_version: 1, credential_already_issued: true });
      }
    }
  });

  it("a retried rotate with the same Idempotency-Key rotates once", async () => {
    const name = await createKey("aes256-gcm");
    const headers = { "idempotency-key": `rotate-${name}` };
    const first = await api("POST", `/api/v1/transit/keys/${name}/rotate`, { headers });
    const again = await api("POST", `/api/v1/transit/keys/${name}/rotate`, { headers });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await api("GET", `/api/v1/transit/keys/${name}`)).body.latest_version).toBe(2);
  });
});

describe("GET /api/v1/transit/keys", () => {
  it("lists the tenant's keys with their settings and no key material, to any transit scope; others get 403", async () => {
    const aes = await createKey("aes256-gcm");
    const signing = await createKey("ed25519");
    const listed = await api("GET", "/api/v1/transit/keys");
    expect(listed.status).toBe(200);
    const names = listed.body.items.map((k: { name: string }) => k.name);
    expect(names).toEqual(expect.arrayContaining([aes, signing]));
    expect([...names].sort()).toEqual(names);
    expect(listed.body.items.find((k: { name: string }) => k.name === signing)).toEqual({
      name: signing,
      type: "ed25519",
      latest_version: 1,
      min_decryption_version: 1,
      deletion_allowed: false,
      created_at: expect.any(String),
      created_by: "root",
      updated_at: expect.any(String),
    });
    expect(listed.text).not.toContain("public_key");

    const encryptOnly = (await tokenWith(["transit:encrypt"])).token;
    const asEncryptor = await api("GET", "/api/v1/transit/keys", { token: encryptOnly });
    expect(asEncryptor.status, asEncryptor.text).toBe(200);
    expect((await api("GET", "/api/v1/transit/keys", { token: encryptOnly })).body.items.map((k: { name: string }) => k.name)).toEqual(
      expect.arrayContaining([aes]),
    );
    const reader = (await tokenWith(["secrets:read"])).token;
    expectProblem(await api("GET", "/api/v1/transit/keys", { token: reader }), 403);

    const other = `tl${Date.now().toString(36)}`;
    await createTenant(other);
    const outsider = (await tokenWith(["transit:admin"], { tenant: other })).token;
    expect((await api("GET", "/api/v1/transit/keys", { token: outsider })).body.items).toEqual([]);
  });
});
