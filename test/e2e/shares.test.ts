// The share pages in a real browser: headless Chromium (the machine's /usr/bin/chromium, else the
// one packaged for npm, see test/support/chromium.ts) driven by playwright-core against
// `wrangler dev` (test/node/dev-server.ts). Set HUSH_SCREENSHOTS=<dir> to keep a
// phone-sized screenshot of each page for a human to look at.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../support/browser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const addr = inject("hushAddr");
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const shots = process.env.HUSH_SCREENSHOTS;

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

interface Seen {
  url: string;
  body: string | null;
  referer: string | undefined;
}

/** A fresh browser profile that records every request its pages make. */
async function freshContext(): Promise<{ context: BrowserContext; page: Page; seen: Seen[] }> {
  const context = await browser.newContext(PHONE);
  const seen: Seen[] = [];
  context.on("request", (req) => seen.push({ url: req.url(), body: req.postData(), referer: req.headers().referer }));
  const page = await context.newPage();
  page.on("pageerror", (err) => {
    throw err;
  });
  return { context, page, seen };
}

async function screenshot(page: Page, name: string) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Fills the create form on / and returns the link it shows. */
async function createOnPage(secret: string, options: { passphrase?: string; views?: string } = {}) {
  const { context, page, seen } = await freshContext();
  await page.goto(`${addr}/`);
  await screenshot(page, "1-create");
  await page.fill("#secret", secret);
  if (options.views) await page.selectOption("#views", options.views);
  if (options.passphrase) await page.fill("#passphrase", options.passphrase);
  await page.click("#create-button");
  await page.waitForSelector("#link", { state: "visible" });
  const link = await page.inputValue("#link");
  await screenshot(page, "2-link");
  expect(await page.inputValue("#secret")).toBe("");
  await context.close();
  return { link, seen };
}

async function revealOnPage(page: Page) {
  await page.click("#reveal");
  await page.waitForSelector("#confirm-reveal:not([disabled])");
  await page.click("#confirm-reveal");
}

function expectKeyNeverSent(seen: Seen[], key: string, secret: string) {
  expect(seen.length).toBeGreaterThan(0);
  for (const req of seen) {
    expect(req.url, req.url).not.toContain("#");
    expect(req.url).not.toContain(key);
    expect(req.referer ?? "").not.toContain(key);
    expect(req.body ?? "").not.toContain(key);
    expect(req.body ?? "").not.toContain(secret);
  }
}

describe("share pages in Chromium", () => {
  it("creates a link on /, reveals the exact secret once in a fresh browser, then says already viewed", async () => {
    const secret = `correct horse battery staple ✓\nline 2: ${Date.now()}`;
    const created = await createOnPage(secret);
    expect(created.link).toMatch(new RegExp(`^${addr}/s/[A-Za-z0-9]{22}#[A-Za-z0-9_-]{43}$`));
    const key = created.link.split("#")[1]!;

    const { context, page, seen } = await freshContext();
    await page.goto(created.link);
    await expect.poll(() => page.textContent("h1")).toBe("Someone sent you a secret");
    await screenshot(page, "3-open");
    await page.click("#reveal");
    await page.waitForSelector("#confirm", { state: "visible" });
    await screenshot(page, "4-confirm");
    await page.waitForSelector("#confirm-reveal:not([disabled])");
    await page.click("#confirm-reveal");
    await page.waitForSelector("#revealed", { state: "visible" });
    expect(await page.inputValue("#secret")).toBe(secret);
    expect(await page.textContent("#views-after")).toContain("only view");
    await screenshot(page, "5-revealed");

    await page.reload();
    await expect.poll(() => page.textContent("h1")).toBe("This secret was already viewed");
    expect(await page.content()).not.toContain(secret);
    await screenshot(page, "6-viewed");

    // The key lives only in the fragment: no request either page made carries it.
    expectKeyNeverSent(created.seen, key, secret);
    expectKeyNeverSent(seen, key, secret);
    expect(seen.some((r) => r.url.endsWith("/reveal"))).toBe(true);
    await context.close();
  });

  it("asks for the passphrase, reports a wrong one, and reveals with the right one", async () => {
    const secret = "behind a passphrase";
    const { link } = await createOnPage(secret, { passphrase: "tr0ub4dor&3" });
    const { context, page, seen } = await freshContext();
    await page.goto(link);
    await page.waitForSelector("#passphrase");
    await page.fill("#passphrase", "wrong one");
    await revealOnPage(page);
    await expect.poll(() => page.textContent("#reveal-error")).toContain("4 attempt(s) left");
    await screenshot(page, "7-wrong-passphrase");
    await page.fill("#passphrase", "tr0ub4dor&3");
    await revealOnPage(page);
    await page.waitForSelector("#revealed", { state: "visible" });
    expect(await page.inputValue("#secret")).toBe(secret);
    expectKeyNeverSent(seen, link.split("#")[1]!, secret);
    await context.close();
  });

  it("does not reveal on script-made clicks, the way a scanner's sandbox clicks", async () => {
    const { link } = await createOnPage("not for sandboxes");
    const id = new URL(link).pathname.split("/")[2];
    const { context, page } = await freshContext();
    await page.goto(link);
    await page.waitForSelector("#reveal");
    // Runs in the page (a string: this file is type-checked without DOM types).
    await page.evaluate(`
      document.getElementById("reveal").click();
      const confirm = document.getElementById("confirm-reveal");
      confirm.disabled = false;
      confirm.click();
      for (const button of document.querySelectorAll("button")) button.click();
    `);
    await page.waitForTimeout(1500);
    expect(await page.isVisible("#revealed")).toBe(false);
    const stillThere = await fetch(`${addr}/api/v1/shares/${id}/nonce`, { method: "POST" });
    expect(stillThere.status).toBe(200);
    expect(((await stillThere.json()) as { views_left: number }).views_left).toBe(1);
    await context.close();
  });

  it("explains an incomplete link instead of spending the view", async () => {
    const { link } = await createOnPage("needs the key");
    const { context, page } = await freshContext();
    await page.goto(link.split("#")[0]!);
    await expect.poll(() => page.textContent("#reveal-error")).toContain("incomplete");
    expect(await page.isDisabled("#reveal")).toBe(true);
    await context.close();
  });
});
