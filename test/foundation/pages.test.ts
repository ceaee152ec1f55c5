import { describe, expect, it } from "vitest";
import { api, expectProblem } from "../helpers";

describe("pages for people", () => {
  it("a browser asking for an unknown page gets an HTML 404, an API client a problem document", async () => {
    const page = await api("GET", "/no-such-page", { token: null, headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.text).toContain("<h1>Not found</h1>");
    expect(page.headers.get("content-security-policy")).toBe("default-src 'none'");
    expectProblem(await api("GET", "/no-such-page", { token: null }), 404);
    // The API stays JSON even for a browser.
    expectProblem(await api("GET", "/api/v1/no-such-route", { token: null, headers: { accept: "text/html" } }), 401);
    expectProblem(await api("GET", "/api/v1/no-such-route", { headers: { accept: "text/html" } }), 404);
  });

  it("/favicon.ico answers without a 404", async () => {
    const icon = await api("GET", "/favicon.ico", { token: null });
    expect(icon.status).toBe(204);
    expect(icon.headers.get("cache-control")).toContain("max-age");
  });
});
