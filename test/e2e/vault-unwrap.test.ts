// The Vault unwrap page (/vault/unwrap, issue 15) in a real browser: headless Chromium launched
// as in shares.test.ts, against `wrangler dev`. A wrapping token unwraps exactly once, also when
// two browsers press Unwrap at the same moment, and loading the page spends nothing.
import type { Browser, BrowserContext, Page, Route } from "playwright-core";
import { launchChromium } from "../support/browser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const addr = inject("hushAddr");
const rootToken = inject("hushRootToken");

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

async function vault(path: string, init: { body?: unknown; headers?: Record<string, string>; token?: string | null } = {}) {
  const res = await fetch(`${addr}/v1/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(init.token === null ? {} : { "x-vault-token": init.token ?? rootToken }), ...init.headers },
    body: JSON.stringify(init.body ?? {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function wrap(data: Record<string, string>): Promise<string> {
  const res = await vault("sys/wrapping/wrap", { body: data, headers: { "x-vault-wrap-ttl": "5m" } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.wrap_info.token as string;
}

/** Lookup is public and never consumes; it answers 200 only while the token is still unspent. */
const stillUnspent = async (token: string) => (await vault("sys/wrapping/lookup", { token: null, body: { token } })).status === 200;

/** A fresh browser profile on the page with the token in the fragment, recording every request. */
async function openPage(token: string): Promise<{ context: BrowserContext; page: Page; urls: string[] }> {
  const context = await browser.newContext();
  const urls: string[] = [];
  context.on("request", (req) => urls.push(`${req.method()} ${new URL(req.url()).pathname}`));
  const page = await context.newPage();
  page.on("pageerror", (err) => {
    throw err;
  });
  await page.goto(`${addr}/vault/unwrap#${encodeURIComponent(token)}`);
  await page.waitForLoadState("networkidle");
  return { context, page, urls };
}

/** What the page ended up showing after Unwrap: the value, or its error message. */
async function outcome(page: Page): Promise<{ value: string | null; error: string | null; buttonVisible: boolean }> {
  await page.waitForSelector("#unwrapped:not([hidden]), #unwrap-error:not([hidden])");
  const shown = await page.isVisible("#unwrapped");
  return {
    value: shown ? await page.inputValue("#secret") : null,
    error: shown ? null : await page.textContent("#unwrap-error"),
    buttonVisible: await page.isVisible("#unwrap"),
  };
}

describe("the Vault unwrap page in Chromium", () => {
  it("two browsers unwrapping one token at the same moment: one gets the value, the other a clear 'already used'", async () => {
    const secret = `wrapped-${Date.now().toString(36)}`;
    const token = await wrap({ password: secret });
    const a = await openPage(token);
    const b = await openPage(token);
    try {
      // Loading the page (twice, with the token in the fragment) spent nothing and sent no token.
      for (const p of [a, b]) {
        expect(p.urls.filter((u) => u.includes("/sys/wrapping/"))).toEqual([]);
        expect(await p.page.inputValue("#token")).toBe(token);
        expect(p.page.url()).not.toContain("#"); // the page drops the fragment from the address bar and history
      }
      expect(await stillUnspent(token)).toBe(true);

      // Hold both unwrap requests until both have left their browsers, then release them together.
      const held: Route[] = [];
      let bothHeld!: () => void;
      const gate = new Promise<void>((resolve) => (bothHeld = resolve));
      for (const p of [a, b]) {
        await p.page.route("**/v1/sys/wrapping/unwrap", async (route) => {
          held.push(route);
          if (held.length === 2) bothHeld();
          await gate;
          await route.continue();
        });
      }
      await Promise.all([a.page.click("#unwrap"), b.page.click("#unwrap")]);
      await gate;
      const results = await Promise.all([outcome(a.page), outcome(b.page)]);

      const winners = results.filter((r) => r.value !== null);
      const losers = results.filter((r) => r.value === null);
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(1);
      expect(JSON.parse(winners[0]!.value!)).toEqual({ password: secret });
      expect(losers[0]!.error).toMatch(/already used/i);
      expect(losers[0]!.error).not.toContain(secret);
      // Neither page offers to try again: the token cannot work twice.
      expect(results.map((r) => r.buttonVisible)).toEqual([false, false]);

      // And the token is spent for every client, not only for these pages.
      expect(await stillUnspent(token)).toBe(false);
      const again = await vault("sys/wrapping/unwrap", { token: null, body: { token } });
      expect(again.status).toBe(400);
      expect(again.body.errors).toEqual(["wrapping token is not valid or does not exist"]);
      expect(again.headers.get("x-hush-wrapping-state")).toBe("viewed");
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  it("a mistyped token says so and leaves the button to try again; the real token still unwraps afterwards", async () => {
    const token = await wrap({ note: "still here" });
    const p = await openPage(`${token.slice(0, -2)}zz`);
    try {
      await p.page.click("#unwrap");
      const bad = await outcome(p.page);
      expect(bad.value).toBeNull();
      expect(bad.error).toMatch(/not valid/i);
      expect(bad.error).not.toMatch(/already used/i);
      expect(bad.buttonVisible).toBe(true);
      await p.page.fill("#token", token);
      await p.page.click("#unwrap");
      await p.page.waitForSelector("#unwrapped:not([hidden])");
      expect(JSON.parse(await p.page.inputValue("#secret"))).toEqual({ note: "still here" });
    } finally {
      await p.context.close();
    }
  });
});
