import { describe, expect, it } from "vitest";
import { api, expectProblem, sendUntilLimited } from "../helpers";

describe("failed authentication is rate-limited", () => {
  it("per client IP: after 10 failures a minute the answer is 429 with Retry-After; good tokens still work", async () => {
    const ip = { "cf-connecting-ip": "203.0.113.7" };
    let i = 0;
    const { passed } = await sendUntilLimited(10, () => api("GET", "/api/v1/tokens/self", { token: `hush_guess${i}${"x".repeat(30)}${i++}`, headers: ip }));
    expect(passed.length).toBeGreaterThanOrEqual(10);
    expect(new Set(passed)).toEqual(new Set([401]));
    const limited = await api("GET", "/api/v1/tokens/self", { token: "hush_guess-more", headers: ip });
    expectProblem(limited, 429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect((await api("GET", "/api/v1/tokens/self", { headers: ip })).status).toBe(200);
    expectProblem(await api("GET", "/api/v1/tokens/self", { token: "hush_guess-other-ip", headers: { "cf-connecting-ip": "203.0.113.8" } }), 401);
  });

  it("per token prefix, whatever the IP", async () => {
    let i = 0;
    const { passed, limited } = await sendUntilLimited(10, () => api("GET", "/api/v1/tokens/self", { token: `hush_SAMEPREFIX${i++}zzzzzzzzzzzzzzzzzzzzzzz` }));
    expect(passed.length).toBeGreaterThanOrEqual(10);
    expect(new Set(passed)).toEqual(new Set([401]));
    expectProblem(limited, 429);
  });
});
