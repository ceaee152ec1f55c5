// Node side of the sync suites: one local server that implements the documented contract of each
// sync target and checks what the real service would check (docs/sync.md says what this leaves out).
//   /gh/<scenario>/...   GitHub Actions secrets REST API: public key, PUT of a libsodium sealed box;
//                        GitHub App auth: POST /app/installations/<id>/access_tokens checks the app
//                        JWT (RS256 with the app's public key, iss, iat, exp <= 10 min) and issues
//                        installation tokens the secrets API then takes
//   /aws/<scenario>/     AWS Secrets Manager JSON 1.1 API, SigV4 verified here with node:crypto
//   /k8s/<scenario>/...  Kubernetes core/v1 Secrets: bearer token, merge-patch and create
//   /cf/<scenario>/...   Cloudflare Workers script secrets: bearer token, {name, text, type}
//   /wh/<scenario>       a JSON webhook, HMAC-SHA-256 signed like the lease webhook
// Scenarios: ok; flaky (per key: 503, 503, 429, then ok); down (always 503); reject (403).
import { createHash, createHmac, generateKeyPairSync, randomBytes, timingSafeEqual } from "node:crypto";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { TestProject } from "vitest/node";
import { SYNC_FIXTURES as F } from "./fixtures";

const require = createRequire(import.meta.url);
const nacl = require("tweetnacl") as typeof import("tweetnacl");
const blake = require("blakejs") as { blake2b(input: Uint8Array, key?: Uint8Array, outlen?: number): Uint8Array };

/** What a target holds (the tests read it back) and every raw request (the canary check). */
const store = new Map<string, { value: string | null; meta: Record<string, unknown>; writes: number }>();
const attempts = new Map<string, number>();
/** When each scripted attempt arrived, per `service:scenario:key` (the retry schedule tests read it). */
const attemptTimes = new Map<string, number[]>();
const requests: string[] = [];
let rejections: string[] = [];

const github = nacl.box.keyPair();
// The GitHub App's key pair: GitHub hands out PKCS#1 PEM private keys, so the tests configure one.
const app = generateKeyPairSync("rsa", { modulusLength: 2048 });
const appPrivatePem = app.privateKey.export({ type: "pkcs1", format: "pem" }).toString();
/** Installation tokens issued (token -> installation), and exchanges per scenario. */
const installationTokens = new Map<string, string>();
const exchanges = new Map<string, number>();
const GH_KEY_ID = "568250167242549743";

/** crypto_box_seal_open, written from libsodium's definition. */
function openSealedBox(sealed: Uint8Array): Uint8Array | null {
  const epk = sealed.subarray(0, 32);
  const nonceInput = new Uint8Array(64);
  nonceInput.set(epk, 0);
  nonceInput.set(github.publicKey, 32);
  const nonce = blake.blake2b(nonceInput, undefined, 24);
  return nacl.box.open(sealed.subarray(32), nonce, epk, github.secretKey);
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

/** SigV4 as AWS documents it, independently of aws4fetch. Returns why it fails, or null. */
function verifySigV4(req: IncomingMessage, url: URL, raw: string): string | null {
  const auth = String(req.headers.authorization ?? "");
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    auth,
  );
  if (!m) return "malformed authorization";
  const [, akid, date, region, service, signedHeaders, signature] = m as unknown as string[];
  if (akid !== F.awsAccessKeyId) return "unknown access key";
  if (service !== "secretsmanager" || region !== F.awsRegion) return "wrong scope";
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date!)) return "date mismatch";
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (!(Math.abs(Date.now() - when) < 15 * 60_000)) return "request too old";
  const names = signedHeaders!.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date")) return "host and x-amz-date must be signed";
  const payloadHash = sha256(raw);
  const given = req.headers["x-amz-content-sha256"];
  if (given !== undefined && given !== payloadHash) return "content hash mismatch";
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const query = [...url.searchParams]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = [req.method, url.pathname, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${F.awsSecretAccessKey}`, date!), region!), service!), "aws4_request");
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  return timingSafeEqual(Buffer.from(expected), Buffer.from(signature!)) ? null : "signature mismatch";
}

function server() {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (status: number, body?: unknown, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };
    if (url.pathname === "/_state")
      return send(200, {
        item: store.get(url.searchParams.get("key") ?? "") ?? null,
        rejections,
        exchanges: Object.fromEntries(exchanges),
        attempt_times: attemptTimes.get(url.searchParams.get("key") ?? "") ?? [],
      });
    if (url.pathname === "/_revoke-installation-tokens") {
      installationTokens.clear();
      return send(200, {});
    }
    if (url.pathname === "/_requests") return send(200, { requests });
    if (url.pathname === "/_reset") {
      rejections = [];
      return send(200, {});
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    requests.push(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${raw}`);
    const [, service, scenario, ...rest] = url.pathname.split("/");
    const reject = (status: number, why: string, body: unknown = { message: why }) => {
      rejections.push(`${service}: ${why}`);
      return send(status, body);
    };
    /** The scenario's answer for this key, or null to go on. */
    const scripted = (key: string) => {
      const n = (attempts.get(`${service}:${scenario}:${key}`) ?? 0) + 1;
      attempts.set(`${service}:${scenario}:${key}`, n);
      attemptTimes.set(`${service}:${scenario}:${key}`, [...(attemptTimes.get(`${service}:${scenario}:${key}`) ?? []), Date.now()]);
      if (scenario === "down") return 503;
      if (scenario === "reject") return 403;
      if (scenario === "flaky" && n <= 3) return n === 3 ? 429 : 503;
      return null;
    };
    const put = (key: string, value: string | null, meta: Record<string, unknown> = {}) => {
      const id = `${service}:${scenario}:${key}`;
      const prior = store.get(id);
      store.set(id, { value, meta, writes: (prior?.writes ?? 0) + 1 });
    };

    if (service === "gh" && req.method === "POST" && /^app\/installations\/[^/]+\/access_tokens$/.test(rest.join("/"))) {
      // POST /app/installations/{installation_id}/access_tokens, authenticated by the app JWT.
      const jwt = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";
      try {
        if (decodeProtectedHeader(jwt).alg !== "RS256") return reject(401, "app jwt: alg must be RS256");
        const { payload } = await jwtVerify(jwt, app.publicKey, { algorithms: ["RS256"], issuer: F.githubAppId, clockTolerance: 60 });
        const now = Math.floor(Date.now() / 1000);
        if (typeof payload.iat !== "number" || payload.iat > now + 60) return reject(401, "app jwt: iat in the future");
        if (typeof payload.exp !== "number" || payload.exp > now + 600) return reject(401, "app jwt: exp more than 10 minutes ahead");
      } catch (err) {
        return reject(401, `app jwt: ${(err as Error).message}`, { message: "A JSON web token could not be decoded" });
      }
      if (req.headers.accept !== "application/vnd.github+json" || !req.headers["user-agent"]) return reject(400, "app token: headers");
      const installation = decodeURIComponent(rest[2]!);
      if (installation !== F.githubInstallationId) return reject(404, "app token: unknown installation");
      const body = JSON.parse(raw || "{}") as { repositories?: unknown; permissions?: Record<string, string> };
      const wanted = Object.entries(body.permissions ?? {});
      if (!wanted.length || !wanted.every(([k, v]) => ["secrets", "organization_secrets"].includes(k) && v === "write"))
        return reject(422, "app token: permissions");
      if (body.repositories !== undefined && !(Array.isArray(body.repositories) && body.repositories.length === 1))
        return reject(422, "app token: repositories");
      exchanges.set(scenario!, (exchanges.get(scenario!) ?? 0) + 1);
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      installationTokens.set(token, installation);
      // "short": a token that expires inside Hush's refresh margin, so every delivery exchanges again.
      const lifetime = scenario === "appshort" ? 120_000 : 3_600_000;
      return send(201, {
        token,
        expires_at: new Date(Date.now() + lifetime).toISOString().replace(/\.\d{3}Z$/, "Z"),
        permissions: body.permissions,
        repository_selection: "selected",
      });
    }

    if (service === "gh") {
      const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
      if (bearer !== F.githubToken && !(bearer && installationTokens.has(bearer))) return reject(401, "bad credentials", { message: "Bad credentials" });
      if (req.headers.accept !== "application/vnd.github+json") return reject(415, "accept header");
      if (req.headers["x-github-api-version"] !== "2022-11-28") return reject(400, "api version");
      if (!req.headers["user-agent"]) return reject(403, "user agent required");
      const path = "/" + rest.join("/");
      const m = /^\/(repos\/[^/]+\/[^/]+\/actions|repos\/[^/]+\/[^/]+\/environments\/[^/]+|orgs\/[^/]+\/actions)\/secrets\/([^/]+)$/.exec(path);
      if (!m) return reject(404, `no route ${path}`);
      const [, scope, name] = m as unknown as string[];
      if (name === "public-key" && req.method === "GET") return send(200, { key_id: GH_KEY_ID, key: Buffer.from(github.publicKey).toString("base64") });
      const key = `${decodeURIComponent(scope!)}/${decodeURIComponent(name!)}`;
      if (req.method === "DELETE") {
        put(key, null);
        return send(204);
      }
      if (req.method !== "PUT") return reject(405, "method");
      const code = scripted(key);
      if (code) return send(code, { message: "scripted" });
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name!) || /^GITHUB_/i.test(name!)) return reject(422, "secret name");
      const body = JSON.parse(raw) as { encrypted_value?: string; key_id?: string; visibility?: string };
      if (body.key_id !== GH_KEY_ID) return reject(422, "key_id");
      if (scope!.startsWith("orgs/") && !["all", "private", "selected"].includes(body.visibility ?? "")) return reject(422, "visibility");
      const opened = openSealedBox(Buffer.from(body.encrypted_value ?? "", "base64"));
      if (!opened) return reject(422, "the sealed box does not open");
      const existed = store.get(`gh:${scenario}:${key}`)?.value != null;
      put(key, Buffer.from(opened).toString("utf8"), { visibility: body.visibility ?? null });
      return send(existed ? 204 : 201, existed ? undefined : {});
    }

    if (service === "aws") {
      if (req.method !== "POST" || req.headers["content-type"] !== "application/x-amz-json-1.1") return reject(400, "content type");
      const why = verifySigV4(req, url, raw);
      if (why) return reject(403, why, { __type: "InvalidSignatureException", message: why });
      const target = String(req.headers["x-amz-target"] ?? "");
      const body = JSON.parse(raw) as Record<string, string>;
      const key = body.SecretId ?? body.Name ?? "";
      const code = scripted(key);
      if (code) return send(code, { __type: code === 429 ? "ThrottlingException" : "InternalServiceError" });
      const token = body.ClientRequestToken;
      if (target !== "secretsmanager.DeleteSecret" && (!token || token.length < 32 || token.length > 64)) return reject(400, "ClientRequestToken");
      const existing = store.get(`aws:${scenario}:${key}`);
      switch (target) {
        case "secretsmanager.PutSecretValue":
          if (!existing || existing.value === null)
            return send(400, { __type: "com.amazonaws.secretsmanager#ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." });
          if (existing.meta.token === token) return send(200, { Name: key, VersionId: token }); // idempotent replay
          put(key, body.SecretString!, { ...existing.meta, token });
          return send(200, { ARN: `arn:aws:secretsmanager:${F.awsRegion}:123456789012:secret:${key}`, Name: key, VersionId: token });
        case "secretsmanager.CreateSecret":
          if (existing && existing.value !== null) return send(400, { __type: "ResourceExistsException" });
          put(key, body.SecretString!, { token, kms: body.KmsKeyId ?? null, description: body.Description ?? null });
          return send(200, { ARN: `arn:aws:secretsmanager:${F.awsRegion}:123456789012:secret:${key}`, Name: key, VersionId: token });
        case "secretsmanager.DeleteSecret":
          if (!existing || existing.value === null) return send(400, { __type: "ResourceNotFoundException" });
          put(key, null, { recovery: body.RecoveryWindowInDays });
          return send(200, { Name: key });
        default:
          return reject(400, `unknown target ${target}`);
      }
    }

    if (service === "k8s") {
      if (req.headers.authorization !== `Bearer ${F.k8sToken}`) return reject(401, "unauthorized", { kind: "Status", code: 401 });
      const path = "/" + rest.join("/");
      const m = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/secrets(?:\/([a-z0-9.-]+))?$/.exec(path);
      if (!m) return reject(404, `no route ${path}`);
      const [, ns, name] = m as unknown as string[];
      const code = scripted(`${ns}/${name ?? "new"}`);
      if (code) return send(code, { kind: "Status", code });
      if (req.method === "PATCH") {
        if (req.headers["content-type"] !== "application/merge-patch+json") return reject(415, "patch type");
        const existing = store.get(`k8s:${scenario}:${ns}/${name}`);
        if (!existing) return send(404, { kind: "Status", reason: "NotFound", code: 404 });
        const patch = JSON.parse(raw) as { data?: Record<string, string | null> };
        const data = { ...(existing.meta.data as Record<string, string>) };
        for (const [k, v] of Object.entries(patch.data ?? {})) {
          if (v === null) delete data[k];
          else if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return reject(422, "data must be base64");
          else data[k] = v;
        }
        put(`${ns}/${name}`, JSON.stringify(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]))), {
          ...existing.meta,
          data,
        });
        return send(200, { kind: "Secret", metadata: { name, namespace: ns } });
      }
      if (req.method === "POST" && !name) {
        if (req.headers["content-type"] !== "application/json") return reject(415, "create type");
        const secret = JSON.parse(raw) as {
          apiVersion?: string;
          kind?: string;
          type?: string;
          metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
          data?: Record<string, string>;
        };
        if (secret.apiVersion !== "v1" || secret.kind !== "Secret" || !secret.metadata?.name) return reject(400, "not a v1 Secret");
        if (secret.metadata.namespace && secret.metadata.namespace !== ns) return reject(400, "namespace mismatch");
        if (store.has(`k8s:${scenario}:${ns}/${secret.metadata.name}`)) return send(409, { kind: "Status", reason: "AlreadyExists", code: 409 });
        const decoded: Record<string, string> = {};
        for (const [k, v] of Object.entries(secret.data ?? {})) decoded[k] = Buffer.from(v, "base64").toString("utf8");
        put(`${ns}/${secret.metadata.name}`, JSON.stringify(decoded), { data: secret.data, type: secret.type, labels: secret.metadata.labels });
        return send(201, { kind: "Secret", metadata: secret.metadata });
      }
      return reject(405, "method");
    }

    if (service === "cf") {
      if (req.headers.authorization !== `Bearer ${F.cfToken}`)
        return reject(403, "auth", { success: false, errors: [{ code: 10000, message: "Authentication error" }] });
      const path = "/" + rest.join("/");
      const m = /^\/accounts\/([0-9a-f]{32})\/workers\/scripts\/([a-z0-9_-]+)\/secrets(?:\/([A-Za-z0-9_]+))?$/.exec(path);
      if (!m) return reject(404, `no route ${path}`);
      const [, account, script, name] = m as unknown as string[];
      if (req.method === "DELETE" && name) {
        put(`${account}/${script}/${name}`, null);
        return send(200, { success: true, errors: [], messages: [], result: null });
      }
      if (req.method !== "PUT" || name) return reject(405, "method");
      if (req.headers["content-type"] !== "application/json") return reject(400, "content type");
      const body = JSON.parse(raw) as { name?: string; text?: string; type?: string };
      const code = scripted(body.name ?? "");
      if (code) return send(code, { success: false, errors: [{ code: 10013, message: "scripted" }] });
      if (typeof body.name !== "string" || typeof body.text !== "string" || body.type !== "secret_text") return reject(400, "body shape");
      put(`${account}/${script}/${body.name}`, body.text);
      return send(200, { success: true, errors: [], messages: [], result: { name: body.name, type: "secret_text" } });
    }

    if (service === "wh") {
      const timestamp = String(req.headers["x-hush-timestamp"] ?? "");
      const given = Buffer.from(String(req.headers["x-hush-signature"] ?? ""));
      const expected = Buffer.from(`sha256=${createHmac("sha256", F.webhookKey).update(`${timestamp}.${raw}`).digest("hex")}`);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reject(401, "bad signature");
      if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return reject(401, "stale timestamp");
      const body = JSON.parse(raw) as { action: string; key: string; value?: string; delivery_id: string };
      const code = scripted(body.key);
      if (code) return send(code, {});
      put(body.key, body.action === "put" ? body.value! : null, { delivery_id: body.delivery_id });
      return send(200, {});
    }
    return send(404, {});
  });
}

export default async function setup(project: TestProject) {
  const s = server();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  project.provide("syncServerUrl", `http://127.0.0.1:${(s.address() as { port: number }).port}`);
  project.provide("githubAppKey", appPrivatePem);
  return () => new Promise<void>((resolve) => s.close(() => resolve()));
}
