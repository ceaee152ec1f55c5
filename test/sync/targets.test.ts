import { describe, expect, it, vi } from "vitest";
import { api, bindingOf, createSync, remote, rejections, target, uniquePath, waitFor, write } from "./helpers";

// Deliveries travel through the real queue (batch timeout 1 s).
vi.setConfig({ testTimeout: 30_000 });

const sync = createSync;

describe("targets against their contract servers", () => {
  it("webhook: the signed copy follows every new version", async () => {
    const path = uniquePath("syncwh");
    await write(path, "v1-webhook");
    const t = await target("webhook");
    const s = await sync({ target: t, path, remote_key: "DB_URL" });
    expect(s.queued).toBe(1);
    await waitFor("v1 delivered", async () => (await remote("wh:ok:DB_URL"))?.value === "v1-webhook");
    await write(path, "v2-webhook");
    await waitFor("v2 follows", async () => (await remote("wh:ok:DB_URL"))?.value === "v2-webhook");
    const binding = await waitFor("status", async () => {
      const b = await bindingOf(s.id, path);
      return b?.last_synced_version === 2 && b;
    });
    expect(binding.last_error).toBeNull();
    const audit = await api("GET", `/api/v1/audit?resource=sync:${s.id}`);
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["sync.create", "sync.delivered"]));
  });

  it("GitHub Actions: the sealed box opens with the repository's private key", async () => {
    const path = uniquePath("syncgh");
    await write(path, "gh-secret-value-ü");
    const t = await target("github");
    await sync({ target: t, path, remote_key: "DB_PASSWORD" });
    const copy = await waitFor("opened by the server", async () => remote(`gh:ok:repos/acme/${t}/actions/DB_PASSWORD`));
    expect(copy.value).toBe("gh-secret-value-ü");
    expect(await rejections()).not.toEqual(expect.arrayContaining([expect.stringMatching(/^gh:/)]));
  });

  it("GitHub Actions: environment and organization secrets use their own endpoints", async () => {
    const path = uniquePath("syncghe");
    await write(path, "env-value");
    const env = await target("github", "ok", { scope: "environment", environment: "production" });
    const org = await target("github", "ok", { scope: "organization", org: "acme", owner: undefined, repo: undefined, visibility: "all" });
    await sync({ target: env, path, remote_key: "ENV_SECRET" });
    await sync({ target: org, path, remote_key: "ORG_SECRET" });
    expect(
      (await waitFor("env", async () => remote(`gh:ok:repos/acme/${env}/environments/production/ORG_SECRET`.replace("ORG_SECRET", "ENV_SECRET")))).value,
    ).toBe("env-value");
    const orgCopy = await waitFor("org", async () => remote("gh:ok:orgs/acme/actions/ORG_SECRET"));
    expect(orgCopy.value).toBe("env-value");
    expect(orgCopy.meta.visibility).toBe("all");
  });

  it("AWS Secrets Manager: CreateSecret then PutSecretValue, SigV4 verified independently", async () => {
    const path = uniquePath("syncaws");
    await write(path, "aws-v1");
    const t = await target("aws");
    const key = `hush/${path}`;
    await sync({ target: t, path, remote_key: key });
    const created = await waitFor("created", async () => remote(`aws:ok:${key}`));
    expect(created.value).toBe("aws-v1");
    expect(created.meta.kms).toBe("alias/hush-sync");
    await write(path, "aws-v2");
    await waitFor("put", async () => (await remote(`aws:ok:${key}`))?.value === "aws-v2");
    expect((await rejections()).filter((r) => r.startsWith("aws:"))).toEqual([]);
  });

  it("AWS: a wrong secret key fails the signature check and the delivery is final (403)", async () => {
    const path = uniquePath("syncawsbad");
    await write(path, "aws-bad");
    const t = await target("aws", "ok", { secret_access_key: "not-the-right-secret-key-000000" });
    const s = await sync({ target: t, path, remote_key: `bad/${path}` });
    const b = await waitFor("error recorded", async () => (await bindingOf(s.id, path))?.last_error);
    expect(b).toMatch(/403/);
    expect(await rejections()).toContain("aws: signature mismatch");
  });

  it("Kubernetes: a prefix becomes keys of one Secret, created then merge-patched with the bearer token", async () => {
    const prefix = `${uniquePath("synck8s")}/`;
    await write(`${prefix}db-user`, "app");
    await write(`${prefix}db-pass`, "k8s-pass");
    const t = await target("kubernetes");
    const s = await sync({ target: t, prefix, remote_prefix: "" });
    expect(s.queued).toBe(2);
    const secret = await waitFor("both keys", async () => {
      const item = await remote(`k8s:ok:apps/${t}`);
      return item && Object.keys(JSON.parse(item.value!)).length === 2 && item;
    });
    expect(JSON.parse(secret.value!)).toEqual({ "db-user": "app", "db-pass": "k8s-pass" });
    expect(secret.meta.type).toBe("Opaque");
    expect(secret.meta.labels).toEqual({ "app.kubernetes.io/managed-by": "hush" });
  });

  it("Cloudflare Workers: PUT {name, text, type: secret_text} on the script's secrets", async () => {
    const path = uniquePath("synccf");
    await write(path, "cf-value");
    const t = await target("cloudflare");
    await sync({ target: t, path, remote_key: "API_KEY" });
    const copy = await waitFor("cf", async () => remote(`cf:ok:0123456789abcdef0123456789abcdef/${t}/API_KEY`));
    expect(copy.value).toBe("cf-value");
  });

  it("propagates a deletion when asked", async () => {
    const prefix = `${uniquePath("syncdel")}/`;
    await write(`${prefix}token`, "to-delete");
    const t = await target("webhook");
    const s = await sync({ target: t, prefix, remote_prefix: "del-", propagate_deletes: true });
    const key = `del-token`;
    await waitFor("delivered", async () => (await remote(`wh:ok:${key}`))?.value === "to-delete");
    expect((await api("DELETE", `/api/v1/secrets/store/${prefix}token`)).status).toBeLessThan(300);
    await waitFor("deleted remotely", async () => {
      const item = await remote(`wh:ok:${key}`);
      return item && item.value === null;
    });
    expect((await bindingOf(s.id, `${prefix}token`)) as unknown).toMatchObject({ path: `${prefix}token` });
  });

  it("never returns a target's credentials", async () => {
    await target("aws");
    const list = await api("GET", "/api/v1/secrets/sync-targets");
    expect(list.status).toBe(200);
    expect(list.text).not.toContain("testSecretAccessKey");
    expect(list.text).not.toContain("ghp_testtoken");
  });
});

describe("Kubernetes and TLS: what cannot be verified is refused, loudly", () => {
  const base = {
    kind: "kubernetes",
    config: { api_url: "https://k8s.example.com:6443", token: "k8s-test-bearer-token-0123456789", namespace: "apps", secret_name: "app" },
  };
  it("refuses a ca_cert (a Worker cannot pin a private CA) and insecure_skip_tls_verify", async () => {
    const ca = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { ...base, name: "k8s-ca", config: { ...base.config, ca_cert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----" } },
    });
    expect(ca.status).toBe(400);
    expect(ca.text).toContain("cannot pin a private CA");
    const insecure = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { ...base, name: "k8s-insecure", config: { ...base.config, insecure_skip_tls_verify: true } },
    });
    expect(insecure.status).toBe(400);
    expect(insecure.text).toContain("never skips TLS verification");
    const plain = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { ...base, name: "k8s-http", config: { ...base.config, api_url: "http://k8s.example.com:6443" } },
    });
    expect(plain.status).toBe(400);
    const ok = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { ...base, name: "k8s-public", config: { ...base.config, insecure_skip_tls_verify: false } },
    });
    expect(ok.status, ok.text).toBe(200);
    expect((await api("DELETE", "/api/v1/secrets/sync-targets/k8s-public")).status).toBe(204);
  });
});
