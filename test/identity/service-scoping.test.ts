import { describe, expect, it } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";
import { auditDb } from "../support/audit-store";
import { login, putPolicy, signingKey, signJwt, uniqueName } from "./helpers";

async function serviceToken(service: string, scopes = ["secrets:read"]) {
  const res = await api("POST", "/api/v1/tokens", { body: { subject: `service:${service}`, scopes } });
  expect(res.status, res.text).toBe(201);
  return res.body.token as string;
}

describe("service scoping (allowed_services)", () => {
  it("a service subject reads a secret only if the secret lists it", async () => {
    const svc = uniqueName("ai");
    const listed = uniquePath("svc");
    const unlisted = uniquePath("svc");
    const created = await api("POST", `/api/v1/secrets/store/${listed}`, { body: { value: "for-ai", allowed_services: [svc, "billing"] } });
    expect(created.status, created.text).toBe(201);
    expect(created.body.allowed_services).toEqual([svc, "billing"]);
    await api("POST", `/api/v1/secrets/store/${unlisted}`, { body: { value: "not-for-ai" } });
    const token = await serviceToken(svc);
    const ok = await api("GET", `/api/v1/secrets/store/${listed}`, { token });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.value).toBe("for-ai");
    const no = await api("GET", `/api/v1/secrets/store/${unlisted}`, { token });
    expectProblem(no, 403);
    expect(no.text).not.toContain("not-for-ai");
    // Other subjects are not affected by the list.
    const person = await api("POST", "/api/v1/tokens", { body: { subject: "alice", scopes: ["secrets:read"] } });
    expect((await api("GET", `/api/v1/secrets/store/${unlisted}`, { token: person.body.token })).status).toBe(200);
  });

  it("PUT can change allowed_services; null clears it", async () => {
    const svc = uniqueName("svc");
    const path = uniquePath("svc");
    await api("POST", `/api/v1/secrets/store/${path}`, { body: { value: "a" } });
    const token = await serviceToken(svc);
    expectProblem(await api("GET", `/api/v1/secrets/store/${path}`, { token }), 403);
    const put = await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: "b", allowed_services: [svc] } });
    expect(put.body.allowed_services).toEqual([svc]);
    expect((await api("GET", `/api/v1/secrets/store/${path}`, { token })).body.value).toBe("b");
    await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: "c", allowed_services: null } });
    expectProblem(await api("GET", `/api/v1/secrets/store/${path}`, { token }), 403);
    expectProblem(await api("PUT", `/api/v1/secrets/store/${path}`, { body: { value: "d", allowed_services: ["Bad Name"] } }), 400);
  });

  it("GET /secrets/service/{service} returns the readable map, filtered by environment, audited per value", async () => {
    const svc = uniqueName("cfg");
    const a = uniquePath("svcmap");
    const b = uniquePath("svcmap");
    const dev = uniquePath("svcmap");
    const other = uniquePath("svcmap");
    await api("POST", `/api/v1/secrets/store/${a}`, { body: { value: "va", environment: "production", allowed_services: [svc] } });
    await api("POST", `/api/v1/secrets/store/${b}`, { body: { value: "vb", environment: "production", allowed_services: ["x", svc] } });
    await api("POST", `/api/v1/secrets/store/${dev}`, { body: { value: "vdev", environment: "dev", allowed_services: [svc] } });
    await api("POST", `/api/v1/secrets/store/${other}`, { body: { value: "vother", environment: "production", allowed_services: ["x"] } });
    const deleted = uniquePath("svcmap");
    await api("POST", `/api/v1/secrets/store/${deleted}`, { body: { value: "vdel", environment: "production", allowed_services: [svc] } });
    await api("DELETE", `/api/v1/secrets/store/${deleted}`);

    const token = await serviceToken(svc);
    const res = await api("GET", `/api/v1/secrets/service/${svc}?environment=production`, { token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.secrets).toEqual({ [a]: "va", [b]: "vb" });
    const all = await api("GET", `/api/v1/secrets/service/${svc}`, { token });
    expect(all.body.secrets).toEqual({ [a]: "va", [b]: "vb", [dev]: "vdev" });

    const events = await auditDb
      .prepare("SELECT resource FROM audit_events WHERE request_id = ? AND action = 'secret.read' ORDER BY n")
      .bind(res.headers.get("x-request-id"))
      .all<any>();
    expect(events.results.map((e) => e.resource)).toEqual([`secret:${a}`, `secret:${b}`]);

    // Another service cannot ask for this one's map.
    expectProblem(await api("GET", `/api/v1/secrets/service/${svc}`, { token: await serviceToken(uniqueName("nosy")) }), 403);
    // An operator can; policies still filter paths.
    const policy = await putPolicy(uniqueName("only-a"), [{ paths: [a], capabilities: ["read"] }]);
    const limited = await api("POST", "/api/v1/tokens", { body: { subject: "ops", policies: [policy] } });
    const filtered = await api("GET", `/api/v1/secrets/service/${svc}`, { token: limited.body.token });
    expect(filtered.body.secrets).toEqual({ [a]: "va" });
    expectProblem(await api("GET", `/api/v1/secrets/service/Bad!`, { token }), 400);
  });
});

describe("a workload end to end", () => {
  it("logs in with its service account JWT and reads exactly its own configuration", async () => {
    const svc = uniqueName("pod");
    const key = await signingKey("ES256");
    const readAll = await putPolicy(uniqueName("read-all"), [{ paths: ["*"], capabilities: ["read"] }]);
    const role = uniqueName("k8s");
    const created = await api("POST", "/api/v1/auth/roles", {
      body: {
        name: role,
        issuer: "https://kubernetes.default.svc.cluster.local",
        audience: "hush",
        jwks: { keys: [key.publicJwk] },
        bound_claims: { sub: `system:serviceaccount:prod:${svc}` },
        token_subject: `service:${svc}`,
        token_ttl_seconds: 300,
        policies: [readAll],
      },
    });
    expect(created.status, created.text).toBe(201);
    const mine = uniquePath("pod");
    const theirs = uniquePath("pod");
    await api("POST", `/api/v1/secrets/store/${mine}`, { body: { value: "mine", allowed_services: [svc] } });
    await api("POST", `/api/v1/secrets/store/${theirs}`, { body: { value: "theirs", allowed_services: ["someone-else"] } });
    const jwt = await signJwt(key, { iss: "https://kubernetes.default.svc.cluster.local", aud: "hush", sub: `system:serviceaccount:prod:${svc}` });
    const session = await login(role, jwt);
    expect(session.status, session.text).toBe(200);
    const map = await api("GET", `/api/v1/secrets/service/${svc}`, { token: session.body.token });
    expect(map.body.secrets).toEqual({ [mine]: "mine" });
    // Its policy reads everything, but the service subject still cannot read another service's secret.
    expectProblem(await api("GET", `/api/v1/secrets/store/${theirs}`, { token: session.body.token }), 403);
  });
});
