import { describe, expect, it } from "vitest";
import { api, expectProblem, sendUntilLimited } from "../helpers";
import { createSealed } from "./share-helpers";

const redeemFrom = (ip: string, token: string, passphrase?: string) =>
  api("POST", "/api/v1/secrets/shares/redeem", {
    token: null,
    body: passphrase === undefined ? { token } : { token, passphrase },
    headers: { "cf-connecting-ip": ip },
  });

describe("failed share redemptions are rate-limited per client IP", () => {
  it("after 30 refused attempts a minute the address gets 429; other addresses and real links are unaffected", async () => {
    const ip = "203.0.113.77";
    const target = await createSealed("rate-limited-secret", { max_views: 10 });
    // Guess tokens for a real share id: each is refused (403) and counted.
    const forged = target.token.replace(/\.[^.]+$/, ".") + "x".repeat(32);
    const { passed, limited } = await sendUntilLimited(30, () => redeemFrom(ip, forged));
    expect(passed.length).toBeGreaterThanOrEqual(30);
    expect(new Set(passed)).toEqual(new Set([403]));
    expectProblem(limited, 429);
    expect(limited.headers.get("retry-after")).toBe("60");

    expectProblem(await redeemFrom("203.0.113.78", forged), 403);
    const real = await redeemFrom("203.0.113.78", target.token);
    expect(real.status).toBe(200);
    expect(real.body.value).toBe("rate-limited-secret");
  });

  it("an already-viewed share (410) is not counted as guessing", async () => {
    const ip = "203.0.113.79";
    const share = await createSealed("viewed-once");
    expect((await redeemFrom(ip, share.token)).status).toBe(200);
    const again: number[] = [];
    for (let i = 0; i < 35; i++) again.push((await redeemFrom(ip, share.token)).status);
    expect(new Set(again)).toEqual(new Set([410]));
  });
});
