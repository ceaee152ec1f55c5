import { generateKeyPair, exportPKCS8 } from "jose";
import { describe, expect, it, vi } from "vitest";
import { tokenWith } from "../helpers";
import { api, bindingOf, createSync, appExchanges, F, githubApp, rejections, remote, server, target, uniquePath, waitFor, write } from "./helpers";

vi.setConfig({ testTimeout: 30_000 });

const sync = createSync;

describe("GitHub App auth (app JWT -> installation token -> secrets API)", () => {
  it("exchanges a JWT the server verifies with the app's public key, then caches the installation token", async () => {
    const path = uniquePath("ghapp");
    await write(path, "app-v1");
    const t = await target("github", "app", githubApp());
    const listed = await api("GET", "/api/v1/secrets/sync-targets");
    expect(listed.body.items.find((i: { name: string }) => i.name === t).summary).toMatchObject({
      auth: "github-app",
      app_id: F.githubAppId,
      installation_id: F.githubInstallationId,
    });
    const before = await appExchanges("app");
    const s = await sync({ target: t, path, remote_key: "APP_SECRET" });
    const copy = await waitFor("v1 through the app", async () => remote(`gh:app:repos/acme/${t}/actions/APP_SECRET`));
    expect(copy.value).toBe("app-v1");
    expect(await appExchanges("app")).toBe(before + 1);
    // The next version reuses the cached token: no second exchange.
    await write(path, "app-v2");
    await waitFor("v2", async () => (await remote(`gh:app:repos/acme/${t}/actions/APP_SECRET`))?.value === "app-v2");
    expect(await appExchanges("app")).toBe(before + 1);
    expect((await bindingOf(s.id, path))?.last_error).toBeNull();
    expect((await rejections()).filter((r) => r.startsWith("gh:"))).toEqual([]);
  });

  it("a cached installation token GitHub no longer takes (401) is replaced once, and the copy still lands", async () => {
    const path = uniquePath("ghapprev");
    await write(path, "rev-v1");
    const t = await target("github", "app", githubApp({ repo: undefined, owner: undefined, scope: "organization", org: "acme-rev" }));
    await sync({ target: t, path, remote_key: "REV_SECRET" });
    await waitFor("v1", async () => (await remote("gh:app:orgs/acme-rev/actions/REV_SECRET"))?.value === "rev-v1");
    const before = await appExchanges("app");
    await fetch(`${server()}/_revoke-installation-tokens`);
    await write(path, "rev-v2");
    await waitFor("v2 with a fresh token", async () => (await remote("gh:app:orgs/acme-rev/actions/REV_SECRET"))?.value === "rev-v2");
    expect(await appExchanges("app")).toBe(before + 1);
  });

  it("refreshes a token that expires within the refresh margin (5 minutes) at every delivery", async () => {
    const path = uniquePath("ghappshort");
    await write(path, "short-v1");
    const t = await target("github", "appshort", githubApp());
    await sync({ target: t, path, remote_key: "SHORT" });
    await waitFor("v1", async () => (await remote(`gh:appshort:repos/acme/${t}/actions/SHORT`))?.value === "short-v1");
    const before = await appExchanges("appshort");
    await write(path, "short-v2");
    await waitFor("v2", async () => (await remote(`gh:appshort:repos/acme/${t}/actions/SHORT`))?.value === "short-v2");
    expect(await appExchanges("appshort")).toBe(before + 1);
  });

  it("a JWT signed with another key is refused by the server and the delivery is final", async () => {
    const other = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
    const path = uniquePath("ghappbad");
    await write(path, "bad-key-value");
    const t = await target("github", "app", githubApp({ private_key: await exportPKCS8(other.privateKey) }));
    const s = await sync({ target: t, path, remote_key: "BAD_KEY" });
    const error = await waitFor("refused", async () => (await bindingOf(s.id, path))?.last_error);
    expect(error).toBe("GitHub App token: the target answered 401");
    expect(await rejections()).toEqual(expect.arrayContaining([expect.stringMatching(/^gh: app jwt: signature verification failed/)]));
    expect(await remote(`gh:app:repos/acme/${t}/actions/BAD_KEY`)).toBeNull();
  });

  it("an unknown installation id is a final 404", async () => {
    const path = uniquePath("ghappinst");
    await write(path, "inst-value");
    const t = await target("github", "app", githubApp({ installation_id: "999" }));
    const s = await sync({ target: t, path, remote_key: "INST" });
    expect(await waitFor("refused", async () => (await bindingOf(s.id, path))?.last_error)).toBe("GitHub App token: the target answered 404");
  });
});

describe("GitHub App targets: what a token with less than admin gets", () => {
  it("cannot configure one, list them, or read the private key back; nobody can", async () => {
    const body = {
      name: `app-${Date.now().toString(36)}`,
      kind: "github",
      config: { api_url: `${server()}/gh/app`, scope: "repository", owner: "acme", repo: "x", ...githubApp() },
    };
    const narrow = await tokenWith(["secrets:read", "secrets:write", "leases:write"]);
    expect((await api("POST", "/api/v1/secrets/sync-targets", { token: narrow.token, body })).status).toBe(403);
    expect((await api("GET", "/api/v1/secrets/sync-targets", { token: narrow.token })).status).toBe(403);
    const created = await api("POST", "/api/v1/secrets/sync-targets", { body });
    expect(created.status).toBe(200);
    const keyBody = githubApp().private_key.split("\n").slice(1, 3).join("");
    const audit = await api("GET", `/api/v1/audit?resource=sync_target:${body.name}`);
    const listed = await api("GET", "/api/v1/secrets/sync-targets");
    for (const text of [created.text, listed.text, audit.text]) {
      expect(text).not.toContain("PRIVATE KEY");
      expect(text).not.toContain(keyBody);
    }
  });

  it("refuses a private key it cannot use (422, the key never quoted) and half an app config (400)", async () => {
    const base = { name: `app-bad-${Date.now().toString(36)}`, kind: "github" };
    const garbage = `-----BEGIN RSA PRIVATE KEY-----\n${"QUJD".repeat(40)}\n-----END RSA PRIVATE KEY-----`;
    const bad = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { ...base, config: { api_url: `${server()}/gh/app`, owner: "acme", repo: "x", ...githubApp({ private_key: garbage }) } },
    });
    expect(bad.status).toBe(422);
    expect(bad.text).not.toContain("QUJD");
    const half = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { ...base, config: { api_url: `${server()}/gh/app`, owner: "acme", repo: "x", app_id: F.githubAppId } },
    });
    expect(half.status).toBe(400);
    const both = await api("POST", "/api/v1/secrets/sync-targets", {
      body: { ...base, config: { api_url: `${server()}/gh/app`, owner: "acme", repo: "x", ...githubApp({ token: F.githubToken }) } },
    });
    expect(both.status).toBe(400);
  });
});
