import { describe, expect, it } from "vitest";
import { api, expectProblem, tokenWith, uniquePath } from "../helpers";
import { auditDb } from "../support/audit-store";

const store = (path: string) => `/api/v1/secrets/store/${path}`;
const ref = (path: string) => `\${secret.${path}}`;

async function put(path: string, value: string) {
  const res = await api("PUT", store(path), { body: { value } });
  expect(res.status, res.text).toBe(200);
}

describe("GET /store/{path}?resolve=true (references)", () => {
  it("expands nested references and audits each expanded read", async () => {
    const base = uniquePath("refs");
    await put(`${base}/host`, "db.internal");
    await put(`${base}/password`, "pw-123");
    await put(`${base}/creds`, `admin:${ref(`${base}/password`)}`);
    await put(`${base}/url`, `postgres://${ref(`${base}/creds`)}@${ref(`${base}/host`)}/app`);
    const res = await api("GET", `${store(`${base}/url`)}?resolve=true`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.value).toBe("postgres://admin:pw-123@db.internal/app");
    for (const path of ["host", "password", "creds"]) {
      const audit = await api("GET", `/api/v1/audit?path=${base}/${path}&action=secret.read`);
      expect(audit.body.items.length, path).toBe(1);
      expect(audit.body.items[0].detail.via).toBe(`${base}/url`);
    }
  });

  it("never expands on a plain read", async () => {
    const base = uniquePath("refsplain");
    await put(`${base}/a`, "A");
    await put(`${base}/b`, `x-${ref(`${base}/a`)}`);
    expect((await api("GET", store(`${base}/b`))).body.value).toBe(`x-${ref(`${base}/a`)}`);
    expect((await api("GET", `${store(`${base}/b`)}?resolve=false`)).body.value).toBe(`x-${ref(`${base}/a`)}`);
    const audit = await api("GET", `/api/v1/audit?path=${base}/a&action=secret.read`);
    expect(audit.body.items.length).toBe(0);
  });

  it("is 422 naming a missing (or deleted) reference", async () => {
    const base = uniquePath("refsmissing");
    await put(`${base}/gone`, "bye");
    await api("DELETE", store(`${base}/gone`));
    await put(`${base}/a`, `${ref(`${base}/nothing`)}`);
    await put(`${base}/b`, `${ref(`${base}/gone`)}`);
    const missing = await api("GET", `${store(`${base}/a`)}?resolve=true`);
    expectProblem(missing, 422);
    expect(missing.body.path).toBe(`${base}/nothing`);
    expect(missing.body.detail).toContain(`${base}/nothing`);
    const deleted = await api("GET", `${store(`${base}/b`)}?resolve=true`);
    expectProblem(deleted, 422);
    expect(deleted.body.path).toBe(`${base}/gone`);
  });

  it("is 403 naming a reference the caller may not read, without leaking it", async () => {
    const base = uniquePath("refsforbidden");
    await put(`${base}/private/key`, "top-secret-canary");
    await put(`${base}/public/cfg`, `k=${ref(`${base}/private/key`)}`);
    const { token } = await tokenWith(["secrets:read"], { paths: [`${base}/public/*`] });
    const res = await api("GET", `${store(`${base}/public/cfg`)}?resolve=true`, { token });
    expectProblem(res, 403);
    expect(res.body.detail).toContain(`${base}/private/key`);
    expect(res.text).not.toContain("top-secret-canary");
  });

  it("stays within the caller's tenant", async () => {
    const base = uniquePath("refstenant");
    await put(`${base}/shared`, "default-tenant-value");
    await api("POST", "/api/v1/tenants", { body: { id: "refs-other" } });
    const other = await tokenWith(["secrets:read", "secrets:write"], { tenant: "refs-other" });
    await api("PUT", store(`${base}/mine`), { token: other.token, body: { value: ref(`${base}/shared`) } });
    const res = await api("GET", `${store(`${base}/mine`)}?resolve=true`, { token: other.token });
    expectProblem(res, 422);
  });

  it("is 409 with the cycle in order", async () => {
    const base = uniquePath("refscycle");
    await put(`${base}/a`, `a->${ref(`${base}/b`)}`);
    await put(`${base}/b`, `b->${ref(`${base}/c`)}`);
    await put(`${base}/c`, `c->${ref(`${base}/a`)}`);
    const res = await api("GET", `${store(`${base}/a`)}?resolve=true`);
    expectProblem(res, 409);
    expect(res.body.cycle).toEqual([`${base}/a`, `${base}/b`, `${base}/c`, `${base}/a`]);
    const self = uniquePath("refsself");
    await put(self, `me:${ref(self)}`);
    const selfRes = await api("GET", `${store(self)}?resolve=true`);
    expectProblem(selfRes, 409);
    expect(selfRes.body.cycle).toEqual([self, self]);
  });

  it("expands a chain 10 deep and refuses 11", async () => {
    const base = uniquePath("refsdepth");
    // n0 -> n1 -> ... -> n11 (a plain value)
    await put(`${base}/n11`, "bottom");
    for (let i = 10; i >= 0; i--) await put(`${base}/n${i}`, `${i}.${ref(`${base}/n${i + 1}`)}`);
    const ten = await api("GET", `${store(`${base}/n1`)}?resolve=true`);
    expect(ten.status, ten.text).toBe(200);
    expect(ten.body.value).toBe("1.2.3.4.5.6.7.8.9.10.bottom");
    const eleven = await api("GET", `${store(`${base}/n0`)}?resolve=true`);
    expectProblem(eleven, 422);
    expect(eleven.body.path).toBe(`${base}/n11`);
  });

  it("expands references in history reads too, and rejects an invalid reference path", async () => {
    const base = uniquePath("refshist");
    await put(`${base}/a`, "A");
    await put(`${base}/b`, `v1:${ref(`${base}/a`)}`);
    await put(`${base}/b`, "v2");
    const res = await api("GET", `/api/v1/secrets/store/history/${base}/b?version=1&resolve=true`);
    expect(res.body.value).toBe("v1:A");
    await put(`${base}/bad`, "${secret.../etc}");
    expectProblem(await api("GET", `${store(`${base}/bad`)}?resolve=true`), 422);
  });

  it("commits no audit event for any expanded read when the expansion fails", async () => {
    const base = uniquePath("refsatomic");
    await put(`${base}/ok`, "fine");
    await put(`${base}/top`, `${ref(`${base}/ok`)}${ref(`${base}/missing`)}`);
    expectProblem(await api("GET", `${store(`${base}/top`)}?resolve=true`), 422);
    const rows = await auditDb
      .prepare("SELECT COUNT(*) AS n FROM audit_events WHERE resource = ? AND action = 'secret.read' AND outcome = 'success'")
      .bind(`secret:${base}/ok`)
      .first<{ n: number }>();
    expect(rows!.n).toBe(0);
  });
});
