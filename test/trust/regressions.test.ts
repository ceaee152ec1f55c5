import { describe, expect, it, vi } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";
import { auditDb } from "../support/audit-store";
import { putPolicy, uniqueName } from "../identity/helpers";
import { webhookProvider } from "../leases/helpers";
import { mint, problemType, put, setColumn, vault } from "./helpers";

// Issue 12, items 1-10 and 12: each test replays the attack the issue describes (which
// succeeded on the code before the trust spine) and checks the refusal a caller now sees,
// then that the legitimate path still works.

vi.setConfig({ testTimeout: 30_000 });

const RW = ["secrets:read", "secrets:write", "secrets:delete"];
const approve = (id: string, token: string) => api("POST", `/api/v1/secrets/approvals/${id}/approve`, { token });

async function approvalPolicy(paths: string[], actions: string[], approvers: { subjects?: string[]; policies?: string[] }, required = 1) {
  const res = await api("POST", "/api/v1/secrets/approvals/policies", {
    body: { paths, actions, approvals_required: required, approvers: { subjects: [], policies: [], ...approvers } },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

const exportOf = (prefix: string, token: string, values = true) =>
  api("GET", `/api/v1/secrets/export?prefix=${encodeURIComponent(prefix)}&include_values=${values}`, { token });

describe("trust regressions (issue 12)", () => {
  it("1: a transit:encrypt token with a read policy on public/* exports only public/* values", async () => {
    const base = uniquePath("trust1");
    await put(`${base}/public/k`, { value: "public-value-1" });
    await put(`${base}/private/k`, { value: "private-value-1" });
    const policy = await putPolicy(uniqueName("public-read"), [{ paths: [`${base}/public/*`], capabilities: ["read", "list"] }]);
    const { token } = await mint({ subject: uniqueName("transit-app"), scopes: ["transit:encrypt"], policies: [policy] });

    // The direct read was already refused; export used to hand out every value of the tenant.
    const direct = await api("GET", `/api/v1/secrets/store/${base}/private/k`, { token });
    expectProblem(direct, 403);
    expect(direct.body.type).toBe(problemType("forbidden"));

    const exported = await exportOf(`${base}/`, token);
    expect(exported.status, exported.text).toBe(200);
    expect(exported.text).not.toContain("private-value-1");
    expect(exported.body.values[`${base}/private/k`]).toBeUndefined();
    // Good path: what the policy allows still exports.
    expect(exported.body.values[`${base}/public/k`].value).toBe("public-value-1");
    expect((await api("GET", `/api/v1/secrets/store/${base}/public/k`, { token })).body.value).toBe("public-value-1");
  });

  it("2: export honours read deny rules and allowed_services; import honours write deny rules", async () => {
    const base = uniquePath("trust2");
    const web = uniqueName("web");
    const billing = uniqueName("billing");
    await put(`${base}/open`, { value: "open-value-2", allowed_services: [web] });
    await put(`${base}/denied`, { value: "denied-value-2", allowed_services: [web] });
    await put(`${base}/billing-only`, { value: "billing-value-2", allowed_services: [billing] });

    // A read deny rule (list still allowed, so the row shows): the value must not leave.
    const policy = await putPolicy(uniqueName("deny-read"), [
      { paths: [`${base}/*`], capabilities: ["read", "list"] },
      { paths: [`${base}/denied`], capabilities: ["read"], effect: "deny" },
    ]);
    const reader = await mint({ subject: uniqueName("reader"), policies: [policy] });
    expectProblem(await api("GET", `/api/v1/secrets/store/${base}/denied`, { token: reader.token }), 403);
    const denied = await exportOf(`${base}/`, reader.token);
    expect(denied.status, denied.text).toBe(200);
    expect(denied.text).not.toContain("denied-value-2");
    expect(denied.body.values[`${base}/denied`]?.value).toBeUndefined();
    expect(denied.headers.get("hush-export-skipped")?.split(",")).toContain(`${base}/denied`);
    expect(denied.body.values[`${base}/open`].value).toBe("open-value-2");

    // allowed_services: a service:web token exports what web may read, never billing's.
    const service = await mint({ subject: `service:${web}`, scopes: ["secrets:read", "secrets:export"] });
    const direct = await api("GET", `/api/v1/secrets/store/${base}/billing-only`, { token: service.token });
    expectProblem(direct, 403);
    expect(direct.body.type).toBe(problemType("service-not-allowed"));
    const byService = await exportOf(`${base}/`, service.token);
    expect(byService.status, byService.text).toBe(200);
    expect(byService.text).not.toContain("billing-value-2");
    expect(byService.body.values[`${base}/billing-only`]?.value).toBeUndefined();
    expect(byService.body.values[`${base}/open`].value).toBe("open-value-2");

    // Import: a write deny on app/* stops an import whose prefix lands there; nothing is written.
    const writer = await putPolicy(uniqueName("deny-write"), [
      { paths: [`${base}/*`], capabilities: ["write", "read", "list"] },
      { paths: [`${base}/app/*`], capabilities: ["write"], effect: "deny" },
    ]);
    const importer = await mint({ subject: uniqueName("importer"), policies: [writer] });
    const refused = await api("POST", "/api/v1/secrets/store/import", {
      token: importer.token,
      body: { prefix: `${base}/app/prod`, values: { "db/password": "imported-2", other: "x" } },
    });
    expectProblem(refused, 403);
    expect(refused.body.type).toBe(problemType("forbidden"));
    expect(refused.body.required_capability).toBe("write");
    expectProblem(await api("GET", `/api/v1/secrets/store/${base}/app/prod/db/password`), 404);
    expectProblem(await api("GET", `/api/v1/secrets/store/${base}/app/prod/other`), 404);
    // Good path: outside the deny rule the same token imports.
    const ok = await api("POST", "/api/v1/secrets/store/import", { token: importer.token, body: { prefix: `${base}/svc`, values: { key: "imported-ok" } } });
    expect(ok.status, ok.text).toBe(201);
    expect((await api("GET", `/api/v1/secrets/store/${base}/svc/key`)).body.value).toBe("imported-ok");
  });

  it("3: a provider role cannot be configured with scopes its configurer lacks, and a lease never exceeds the caller", async () => {
    const operator = await mint({ subject: uniqueName("operator"), scopes: ["providers:admin", "leases:write", "secrets:read"] });
    const escalating = await api("POST", "/api/v1/secrets/providers", {
      token: operator.token,
      body: { name: uniqueName("keys"), kind: "hush-api-key", roles: { ops: { max_ttl_seconds: 600, scopes: ["auth:admin", "tokens:admin"] } } },
    });
    expectProblem(escalating, 403);
    expect(escalating.body.detail).toContain("auth:admin");

    // A role configured by root with more than the caller holds cannot be leased by the caller.
    const powerful = uniqueName("keys");
    const created = await api("POST", "/api/v1/secrets/providers", {
      body: { name: powerful, kind: "hush-api-key", roles: { ops: { max_ttl_seconds: 600, scopes: ["auth:admin", "tokens:admin"] } } },
    });
    expect(created.status, created.text).toBe(201);
    const lease = await api("POST", "/api/v1/secrets/leases", { token: operator.token, body: { provider: powerful, role: "ops", ttl_seconds: 60 } });
    expectProblem(lease, 403);
    expect(lease.text).not.toContain("hush_");

    // Good path: a role within the configurer's grants is configured and leased; its token holds just that.
    const modest = uniqueName("keys");
    const configured = await api("POST", "/api/v1/secrets/providers", {
      token: operator.token,
      body: { name: modest, kind: "hush-api-key", roles: { reader: { max_ttl_seconds: 600, scopes: ["secrets:read"] } } },
    });
    expect(configured.status, configured.text).toBe(201);
    const issued = await api("POST", "/api/v1/secrets/leases", { token: operator.token, body: { provider: modest, role: "reader", ttl_seconds: 60 } });
    expect(issued.status, issued.text).toBe(201);
    expect(issued.body.credential.scopes).toEqual(["secrets:read"]);
    const self = await api("GET", "/api/v1/tokens/self", { token: issued.body.credential.token });
    expect(self.status, self.text).toBe(200);
    expect(self.body.scopes).toEqual(["secrets:read"]);
    expectProblem(await api("GET", "/api/v1/auth/policies", { token: issued.body.credential.token }), 403);

    // Root holds every scope, so it still leases the powerful role (soft: the rest of this test stands on its own).
    const byRoot = await api("POST", "/api/v1/secrets/leases", { body: { provider: powerful, role: "ops", ttl_seconds: 60 } });
    expect.soft(byRoot.status, byRoot.text).toBe(201);
  });

  it("4: Vault writes, patch, delete, undelete, destroy and metadata delete of a guarded path need approval", async () => {
    const base = uniquePath("trust4");
    const live = `${base}/live`;
    const gone = `${base}/gone`;
    expect((await vault("POST", `secret/data/${live}`, { body: { data: { v: 1 } } })).status).toBe(200);
    expect((await vault("POST", `secret/data/${live}`, { body: { data: { v: 2 } } })).status).toBe(200);
    expect((await vault("POST", `secret/data/${gone}`, { body: { data: { v: 1 } } })).status).toBe(200);
    expect((await vault("DELETE", `secret/data/${gone}`)).status).toBe(204);
    const tag = uniqueName("u4");
    await approvalPolicy([`${base}/*`], ["rotate", "delete", "destroy"], { subjects: [`${tag}-lead`] });
    const dev = await mint({ subject: `${tag}-dev`, scopes: RW });
    const lead = await mint({ subject: `${tag}-lead`, scopes: ["secrets:read"] });

    const attacks: [string, () => ReturnType<typeof vault>][] = [
      ["write", () => vault("POST", `secret/data/${live}`, { token: dev.token, body: { data: { v: "evil" } } })],
      ["put", () => vault("PUT", `secret/data/${live}`, { token: dev.token, body: { data: { v: "evil" } } })],
      ["patch", () => vault("PATCH", `secret/data/${live}`, { token: dev.token, body: { data: { v: "evil" } } })],
      ["delete latest", () => vault("DELETE", `secret/data/${live}`, { token: dev.token })],
      ["delete versions", () => vault("POST", `secret/delete/${live}`, { token: dev.token, body: { versions: [1] } })],
      ["undelete", () => vault("POST", `secret/undelete/${gone}`, { token: dev.token, body: { versions: [1] } })],
      ["destroy", () => vault("PUT", `secret/destroy/${live}`, { token: dev.token, body: { versions: [1] } })],
      ["metadata delete", () => vault("DELETE", `secret/metadata/${live}`, { token: dev.token })],
    ];
    const answers: Record<string, string> = {};
    for (const [name, attack] of attacks) {
      const res = await attack();
      answers[name] = `${res.status} ${/approval/.test(res.body?.errors?.[0] ?? "") ? "approval-required" : res.text}`;
    }
    expect(answers).toEqual(Object.fromEntries(attacks.map(([name]) => [name, "403 approval-required"])));

    // Nothing changed: both versions of live readable, gone still deleted.
    const now = await api("GET", `/api/v1/secrets/store/${live}`);
    expect(now.body).toMatchObject({ version: 2, value: JSON.stringify({ v: 2 }) });
    expect((await api("GET", `/api/v1/secrets/store/${live}?version=1`)).status).toBe(200);
    expect((await vault("GET", `secret/data/${gone}`)).status).toBe(404);

    // Good path: once approved, the Vault write goes through exactly once.
    const first = await vault("POST", `secret/data/${live}`, { token: dev.token, body: { data: { v: 3 } } });
    const id = String(first.body.errors[0]).match(/apr_[0-9a-f]+/)![0];
    expect((await approve(id, lead.token)).body.state).toBe("approved");
    const written = await vault("POST", `secret/data/${live}`, { token: dev.token, body: { data: { v: 3 } } });
    expect(written.status, written.text).toBe(200);
    expect(written.body.data.version).toBe(3);
    expect((await vault("POST", `secret/data/${live}`, { token: dev.token, body: { data: { v: 4 } } })).status).toBe(403);
  });

  it("5: tokens minted by one entity count once towards a 2-approver policy, and no token can be named root or system", async () => {
    const base = uniquePath("trust5");
    const tag = uniqueName("u5");
    const alice = `${tag}-alice`;
    const bob = `${tag}-bob`;
    const approvers = await putPolicy(uniqueName("approvers"), [{ paths: [`${base}/*`], capabilities: ["read"] }]);
    await put(`${base}/db`, { value: "guarded-5" });
    await approvalPolicy([`${base}/*`], ["delete"], { subjects: [alice, bob], policies: [approvers] }, 2);
    const dev = await mint({ subject: `${tag}-dev`, scopes: RW });
    const mallory = await mint({ subject: `${tag}-mallory`, scopes: ["tokens:admin", "leases:write"], policies: [approvers] });

    const first = await api("DELETE", `/api/v1/secrets/store/${base}/db`, { token: dev.token });
    expectProblem(first, 403);
    expect(first.body.type).toBe(problemType("approval-required"));
    const id = first.body.approval_request_id as string;

    // Mallory mints "alice" and "bob": they land under her subject and carry her entity.
    const fakeAlice = await mint({ subject: alice, policies: [approvers] }, mallory.token);
    const fakeBob = await mint({ subject: bob, policies: [approvers] }, mallory.token);
    expect(fakeAlice.subject).toBe(`${tag}-mallory/${alice}`);
    expect(fakeBob.subject).toBe(`${tag}-mallory/${bob}`);
    expect(fakeAlice.entity).toBe(mallory.entity);
    // An ephemeral key named bob is nested too (and carries no approver policy).
    const eph = await api("POST", "/api/v1/ephemeral/api-keys", { token: mallory.token, body: { subject: bob, scopes: ["leases:write"], ttl_seconds: 600 } });
    expect(eph.status, eph.text).toBe(201);
    expect(eph.body.subject).toBe(`${tag}-mallory/${bob}`);

    expect((await approve(id, fakeAlice.token)).body).toMatchObject({ received: 1, state: "pending" });
    expect((await approve(id, fakeBob.token)).body).toMatchObject({ received: 1, state: "pending" });
    expect((await approve(id, mallory.token)).body).toMatchObject({ received: 1, state: "pending" });
    expectProblem(await approve(id, eph.body.token), 403);
    expect((await api("GET", `/api/v1/secrets/approvals/${id}`, { token: dev.token })).body).toMatchObject({ received: 1, state: "pending" });
    const still = await api("DELETE", `/api/v1/secrets/store/${base}/db`, { token: dev.token });
    expectProblem(still, 403);
    expect(still.body.type).toBe(problemType("approval-required"));

    // Good path: a second, distinct person completes the quorum.
    const realAlice = await mint({ subject: alice, scopes: ["secrets:read"] });
    expect((await approve(id, realAlice.token)).body).toMatchObject({ received: 2, state: "approved" });
    expect((await api("DELETE", `/api/v1/secrets/store/${base}/db`, { token: dev.token })).status).toBe(200);

    // Reserved names: neither root nor anyone else can issue a token that reads as root or system.
    for (const subject of ["root", "system", "system/cron", "anonymous"]) {
      const res = await api("POST", "/api/v1/tokens", { body: { subject, scopes: ["secrets:read"] } });
      expectProblem(res, 400);
      expect(res.text).toContain("reserved");
    }
    // Root's own credentials nest under root: an ephemeral key it names "root" is root/root, not root.
    const rootKey = await api("POST", "/api/v1/ephemeral/api-keys", { body: { subject: "root", scopes: ["secrets:read"] } });
    expect(rootKey.status, rootKey.text).toBe(201);
    expect(rootKey.body.subject).toBe("root/root");
    expectProblem(await api("POST", "/api/v1/tenants", { token: rootKey.body.token, body: { id: uniqueName("t5").toLowerCase() } }), 403);
    const fakeRoot = await mint({ subject: "root", policies: [approvers] }, mallory.token);
    const fakeSystem = await mint({ subject: "system", policies: [approvers] }, mallory.token);
    expect(fakeRoot.subject).toBe(`${tag}-mallory/root`);
    expect(fakeSystem.subject).toBe(`${tag}-mallory/system`);
    const probe = `${base}/probe`;
    await put(probe, { value: "probe-5" });
    expect((await api("GET", `/api/v1/secrets/store/${probe}`, { token: fakeRoot.token })).status).toBe(200);
    expect((await api("GET", `/api/v1/secrets/store/${probe}`, { token: fakeSystem.token })).status).toBe(200);
    const actors = await auditDb
      .prepare("SELECT actor FROM audit_events WHERE tenant_id = 'default' AND resource = ? AND action = 'secret.read' ORDER BY n")
      .bind(`secret:${probe}`)
      .all<{ actor: string }>();
    expect(actors.results.map((r) => r.actor)).toEqual([`${tag}-mallory/root`, `${tag}-mallory/system`]);
  });

  it("6: the lease capability on db/readonly/* leases only from that provider and role, and revoke-prefix stops there", async () => {
    const roles = { readonly: { max_ttl_seconds: 3600 }, admin: { max_ttl_seconds: 3600 } };
    const db = await webhookProvider("ok", roles);
    const other = await webhookProvider("ok", roles);
    // The lease resource is provider/role; the policy names this provider's readonly role only.
    const policy = await putPolicy(uniqueName("lease-ro"), [{ paths: [`${db}/readonly`, `${db}/readonly/*`], capabilities: ["lease"] }]);
    const { token } = await mint({ subject: uniqueName("app"), policies: [policy] });
    const issue = (provider: string, role: string, as?: string) =>
      api("POST", "/api/v1/secrets/leases", { token: as, body: { provider, role, ttl_seconds: 600 } });

    for (const [provider, role] of [
      [db, "admin"],
      [other, "readonly"],
      [other, "admin"],
    ] as const) {
      const res = await issue(provider, role, token);
      expectProblem(res, 403);
      expect(res.body.type).toBe(problemType("forbidden"));
      expect(res.text).not.toContain("credential");
    }
    // Good path: the allowed provider/role leases.
    const mine = await issue(db, "readonly", token);
    expect(mine.status, mine.text).toBe(201);

    // Leases someone else holds on the other roles and providers.
    const dbAdmin = await issue(db, "admin");
    const otherRo = await issue(other, "readonly");
    expect(dbAdmin.status).toBe(201);
    expect(otherRo.status).toBe(201);

    const onOther = await api("POST", "/api/v1/secrets/leases/revoke-prefix", { token, body: { provider: other } });
    expect(onOther.status, onOther.text).toBe(202);
    expect(onOther.body.count).toBe(0);
    const onDb = await api("POST", "/api/v1/secrets/leases/revoke-prefix", { token, body: { provider: db } });
    expect(onDb.status, onDb.text).toBe(202);
    expect(onDb.body.lease_ids).toEqual([mine.body.lease_id]);
    for (const id of [dbAdmin.body.lease_id, otherRo.body.lease_id]) {
      expect((await api("GET", `/api/v1/secrets/leases/${id}`)).body.state).toBe("issued");
    }
    expect(["revoking", "revoked"]).toContain((await api("GET", `/api/v1/secrets/leases/${mine.body.lease_id}`)).body.state);
    // And a single lease of another role cannot be revoked or read by id either.
    expectProblem(await api("POST", `/api/v1/secrets/leases/${dbAdmin.body.lease_id}/revoke`, { token }), 403);
  });

  it("7: a service:web token mints only service:web/... children, which stay bound to web", async () => {
    const base = uniquePath("trust7");
    const web = uniqueName("web");
    const billing = uniqueName("billing");
    await put(`${base}/billing`, { value: "billing-value-7", allowed_services: [billing] });
    await put(`${base}/web`, { value: "web-value-7", allowed_services: [web] });
    const service = await mint({ subject: `service:${web}`, scopes: ["secrets:read", "tokens:admin"] });

    for (const asked of ["billing-bot", `service:${billing}`, "ops"]) {
      const child = await mint({ subject: asked, scopes: ["secrets:read"] }, service.token);
      expect(child.subject).toBe(`service:${web}/${asked}`);
      const read = await api("GET", `/api/v1/secrets/store/${base}/billing`, { token: child.token });
      expectProblem(read, 403);
      expect(read.body.type).toBe(problemType("service-not-allowed"));
      expect(read.text).not.toContain("billing-value-7");
      expectProblem(await api("GET", `/api/v1/secrets/service/${billing}`, { token: child.token }), 403);
      const vaultRead = await vault("GET", `secret/data/${base}/billing`, { token: child.token });
      expect(vaultRead.status).toBe(403);
      // Good path: the child reads what web may read.
      expect((await api("GET", `/api/v1/secrets/store/${base}/web`, { token: child.token })).body.value).toBe("web-value-7");
    }
  });

  it("8: lowering max_versions needs secrets:delete and the destroy approval", async () => {
    const base = uniquePath("trust8");
    const path = `${base}/k`;
    await put(path, { value: "v1" });
    await put(path, { value: "v2" });
    await put(path, { value: "v3" });
    const tag = uniqueName("u8");
    const writer = await mint({ subject: `${tag}-writer`, scopes: ["secrets:read", "secrets:write"] });

    const patch = (token: string, max_versions: number) => api("PATCH", `/api/v1/secrets/store/${path}/metadata`, { token, body: { max_versions } });
    const shred = await patch(writer.token, 1);
    expectProblem(shred, 403);
    expect(shred.body.type).toBe(problemType("forbidden"));
    expect(shred.body.required_scope).toBe("secrets:delete");
    // The same through Vault's metadata endpoint.
    expect((await vault("POST", `secret/metadata/${path}`, { token: writer.token, body: { max_versions: 1 } })).status).toBe(403);
    expect((await api("GET", `/api/v1/secrets/store/${path}?version=1`)).body.value).toBe("v1");
    // Good path: raising the limit destroys nothing and needs only write.
    expect((await patch(writer.token, 20)).status).toBe(200);

    // With delete, a destroy approval policy still applies.
    await approvalPolicy([`${base}/*`], ["destroy"], { subjects: [`${tag}-lead`] });
    const deleter = await mint({ subject: `${tag}-dev`, scopes: RW });
    const lead = await mint({ subject: `${tag}-lead`, scopes: ["secrets:read"] });
    const guarded = await patch(deleter.token, 1);
    expectProblem(guarded, 403);
    expect(guarded.body.type).toBe(problemType("approval-required"));
    expect((await vault("POST", `secret/metadata/${path}`, { token: deleter.token, body: { max_versions: 1 } })).status).toBe(403);
    expect((await api("GET", `/api/v1/secrets/store/${path}?version=1`)).body.value).toBe("v1");
    expect((await approve(guarded.body.approval_request_id, lead.token)).body.state).toBe("approved");
    const done = await patch(deleter.token, 1);
    expect(done.status, done.text).toBe(200);
    expect((await api("GET", `/api/v1/secrets/store/${path}?version=1`)).status).not.toBe(200);
    expect((await api("GET", `/api/v1/secrets/store/${path}`)).body.value).toBe("v3");
  });

  it("9: export of a guarded path needs its approval", async () => {
    // Only export: no route shares a stored secret yet (shares take a value in the body).
    const base = uniquePath("trust9");
    await put(`${base}/k`, { value: "export-value-9" });
    const tag = uniqueName("u9");
    await approvalPolicy([`${base}/*`], ["export"], { subjects: [`${tag}-lead`] });
    const dev = await mint({ subject: `${tag}-dev`, scopes: ["secrets:read", "secrets:export"] });
    const lead = await mint({ subject: `${tag}-lead`, scopes: ["secrets:read"] });

    const first = await exportOf(`${base}/`, dev.token);
    expectProblem(first, 403);
    expect(first.body.type).toBe(problemType("approval-required"));
    expect(first.text).not.toContain("export-value-9");
    // Metadata only is not guarded.
    const meta = await exportOf(`${base}/`, dev.token, false);
    expect(meta.status, meta.text).toBe(200);
    expect(meta.body.values[`${base}/k`]).toBeDefined();
    expect(meta.text).not.toContain("export-value-9");

    expect((await approve(first.body.approval_request_id, lead.token)).body.state).toBe("approved");
    const ok = await exportOf(`${base}/`, dev.token);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.values[`${base}/k`].value).toBe("export-value-9");
    // Used once.
    expectProblem(await exportOf(`${base}/`, dev.token), 403);
  });

  it("10: a secret that answers 410 natively answers no value through /v1/secret/data", async () => {
    const base = uniquePath("trust10");
    const expired = `${base}/expired`;
    await put(expired, { value: "expired-value-10" });
    await setColumn("secrets", "expires_at", Date.now() - 1000, expired);
    const native = await api("GET", `/api/v1/secrets/store/${expired}`);
    expectProblem(native, 410);
    expect(native.body.type).toBe(problemType("secret-expired"));
    const viaVault = await vault("GET", `secret/data/${expired}`);
    expect(viaVault.status, viaVault.text).toBe(410);
    expect(viaVault.text).not.toContain("expired-value-10");

    const rotated = `${base}/rotated`;
    await put(rotated, { value: "old-value-10" });
    const rotate = await api("POST", `/api/v1/secrets/store/${rotated}/rotate`, { body: { value: "new-value-10", expire_old_after_seconds: 0 } });
    expect(rotate.status, rotate.text).toBe(200);
    const old = await api("GET", `/api/v1/secrets/store/${rotated}?version=1`);
    expectProblem(old, 410);
    expect(old.body.type).toBe(problemType("version-expired"));
    const oldVault = await vault("GET", `secret/data/${rotated}?version=1`);
    expect(oldVault.status, oldVault.text).toBe(410);
    expect(oldVault.text).not.toContain("old-value-10");
    // Good path: the current version reads through Vault.
    const current = await vault("GET", `secret/data/${rotated}`);
    expect(current.status).toBe(200);
    expect(current.body.data.data).toEqual({ value: "new-value-10" });
  });

  it("12: a child token expires no later than its parent and dies when the parent is revoked", async () => {
    const base = uniquePath("trust12");
    await put(`${base}/k`, { value: "v12" });
    const parent = await mint({ subject: uniqueName("short"), scopes: ["tokens:admin", "leases:write", "secrets:read"], ttl_seconds: 60 });
    const child = await mint({ subject: "long", scopes: ["tokens:admin", "secrets:read"], ttl_seconds: 365 * 86400 }, parent.token);
    const grandchild = await mint({ subject: "longer", scopes: ["secrets:read"], ttl_seconds: 365 * 86400 }, child.token);
    expect(child.parent_id).toBe(parent.id);
    expect(grandchild.parent_id).toBe(child.id);
    expect(Date.parse(child.expires_at)).toBeLessThanOrEqual(Date.parse(parent.expires_at));
    expect(Date.parse(grandchild.expires_at)).toBeLessThanOrEqual(Date.parse(parent.expires_at));
    const eph = await api("POST", "/api/v1/ephemeral/api-keys", { token: parent.token, body: { subject: "job", scopes: ["secrets:read"], ttl_seconds: 3600 } });
    expect(eph.status, eph.text).toBe(201);
    // The key itself dies with the parent (the lease record keeps the asked TTL; the token row is capped).
    const ephSelf = await api("GET", "/api/v1/tokens/self", { token: eph.body.token });
    expect(Date.parse(ephSelf.body.expires_at)).toBeLessThanOrEqual(Date.parse(parent.expires_at));
    expect(ephSelf.body.parent_id).toBe(parent.id);
    const bystander = await mint({ subject: uniqueName("bystander"), scopes: ["secrets:read"] });

    // Good path: all work while the parent lives.
    for (const token of [child.token, grandchild.token, eph.body.token]) {
      expect((await api("GET", `/api/v1/secrets/store/${base}/k`, { token })).status).toBe(200);
    }
    expect((await api("DELETE", `/api/v1/tokens/${parent.id}`)).status).toBe(200);
    for (const token of [parent.token, child.token, grandchild.token, eph.body.token]) {
      const res = await api("GET", `/api/v1/secrets/store/${base}/k`, { token });
      expectProblem(res, 401);
    }
    expect((await api("GET", `/api/v1/secrets/store/${base}/k`, { token: bystander.token })).status).toBe(200);
  });
});
