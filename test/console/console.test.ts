// The web console (/console) in real Chromium (test/support/chromium.ts) against `wrangler dev`
// (test/node/dev-server.ts), tried as its user and as an attacker. Screenshots go to docs/console/
// (shown in docs/console.md); HUSH_SCREENSHOTS=<dir> puts them elsewhere.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../support/browser";
import { rootApi, signIn } from "../support/console";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const addr = inject("hushAddr");
const rootToken = inject("hushRootToken");
const root = join(import.meta.dirname, "..", "..");
// Screenshots only when asked (HUSH_SCREENSHOTS=docs/console), so a test run leaves the checkout as it was.
const shots = process.env.HUSH_SCREENSHOTS;
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 860 } };
const SEEDED = 10_000;

let browser: Browser;
let readOnlyToken: string;
const dbPassword = `pw-${Date.now()}-Zq9`;

async function readValue(path: string): Promise<string> {
  return (await rootApi("GET", `/secrets/store/${path}`)).value;
}

beforeAll(async () => {
  browser = await launchChromium();
  if (shots) mkdirSync(shots, { recursive: true });
  await rootApi("POST", "/secrets/store/app/db/password", { value: dbPassword, type: "DATABASE_CREDENTIAL", environment: "production", tags: ["db", "prod"] });
  await rootApi("POST", "/secrets/store/app/db/url", { value: "postgres://app:${secret.app/db/password}@db/app", environment: "production" });
  readOnlyToken = (await rootApi("POST", "/tokens", { subject: "reader", scopes: ["secrets:read"], ttl_seconds: 3600 })).token;
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

interface Seen {
  url: string;
  body: string | null;
}

async function freshContext(options = DESKTOP): Promise<{ context: BrowserContext; page: Page; seen: Seen[] }> {
  const context = await browser.newContext({ ...options, colorScheme: "light" });
  const seen: Seen[] = [];
  context.on("request", (req) => seen.push({ url: req.url(), body: req.postData() }));
  const page = await context.newPage();
  page.on("pageerror", (err) => {
    throw err;
  });
  return { context, page, seen };
}

async function screenshot(page: Page, name: string) {
  if (!shots) return;
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

async function sessionCookie(context: BrowserContext) {
  return (await context.cookies(addr)).find((c) => c.name === "__Host-hush_console");
}

async function openSecret(page: Page, path: string) {
  await page.goto(`${addr}/console#/secrets/${path}`);
  await page.waitForSelector("#panel-title");
  await expect.poll(() => page.textContent("#panel-title")).toContain(path);
}

describe("the console page", () => {
  it("is served with a CSP that allows no inline script and no other origin, and ships ≤ 150 KiB of JS gzipped", async () => {
    const res = await fetch(`${addr}/console`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const js = await fetch(`${addr}/console/assets/console.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    const gz = gzipSync(Buffer.from(await js.arrayBuffer())).length;
    expect(gz).toBeLessThan(150 * 1024);
  });
});

describe("sign-in and session", () => {
  it("turns a pasted token into an HttpOnly, Secure, SameSite=Strict cookie that does not carry the token", async () => {
    const { context, page, seen } = await freshContext();
    await page.goto(`${addr}/console`);
    await page.waitForSelector("#signin-token", { state: "visible" });
    await screenshot(page, "01-sign-in");
    await page.fill("#signin-token", rootToken);
    await page.click("#signin-button");
    await page.waitForSelector("#logout:visible, #signin-error:visible");
    expect((await page.isVisible("#signin-error")) ? await page.textContent("#signin-error") : "").toBe("");
    expect(await page.textContent("#who")).toMatch(/^root\/console-[0-9a-f]{8} · default$/);
    const cookie = (await sessionCookie(context))!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
    expect(cookie.expires - Date.now() / 1000).toBeLessThanOrEqual(3601);
    expect(cookie.value).not.toContain(rootToken);
    expect(cookie.value).not.toContain("hush_");
    // Scripts cannot read it.
    expect(await page.evaluate<string>("document.cookie")).not.toContain("hush_console");
    // After sign-in no request carries the token again (only the sign-in POST body had it).
    const carrying = seen.filter((r) => r.url.includes(rootToken) || (r.body ?? "").includes(rootToken));
    expect(carrying.map((r) => new URL(r.url).pathname)).toEqual(["/console/session"]);
    await context.close();
  });

  it("refuses a bad token with a message and sets no cookie", async () => {
    const { context, page } = await freshContext();
    await page.goto(`${addr}/console`);
    await page.fill("#signin-token", "hush_not_a_real_token_000000000000000000000");
    await page.click("#signin-button");
    await expect.poll(() => page.textContent("#signin-error")).toContain("not accepted");
    expect(await sessionCookie(context)).toBeUndefined();
    await context.close();
  });

  it("signs out: the session token is revoked, so the old cookie is refused even if replayed", async () => {
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    const old = (await sessionCookie(context))!;
    const replay = (path: string) => fetch(`${addr}${path}`, { headers: { cookie: `${old.name}=${old.value}` } });
    expect((await replay("/console/session")).status).toBe(200);
    await page.click("#logout");
    await page.waitForSelector("#signin-token", { state: "visible" });
    expect(await sessionCookie(context)).toBeUndefined();
    expect((await replay("/console/session")).status).toBe(401);
    expect((await replay("/console/api/secrets/store?limit=1")).status).toBe(401);
    // The root token itself still works: only the session's child token was revoked.
    expect((await rootApi("GET", "/tokens/self")).subject).toBe("root");
    await context.close();
  });
});

describe("the tree", () => {
  it("loads 10,000 secrets, shows folders lazily, filters, and opens the metadata panel", async () => {
    const total0 = (await rootApi("GET", "/secrets/store?limit=1000&include_deleted=true")).items.length;
    // 10,000 secrets through the API's own import (1,000 a request), in 20 folders of 500.
    for (let batch = 0; batch < SEEDED / 1000; batch++) {
      const values: Record<string, string> = {};
      for (let i = 0; i < 1000; i++) values[`team-${String(batch * 2 + (i >= 500 ? 1 : 0)).padStart(2, "0")}/svc-${i % 500}/key`] = `v${batch}-${i}`;
      await rootApi("POST", "/secrets/store/import", { prefix: "bulk", values });
    }
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    const started = Date.now();
    await page.waitForSelector('[data-folder="bulk"]');
    const firstFolder = Date.now() - started;
    await expect.poll(() => page.textContent("#tree-count"), { timeout: 60_000 }).toBe(`${SEEDED + total0} secrets`);
    const loaded = Date.now() - started;
    console.info(`[console] tree: first folder after ${firstFolder} ms, all ${SEEDED + total0} paths after ${loaded} ms`);
    expect(firstFolder).toBeLessThan(5000);
    // Folders open on demand; only what is open is in the DOM (the top level: a few dozen folders
    // at most, whatever other suites left on the shared server, never the 10,000 paths).
    expect(await page.locator("li[role=treeitem]").count()).toBeLessThan(100);
    await page.click('[data-folder="bulk"]');
    await page.click('[data-folder="bulk/team-07"]');
    await expect.poll(() => page.locator('[data-folder^="bulk/team-07/"]').count()).toBe(500);
    await page.fill("#filter", "svc-42/");
    await expect.poll(() => page.textContent("#tree-count")).toBe(`20 of ${SEEDED + total0} match`);
    await page.fill("#filter", "");
    await page.click('[data-folder="app"]');
    await page.click('[data-folder="app/db"]');
    await page.click('[data-path="app/db/password"]');
    await page.waitForSelector("#panel-title");
    const panel = await page.textContent("#panel");
    expect(panel).toContain("DATABASE_CREDENTIAL");
    expect(panel).toContain("production");
    expect(panel).toContain("db, prod");
    expect(panel).not.toContain(dbPassword);
    await screenshot(page, "02-tree");
    await context.close();
  }, 180_000);
});

describe("values", () => {
  it("are not in the page until Reveal, hide after 30 s, and a copy is cleared from the clipboard after 30 s", async () => {
    const { context, page, seen } = await freshContext();
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: addr });
    await page.clock.install();
    await signIn(page, rootToken);
    await openSecret(page, "app/db/password");
    expect(await page.content()).not.toContain(dbPassword);
    await page.click("#reveal");
    await page.waitForSelector("#revealed-value");
    expect(await page.textContent("#revealed-value")).toBe(dbPassword);
    await screenshot(page, "03-revealed");
    await page.click("#copy");
    expect(await page.evaluate<string>("navigator.clipboard.readText()")).toBe(dbPassword);
    await page.clock.runFor(29_000);
    expect(await page.textContent("#revealed-value")).toBe(dbPassword);
    await page.clock.runFor(1_500);
    await page.waitForSelector("#value-hidden");
    expect(await page.content()).not.toContain(dbPassword);
    expect(await page.evaluate<string>("navigator.clipboard.readText()")).toBe("");
    // Never in a URL, never sent by the page.
    for (const r of seen) {
      expect(r.url).not.toContain(dbPassword);
      expect(r.body ?? "").not.toContain(dbPassword);
    }
    await context.close();
  });

  it("shows a value's ${secret.path} references as links, resolved but masked, with cycles and broken ones marked", async () => {
    await rootApi("POST", "/secrets/store/app/ref/loop-a", { value: "${secret.app/ref/loop-b}" });
    await rootApi("POST", "/secrets/store/app/ref/loop-b", { value: "${secret.app/ref/loop-a}" });
    await rootApi("POST", "/secrets/store/app/ref/holder", {
      value: "pw=${secret.app/db/password} loop=${secret.app/ref/loop-a} gone=${secret.app/ref/nothing}",
    });
    const { context, page } = await freshContext();
    await page.clock.install();
    await signIn(page, rootToken);
    await openSecret(page, "app/db/url");
    await page.click("#reveal");
    await page.waitForSelector("a.ref");
    expect(await page.getAttribute("a.ref", "href")).toBe("#/secrets/app/db/password");
    await openSecret(page, "app/ref/holder");
    await page.click("#reveal");
    const ref = (path: string) => page.locator(`li[data-ref="${path}"]`);
    await expect.poll(() => ref("app/db/password").getAttribute("data-ref-state")).toBe("ok");
    expect(await ref("app/db/password").textContent()).toContain(`(${dbPassword.length} characters)`);
    await expect.poll(() => ref("app/ref/loop-a").getAttribute("data-ref-state")).toBe("cycle");
    expect(await ref("app/ref/loop-a").textContent()).toContain("app/ref/loop-a → app/ref/loop-b → app/ref/loop-a");
    await expect.poll(() => ref("app/ref/nothing").getAttribute("data-ref-state")).toBe("broken");
    // The revealed value holds the references as text; what they resolve to is not in the page.
    expect(await page.textContent("#panel")).not.toContain(dbPassword);
    await screenshot(page, "12-references");
    await ref("app/db/password").locator("button").click();
    await expect.poll(() => ref("app/db/password").textContent()).toContain(dbPassword);
    await page.clock.runFor(31_000);
    await expect.poll(() => page.content()).not.toContain(dbPassword);
    await page.click("#reveal");
    await page.click('li[data-ref="app/db/password"] a.ref');
    await expect.poll(() => page.textContent("#panel-title")).toContain("app/db/password");
    await context.close();
  });
});

describe("history", () => {
  it("lists versions with author and state, reveals an old one, and recovers it as the next version", async () => {
    await rootApi("POST", "/secrets/store/app/history/key", { value: "first value" });
    await rootApi("PUT", "/secrets/store/app/history/key", { value: "second value" });
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await openSecret(page, "app/history/key");
    await page.waitForSelector('tr[data-version="1"]');
    expect(await page.textContent('tr[data-version="1"]')).toContain("root");
    await page.click('tr[data-version="1"] [data-action="reveal-version"]');
    await expect.poll(() => page.textContent("#hv-1")).toContain("first value");
    await page.click('tr[data-version="1"] [data-action="recover"]');
    await page.waitForSelector('tr[data-version="3"]');
    expect(await readValue("app/history/key")).toBe("first value");
    await screenshot(page, "04-history");
    await context.close();
  });

  it("diffs two versions, masked until revealed", async () => {
    await rootApi("POST", "/secrets/store/app/diffed", { value: "line-one\nold-middle\nline-three" });
    await rootApi("PUT", "/secrets/store/app/diffed", { value: "line-one\nnew-middle\nline-three" });
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await openSecret(page, "app/diffed");
    await page.waitForSelector('tr[data-version="2"]');
    await page.check('tr[data-version="1"] .diff-pick');
    await page.check('tr[data-version="2"] .diff-pick');
    await page.click("#history-diff");
    await page.waitForSelector("#history-diff-reveal");
    expect(await page.content()).not.toContain("old-middle");
    await page.click("#history-diff-reveal");
    await page.waitForSelector("#history-diff-out");
    const diff = (await page.textContent("#history-diff-out"))!;
    expect(diff).toContain("- old-middle");
    expect(diff).toContain("+ new-middle");
    expect(diff).toContain("  line-one");
    await screenshot(page, "14-history-diff");
    await context.close();
  });

  it("destroys a version only after the path is typed", async () => {
    await rootApi("POST", "/secrets/store/app/doomed", { value: "to shred" });
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await openSecret(page, "app/doomed");
    await page.click('tr[data-version="1"] [data-action="destroy"]');
    expect(await page.isDisabled("#destroy-go")).toBe(true);
    await page.fill("#destroy-confirm", "app/doome");
    expect(await page.isDisabled("#destroy-go")).toBe(true);
    await page.fill("#destroy-confirm", "app/doomed");
    await page.click("#destroy-go");
    await expect.poll(() => page.textContent('tr[data-version="1"]')).toContain("destroyed");
    await context.close();
  });
});

describe("approvals in the metadata panel", () => {
  it("shows a pending request where it applies; the requester cannot approve it, an approver approves it in the console", async () => {
    await rootApi("POST", "/secrets/approvals/policies", {
      paths: ["app/guarded/*"],
      actions: ["rotate"],
      approvals_required: 1,
      approvers: { subjects: ["approver"] },
    });
    await rootApi("POST", "/secrets/store/app/guarded/key", { value: "guarded-v1" });
    const grants = { scopes: ["secrets:read", "secrets:write"], ttl_seconds: 3600 };
    const requester = (await rootApi("POST", "/tokens", { subject: "requester", ...grants })).token;
    const approver = (await rootApi("POST", "/tokens", { subject: "approver", ...grants })).token;

    const mine = await freshContext();
    await signIn(mine.page, requester);
    await openSecret(mine.page, "app/guarded/key");
    await mine.page.click("#rotate");
    await mine.page.waitForSelector("#approvals li[data-request]");
    const id = (await mine.page.getAttribute("#approvals li[data-request]", "data-request"))!;
    expect(await mine.page.textContent("#approvals")).toContain("your request");
    expect(await mine.page.locator('#approvals [data-action="approve"]').count()).toBe(0);
    // Bypassing the page: the API refuses the requester's own approval.
    const self = await mine.page.evaluate(async (id) => {
      const { csrf } = (await (await fetch("/console/session")).json()) as { csrf: string };
      return (await fetch(`/console/api/secrets/approvals/${id}/approve`, { method: "POST", headers: { "x-hush-csrf": csrf } })).status;
    }, id);
    expect(self).toBe(403);

    const theirs = await freshContext();
    await signIn(theirs.page, approver);
    await openSecret(theirs.page, "app/guarded/key");
    await theirs.page.waitForSelector(`#approvals li[data-request="${id}"] [data-action="approve"]`);
    await screenshot(theirs.page, "13-approval");
    await theirs.page.click(`#approvals li[data-request="${id}"] [data-action="approve"]`);
    await expect.poll(() => theirs.page.getAttribute(`#approvals li[data-request="${id}"]`, "data-state")).toBe("approved");
    await theirs.context.close();

    await mine.page.click("#rotate");
    await expect.poll(async () => (await rootApi("GET", "/secrets/store/app/guarded/key")).version).toBe(2);
    await mine.context.close();
  });
});

describe("a read-only token", () => {
  it("sees no way to change anything, and the API refuses when the page is bypassed", async () => {
    const { context, page } = await freshContext();
    await signIn(page, readOnlyToken);
    expect(await page.isVisible("#readonly-badge")).toBe(true);
    await openSecret(page, "app/db/password");
    for (const id of ["#write", "#rotate", "#delete", "#new-secret"]) expect(await page.locator(id).count(), id).toBe(0);
    expect(await page.locator('[data-action="recover"], [data-action="destroy"]').count()).toBe(0);
    expect(await page.locator('#nav a[data-view="import"]').isHidden()).toBe(true);
    expect(await page.locator('#nav a[data-view="leases"]').isHidden()).toBe(true);
    // Reading works.
    await page.click("#reveal");
    await expect.poll(() => page.textContent("#revealed-value")).toBe(dbPassword);
    await screenshot(page, "05-read-only");
    // The Shares page shows status only: no create form, no revoke.
    await page.goto(`${addr}/console#/shares`);
    await page.waitForSelector("#share-rows tr");
    expect(await page.locator("#share-form, #share-rows [data-action=revoke]").count()).toBe(0);
    await page.goto(`${addr}/console#/secrets/app/db/password`);
    await page.waitForSelector("#panel-title");
    // Bypassing the page: the same origin, the session's CSRF token, and still the API's 403.
    const statuses = await page.evaluate(async () => {
      const { csrf } = (await (await fetch("/console/session")).json()) as { csrf: string };
      const h = { "content-type": "application/json", "x-hush-csrf": csrf };
      const put = await fetch("/console/api/secrets/store/app/db/password", { method: "PUT", headers: h, body: JSON.stringify({ value: "owned" }) });
      const del = await fetch("/console/api/secrets/store/app/db/password", { method: "DELETE", headers: h });
      const tok = await fetch("/console/api/tokens", { method: "POST", headers: h, body: JSON.stringify({ subject: "x", scopes: ["secrets:write"] }) });
      return [put.status, del.status, tok.status];
    });
    expect(statuses).toEqual([403, 403, 403]);
    expect(await readValue("app/db/password")).toBe(dbPassword);
    await context.close();
  });
});

describe("CSRF", () => {
  it("refuses a change from another origin even with the cookie, and one without the CSRF header", async () => {
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    const cookie = (await sessionCookie(context))!;
    const csrf = await page.evaluate(async () => ((await (await fetch("/console/session")).json()) as { csrf: string }).csrf);
    const attempt = (headers: Record<string, string>) =>
      fetch(`${addr}/console/api/secrets/store/app/db/password`, {
        method: "PUT",
        headers: { cookie: `${cookie.name}=${cookie.value}`, "content-type": "application/json", ...headers },
        body: JSON.stringify({ value: "owned" }),
      });
    expect((await attempt({ origin: "https://evil.example", "x-hush-csrf": csrf })).status).toBe(403);
    expect((await attempt({ origin: addr, "x-hush-csrf": csrf, "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await attempt({ origin: addr })).status).toBe(403);
    expect((await attempt({ origin: addr, "x-hush-csrf": "A".repeat(43) })).status).toBe(403);
    expect((await attempt({ "x-hush-csrf": csrf })).status).toBe(403);

    // A real cross-site page in the same browser: the cookie stays home and nothing changes.
    await page.route("http://evil.test/**", (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><form id=f method=post action="${addr}/console/api/secrets/store/app/db/password/rotate" enctype="text/plain"><input name='{"generate":{"length":8},"x":"' value='"}'></form>
<script>
fetch("${addr}/console/api/secrets/store/app/db/password/rotate", { method: "POST", credentials: "include", mode: "no-cors", headers: { "content-type": "text/plain" }, body: JSON.stringify({ value: "owned" }) })
  .catch(() => {}).finally(() => document.getElementById("f").submit());
</script>`,
      }),
    );
    // The script's fetch (opaque to it) and the form post; whatever answer came back was 401.
    const statuses: number[] = [];
    let sent = 0;
    page.on("request", (r) => r.url().endsWith("/rotate") && sent++);
    page.on("response", (r) => r.url().endsWith("/rotate") && statuses.push(r.status()));
    const submitted = page.waitForResponse((r) => r.url().endsWith("/rotate") && r.request().resourceType() === "document");
    await page.goto("http://evil.test/");
    await submitted;
    expect(sent).toBe(2);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(await readValue("app/db/password")).toBe(dbPassword);
    await context.close();
  });
});

describe("compare, import, transit, audit", () => {
  it("compares two prefixes by keyed fingerprint, and shows values only when a row is revealed", async () => {
    for (const [path, value] of [
      ["cmp/staging/A", "1"],
      ["cmp/staging/B", "2"],
      ["cmp/staging/ONLY_S", "x"],
      ["cmp/production/A", "1"],
      ["cmp/production/B", "other"],
      ["cmp/production/ONLY_P", "y"],
    ]) {
      await rootApi("POST", `/secrets/store/${path}`, { value });
    }
    const { context, page, seen } = await freshContext();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/diff`);
    await page.fill("#diff-left", "cmp/staging");
    await page.fill("#diff-right", "cmp/production");
    await page.click("#diff-go");
    await page.waitForSelector('tr[data-key="A"]');
    expect(await page.getAttribute('tr[data-key="ONLY_S"]', "data-kind")).toBe("only-left");
    expect(await page.getAttribute('tr[data-key="ONLY_P"]', "data-kind")).toBe("only-right");
    // Same and differs come from the server's keyed fingerprints: no value was read to say so.
    expect(await page.getAttribute('tr[data-key="A"]', "data-kind")).toBe("same");
    expect(await page.getAttribute('tr[data-key="B"]', "data-kind")).toBe("differs");
    expect(await page.textContent('tr[data-key="A"]')).toContain("same value");
    expect(seen.filter((r) => r.url.includes("/console/api/secrets/store/cmp/"))).toEqual([]);
    expect(await page.content()).not.toContain("other");
    await screenshot(page, "08-compare");
    // A reveal per row reads both values (audited), hidden again after 30 s.
    await page.click('tr[data-key="B"] [data-action="reveal-pair"]');
    await expect.poll(() => page.textContent("#diff-result")).toContain("other");
    await context.close();
  });

  it("previews a bulk import, marks a conflict and refuses to apply it, then applies all of a clean one", async () => {
    await rootApi("POST", "/secrets/store/imp/EXISTING", { value: "old" });
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/import`);
    await page.fill("#import-prefix", "imp");
    await page.fill("#import-text", '# a comment\nNEW_ONE=abc\nexport EXISTING="new"\n');
    await page.click("#import-preview-button");
    await page.waitForSelector("#import-apply");
    expect(await page.locator("tr.conflict").count()).toBe(1);
    expect(await page.isDisabled("#import-apply")).toBe(true);
    expect(await page.content()).not.toContain("abc");
    await screenshot(page, "09-import-conflict");
    await page.fill("#import-text", '{"NEW_ONE": "abc", "NEW_TWO": "def"}');
    await page.click("#import-preview-button");
    await expect.poll(() => page.isDisabled("#import-apply")).toBe(false);
    await page.click("#import-apply");
    await page.waitForSelector("#import-done");
    expect(await readValue("imp/NEW_ONE")).toBe("abc");
    expect(await readValue("imp/NEW_TWO")).toBe("def");
    expect(await readValue("imp/EXISTING")).toBe("old");
    await context.close();
  });

  it("creates a transit key and round-trips encrypt and decrypt", async () => {
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/transit`);
    await page.fill("#transit-key", "console-demo");
    await page.click("#transit-create");
    await expect.poll(() => page.textContent("#transit-info")).toContain("aes256-gcm");
    // The key list shows it; rotate from the list.
    await page.waitForSelector('#transit-keys tr[data-key="console-demo"]');
    expect(await page.textContent('#transit-keys tr[data-key="console-demo"]')).toContain("v1");
    await page.click('#transit-keys tr[data-key="console-demo"] [data-action="rotate"]');
    await expect.poll(() => page.textContent('#transit-keys tr[data-key="console-demo"]')).toContain("v2");
    await page.fill("#transit-input", "attack at dawn ✓");
    await page.click("#transit-encrypt");
    await expect.poll(() => page.textContent("#transit-out")).toMatch(/^hush:v2:/);
    const ciphertext = (await page.textContent("#transit-out"))!;
    await page.fill("#transit-input", ciphertext);
    await page.click("#transit-decrypt");
    await expect.poll(() => page.textContent("#transit-out")).toBe("attack at dawn ✓");
    await screenshot(page, "10-transit");
    await context.close();
  });

  it("shows the audit log, with the console's sign-in, and the chain's verify state", async () => {
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/audit`);
    await page.fill("#audit-action", "console.signin");
    await page.click("#audit-filter button");
    await expect.poll(() => page.locator("#audit-rows tr").count()).toBeGreaterThan(0);
    expect(await page.textContent("#audit-rows")).toContain("console.signin");
    await expect.poll(() => page.textContent("#audit-verify")).toMatch(/Chain verified|Chain broken/);
    await screenshot(page, "11-audit");
    await context.close();
  });
});

describe("shares and leases", () => {
  it("creates a share link (shown once), shows its status and revokes it", async () => {
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/shares`);
    await page.fill("#share-value", "shared-once-Vq7");
    await page.click("#share-create");
    await page.waitForSelector("#share-link");
    expect(await page.textContent("#share-link")).toMatch(/\/s\/[A-Za-z0-9]{22}#hshr_/);
    const id = (await page.textContent("#share-link"))!.match(/\/s\/([A-Za-z0-9]{22})/)![1]!;
    await page.waitForSelector(`tr[data-share="${id}"][data-state="active"]`);
    expect(await page.content()).not.toContain("shared-once-Vq7");
    await screenshot(page, "15-shares");
    await page.click(`tr[data-share="${id}"] [data-action="revoke"]`);
    await page.waitForSelector(`tr[data-share="${id}"][data-state="revoked"]`);
    expect((await rootApi("GET", `/secrets/shares/${id}`)).state).toBe("revoked");
    await context.close();
  });

  it("lists leases and revokes one", async () => {
    const lease = await rootApi("POST", "/ephemeral/api-keys", { subject: "console-lease", scopes: ["secrets:read"], ttl_seconds: 600 });
    const { context, page } = await freshContext();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/leases`);
    await page.waitForSelector(`tr[data-lease="${lease.lease_id}"][data-state="issued"]`);
    await screenshot(page, "16-leases");
    await page.click(`tr[data-lease="${lease.lease_id}"] [data-action="revoke"]`);
    await expect.poll(() => page.getAttribute(`tr[data-lease="${lease.lease_id}"]`, "data-state")).toMatch(/^revok/);
    expect((await rootApi("GET", `/secrets/leases/${lease.lease_id}`)).state).toMatch(/^revok/);
    await context.close();
  });
});

describe("phone size", () => {
  it("works at 390 px wide without sideways scrolling, in light and dark", async () => {
    for (const scheme of ["light", "dark"] as const) {
      const context = await browser.newContext({ ...PHONE, colorScheme: scheme });
      const page = await context.newPage();
      await page.goto(`${addr}/console`);
      await page.waitForSelector("#signin-token", { state: "visible" });
      if (scheme === "light") await screenshot(page, "06-phone-sign-in");
      await signIn(page, rootToken);
      await openSecret(page, "app/db/password");
      await page.click("#reveal");
      await page.waitForSelector("#revealed-value");
      expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      await screenshot(page, `07-phone-secret-${scheme}`);
      await context.close();
    }
  });
});

describe("the console's script", () => {
  it("is small: the whole first load is one module under 150 KiB gzipped", () => {
    const js = readFileSync(join(root, "public", "console", "assets", "console.js"));
    expect(gzipSync(js).length).toBeLessThan(150 * 1024);
  });
});
