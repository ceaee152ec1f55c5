import { beforeAll, describe, expect, it } from "vitest";
import { api, tokenWith } from "../helpers";
import { putPolicy, uniqueName } from "../identity/helpers";
import { mint } from "../trust/helpers";

/** GET /api/v1/transit/keys: which keys a token sees, and that no key material is in the answer. */
describe("GET /api/v1/transit/keys", () => {
  const names = [uniqueName("kl-a"), uniqueName("kl-b"), uniqueName("kl-c")];
  const all = async (token?: string) => {
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; text: string; body: any } = await api("GET", `/api/v1/transit/keys?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token });
      expect(res.status, res.text).toBe(200);
      seen.push(...res.body.items);
      cursor = res.body.next_cursor;
    } while (cursor);
    return seen.filter((k) => names.includes(k.name));
  };

  beforeAll(async () => {
    for (const [i, name] of names.entries()) {
      const res = await api("POST", `/api/v1/transit/keys/${name}`, { body: { type: i === 1 ? "ed25519" : "aes256-gcm" } });
      expect(res.status, res.text).toBe(201);
    }
    expect((await api("POST", `/api/v1/transit/keys/${names[0]}/rotate`)).status).toBe(200);
  });

  it("lists keys by name, paged, with type and latest version and no key material", async () => {
    const keys = await all();
    expect(keys.map((k) => [k.name, k.type, k.latest_version])).toEqual([
      [names[0], "aes256-gcm", 2],
      [names[1], "ed25519", 1],
      [names[2], "aes256-gcm", 1],
    ]);
    for (const k of keys)
      expect(Object.keys(k).sort()).toEqual([
        "created_at",
        "created_by",
        "deletion_allowed",
        "latest_version",
        "min_decryption_version",
        "name",
        "type",
        "updated_at",
      ]);
  });

  it("a policy token sees only the keys its policy names; a token without transit is refused", async () => {
    const policy = await putPolicy(uniqueName("kl-pol"), [{ paths: [names[1]!], capabilities: ["admin"] }]);
    const { token } = await mint({ subject: uniqueName("kl-user"), policies: [policy] });
    expect((await all(token)).map((k) => k.name)).toEqual([names[1]]);
    const secretsOnly = (await tokenWith(["secrets:read", "secrets:write"])).token;
    // A token with no transit scope and no policy is refused the list (403, audited), not shown an empty one.
    expect((await api("GET", "/api/v1/transit/keys", { token: secretsOnly })).status).toBe(403);
    // And it cannot read one by name either.
    expect((await api("GET", `/api/v1/transit/keys/${names[0]}`, { token: secretsOnly })).status).toBe(403);
  });

  it("refuses a bad cursor or limit with a problem document", async () => {
    for (const q of ["limit=0", "limit=5000", "cursor=bad%20name"]) {
      const res = await api("GET", `/api/v1/transit/keys?${q}`);
      expect(res.status, `${q}: ${res.text}`).toBe(400);
    }
  });
});
