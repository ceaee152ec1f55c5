import { describe, expect, it } from "vitest";
import { api, expectProblem } from "../helpers";

describe("failed authentication is rate-limited", () => {
  it("per client IP: after 10 failures a minute the answer is 429 with Retry-After; good tokens still work", async () => {
    const ip = { "cf-connecting-ip": "203.0.113.7" };
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await api("GET", "/api/v1/tokens/self", { token: `hush_guess${i}${"x".repeat(30)}${i}`, headers: ip })).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    const limited = await api("GET", "/api/v1/tokens/self", { token: "hush_guess-more", headers: ip });
    expectProblem(limited, 429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect((await api("GET", "/api/v1/tokens/self", { headers: ip })).status).toBe(200);
    expectProblem(await api("GET", "/api/v1/tokens/self", { token: "hush_guess-other-ip", headers: { "cf-connecting-ip": "203.0.113.8" } }), 401);
  });

  it("per token prefix, whatever the IP", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await api("GET", "/api/v1/tokens/self", { token: `hush_SAMEPREFIX${i}zzzzzzzzzzzzzzzzzzzzzzz` })).status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
  });
});
