import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import { database } from "../../src/db/client";
import worker from "../../src/index";
import type { SyncMessage } from "../../src/sync/deliver";
import { api, uniquePath } from "../helpers";
import { SYNC_FIXTURES as F } from "./fixtures";

export { F };
export const db = () => database(env.DB);
export const server = () => inject("syncServerUrl");
let n = 0;
export const uniqueName = (p = "t") => `${p}-${Date.now().toString(36)}${(n++).toString(36)}`;

/** A target of `kind` on the contract server, in `scenario`. */
export async function target(kind: "webhook" | "github" | "aws" | "kubernetes" | "cloudflare", scenario = "ok", extra: Record<string, unknown> = {}) {
  const name = uniqueName(kind.slice(0, 3));
  const base = `${server()}`;
  const config = {
    webhook: { url: `${base}/wh/${scenario}`, signing_key: F.webhookKey },
    github: { api_url: `${base}/gh/${scenario}`, token: F.githubToken, scope: "repository", owner: "acme", repo: name },
    aws: {
      region: F.awsRegion,
      access_key_id: F.awsAccessKeyId,
      secret_access_key: F.awsSecretAccessKey,
      endpoint: `${base}/aws/${scenario}`,
      kms_key_id: "alias/hush-sync",
    },
    kubernetes: { api_url: `${base}/k8s/${scenario}`, token: F.k8sToken, namespace: "apps", secret_name: name },
    cloudflare: { api_url: `${base}/cf/${scenario}`, account_id: F.cfAccount, script_name: name, api_token: F.cfToken },
  }[kind];
  const res = await api("POST", "/api/v1/secrets/sync-targets", { body: { name, kind, config: { ...config, ...extra } } });
  if (res.status !== 200) throw new Error(`target: ${res.status} ${res.text}`);
  return name;
}

export async function write(path: string, value: string, token?: string) {
  const res = await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value }, token });
  if (res.status !== 200 && res.status !== 201) throw new Error(`write: ${res.status} ${res.text}`);
  return res.body;
}

export async function remote(key: string): Promise<{ value: string | null; meta: Record<string, unknown>; writes: number } | null> {
  const res = await fetch(`${server()}/_state?key=${encodeURIComponent(key)}`);
  return ((await res.json()) as { item: any }).item;
}

export async function rejections(): Promise<string[]> {
  const res = await fetch(`${server()}/_state?key=-`);
  return ((await res.json()) as { rejections: string[] }).rejections;
}

export async function serverRequests(): Promise<string[]> {
  return ((await (await fetch(`${server()}/_requests`)).json()) as { requests: string[] }).requests;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the worker's queue handler on one message, as the runtime would after `attempts` tries. */
export async function deliver(queue: "hush-sync" | "hush-sync-dlq", body: SyncMessage, attempts = 1) {
  const batch = createMessageBatch<SyncMessage>(queue, [{ id: `m-${uniqueName()}`, timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, env, ctx);
  return getQueueResult(batch, ctx);
}

export { api, uniquePath };

/** How many installation tokens the contract server issued for `scenario`'s GitHub App. */
export async function appExchanges(scenario: string): Promise<number> {
  const res = await fetch(`${server()}/_state?key=-`);
  return ((await res.json()) as { exchanges: Record<string, number> }).exchanges[scenario] ?? 0;
}

/** GitHub App auth for a github target (the three fields instead of `token`). */
export const githubApp = (extra: Record<string, unknown> = {}) => ({
  token: undefined,
  app_id: F.githubAppId,
  installation_id: F.githubInstallationId,
  private_key: inject("githubAppKey"),
  ...extra,
});

/** Creates a sync as the root token; throws unless 201. */
export async function createSync(body: Record<string, unknown>) {
  const res = await api("POST", "/api/v1/secrets/syncs", { body });
  if (res.status !== 201) throw new Error(`sync: ${res.status} ${res.text}`);
  return res.body as { id: string; queued: number; skipped: { path: string; reason: string }[] };
}

/** One binding of a sync's status, as `GET /syncs/{id}` shows it. */
export const bindingOf = async (id: string, path: string) => {
  const res = await api("GET", `/api/v1/secrets/syncs/${id}`);
  return (res.body.bindings as { path: string; last_synced_version: number | null; last_error: string | null }[]).find((b) => b.path === path);
};

/** When the contract server saw each attempt for `key` (`service:scenario:key`), in ms since the epoch. */
export async function attemptTimes(key: string): Promise<number[]> {
  const res = await fetch(`${server()}/_state?key=${encodeURIComponent(key)}`);
  return ((await res.json()) as { attempt_times: number[] }).attempt_times;
}
