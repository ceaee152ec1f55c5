import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE } from "../helpers";
import { createE2e, createSealed, redeem, reveal, storedRow } from "./share-helpers";

/** User agents of link previewers and mail scanners that fetch links before the recipient does. */
const PREVIEW_BOTS = [
  "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
  "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
  "Mozilla/5.0 (compatible; Microsoft Office/16.0; ms-office; MSOffice 16) Outlook Safe Links",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36 Proofpoint",
  "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
  "Twitterbot/1.0",
  "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
  "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
  "TelegramBot (like TwitterBot)",
  "WhatsApp/2.23.20.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];

const page = (path: string, init: RequestInit = {}) => exports.default.fetch(new Request(`${BASE}${path}`, init));

function expectStrictHeaders(res: Response) {
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("x-robots-tag")).toMatch(/noindex/);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("unsafe-inline");
  expect(csp).not.toContain("unsafe-eval");
  expect(csp).not.toMatch(/https?:/);
}

function expectNoInlineCode(html: string) {
  expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
  expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  expect(html).not.toMatch(/<style/i);
  expect(html).not.toMatch(/\sstyle=/i);
  expect(html).not.toMatch(/property="og:|name="twitter:|name="description"/i);
  for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(src[1]).toMatch(/^\//);
}

describe("GET /s/{id}", () => {
  it("never consumes the share on GET or HEAD, whatever the user agent", async () => {
    const { id, key } = await createE2e("not for bots");
    for (const ua of PREVIEW_BOTS) {
      for (const method of ["GET", "HEAD"]) {
        const res = await page(`/s/${id}`, { method, headers: { "user-agent": ua } });
        expect(res.status, `${method} ${ua}`).toBe(200);
        const html = await res.text();
        if (method === "GET") {
          expect(html).toContain("Someone sent you a secret");
          expect(html).not.toContain(key);
        }
      }
    }
    expect((await storedRow(id))?.views_left).toBe(1);
    const revealed = await reveal(id);
    expect(revealed.status).toBe(200);
  });

  it("shows the expiry and a Reveal button, and leaks nothing to previews", async () => {
    const { id, ciphertext } = await createE2e("preview me", { passphrase: "p" });
    const res = await page(`/s/${id}`);
    expectStrictHeaders(res);
    const html = await res.text();
    expectNoInlineCode(html);
    expect(html).toContain('id="reveal"');
    expect(html).toContain('id="passphrase"');
    expect(html).toMatch(/expires <time datetime="\d{4}-\d\d-\d\dT/);
    expect(html).not.toContain(ciphertext.slice(0, 20));
    expect(html).toContain("<title>Hush</title>");
  });

  it("says it was already viewed, and when, never the secret", async () => {
    const { id } = await createE2e("one look");
    await reveal(id);
    const res = await page(`/s/${id}`);
    expect(res.status).toBe(410);
    const html = await res.text();
    expect(html).toContain("already viewed");
    expect(html).toMatch(/viewed <time datetime="\d{4}/);
    expect(html).not.toContain('id="reveal"');
  });

  it("says when a share expired or was revoked, and 404s an unknown link", async () => {
    const sealed = await createSealed("bye");
    await api("DELETE", `/api/v1/secrets/shares/${sealed.id}`);
    expect(await (await page(`/s/${sealed.id}`)).text()).toContain("revoked");
    const unknown = await page("/s/AAAAAAAAAAAAAAAAAAAAAA");
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("not valid");
    expect((await page("/s/..%2Fetc")).status).toBe(404);
    const viewed = await createSealed("seen");
    await redeem(viewed.token);
    expect((await page(`/s/${viewed.id}`)).status).toBe(410);
  });

  it("answers 405 to a POST on the page itself", async () => {
    const { id } = await createE2e("x");
    const res = await page(`/s/${id}`, { method: "POST" });
    expect(res.status).toBe(405);
    expect((await storedRow(id))?.views_left).toBe(1);
  });
});

describe("GET / and /share", () => {
  it("serves the create form with strict headers and no inline code", async () => {
    for (const path of ["/", "/share"]) {
      const res = await page(path);
      expect(res.status).toBe(200);
      expectStrictHeaders(res);
      const html = await res.text();
      expectNoInlineCode(html);
      expect(html).toContain('id="secret"');
      expect(html).toContain('name="viewport"');
      expect(html).not.toContain('id="token"');
    }
  });

  it("serves its scripts and styles from the Worker", async () => {
    for (const [name, type] of [
      ["share-common.js", "text/javascript"],
      ["share-create.js", "text/javascript"],
      ["share-open.js", "text/javascript"],
      ["share.css", "text/css"],
    ]) {
      const res = await page(`/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get("content-type")).toContain(type!);
      expectStrictHeaders(res);
      expect((await res.text()).length).toBeGreaterThan(100);
    }
    expect((await page("/assets/nope.js")).status).toBe(404);
  });
});

describe("headers elsewhere", () => {
  it("leaves the rest of the app alone: /healthz has no page headers", async () => {
    expect((await page("/healthz")).headers.get("x-frame-options")).toBeNull();
  });
});

describe("API headers", () => {
  it("marks share API responses private, unindexed and unframeable", async () => {
    const { id } = await createE2e("headers");
    const res = await page(`/api/v1/shares/${id}/nonce`, { method: "POST" });
    expect(res.status).toBe(200);
    expectStrictHeaders(res);
  });
});
