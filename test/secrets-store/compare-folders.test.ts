import { beforeAll, describe, expect, it } from "vitest";
import { api, tokenWith as mintWith } from "../helpers";
import { auditDb } from "../support/audit-store";
import { putPolicy, uniqueName } from "../identity/helpers";
import { mint, put } from "../trust/helpers";

/** GET /secrets/compare and GET /secrets/folders: what each token learns, and what it must not. */

const tokenWith = async (scopes: string[], extra: { paths?: string[] } = {}) => (await mintWith(scopes, extra)).token;
const base = uniqueName("cmpf");
const left = `${base}/staging`;
const right = `${base}/production`;
const compare = (token: string | undefined, l = left, r = right) => api("GET", `/api/v1/secrets/compare?left=${l}&right=${r}`, { token });
const statusOf = (res: { body: any }, key: string) => res.body.items.find((i: any) => i.key === key)?.status;

beforeAll(async () => {
  for (const [path, value] of [
    [`${left}/SAME`, "one"],
    [`${right}/SAME`, "one"],
    [`${left}/DIFF`, "two"],
    [`${right}/DIFF`, "zwei"],
    [`${left}/ONLY_L`, "x"],
    [`${right}/ONLY_R`, "y"],
    [`${left}/DELETED`, "d"],
    [`${right}/DELETED`, "d"],
  ] as const) {
    await put(path, { value, environment: path.includes("/staging/") ? "staging" : "production" });
  }
  expect((await api("DELETE", `/api/v1/secrets/store/${right}/DELETED`)).status).toBe(200);
});

describe("GET /api/v1/secrets/compare", () => {
  it("says only-left, only-right, same and differs from stored MACs, without any value in the answer, and audits it", async () => {
    const res = await compare(undefined);
    expect(res.status, res.text).toBe(200);
    expect(Object.fromEntries(res.body.items.map((i: any) => [i.key, i.status]))).toEqual({
      SAME: "same",
      DIFF: "differs",
      ONLY_L: "only-left",
      ONLY_R: "only-right",
      DELETED: "only-left",
    });
    for (const value of ["one", "two", "zwei"]) expect(res.text).not.toContain(`"${value}"`);
    expect(res.body.counts).toMatchObject({ same: 1, differs: 1, "only-left": 2, "only-right": 1 });
    const row = await auditDb
      .prepare("SELECT detail FROM audit_events WHERE tenant_id = 'default' AND action = 'secret.compare' ORDER BY n DESC LIMIT 1")
      .first<{ detail: string }>();
    expect(JSON.parse(row!.detail)).toMatchObject({ left, right, same: 1, differs: 1 });
  });

  it("compares environments by path without the environment's segment", async () => {
    const res = await compare(undefined, "env:staging", "env:production");
    expect(res.status, res.text).toBe(200);
    expect(statusOf(res, `${base}/SAME`)).toBe("same");
    expect(statusOf(res, `${base}/DIFF`)).toBe("differs");
  });

  it("sees a value change: a rotation to the other side's value makes the row same", async () => {
    await put(`${left}/DIFF`, { value: "zwei" });
    expect(statusOf(await compare(undefined), "DIFF")).toBe("same");
    await put(`${left}/DIFF`, { value: "two" });
    expect(statusOf(await compare(undefined), "DIFF")).toBe("differs");
  });

  it("a token that may list but not read one side learns that the keys exist, never whether the values are equal", async () => {
    const policy = await putPolicy(uniqueName("cmp-list"), [
      { paths: [`${left}/*`], capabilities: ["read", "list"] },
      { paths: [`${right}/*`], capabilities: ["list"] },
    ]);
    const { token } = await mint({ subject: uniqueName("cmp-lister"), policies: [policy] });
    const res = await compare(token);
    expect(res.status, res.text).toBe(200);
    expect(statusOf(res, "SAME")).toBe("withheld");
    expect(statusOf(res, "DIFF")).toBe("withheld");
    // And it cannot read the other side's value to find out.
    expect((await api("GET", `/api/v1/secrets/store/${right}/SAME`, { token })).status).toBe(403);
  });

  it("a token scoped to another prefix sees nothing of that side: every key is only-left", async () => {
    const token = await tokenWith(["secrets:read"], { paths: [`${left}/*`] });
    const res = await compare(token);
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.every((i: any) => i.status === "only-left" && i.right === null)).toBe(true);
    expect(res.text).not.toContain(`${right}/`);
  });

  it("a deny rule on one path withholds that row only", async () => {
    const policy = await putPolicy(uniqueName("cmp-deny"), [
      { paths: [`${base}/*`], capabilities: ["read", "list"] },
      { paths: [`${right}/SAME`], capabilities: ["read"], effect: "deny" },
    ]);
    const { token } = await mint({ subject: uniqueName("cmp-denied"), policies: [policy] });
    const res = await compare(token);
    expect(statusOf(res, "SAME")).toBe("withheld");
    expect(statusOf(res, "DIFF")).toBe("differs");
  });

  it("refuses a token without secrets:read (403) and bad sides (400)", async () => {
    const transit = await tokenWith(["transit:encrypt"]);
    expect((await compare(transit)).status).toBe(403);
    for (const [l, r] of [
      ["../x", right],
      [`${left}/../x`, right],
      ["env:NOT VALID", right],
      ["", right],
    ] as const) {
      const res = await compare(undefined, encodeURIComponent(l), encodeURIComponent(r));
      expect(res.status, `${l} ${r}: ${res.text}`).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
  });
});

describe("GET /api/v1/secrets/folders", () => {
  const tree = `${base}-tree`;
  beforeAll(async () => {
    for (const path of ["a/x/1", "a/x/2", "a/y", "b/1", "top1", "top2", "top3"]) await put(`${tree}/${path}`, { value: "v" });
    await put(`${tree}/hidden/secret`, { value: "v" });
  });
  const folders = (query: string, token?: string) => api("GET", `/api/v1/secrets/folders?${query}`, { token });

  it("lists one level: sub-folders with counts and the secrets directly inside, paginated", async () => {
    const res = await folders(`prefix=${tree}&limit=2`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.folders).toEqual([
      { name: "a", path: `${tree}/a`, count: 3 },
      { name: "b", path: `${tree}/b`, count: 1 },
      { name: "hidden", path: `${tree}/hidden`, count: 1 },
    ]);
    expect(res.body.secrets.map((s: any) => s.path)).toEqual([`${tree}/top1`, `${tree}/top2`]);
    expect(res.text).not.toContain('"value"');
    const next = await folders(`prefix=${tree}&limit=2&cursor=${res.body.next_cursor}`);
    expect(next.body.secrets.map((s: any) => s.path)).toEqual([`${tree}/top3`]);
    expect(next.body.next_cursor).toBeNull();
    const sub = await folders(`prefix=${tree}/a/`);
    expect(sub.body.folders).toEqual([{ name: "x", path: `${tree}/a/x`, count: 2 }]);
    expect(sub.body.secrets.map((s: any) => s.path)).toEqual([`${tree}/a/y`]);
  });

  it("counts and shows only what the token may list: a hidden folder is not there, and counts leave out denied paths", async () => {
    const policy = await putPolicy(uniqueName("fold"), [
      { paths: [`${tree}/*`], capabilities: ["list"] },
      { paths: [`${tree}/hidden/*`, `${tree}/a/x/1`], capabilities: ["list"], effect: "deny" },
    ]);
    const { token } = await mint({ subject: uniqueName("folder-user"), policies: [policy] });
    const res = await folders(`prefix=${tree}`, token);
    expect(res.status, res.text).toBe(200);
    expect(res.body.folders).toEqual([
      { name: "a", path: `${tree}/a`, count: 2 },
      { name: "b", path: `${tree}/b`, count: 1 },
    ]);
    const scoped = await tokenWith(["secrets:read"], { paths: [`${tree}/b/*`] });
    const own = await folders(`prefix=${tree}`, scoped);
    expect(own.body.folders).toEqual([{ name: "b", path: `${tree}/b`, count: 1 }]);
    expect(own.body.secrets).toEqual([]);
  });

  it("counts the same whether D1 counts (a token that may list the whole folder) or each path is decided", async () => {
    const asRoot = (await folders(`prefix=${tree}`)).body.folders;
    const whole = await tokenWith(["secrets:read"], { paths: [`${tree}/*`] });
    expect((await folders(`prefix=${tree}`, whole)).body.folders).toEqual(asRoot);
    const policy = await putPolicy(uniqueName("fold-all"), [{ paths: [`${tree}/*`], capabilities: ["list"] }]);
    const { token } = await mint({ subject: uniqueName("folder-all"), policies: [policy] });
    expect((await folders(`prefix=${tree}`, token)).body.folders).toEqual(asRoot);
    // Token paths inside the folder: decided per path, so only what they cover is counted.
    const part = await tokenWith(["secrets:read"], { paths: [`${tree}/a/x/*`] });
    expect((await folders(`prefix=${tree}`, part)).body.folders).toEqual([{ name: "a", path: `${tree}/a`, count: 2 }]);
  });

  it("shows a deleted secret only with include_deleted=true", async () => {
    await put(`${tree}/gone`, { value: "v" });
    expect((await api("DELETE", `/api/v1/secrets/store/${tree}/gone`)).status).toBe(200);
    expect((await folders(`prefix=${tree}&limit=100`)).body.secrets.map((s: any) => s.path)).not.toContain(`${tree}/gone`);
    expect((await folders(`prefix=${tree}&limit=100&include_deleted=true`)).body.secrets.map((s: any) => s.path)).toContain(`${tree}/gone`);
  });

  it("refuses bad input with a problem document", async () => {
    for (const q of ["prefix=../etc", "limit=0", "cursor=nope!"]) {
      const res = await folders(q);
      expect(res.status, `${q}: ${res.text}`).toBe(400);
    }
    expect((await folders("", await tokenWith(["transit:encrypt"]))).status).toBe(403);
  });
});
