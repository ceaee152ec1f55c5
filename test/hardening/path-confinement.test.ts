import { beforeAll, describe, expect, it } from "vitest";
import { api, uniquePath } from "../helpers";
import { tenantRows, tenantWithAdmin } from "./tenant-fixture";

/**
 * A token limited to `<base>/app/*` cannot reach `<base>/db/*` through any route: reads,
 * history, versions, references, export, listings, the service map, the Vault subset, or
 * any lifecycle change. Every refusal is a 403 or 404 and the db secret is unchanged.
 */

const DB_VALUE = "db-confined-value-7f3a";
const SCOPES = ["secrets:read", "secrets:write", "secrets:delete", "secrets:export"];

describe("path-glob confinement (app/* cannot reach db/*)", () => {
  let tenant: string;
  let admin: string;
  let app: string;
  const base = uniquePath("glob");
  const db = `${base}/db/password`;
  const service = `svc-${base.replace(/\W/g, "")}`;
  let routesChecked = 0;

  beforeAll(async () => {
    ({ tenant, token: admin } = await tenantWithAdmin("glob"));
    const as = (method: string, path: string, body?: unknown) => api(method, path, { token: admin, body });
    expect((await as("POST", `/api/v1/secrets/store/${db}`, { value: DB_VALUE, allowed_services: [service] })).status).toBe(201);
    expect((await as("PUT", `/api/v1/secrets/store/${db}`, { value: DB_VALUE })).status).toBe(200);
    // An app/ value that references the db secret: resolving it would copy the db value out.
    expect(
      (await as("POST", `/api/v1/secrets/store/${base}/app/dsn`, { value: `postgres://u:\${secret.${db}}@h/d`, allowed_services: [service] })).status,
    ).toBe(201);
    const created = await api("POST", "/api/v1/tokens", { token: admin, body: { subject: `service:${service}`, scopes: SCOPES, paths: [`${base}/app/*`] } });
    expect(created.status, created.text).toBe(201);
    app = created.body.token;
  });

  it("every route that names a db/ path refuses with 403 or 404 and reveals nothing", async () => {
    const before = await tenantRows(tenant, ["audit_events"]);
    const store = `/api/v1/secrets/store`;
    const cases: [string, string, unknown?][] = [
      ["GET", `${store}/${db}`],
      ["GET", `${store}/${db}?version=1`],
      ["GET", `${store}/${db}?resolve=true`],
      ["GET", `${store}/history/${db}?version=1`],
      ["GET", `${store}/${db}/versions`],
      ["PATCH", `${store}/${db}/metadata`, { description: "x" }],
      ["PUT", `${store}/${db}`, { value: "overwrite" }],
      ["POST", `${store}/${base}/db/new`, { value: "x" }],
      ["POST", `${store}/${db}/rotate`, { value: "x" }],
      ["POST", `${store}/recover/${db}`, { at: new Date().toISOString() }],
      ["POST", `${store}/destroy/${db}`, { versions: [1] }],
      ["POST", `${store}/undelete/${db}`],
      ["DELETE", `${store}/${db}`],
      ["POST", `${store}/import`, { prefix: `${base}/db`, values: { other: { value: "x" } } }],
      ["GET", `/v1/secret/data/${db}`],
      ["GET", `/v1/secret/metadata/${db}`],
      ["POST", `/v1/secret/data/${db}`, { data: { k: "x" } }],
      ["PATCH", `/v1/secret/data/${db}`, { data: { k: "x" } }],
      ["DELETE", `/v1/secret/data/${db}`],
      ["POST", `/v1/secret/delete/${db}`, { versions: [1] }],
      ["POST", `/v1/secret/undelete/${db}`, { versions: [1] }],
      ["POST", `/v1/secret/destroy/${db}`, { versions: [1] }],
      ["POST", `/v1/secret/metadata/${db}`, { max_versions: 1 }],
      ["DELETE", `/v1/secret/metadata/${db}`],
      ["GET", `/v1/secret/metadata/${base}/db?list=true`],
    ];
    const failures: string[] = [];
    for (const [method, url, body] of cases) {
      const res = await api(method, url, { token: app, ...(body !== undefined ? { body } : {}) });
      routesChecked++;
      if (![403, 404].includes(res.status)) failures.push(`${method} ${url} -> ${res.status} ${res.text.slice(0, 200)}`);
      if (res.text.includes(DB_VALUE)) failures.push(`${method} ${url} revealed the db value`);
    }
    expect(failures).toEqual([]);
    expect(await tenantRows(tenant, ["audit_events"])).toBe(before);
  });

  it("a reference from app/ into db/ is not resolved for the app token", async () => {
    const res = await api("GET", `/api/v1/secrets/store/${base}/app/dsn?resolve=true`, { token: app });
    routesChecked++;
    expect([403, 404]).toContain(res.status);
    expect(res.text).not.toContain(DB_VALUE);
    // Without resolving, the app value itself (which only names the path) is readable.
    const plain = await api("GET", `/api/v1/secrets/store/${base}/app/dsn`, { token: app });
    expect(plain.status).toBe(200);
    expect(plain.body.value).toContain(`\${secret.${db}}`);
  });

  it("listings, export, the service map and the Vault list show only app/", async () => {
    const urls = [
      `/api/v1/secrets/store?prefix=${base}/`,
      `/api/v1/secrets/export?prefix=${base}/&include_values=true`,
      `/api/v1/secrets/service/${service}`,
      `/v1/secret/metadata/${base}?list=true`,
      `/api/v1/secrets/expiring?within_days=3650`,
      `/api/v1/secrets/rotation/pending`,
    ];
    for (const url of urls) {
      const res = await api("GET", url, { token: app });
      routesChecked++;
      expect(res.status, `${url}: ${res.text}`).toBeLessThan(500);
      // The app value names the db path inside `${secret.…}`; the db secret itself must not be listed.
      expect(res.text, url).not.toContain(`"${db}"`);
      expect(res.text, url).not.toContain(`"db/"`);
      expect(res.text, url).not.toContain(DB_VALUE);
      if (url.includes("/export") || url.includes("/store?")) expect(res.text, url).toContain(`${base}/app/dsn`);
    }
    console.log(`path confinement: ${routesChecked} requests of an app/* token aimed at db/*`);
  });
});
