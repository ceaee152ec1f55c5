import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hashToken, resolveToken } from "../../src/auth/tokens";
import { database } from "../../src/db/client";
import { apiTokens } from "../../src/db/schema";
import { findSecretVersion } from "../../src/secrets/store";
import { api, uniquePath } from "../helpers";
import { putPolicy, uniqueName } from "../identity/helpers";

const store = (path: string) => `/api/v1/secrets/store/${path}`;

// The token lookup of a plain GET reads the secret and its current version in its own statement
// and decodes the raw row by hand (src/auth/tokens.ts `tokenAndRead`): it must give exactly the
// rows drizzle gives, every column type included (JSON, booleans, blobs, times, NULLs).
describe("the token lookup's prefetched read", () => {
  it("decodes the token, secret and version exactly as drizzle does, every column set", async () => {
    const policy = await putPolicy(uniqueName("prefetch"), [{ paths: ["prefetch/*"], capabilities: ["read"] }]);
    const minted = await api("POST", "/api/v1/tokens", {
      body: { subject: "prefetcher", scopes: ["secrets:read"], paths: ["prefetch/*"], policies: [policy], ttl_seconds: 3600 },
    });
    if (minted.status !== 201) throw new Error(minted.text);
    const path = uniquePath("prefetch").replace(/^[^/]+/, "prefetch");
    expect((await api("POST", store(path), { body: { value: "first" } })).status).toBe(201);
    expect((await api("PUT", store(path), { body: { value: "second" } })).status).toBe(200);
    // The version's optional columns too, so each column type is decoded from a value, not a NULL.
    await env.DB.prepare("UPDATE secret_versions SET readable_until = ?, source_version = 1 WHERE path = ? AND version = 2")
      .bind(Date.now() + 3_600_000, path)
      .run();
    const patched = await api("PATCH", `${store(path)}/metadata`, {
      body: {
        description: "all columns",
        tags: ["a", "b"],
        environment: "production",
        type: "DATABASE_CREDENTIAL",
        rotation_policy: "ON_DEMAND",
        rotation_days: 30,
        custom_metadata: { owner: "team-a" },
        allowed_services: ["billing"],
        expires_at: "2099-01-01T00:00:00Z",
      },
    });
    if (patched.status !== 200) throw new Error(patched.text);

    const db = database(env.DB);
    const result = await resolveToken(env, minted.body.token, Date.now(), { kind: "read", path });
    if (!("principal" in result) || result.prefetched?.kind !== "read") throw new Error(`no prefetch: ${JSON.stringify(result)}`);
    const fromDrizzle = await findSecretVersion(db, "default", path);
    expect(result.prefetched.found).toEqual(fromDrizzle);
    expect(result.prefetched.found?.secret.allowedServices).toEqual(["billing"]);
    expect(result.prefetched.found?.version?.wrappedKey).toBeInstanceOf(Uint8Array);

    // The principal is the one a lookup without the prefetch builds from drizzle's token row.
    const token = await db
      .select()
      .from(apiTokens)
      .where(eq(apiTokens.tokenHash, await hashToken(minted.body.token)))
      .get();
    expect(token?.paths).toEqual(["prefetch/*"]);
    const plain = await resolveToken(env, minted.body.token, Date.now());
    expect(result.principal).toEqual("principal" in plain && plain.principal);
    expect(result.principal.rules).toHaveLength(1);
  });

  it("a path with no secret prefetches nothing, and an unknown token is unknown", async () => {
    const minted = await api("POST", "/api/v1/tokens", { body: { subject: "prefetch-none", scopes: ["secrets:read"] } });
    const result = await resolveToken(env, minted.body.token, Date.now(), { kind: "read", path: uniquePath("absent") });
    expect("principal" in result && result.prefetched).toMatchObject({ kind: "read", found: undefined });
    expect(await resolveToken(env, `hush_${"x".repeat(40)}`, Date.now(), { kind: "read", path: "a/b" })).toEqual({ rejected: "unknown" });
  });

  it("a secret whose current version row is missing prefetches the secret with no version", async () => {
    const minted = await api("POST", "/api/v1/tokens", { body: { subject: "prefetch-orphan", scopes: ["secrets:read"] } });
    const path = uniquePath("orphan");
    await api("POST", store(path), { body: { value: "v" } });
    await env.DB.prepare("DELETE FROM secret_versions WHERE path = ?").bind(path).run();
    const result = await resolveToken(env, minted.body.token, Date.now(), { kind: "read", path });
    const found = "principal" in result && result.prefetched?.kind === "read" ? result.prefetched.found : undefined;
    expect(found?.secret.path).toBe(path);
    expect(found?.version).toBeNull();
    expect(found).toEqual(await findSecretVersion(database(env.DB), "default", path));
    expect((await api("GET", store(path), { token: minted.body.token })).status).toBe(404);
  });
});
