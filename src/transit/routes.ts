import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gt } from "drizzle-orm";
import type { Context } from "hono";
import { allows, authorize, onTransitKey, type Scope } from "../auth/access";
import { audit } from "../audit/log";
import { toBase64, wipe } from "../crypto/encoding";
import { IntegrityError, loadKeyring } from "../crypto/envelope";
import { transitKeys, transitKeyVersions } from "../db/schema";
import { commit } from "../http/commit";
import type { AppEnv } from "../http/context";
import { body, errorResponses, featureApp, iso, json } from "../http/openapi";
import { badRequest, notFound, Problem } from "../http/problem";
import { findKey, findKeyVersion, listVersionMetadata, newVersionRow, type TransitKeyRow } from "./keys";
import { decodeBase64Field, parseToken, TransitKey } from "./ops";
import {
  CreateKeyBody,
  DecryptBody,
  DecryptResult,
  EncryptBody,
  EncryptResult,
  HmacBody,
  HmacResult,
  KeyMetadata,
  KeyName,
  MAX_BATCH_ITEMS,
  NameParams,
  SignBody,
  SignResult,
  UpdateKeyBody,
  VerifyHmacBody,
  VerifyResult,
  VerifySignatureBody,
} from "./schemas";

const resource = (name: string) => `transit:${name}`;
const TRANSIT_SCOPES: Scope[] = ["transit:admin", "transit:encrypt", "transit:decrypt"];

/** A key's settings without its versions (the key list). */
const keySummary = (row: TransitKeyRow) => ({
  name: row.name,
  type: row.type,
  latest_version: row.latestVersion,
  min_decryption_version: row.minDecryptionVersion,
  deletion_allowed: row.deletionAllowed,
  created_at: iso(row.createdAt),
  created_by: row.createdBy,
  updated_at: iso(row.updatedAt),
});

async function metadataView(c: Context<AppEnv>, row: TransitKeyRow, versions?: { version: number; createdAt: number; publicKey: string | null }[]) {
  versions ??= await listVersionMetadata(c.get("db"), row.tenantId, row.name);
  return {
    ...keySummary(row),
    versions: versions.map((v) => ({ version: v.version, created_at: iso(v.createdAt), public_key: v.publicKey })),
  };
}

async function existingKey(c: Context<AppEnv>, name: string): Promise<TransitKeyRow> {
  const row = await findKey(c.get("db"), c.get("principal").tenantId, name);
  if (!row) throw notFound("transit key");
  return row;
}

/** The fields of a decrypt response that are not kept under an Idempotency-Key. */
const DECRYPTED = ["plaintext", "batch_results.*.plaintext"] as const;

/**
 * Runs one key operation: loads the key (404 in another tenant), audits the outcome
 * (never the data), and stores the response under an Idempotency-Key.
 */
async function operate<T extends object>(
  c: Context<AppEnv>,
  action: string,
  name: string,
  run: (key: TransitKey) => Promise<{ body: T; detail: Record<string, unknown> }>,
  oneTime?: readonly string[],
): Promise<T> {
  const keyring = loadKeyring(c.env.MASTER_KEYS);
  let result: { body: T; detail: Record<string, unknown> };
  try {
    const found = await findKeyVersion(c.get("db"), c.get("principal").tenantId, name);
    if (!found) throw notFound("transit key");
    result = await run(new TransitKey(found.key, keyring, c.get("db"), found.version));
  } catch (err) {
    if (err instanceof Problem) {
      await audit(c, { action, resource: resource(name), outcome: "failure", status: err.status, detail: { problem: err.type } });
    } else if (err instanceof IntegrityError) {
      await audit(c, { action: "integrity_failure", resource: resource(name), outcome: "failure", status: 500 });
    }
    throw err;
  }
  await commit(c, [], { audit: { action, resource: resource(name), detail: result.detail }, response: { status: 200, body: result.body, oneTime } });
  return result.body;
}

type ItemResult<R> = R | { error: { status: number; type: string; detail: string } };

/** Runs every item; a 4xx on one item becomes its error entry, the others still run. */
async function eachItem<I, R>(items: I[], run: (item: I) => Promise<R>): Promise<ItemResult<R>[]> {
  if (items.length > MAX_BATCH_ITEMS) {
    throw new Problem(413, "batch-too-large", `batch_input holds ${items.length} items; the limit is ${MAX_BATCH_ITEMS}`);
  }
  return Promise.all(
    items.map(async (item) => {
      try {
        return await run(item);
      } catch (err) {
        if (err instanceof Problem && err.status < 500) return { error: { status: err.status, type: err.type, detail: err.detail ?? err.type } };
        throw err;
      }
    }),
  );
}

const failures = (results: ItemResult<unknown>[]) => results.filter((r) => typeof r === "object" && r !== null && "error" in r).length;
const optionalContext = (context: string | undefined) => (context === undefined ? undefined : decodeBase64Field(context, "context"));

/** Versions named by the ciphertexts of a batch, to fetch their rows in one query. */
function versionsIn(ciphertexts: string[]): number[] {
  const versions: number[] = [];
  for (const text of ciphertexts) {
    try {
      versions.push(parseToken(text, "ciphertext").version);
    } catch {
      // reported per item
    }
  }
  return versions;
}

const tags = ["transit"];
const keyPath = "/keys/{name}";

const createKeyRoute = createRoute({
  method: "post",
  path: keyPath,
  summary: "Create a named key (version 1); 409 if the name exists",
  tags,
  request: { params: NameParams, ...body(CreateKeyBody) },
  responses: { 201: { description: "Created", ...json(KeyMetadata) }, ...errorResponses(400, 401, 403, 409, 503) },
});
const readKeyRoute = createRoute({
  method: "get",
  path: keyPath,
  summary: "A key's versions and settings (never key material)",
  tags,
  request: { params: NameParams },
  responses: { 200: { description: "The key", ...json(KeyMetadata) }, ...errorResponses(401, 403, 404) },
});
const updateKeyRoute = createRoute({
  method: "patch",
  path: keyPath,
  summary: "Set min_decryption_version and deletion_allowed",
  tags,
  request: { params: NameParams, ...body(UpdateKeyBody) },
  responses: { 200: { description: "Updated", ...json(KeyMetadata) }, ...errorResponses(400, 401, 403, 404, 409) },
});
const deleteKeyRoute = createRoute({
  method: "delete",
  path: keyPath,
  summary: "Delete a key and every version (only when deletion_allowed): its ciphertexts become undecryptable",
  tags,
  request: { params: NameParams },
  responses: {
    200: { description: "Deleted", ...json(z.object({ name: z.string(), deleted: z.literal(true) })) },
    ...errorResponses(401, 403, 404, 409),
  },
});
const KeyListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: KeyName.optional().openapi({ description: "The last name of the previous page" }),
});
const listKeysRoute = createRoute({
  method: "get",
  path: "/keys",
  summary: "The keys the caller may see (names, types, versions; never key material), by name, paged",
  tags,
  request: { query: KeyListQuery },
  responses: {
    200: { description: "A page of keys", ...json(z.object({ items: z.array(KeyMetadata.omit({ versions: true })), next_cursor: z.string().nullable() })) },
    ...errorResponses(400, 401, 403),
  },
});
const rotateKeyRoute = createRoute({
  method: "post",
  path: `${keyPath}/rotate`,
  summary: "Add a new version; new data uses it, older versions still decrypt",
  tags,
  request: { params: NameParams },
  responses: { 200: { description: "Rotated", ...json(KeyMetadata) }, ...errorResponses(401, 403, 404, 409, 503) },
});
const opRoute = <B extends z.ZodType, R extends z.ZodType>(path: string, summary: string, request: B, result: R) =>
  createRoute({
    method: "post",
    path: `/${path}/{name}`,
    summary,
    tags,
    request: { params: NameParams, ...body(request) },
    responses: { 200: { description: "Done", ...json(result) }, ...errorResponses(400, 401, 403, 404, 413, 500, 503) },
  });

const encryptRoute = opRoute("encrypt", "Encrypt base64 plaintext (aes256-gcm keys); batch_input for up to 1,000 items", EncryptBody, EncryptResult);
const decryptRoute = opRoute("decrypt", "Decrypt hush:v{N}: ciphertexts; batch_input for up to 1,000 items", DecryptBody, DecryptResult);
const rewrapRoute = opRoute("rewrap", "Re-encrypt ciphertexts under the latest version without returning the plaintext", DecryptBody, EncryptResult);
const hmacRoute = opRoute("hmac", "HMAC-SHA-256 of base64 input (hmac keys)", HmacBody, HmacResult);
const verifyRoute = opRoute("verify", "Check an HMAC made by /hmac", VerifyHmacBody, VerifyResult);
const signRoute = opRoute("sign", "Sign base64 input (ed25519, ecdsa-p256 keys; ECDSA signatures are r||s)", SignBody, SignResult);
const verifySignatureRoute = opRoute("verify-signature", "Check a signature made by /sign", VerifySignatureBody, VerifyResult);

export const transitApp = featureApp()
  .openapi(listKeysRoute, async (c) => {
    const principal = c.get("principal");
    const { limit, cursor } = c.req.valid("query");
    const rows = await c
      .get("db")
      .select()
      .from(transitKeys)
      .where(and(eq(transitKeys.tenantId, principal.tenantId), cursor ? gt(transitKeys.name, cursor) : undefined))
      .orderBy(asc(transitKeys.name))
      .limit(limit + 1)
      .all();
    const page = rows.slice(0, limit);
    // Per key, what reading it asks (GET /keys/{name}): a transit scope, or a policy's admin on that key.
    const visible = page.filter((row) => TRANSIT_SCOPES.some((scope) => allows(principal, scope, "transit.key.read", onTransitKey(row.name))));
    // A caller that no transit scope and no policy rule could let near a key is refused (and
    // audited), not shown an empty list; a policy token sees the keys its rules name.
    if (!TRANSIT_SCOPES.some((scope) => principal.scopes.has(scope)) && !principal.rules?.length) await authorize(c, "transit:admin", "transit.key.list");
    return c.json(
      {
        items: visible.map(keySummary),
        next_cursor: rows.length > limit ? page[page.length - 1]!.name : null,
      },
      200,
    );
  })
  .openapi(createKeyRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:admin", "transit.key.create", onTransitKey(name));
    const input = c.req.valid("json");
    const principal = c.get("principal");
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    if (await findKey(db, principal.tenantId, name)) throw new Problem(409, "key-exists", `Transit key ${name} already exists; rotate it instead`);
    const now = Date.now();
    const version = await newVersionRow(keyring, principal.tenantId, name, 1, input.type, now);
    const row: TransitKeyRow = {
      tenantId: principal.tenantId,
      name,
      type: input.type,
      latestVersion: 1,
      minDecryptionVersion: 1,
      deletionAllowed: input.deletion_allowed ?? false,
      createdAt: now,
      createdBy: principal.subject,
      updatedAt: now,
    };
    const response = await metadataView(c, row, [version]);
    await commit(c, [db.insert(transitKeys).values(row), db.insert(transitKeyVersions).values(version)], {
      audit: { action: "transit.key.create", resource: resource(name), status: 201, detail: { type: input.type } },
      response: { status: 201, body: response },
    });
    return c.json(response, 201);
  })
  .openapi(readKeyRoute, async (c) => {
    const { name } = c.req.valid("param");
    const scopes = c.get("principal").scopes;
    if (!TRANSIT_SCOPES.some((scope) => scopes.has(scope))) await authorize(c, "transit:admin", "transit.key.read", onTransitKey(name));
    return c.json(await metadataView(c, await existingKey(c, name)), 200);
  })
  .openapi(rotateKeyRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:admin", "transit.key.rotate", onTransitKey(name));
    const db = c.get("db");
    const keyring = loadKeyring(c.env.MASTER_KEYS);
    const row = await existingKey(c, name);
    const now = Date.now();
    const next = row.latestVersion + 1;
    const version = await newVersionRow(keyring, row.tenantId, name, next, row.type, now);
    const updated = { ...row, latestVersion: next, updatedAt: now };
    const response = await metadataView(c, updated, [...(await listVersionMetadata(db, row.tenantId, name)), version]);
    // Two concurrent rotations insert the same version: one batch fails on the primary key (409).
    await commit(
      c,
      [
        db.insert(transitKeyVersions).values(version),
        db
          .update(transitKeys)
          .set({ latestVersion: next, updatedAt: now })
          .where(and(eq(transitKeys.tenantId, row.tenantId), eq(transitKeys.name, name), eq(transitKeys.latestVersion, row.latestVersion))),
      ],
      { audit: { action: "transit.key.rotate", resource: resource(name), detail: { version: next } }, response: { status: 200, body: response } },
    );
    return c.json(response, 200);
  })
  .openapi(updateKeyRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:admin", "transit.key.update", onTransitKey(name));
    const input = c.req.valid("json");
    const db = c.get("db");
    const row = await existingKey(c, name);
    if (input.min_decryption_version !== undefined && input.min_decryption_version > row.latestVersion) {
      throw badRequest(`min_decryption_version cannot exceed the latest version (${row.latestVersion})`);
    }
    const now = Date.now();
    const changes = {
      ...(input.min_decryption_version !== undefined && { minDecryptionVersion: input.min_decryption_version }),
      ...(input.deletion_allowed !== undefined && { deletionAllowed: input.deletion_allowed }),
      updatedAt: now,
    };
    const response = await metadataView(c, { ...row, ...changes });
    await commit(
      c,
      [
        db
          .update(transitKeys)
          .set(changes)
          .where(and(eq(transitKeys.tenantId, row.tenantId), eq(transitKeys.name, name))),
      ],
      { audit: { action: "transit.key.update", resource: resource(name), detail: input }, response: { status: 200, body: response } },
    );
    return c.json(response, 200);
  })
  .openapi(deleteKeyRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:admin", "transit.key.delete", onTransitKey(name));
    const db = c.get("db");
    const row = await existingKey(c, name);
    if (!row.deletionAllowed) {
      throw new Problem(409, "deletion-not-allowed", `Key ${name} has deletion_allowed false; PATCH it to true first`);
    }
    const response = { name, deleted: true as const };
    await commit(
      c,
      [
        db.delete(transitKeyVersions).where(and(eq(transitKeyVersions.tenantId, row.tenantId), eq(transitKeyVersions.name, name))),
        db.delete(transitKeys).where(and(eq(transitKeys.tenantId, row.tenantId), eq(transitKeys.name, name), eq(transitKeys.deletionAllowed, true))),
      ],
      { audit: { action: "transit.key.delete", resource: resource(name), detail: { versions: row.latestVersion } }, response: { status: 200, body: response } },
    );
    return c.json(response, 200);
  })
  .openapi(encryptRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:encrypt", "transit.encrypt", onTransitKey(name));
    const input = c.req.valid("json");
    const result = await operate<z.infer<typeof EncryptResult>>(c, "transit.encrypt", name, async (key) => {
      key.requireType("encryption", "aes256-gcm");
      const one = async (item: { plaintext: string; context?: string }) => {
        const plaintext = decodeBase64Field(item.plaintext, "plaintext");
        try {
          return { ciphertext: await key.encrypt(plaintext, optionalContext(item.context)), key_version: key.row.latestVersion };
        } finally {
          wipe(plaintext);
        }
      };
      if (!("batch_input" in input)) return { body: await one(input), detail: { key_version: key.row.latestVersion } };
      const results = await eachItem(input.batch_input, one);
      return { body: { batch_results: results }, detail: { key_version: key.row.latestVersion, items: results.length, failed: failures(results) } };
    });
    return c.json(result, 200);
  })
  .openapi(decryptRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:decrypt", "transit.decrypt", onTransitKey(name));
    const input = c.req.valid("json");
    const result = await operate<z.infer<typeof DecryptResult>>(
      c,
      "transit.decrypt",
      name,
      async (key) => {
        key.requireType("decryption", "aes256-gcm");
        const one = async (item: { ciphertext: string; context?: string }) => {
          const { plaintext, version } = await key.decrypt(item.ciphertext, optionalContext(item.context));
          try {
            return { plaintext: toBase64(plaintext), key_version: version };
          } finally {
            wipe(plaintext);
          }
        };
        if (!("batch_input" in input)) {
          const single = await one(input);
          return { body: single, detail: { key_version: single.key_version } };
        }
        if (input.batch_input.length <= MAX_BATCH_ITEMS) await key.preload(versionsIn(input.batch_input.map((i) => i.ciphertext)));
        const results = await eachItem(input.batch_input, one);
        return { body: { batch_results: results }, detail: { items: results.length, failed: failures(results) } };
      },
      DECRYPTED,
    ); // plaintext is never kept for a replay
    return c.json(result, 200);
  })
  .openapi(rewrapRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:encrypt", "transit.rewrap", onTransitKey(name));
    const input = c.req.valid("json");
    const result = await operate<z.infer<typeof EncryptResult>>(c, "transit.rewrap", name, async (key) => {
      key.requireType("rewrap", "aes256-gcm");
      const one = async (item: { ciphertext: string; context?: string }) => {
        const context = optionalContext(item.context);
        return { ciphertext: await key.rewrap(item.ciphertext, context), key_version: key.row.latestVersion };
      };
      if (!("batch_input" in input)) return { body: await one(input), detail: { key_version: key.row.latestVersion } };
      if (input.batch_input.length <= MAX_BATCH_ITEMS) await key.preload(versionsIn(input.batch_input.map((i) => i.ciphertext)));
      const results = await eachItem(input.batch_input, one);
      return { body: { batch_results: results }, detail: { key_version: key.row.latestVersion, items: results.length, failed: failures(results) } };
    });
    return c.json(result, 200);
  })
  .openapi(hmacRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:encrypt", "transit.hmac", onTransitKey(name));
    const { input } = c.req.valid("json");
    const result = await operate(c, "transit.hmac", name, async (key) => {
      key.requireType("hmac", "hmac");
      const hmac = await key.hmac(decodeBase64Field(input, "input"));
      return { body: { hmac, key_version: key.row.latestVersion }, detail: { key_version: key.row.latestVersion } };
    });
    return c.json(result, 200);
  })
  .openapi(verifyRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:encrypt", "transit.verify", onTransitKey(name));
    const { input, hmac } = c.req.valid("json");
    const result = await operate(c, "transit.verify", name, async (key) => {
      key.requireType("hmac verification", "hmac");
      const valid = await key.verifyHmac(decodeBase64Field(input, "input"), hmac);
      return { body: { valid }, detail: { valid } };
    });
    return c.json(result, 200);
  })
  .openapi(signRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:encrypt", "transit.sign", onTransitKey(name));
    const { input } = c.req.valid("json");
    const result = await operate(c, "transit.sign", name, async (key) => {
      key.requireType("signing", "ed25519", "ecdsa-p256");
      const signature = await key.sign(decodeBase64Field(input, "input"));
      return { body: { signature, key_version: key.row.latestVersion }, detail: { key_version: key.row.latestVersion } };
    });
    return c.json(result, 200);
  })
  .openapi(verifySignatureRoute, async (c) => {
    const { name } = c.req.valid("param");
    await authorize(c, "transit:encrypt", "transit.verify_signature", onTransitKey(name));
    const { input, signature } = c.req.valid("json");
    const result = await operate(c, "transit.verify_signature", name, async (key) => {
      key.requireType("signature verification", "ed25519", "ecdsa-p256");
      const valid = await key.verifySignature(decodeBase64Field(input, "input"), signature);
      return { body: { valid }, detail: { valid } };
    });
    return c.json(result, 200);
  });
