// The floor: the least work any audited secret read can do on this platform, to
// compare Hush against in the same run. No auth, no framework, no validation.
//   GET  /read/<path>   one indexed D1 read, one AES-256-GCM decrypt, one audit insert
//   GET  /read-auth/<path>  the same plus a bearer-token lookup by SHA-256 (one more indexed read)
//   PUT  /write/<path>  one AES-256-GCM encrypt, one batch (upsert + audit insert)
//   PUT  /token         stores the SHA-256 of the request's bearer token (seeding)
//   GET  /read-same/<path>   Hush's storage work for an audited read today, without auth checks,
//                            framework or validation: one D1 statement (token joined to the secret),
//                            one decrypt, one append to a SQLite Durable Object (FloorLog) that
//                            hashes, MACs and indexes the event as Hush's AuditChain does
//   PUT  /write-same/<path>  the same for a write: the token-and-secret statement, the append, one
//                            batch (version insert, secret update, the event's D1 copy)
// The key is fixed per isolate; only this Worker ever reads what it wrote. The "same" routes
// measure how much of the gap between Hush and the floor is the audit design's storage work, and
// how much is Hush's own code (bench/README.md).
import { DurableObject } from "cloudflare:workers";
import { createHash, createHmac } from "node:crypto";

const TENANT = "default";
const MAC_KEY = new Uint8Array(32).fill(9);

/** One tenant's event log, shaped like durable-objects/audit-chain.ts: same table, indexes, hash and MAC. */
export class FloorLog extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY, id TEXT NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
      resource TEXT, outcome TEXT NOT NULL, status INTEGER NOT NULL, request_id TEXT NOT NULL, detail TEXT,
      kind TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL, key_id TEXT NOT NULL, state TEXT)`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_resource ON events (resource, seq)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_actor ON events (actor, seq)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_action ON events (action, seq)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_failed ON events (seq) WHERE outcome != 'success'");
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_pending ON events (seq) WHERE kind = 'intent' AND state IS NULL");
    const last = this.sql.exec("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").toArray()[0];
    this.head = last ? { seq: Number(last.seq), hash: String(last.hash) } : { seq: 0, hash: "0".repeat(64) };
  }

  append(event, kind) {
    return this.ctx.storage.transactionSync(() => {
      const seq = this.head.seq + 1;
      const fields = [seq, event.id, event.at, event.actor, event.action, event.resource, event.outcome, event.status, event.request_id, event.detail, kind];
      const hash = createHash("sha256")
        .update(JSON.stringify([this.head.hash, TENANT, ...fields]))
        .digest("hex");
      this.sql.exec(
        "INSERT INTO events (seq, id, at, actor, action, resource, outcome, status, request_id, detail, kind, prev, hash, mac, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ...fields,
        this.head.hash,
        hash,
        createHmac("sha256", MAC_KEY).update(hash).digest("hex"),
        "k1",
      );
      this.head = { seq, hash };
      return this.head;
    });
  }
}

const newEvent = (action, path, status = 200) => ({
  id: crypto.randomUUID(),
  at: Date.now(),
  actor: "bench",
  action,
  resource: `secret:${path}`,
  outcome: "success",
  status,
  request_id: crypto.randomUUID(),
  detail: null,
});
const log = (env) => env.LOG.get(env.LOG.idFromName(TENANT));
let keyPromise;
const key = () => (keyPromise ??= crypto.subtle.importKey("raw", new Uint8Array(32).fill(7), "AES-GCM", false, ["encrypt", "decrypt"]));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function bearerHash(request) {
  const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(token)))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, verb, ...rest] = url.pathname.split("/");
    const path = rest.join("/");
    if (verb === "token" && request.method === "PUT") {
      await env.DB.prepare("INSERT INTO tokens (token_hash, tenant_id) VALUES (?, ?)")
        .bind(await bearerHash(request), TENANT)
        .run();
      return new Response(null, { status: 204 });
    }
    if (verb === "read-auth" && request.method === "GET") {
      const token = await env.DB.prepare("SELECT tenant_id FROM tokens WHERE token_hash = ?")
        .bind(await bearerHash(request))
        .first();
      if (!token) return new Response("unauthorized", { status: 401 });
    }
    if ((verb === "read" || verb === "read-auth") && request.method === "GET") {
      const row = await env.DB.prepare("SELECT iv, ciphertext FROM secrets WHERE tenant_id = ? AND path = ?").bind(TENANT, path).first();
      if (!row) return new Response("not found", { status: 404 });
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: new Uint8Array(row.iv), additionalData: encoder.encode(path) },
        await key(),
        new Uint8Array(row.ciphertext),
      );
      await env.DB.prepare("INSERT INTO audit (tenant_id, at, action, resource) VALUES (?, ?, 'secret.read', ?)").bind(TENANT, Date.now(), path).run();
      return Response.json({ path, value: decoder.decode(plain) });
    }
    if (verb === "read-same" && request.method === "GET") {
      const row = await env.DB.prepare(
        "SELECT t.tenant_id, s.iv, s.ciphertext FROM tokens t LEFT JOIN secrets_same s ON s.tenant_id = t.tenant_id AND s.path = ? WHERE t.token_hash = ?",
      )
        .bind(path, await bearerHash(request))
        .first();
      if (!row) return new Response("unauthorized", { status: 401 });
      if (row.iv === null) return new Response("not found", { status: 404 });
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: new Uint8Array(row.iv), additionalData: encoder.encode(path) },
        await key(),
        new Uint8Array(row.ciphertext),
      );
      await log(env).append(newEvent("secret.read", path), "event");
      return Response.json({ path, value: decoder.decode(plain) });
    }
    if (verb === "write-same" && request.method === "PUT") {
      const { value } = await request.json();
      const row = await env.DB.prepare(
        "SELECT t.tenant_id, s.current_version FROM tokens t LEFT JOIN secrets_same s ON s.tenant_id = t.tenant_id AND s.path = ? WHERE t.token_hash = ?",
      )
        .bind(path, await bearerHash(request))
        .first();
      if (!row) return new Response("unauthorized", { status: 401 });
      const version = (row.current_version ?? 0) + 1;
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ciphertext = new Uint8Array(
        await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(path) }, await key(), encoder.encode(value)),
      );
      const event = newEvent("secret.write", path);
      const placed = await log(env).append(event, "intent");
      await env.DB.batch([
        env.DB.prepare("INSERT INTO versions_same (tenant_id, path, version, iv, ciphertext, created_at) VALUES (?, ?, ?, ?, ?, ?)").bind(
          TENANT,
          path,
          version,
          iv,
          ciphertext,
          Date.now(),
        ),
        env.DB.prepare(
          "INSERT INTO secrets_same (tenant_id, path, current_version, iv, ciphertext) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET current_version = excluded.current_version, iv = excluded.iv, ciphertext = excluded.ciphertext",
        ).bind(TENANT, path, version, iv, ciphertext),
        env.DB.prepare(
          "INSERT INTO audit_copy (tenant_id, seq, id, at, actor, action, resource, outcome, status, request_id, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ).bind(
          TENANT,
          placed.seq,
          event.id,
          event.at,
          event.actor,
          event.action,
          event.resource,
          event.outcome,
          event.status,
          event.request_id,
          event.detail,
          placed.hash,
        ),
      ]);
      return Response.json({ path, version }, { status: 200 });
    }
    if (verb === "write" && request.method === "PUT") {
      const { value } = await request.json();
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ciphertext = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(path) }, await key(), encoder.encode(value));
      await env.DB.batch([
        env.DB.prepare(
          "INSERT INTO secrets (tenant_id, path, iv, ciphertext) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET iv = excluded.iv, ciphertext = excluded.ciphertext",
        ).bind(TENANT, path, iv, new Uint8Array(ciphertext)),
        env.DB.prepare("INSERT INTO audit (tenant_id, at, action, resource) VALUES (?, ?, 'secret.write', ?)").bind(TENANT, Date.now(), path),
      ]);
      return Response.json({ path }, { status: 200 });
    }
    return new Response("not found", { status: 404 });
  },
};
