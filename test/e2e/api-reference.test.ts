// The API reference (/docs) in a real browser: Swagger UI served by the Worker itself renders
// /openapi.json under CSP 'self' with no violation, groups and filters the operations, and
// try-it sends a real request with the bearer token typed into Authorize.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/browser";

const addr = inject("hushAddr");
const rootToken = inject("hushRootToken");

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

interface Watched {
  page: Page;
  violations: string[];
  errors: string[];
  requests: { url: string; authorization?: string }[];
}

async function openDocs(): Promise<Watched> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const watched: Watched = { page, violations: [], errors: [], requests: [] };
  // CDP-injected, so CSP does not apply to it; it only listens.
  await page.addInitScript({
    content: `window.__violations = []; document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));`,
  });
  page.on("console", (msg) => {
    if (msg.type() === "error") watched.errors.push(msg.text());
  });
  page.on("pageerror", (err) => watched.errors.push(String(err)));
  page.on("request", (req) => watched.requests.push({ url: req.url(), authorization: req.headers().authorization }));
  await page.goto(`${addr}/docs`);
  await page.waitForSelector(".opblock", { timeout: 30_000 });
  // Give late work (fonts, images, lazy styles) a moment to be refused if it is going to be.
  await page.waitForTimeout(500);
  watched.violations = (await page.evaluate("window.__violations")) as string[];
  return watched;
}

describe("GET /docs in Chromium", () => {
  it("renders every operation of /openapi.json, grouped by tag, with no CSP violation and nothing from another origin", async () => {
    const { page, violations, errors, requests } = await openDocs();
    const doc = (await (await fetch(`${addr}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    expect(await page.locator(".opblock").count()).toBe(operations);
    const tags = await page.locator(".opblock-tag").allInnerTexts();
    expect(tags.join(" ")).toMatch(/secrets/i);
    expect(tags.length).toBeGreaterThan(5);
    // The Authorize button exists because the document declares bearer auth.
    await expect(page.locator(".btn.authorize").count()).resolves.toBe(1);
    expect(violations).toEqual([]);
    expect(errors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
    expect(requests.filter((r) => !r.url.startsWith(addr) && !r.url.startsWith("data:"))).toEqual([]);
    await page.context().close();
  });

  it("filters operations by tag, and shows a request body's schema and example", async () => {
    const { page } = await openDocs();
    await page.fill(".operation-filter-input", "transit");
    await expect.poll(() => page.locator(".opblock-tag").count(), { timeout: 10_000 }).toBe(1);
    expect((await page.locator(".opblock-tag").innerText()).toLowerCase()).toContain("transit");
    await page.fill(".operation-filter-input", "");
    const create = page.locator(".opblock-post", { has: page.locator('[data-path="/api/v1/secrets/store/{path}"]') });
    await create.locator(".opblock-summary").click();
    await create.locator(".opblock-body").waitFor();
    const body = await create.locator(".opblock-body").innerText();
    expect(body).toContain("path");
    expect(body).toMatch(/Request body/i);
    expect(body).toContain('"value"');
    await page.context().close();
  });

  it("try-it sends the request to this server with the bearer token from Authorize and shows the answer", async () => {
    const { page, requests } = await openDocs();
    await page.click(".btn.authorize");
    await page.fill(".modal-ux input", rootToken);
    await page.click(".modal-ux .auth-btn-wrapper .authorize");
    await page.click(".modal-ux .btn-done");
    const self = page.locator(".opblock-get", { has: page.locator('[data-path="/api/v1/tokens/self"]') });
    await self.locator(".opblock-summary").click();
    await self.locator(".try-out__btn").click();
    await self.locator(".execute").click();
    const status = self.locator(".live-responses-table tbody .response-col_status");
    await status.waitFor({ timeout: 15_000 });
    expect((await status.innerText()).trim()).toBe("200");
    expect(await self.locator(".live-responses-table tbody .response-col_description").innerText()).toContain("subject");
    const sent = requests.find((r) => r.url === `${addr}/api/v1/tokens/self`);
    expect(sent?.authorization).toBe(`Bearer ${rootToken}`);
    // Swagger UI keeps the token in memory only (persistAuthorization: false).
    expect(await page.evaluate("JSON.stringify({ ...localStorage })")).not.toContain(rootToken);
    await page.context().close();
  });
});

describe("problem pages in Chromium", () => {
  it("a problem's type URL opens its page on this deployment", async () => {
    const res = await fetch(`${addr}/api/v1/secrets/store/none`);
    const problem = (await res.json()) as { type: string };
    expect(problem.type).toBe(`${addr}/problems/unauthorized`);
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on("console", (msg) => msg.type() === "error" && violations.push(msg.text()));
    const answer = await page.goto(problem.type);
    expect(answer?.status()).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("No valid credential");
    expect(violations).toEqual([]);
    await page.close();
  });
});
