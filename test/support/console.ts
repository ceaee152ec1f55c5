// Shared by the console's browser suites (test/console): the root API and the console's sign-in.
import type { Page } from "playwright-core";
import { expect, inject } from "vitest";

/** A call to the API with the root token; throws on anything but 2xx. */
export async function rootApi(method: string, path: string, body?: unknown) {
  const res = await fetch(`${inject("hushAddr")}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${inject("hushRootToken")}`, ...(body !== undefined && { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Signs in on the console's page with a pasted token and waits until the console is shown. */
export async function signIn(page: Page, token: string) {
  await page.goto(`${inject("hushAddr")}/console`);
  await page.waitForSelector("#signin-token", { state: "visible" });
  await page.fill("#signin-token", token);
  await page.click("#signin-button");
  await page.waitForSelector("#logout:visible, #signin-error:visible");
  expect((await page.isVisible("#signin-error")) ? await page.textContent("#signin-error") : "").toBe("");
}
