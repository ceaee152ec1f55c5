// A local HTTP server implementing the documented Azure Key Vault secrets REST contract
// (api-version 7.4: Set/Get/Delete Secret, Get Secrets, Get Secret Versions, with nextLink paging,
// the { error: { code, message } } document, 401 with WWW-Authenticate, 429 with Retry-After), and
// the App Service managed identity endpoint (IDENTITY_ENDPOINT + X-IDENTITY-HEADER). There is no
// network here, so the CLI's Azure provider is tested against this instead of a real vault.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

interface Version {
  id: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  created: number;
}

export interface Fault {
  status: number;
  retryAfter?: string;
  /** only for requests whose path starts with this */
  path?: string;
}

export interface FakeVault {
  url: string;
  identityEndpoint: string;
  identityHeader: string;
  token: string;
  /** Responses to give instead of the real answer, first in first out. */
  faults: Fault[];
  requests: { method: string; path: string; authorization?: string }[];
  tokenRequests: number;
  close(): Promise<void>;
}

const PAGE = 2; // small pages, so listing follows nextLink

export async function startFakeVault(): Promise<FakeVault> {
  const secrets = new Map<string, Version[]>();
  const token = `eyJ0eXAiOiJKV1Qi.fake-kv-token-${randomBytes(12).toString("hex")}`;
  const identityHeader = `identity-${randomBytes(8).toString("hex")}`;
  let origin = "";
  const state: FakeVault = {
    url: "",
    identityEndpoint: "",
    identityHeader,
    token,
    faults: [],
    requests: [],
    tokenRequests: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, headers?: Record<string, string>) =>
    send(res, status, { error: { code, message } }, headers);
  const bundle = (name: string, v: Version, withValue = true) => ({
    ...(withValue ? { value: v.value } : {}),
    id: `${origin}/secrets/${name}/${v.id}`,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    ...(v.tags ? { tags: v.tags } : {}),
    attributes: { enabled: true, created: v.created, updated: v.created, recoveryLevel: "Recoverable+Purgeable" },
  });
  const item = (name: string, v: Version) => {
    const { value: _value, ...rest } = bundle(name, v);
    return { ...rest, id: `${origin}/secrets/${name}` };
  };
  const page = (res: ServerResponse, url: URL, all: unknown[]) => {
    const skip = Number(url.searchParams.get("$skiptoken") ?? 0);
    const next = skip + PAGE < all.length ? new URL(url) : null;
    next?.searchParams.set("$skiptoken", String(skip + PAGE));
    send(res, 200, { value: all.slice(skip, skip + PAGE), nextLink: next ? next.toString() : null });
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, origin);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");

    if (url.pathname === "/msi/token") {
      state.tokenRequests++;
      if (req.headers["x-identity-header"] !== identityHeader) return error(res, 400, "BadRequest", "X-IDENTITY-HEADER is missing or wrong");
      if (url.searchParams.get("resource") !== "https://vault.azure.net") return error(res, 400, "BadRequest", "unknown resource");
      return send(res, 200, {
        access_token: token,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource: "https://vault.azure.net",
        token_type: "Bearer",
      });
    }

    state.requests.push({ method: req.method!, path: url.pathname, authorization: req.headers.authorization });
    const fault = state.faults.findIndex((f) => !f.path || url.pathname.startsWith(f.path));
    if (fault >= 0) {
      const [f] = state.faults.splice(fault, 1);
      const headers: Record<string, string> = f!.retryAfter !== undefined ? { "retry-after": f!.retryAfter } : {};
      if (f!.status === 403) return error(res, 403, "Forbidden", "The user, group or application does not have secrets get permission on key vault.", headers);
      return f!.status === 429
        ? error(res, 429, "Throttled", "Rate limit is exceeded. Try again in 0 seconds.", headers)
        : error(res, f!.status, f!.status === 503 ? "ServiceUnavailable" : "InternalServerError", "The service is unavailable.", headers);
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      return error(res, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", {
        "www-authenticate": `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`,
      });
    }
    if (url.searchParams.get("api-version") !== "7.4") return error(res, 400, "BadParameter", "The request URI contains an invalid or missing api-version");

    const parts = url.pathname.split("/").filter(Boolean); // secrets, name?, version|"versions"?
    if (parts[0] !== "secrets") return error(res, 404, "NotFound", "no such route");
    const name = parts[1];
    if (!name) {
      if (req.method !== "GET") return error(res, 405, "MethodNotAllowed", "method not allowed");
      return page(
        res,
        url,
        [...secrets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([n, vs]) => item(n, vs.at(-1)!)),
      );
    }
    if (!/^[0-9a-zA-Z-]{1,127}$/.test(name)) return error(res, 400, "BadParameter", "The secret name is invalid");
    const versions = secrets.get(name);
    if (req.method === "PUT" && parts.length === 2) {
      const body = JSON.parse(text || "{}");
      if (typeof body.value !== "string") return error(res, 400, "BadParameter", "Property value is required");
      const v: Version = {
        id: randomBytes(16).toString("hex"),
        value: body.value,
        contentType: body.contentType,
        tags: body.tags,
        created: Math.floor(Date.now() / 1000),
      };
      secrets.set(name, [...(versions ?? []), v]);
      return send(res, 200, bundle(name, v));
    }
    if (!versions) return error(res, 404, "SecretNotFound", `A secret with (name/id) ${name} was not found in this key vault.`);
    if (req.method === "DELETE" && parts.length === 2) {
      secrets.delete(name);
      return send(res, 200, {
        ...bundle(name, versions.at(-1)!, false),
        recoveryId: `${origin}/deletedsecrets/${name}`,
        deletedDate: Math.floor(Date.now() / 1000),
      });
    }
    if (req.method === "GET" && parts[2] === "versions")
      return page(
        res,
        url,
        versions.map((v) => ({ ...item(name, v), id: `${origin}/secrets/${name}/${v.id}` })),
      );
    if (req.method === "GET") {
      const v = parts[2] ? versions.find((x) => x.id === parts[2]) : versions.at(-1);
      if (!v) return error(res, 404, "SecretNotFound", `A secret with (name/id) ${name}/${parts[2]} was not found in this key vault.`);
      return send(res, 200, bundle(name, v));
    }
    return error(res, 405, "MethodNotAllowed", "method not allowed");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  origin = `http://127.0.0.1:${port}`;
  state.url = origin;
  state.identityEndpoint = `${origin}/msi/token`;
  return state;
}
