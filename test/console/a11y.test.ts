// The console's quality checks in real Chromium against `wrangler dev`: axe-core on every page (no
// serious or critical violation), how long each page takes to become interactive, sign-in through a
// login role, and the everyday changes (write, rotate, delete, undelete) from the panel.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/browser";
import { rootApi, signIn } from "../support/console";

const addr = inject("hushAddr");
const rootToken = inject("hushRootToken");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
let browser: Browser;

/** axe-core's serious and critical violations on the page as it is now (evaluated over CDP, so the page's CSP stays as it is). */
async function axeViolations(page: Page) {
  await page.evaluate(axeSource);
  // A string, so it runs in the page (whose `document` this Node-side file does not type).
  const result = await page.evaluate<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>(
    'axe.run(document, { resultTypes: ["violations"] })',
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(" "))
          .join(", ")}`,
    );
}

beforeAll(async () => {
  browser = await launchChromium();
  await rootApi("PUT", "/secrets/store/a11y/app/db", { value: "a11y-secret-value", environment: "staging", tags: ["db"] });
  await rootApi("PUT", "/secrets/store/a11y/app/url", { value: "postgres://${secret.a11y/app/db}@db" });
  await rootApi("PUT", "/secrets/store/a11y/app/db", { value: "a11y-secret-value-2" });
  await rootApi("PUT", "/secrets/store/a11y/other/db", { value: "a11y-secret-value" });
  await rootApi("POST", "/secrets/shares", { value: "a11y-share" });
  await rootApi("POST", "/ephemeral/api-keys", { subject: "a11y-lease", scopes: ["secrets:read"], ttl_seconds: 600 });
  await rootApi("POST", "/transit/keys/a11y-key", { type: "aes256-gcm" }).catch(() => null);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

// Each page, and what shows it is ready to use (its data drawn, its controls enabled).
const PAGES: { name: string; hash: string; ready: string; act?: (page: Page) => Promise<void> }[] = [
  { name: "Secrets (tree + panel + history)", hash: "#/secrets/a11y/app/db", ready: 'tr[data-version="2"]' },
  {
    name: "Secrets (revealed, references)",
    hash: "#/secrets/a11y/app/url",
    ready: "#reveal",
    act: async (page) => {
      await page.click("#reveal");
      await page.waitForSelector('li[data-ref][data-ref-state="ok"]');
    },
  },
  {
    name: "Compare",
    hash: "#/diff",
    ready: "#diff-go",
    act: async (page) => {
      await page.fill("#diff-left", "a11y/app");
      await page.fill("#diff-right", "a11y/other");
      await page.click("#diff-go");
      await page.waitForSelector('tr[data-key="db"]');
    },
  },
  {
    name: "Import",
    hash: "#/import",
    ready: "#import-preview-button",
    act: async (page) => {
      await page.fill("#import-text", "A=1\nB=2\n");
      await page.click("#import-preview-button");
      await page.waitForSelector("#import-apply");
    },
  },
  { name: "Transit", hash: "#/transit", ready: '#transit-keys tr[data-key="a11y-key"]' },
  { name: "Shares", hash: "#/shares", ready: "#share-rows tr[data-share]" },
  { name: "Leases", hash: "#/leases", ready: "#lease-rows tr[data-lease]" },
  { name: "Audit", hash: "#/audit", ready: "#audit-rows tr" },
  { name: "Tokens", hash: "#/tokens", ready: "#token-rows tr" },
];

describe("accessibility and time to interactive", () => {
  it("has no serious or critical axe-core violation on any page, light and dark, and times each page until it is interactive", async () => {
    const failures: string[] = [];
    const timings: string[] = [];
    for (const scheme of ["light", "dark"] as const) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: scheme });
      const page = await context.newPage();
      await page.goto(`${addr}/console`);
      await page.waitForSelector("#signin-token", { state: "visible" });
      for (const v of await axeViolations(page)) failures.push(`${scheme} Sign in: ${v}`);
      await signIn(page, rootToken);
      for (const p of PAGES) {
        // A full load of the page (the shell, its script, the session, the page's data), as a bookmark gives,
        // timed by the browser: from navigation start to the page's data drawn.
        await page.goto("about:blank");
        await page.goto(`${addr}/console${p.hash}`);
        await page.waitForSelector(p.ready);
        const ms = Math.round(await page.evaluate(() => performance.now()));
        if (scheme === "light") timings.push(`${p.name}: ${ms} ms`);
        await p.act?.(page);
        for (const v of await axeViolations(page)) failures.push(`${scheme} ${p.name}: ${v}`);
      }
      await context.close();
    }
    console.info(`[console] interactive after a full load:\n  ${timings.join("\n  ")}`);
    expect(failures).toEqual([]);
  }, 180_000);

  it("is usable at 390 px with no serious or critical violation", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/secrets/a11y/app/db`);
    await page.waitForSelector('tr[data-version="2"]');
    expect(await axeViolations(page)).toEqual([]);
    await context.close();
  });
});

describe("sign-in through a login role", () => {
  it("turns a role's JWT into a session with the role's policy: a read-only console for a read policy", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "console-k1", alg: "ES256" };
    await rootApi("PUT", "/auth/policies/console-reader", { rules: [{ paths: ["a11y/*"], capabilities: ["read", "list"] }] });
    await rootApi("POST", "/auth/roles", {
      name: "console-ci",
      issuer: "https://issuer.console.test",
      audience: "hush-console",
      jwks: { keys: [jwk] },
      bound_claims: { sub: "person:alice" },
      policies: ["console-reader"],
    });
    const jwt = await new SignJWT({ sub: "person:alice" })
      .setProtectedHeader({ alg: "ES256", kid: "console-k1", typ: "JWT" })
      .setIssuer("https://issuer.console.test")
      .setAudience("hush-console")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${addr}/console`);
    await page.click("details summary");
    await page.waitForSelector("#login-role", { state: "visible" });
    await page.fill("#login-role", "console-ci");
    await page.fill("#login-jwt", jwt);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("#logout:visible");
    expect(await page.isVisible("#readonly-badge")).toBe(true);
    await page.goto(`${addr}/console#/secrets/a11y/app/db`);
    await page.waitForSelector("#panel-title");
    expect(await page.locator("#write, #rotate, #delete").count()).toBe(0);
    await page.click("#reveal");
    await expect.poll(() => page.textContent("#revealed-value")).toBe("a11y-secret-value-2");
    // The JWT is not kept by the page: no cookie or storage holds it.
    const cookies = await context.cookies(addr);
    expect(cookies.map((c) => c.value).join(" ")).not.toContain(jwt.split(".")[2]!);
    // A forged JWT is refused with a message.
    const other = await browser.newContext();
    const bad = await other.newPage();
    await bad.goto(`${addr}/console`);
    await bad.click("details summary");
    await bad.fill("#login-role", "console-ci");
    await bad.fill("#login-jwt", `${jwt.slice(0, -4)}AAAA`);
    await bad.click("#login-form button[type=submit]");
    await bad.waitForSelector("#signin-error:visible");
    await other.close();
    await context.close();
  });
});

describe("changes from the panel", () => {
  it("writes a version, rotates with generate, deletes (after a confirm) and undeletes", async () => {
    await rootApi("PUT", "/secrets/store/a11y/change/me", { value: "first" });
    const read = async () => (await rootApi("GET", "/secrets/store/a11y/change/me")).value as string;
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, rootToken);
    await page.goto(`${addr}/console#/secrets/a11y/change/me`);
    await page.waitForSelector("#write");
    await page.click("#write");
    await page.fill("#write-value", "second");
    await page.click("#write-form button[type=submit]");
    await expect.poll(read).toBe("second");
    await page.waitForSelector('tr[data-version="2"]');
    await page.click("#rotate");
    await expect.poll(async () => (await read()).length).toBe(32);
    let asked = "";
    page.once("dialog", (d) => ((asked = d.message()), d.accept()));
    await page.click("#delete");
    await page.waitForSelector("#undelete");
    expect(asked).toContain("a11y/change/me");
    expect((await fetch(`${addr}/api/v1/secrets/store/a11y/change/me`, { headers: { authorization: `Bearer ${rootToken}` } })).status).toBe(404);
    await page.click("#undelete");
    await page.waitForSelector("#reveal");
    expect((await read()).length).toBe(32);
    await context.close();
  });
});
