import { inject, describe, expect, it } from "vitest";

describe("the dev server used by client suites", () => {
  it("serves the API with the test root token", async () => {
    const addr = inject("hushAddr");
    const res = await fetch(`${addr}/api/v1/tokens/self`, { headers: { authorization: `Bearer ${inject("hushRootToken")}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { subject: string }).subject).toBe("root");
  });
});
