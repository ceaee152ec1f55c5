import { describe, expect, it } from "vitest";
import { api, tokenWith } from "../helpers";

/** GET /api/v1/secrets/shares: the console's Shares page. Metadata only, paged, newest first. */
describe("GET /api/v1/secrets/shares", () => {
  it("lists the tenant's shares newest first with their state, never a value or token, paged", async () => {
    const made: { id: string; token: string }[] = [];
    for (const value of ["share-one", "share-two", "share-three"]) {
      const res = await api("POST", "/api/v1/secrets/shares", { body: { value, max_views: 2 } });
      expect(res.status, res.text).toBe(201);
      made.push(res.body);
    }
    expect((await api("DELETE", `/api/v1/secrets/shares/${made[1]!.id}`)).status).toBe(200);
    const first = await api("GET", "/api/v1/secrets/shares?limit=2");
    expect(first.status, first.text).toBe(200);
    expect(first.body.items.map((s: any) => s.id)).toEqual([made[2]!.id, made[1]!.id]);
    expect(first.body.items.map((s: any) => s.state)).toEqual(["active", "revoked"]);
    const second = await api("GET", `/api/v1/secrets/shares?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.items[0].id).toBe(made[0]!.id);
    for (const res of [first, second]) {
      for (const secret of ["share-one", "share-two", "share-three", ...made.map((m) => m.token)]) expect(res.text).not.toContain(secret);
    }
  });

  it("shows a token only its own identity's shares: another writer's share ids are not handed out", async () => {
    const sharer = (await tokenWith(["secrets:read", "secrets:write"], { subject: "share-owner" })).token;
    const other = (await tokenWith(["secrets:read", "secrets:write"], { subject: "share-other" })).token;
    const mine = await api("POST", "/api/v1/secrets/shares", { token: sharer, body: { value: "owned-share" } });
    expect(mine.status, mine.text).toBe(201);
    const own = await api("GET", "/api/v1/secrets/shares?limit=200", { token: sharer });
    expect(own.body.items.map((s: any) => s.id)).toContain(mine.body.id);
    expect(own.body.items.every((s: any) => s.created_by === "share-owner")).toBe(true);
    const theirs = await api("GET", "/api/v1/secrets/shares?limit=200", { token: other });
    expect(theirs.status).toBe(200);
    expect(theirs.text).not.toContain(mine.body.id);
    // Root sees every share of the tenant.
    expect((await api("GET", "/api/v1/secrets/shares?limit=200")).body.items.map((s: any) => s.id)).toContain(mine.body.id);
  });

  it("needs a token with secrets:read (401 without one, 403 without the scope) and refuses a bad cursor", async () => {
    expect((await api("GET", "/api/v1/secrets/shares", { token: null })).status).toBe(401);
    expect((await api("GET", "/api/v1/secrets/shares", { token: (await tokenWith(["transit:encrypt"])).token })).status).toBe(403);
    expect((await api("GET", "/api/v1/secrets/shares?cursor=x")).status).toBe(400);
  });
});
