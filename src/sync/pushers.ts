import { AwsClient } from "aws4fetch";
import blake from "blakejs";
import nacl from "tweetnacl";
import { fromBase64, toBase64, utf8, wipe } from "../crypto/encoding";
import { AppTokenError, forgetInstallationToken, installationToken, type GitHubAppAuth } from "./github-app";
import { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../leases/providers/webhook";
import type { ResolvedTarget, TargetConfig } from "./targets";

/**
 * A delivery failure with a message Hush wrote (never the remote's body, which may quote the
 * request). `retryable`: 5xx, 429 and network failures go back to the queue; other answers are final.
 */
export class SyncError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "SyncError";
  }
}

export interface Pusher {
  /** Writes `value` under `remoteKey`. `idempotencyKey` is stable per delivery row. */
  put(remoteKey: string, value: string, idempotencyKey: string): Promise<void>;
  /** Removes `remoteKey`; already gone is success. */
  remove(remoteKey: string, idempotencyKey: string): Promise<void>;
}

const TIMEOUT_MS = 10_000;

async function call(what: string, input: string, init: RequestInit, fetcher: typeof fetch = fetch): Promise<Response> {
  try {
    return await fetcher(input, { ...init, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch {
    throw new SyncError(`${what}: no answer`, true);
  }
}

async function check(what: string, response: Response, okAlso: number[] = []): Promise<Response> {
  if (response.ok || okAlso.includes(response.status)) return response;
  await response.body?.cancel();
  const retryable = response.status >= 500 || response.status === 429;
  throw new SyncError(`${what}: the target answered ${response.status}`, retryable);
}

const done = async (response: Response) => {
  await response.body?.cancel();
};

/** libsodium's crypto_box_seal: an ephemeral X25519 key, nonce = BLAKE2b-24(epk || pk), XSalsa20-Poly1305. */
export function sealedBox(message: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== nacl.box.publicKeyLength) throw new SyncError("GitHub: the repository public key is not a 32-byte key", false);
  const ephemeral = nacl.box.keyPair();
  const nonceInput = new Uint8Array(64);
  nonceInput.set(ephemeral.publicKey, 0);
  nonceInput.set(publicKey, 32);
  const nonce = blake.blake2b(nonceInput, undefined, nacl.box.nonceLength);
  const boxed = nacl.box(message, nonce, publicKey, ephemeral.secretKey);
  wipe(ephemeral.secretKey);
  const out = new Uint8Array(32 + boxed.length);
  out.set(ephemeral.publicKey, 0);
  out.set(boxed, 32);
  return out;
}

function webhookPusher(c: TargetConfig<"webhook">, target: string): Pusher {
  const send = async (payload: Record<string, unknown>) => {
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const response = await call("webhook", c.url, {
      method: "POST",
      headers: { "content-type": "application/json", [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: await signWebhook(c.signing_key, timestamp, body) },
      body,
    });
    return response;
  };
  return {
    async put(key, value, idempotencyKey) {
      await done(await check("webhook", await send({ action: "put", target, key, value, delivery_id: idempotencyKey })));
    },
    async remove(key, idempotencyKey) {
      await done(await check("webhook", await send({ action: "delete", target, key, delivery_id: idempotencyKey }), [404, 410]));
    },
  };
}

function githubPusher(c: TargetConfig<"github">): Pusher {
  const base = c.api_url.replace(/\/$/, "");
  const root =
    c.scope === "organization"
      ? `${base}/orgs/${encodeURIComponent(c.org!)}/actions/secrets`
      : c.scope === "environment"
        ? `${base}/repos/${encodeURIComponent(c.owner!)}/${encodeURIComponent(c.repo!)}/environments/${encodeURIComponent(c.environment!)}/secrets`
        : `${base}/repos/${encodeURIComponent(c.owner!)}/${encodeURIComponent(c.repo!)}/actions/secrets`;
  const fixed = {
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
    "user-agent": "hush-sync",
  };
  const app: GitHubAppAuth | null = c.app_id
    ? { api_url: base, app_id: c.app_id, installation_id: c.installation_id!, private_key: c.private_key!, scope: c.scope, repo: c.repo }
    : null;
  const bearer = async (): Promise<{ token: string; cached: boolean }> => {
    if (!app) return { token: c.token!, cached: false };
    try {
      return await installationToken(app);
    } catch (err) {
      if (!(err instanceof AppTokenError)) throw err;
      throw new SyncError(err.message, err.status === 0 || err.status >= 500 || err.status === 429);
    }
  };
  /**
   * One operation's calls with the target's credential (one installation token for all of them);
   * a cached installation token GitHub no longer takes (401) is replaced once.
   */
  const session = () => {
    let current: Promise<{ token: string; cached: boolean }> | undefined;
    return async (what: string, url: string, init: RequestInit = {}) => {
      const send = async () =>
        call(what, url, {
          ...init,
          headers: { ...fixed, ...(init.headers as Record<string, string>), authorization: `Bearer ${(await (current ??= bearer())).token}` },
        });
      const response = await send();
      if (!(app && (await current!).cached && response.status === 401)) return response;
      await response.body?.cancel();
      await forgetInstallationToken(app);
      current = bearer();
      return send();
    };
  };
  return {
    async put(key, value) {
      const github = session();
      const keyResponse = await check("GitHub public key", await github("GitHub public key", `${root}/public-key`));
      const publicKey = (await keyResponse.json().catch(() => null)) as { key_id?: unknown; key?: unknown } | null;
      if (!publicKey || typeof publicKey.key_id !== "string" || typeof publicKey.key !== "string") {
        throw new SyncError("GitHub: the public-key answer has no key_id and key", false);
      }
      const plaintext = utf8(value);
      let sealed: Uint8Array;
      try {
        sealed = sealedBox(plaintext, fromBase64(publicKey.key));
      } finally {
        wipe(plaintext);
      }
      const body = JSON.stringify({
        encrypted_value: toBase64(sealed),
        key_id: publicKey.key_id,
        ...(c.scope === "organization" ? { visibility: c.visibility } : {}),
      });
      await done(
        await check(
          "GitHub secret",
          await github("GitHub secret", `${root}/${encodeURIComponent(key)}`, { method: "PUT", headers: { "content-type": "application/json" }, body }),
        ),
      );
    },
    async remove(key) {
      const github = session();
      await done(await check("GitHub delete", await github("GitHub delete", `${root}/${encodeURIComponent(key)}`, { method: "DELETE" }), [404]));
    },
  };
}

/** A ClientRequestToken (32-64 characters) from the delivery id: a repeated delivery makes no new AWS version. */
async function requestToken(idempotencyKey: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(idempotencyKey)));
  const hex = Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function awsPusher(c: TargetConfig<"aws">): Pusher {
  const client = new AwsClient({
    accessKeyId: c.access_key_id,
    secretAccessKey: c.secret_access_key,
    sessionToken: c.session_token,
    service: "secretsmanager",
    region: c.region,
    retries: 0, // the queue retries, with backoff and a dead-letter queue
  });
  const endpoint = (c.endpoint ?? `https://secretsmanager.${c.region}.amazonaws.com`).replace(/\/$/, "") + "/";
  const op = async (target: string, payload: Record<string, unknown>) =>
    call(
      `AWS ${target}`,
      endpoint,
      {
        method: "POST",
        headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `secretsmanager.${target}` },
        body: JSON.stringify(payload),
      },
      (input, init) => client.fetch(input as string, init),
    );
  const errorType = async (response: Response) => {
    const body = (await response
      .clone()
      .json()
      .catch(() => null)) as { __type?: unknown } | null;
    return typeof body?.__type === "string" ? body.__type.split("#").pop()! : "";
  };
  return {
    async put(key, value, idempotencyKey) {
      const token = await requestToken(idempotencyKey);
      const put = await op("PutSecretValue", { SecretId: key, SecretString: value, ClientRequestToken: token });
      if (put.status === 400 && (await errorType(put)) === "ResourceNotFoundException") {
        await put.body?.cancel();
        const created = await op("CreateSecret", {
          Name: key,
          SecretString: value,
          ClientRequestToken: token,
          Description: "Managed by Hush sync",
          ...(c.kms_key_id ? { KmsKeyId: c.kms_key_id } : {}),
        });
        await done(await check("AWS CreateSecret", created));
        return;
      }
      await done(await check("AWS PutSecretValue", put));
    },
    async remove(key) {
      const response = await op("DeleteSecret", { SecretId: key, RecoveryWindowInDays: c.recovery_window_days });
      if (response.status === 400 && (await errorType(response)) === "ResourceNotFoundException") return done(response);
      await done(await check("AWS DeleteSecret", response));
    },
  };
}

function kubernetesPusher(c: TargetConfig<"kubernetes">): Pusher {
  const base = `${c.api_url.replace(/\/$/, "")}/api/v1/namespaces/${c.namespace}/secrets`;
  const auth = { authorization: `Bearer ${c.token}`, accept: "application/json" };
  const patch = (data: Record<string, string | null>) =>
    call("Kubernetes patch", `${base}/${c.secret_name}`, {
      method: "PATCH",
      headers: { ...auth, "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ data }),
    });
  return {
    async put(key, value) {
      const encoded = toBase64(utf8(value));
      const patched = await patch({ [key]: encoded });
      if (patched.status !== 404) return done(await check("Kubernetes patch", patched));
      await patched.body?.cancel();
      const created = await call("Kubernetes create", base, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: c.secret_name, namespace: c.namespace, labels: { "app.kubernetes.io/managed-by": "hush" } },
          type: "Opaque",
          data: { [key]: encoded },
        }),
      });
      // 409: created concurrently by another delivery; patch it again.
      if (created.status === 409) return done(await check("Kubernetes patch", await patch({ [key]: encoded })));
      await done(await check("Kubernetes create", created));
    },
    async remove(key) {
      await done(await check("Kubernetes patch", await patch({ [key]: null }), [404]));
    },
  };
}

function cloudflarePusher(c: TargetConfig<"cloudflare">): Pusher {
  const base = `${c.api_url.replace(/\/$/, "")}/accounts/${c.account_id}/workers/scripts/${c.script_name}/secrets`;
  const auth = { authorization: `Bearer ${c.api_token}` };
  return {
    async put(key, value) {
      const response = await call("Cloudflare secret", base, {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ name: key, text: value, type: "secret_text" }),
      });
      await done(await check("Cloudflare secret", response));
    },
    async remove(key) {
      await done(
        await check("Cloudflare delete", await call("Cloudflare delete", `${base}/${encodeURIComponent(key)}`, { method: "DELETE", headers: auth }), [404]),
      );
    },
  };
}

export function pusherFor(target: ResolvedTarget): Pusher {
  switch (target.kind) {
    case "webhook":
      return webhookPusher(target.config as TargetConfig<"webhook">, target.name);
    case "github":
      return githubPusher(target.config as TargetConfig<"github">);
    case "aws":
      return awsPusher(target.config as TargetConfig<"aws">);
    case "kubernetes":
      return kubernetesPusher(target.config as TargetConfig<"kubernetes">);
    case "cloudflare":
      return cloudflarePusher(target.config as TargetConfig<"cloudflare">);
  }
}

/** Remote key names each platform accepts. */
export const REMOTE_KEY: Record<ResolvedTarget["kind"], RegExp> = {
  webhook: /^[A-Za-z0-9_./-]{1,256}$/,
  github: /^(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]{0,254}$/,
  aws: /^[A-Za-z0-9/_+=.@-]{1,512}$/,
  kubernetes: /^[-._a-zA-Z0-9]{1,253}$/,
  cloudflare: /^[A-Za-z_][A-Za-z0-9_]{0,127}$/,
};
