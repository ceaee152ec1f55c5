// The floor: the least work any audited secret read can do on this platform, to
// compare Hush against in the same run. No auth, no framework, no validation.
//   GET  /read/<path>   one indexed D1 read, one AES-256-GCM decrypt, one audit insert
//   GET  /read-auth/<path>  the same plus a bearer-token lookup by SHA-256 (one more indexed read)
//   PUT  /write/<path>  one AES-256-GCM encrypt, one batch (upsert + audit insert)
//   PUT  /token         stores the SHA-256 of the request's bearer token (seeding)
// The key is fixed per isolate; only this Worker ever reads what it wrote.
const TENANT = "default";
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
