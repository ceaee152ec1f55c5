import { describe, expect, it } from "vitest";
import { api, expectProblem, uniquePath } from "../helpers";

const store = (path: string) => `/api/v1/secrets/store/${path}`;
// Raw JSON text, so the lone surrogate reaches the server as the escape `\ud800`.
const LONE = '"\\ud800"';

describe("secret values must be well-formed Unicode", () => {
  it("rejects a lone surrogate on create, PUT, rotate and import with a 400 problem, storing nothing", async () => {
    const path = uniquePath("utf16");
    expectProblem(await api("POST", store(path), { rawBody: `{"value":${LONE}}`, headers: { "content-type": "application/json" } }), 400);
    expectProblem(await api("PUT", store(path), { rawBody: `{"value":${LONE}}`, headers: { "content-type": "application/json" } }), 400);
    expect((await api("GET", store(path))).status).toBe(404);

    expect((await api("POST", store(path), { body: { value: "ok" } })).status).toBe(201);
    expectProblem(await api("PUT", store(path), { rawBody: `{"value":"a\\udc00b"}`, headers: { "content-type": "application/json" } }), 400);
    expectProblem(await api("POST", `${store(path)}/rotate`, { rawBody: `{"value":${LONE}}`, headers: { "content-type": "application/json" } }), 400);
    const prefix = uniquePath("utf16imp");
    expectProblem(
      await api("POST", "/api/v1/secrets/store/import", {
        rawBody: `{"prefix":"${prefix}","values":{"a":{"value":${LONE}}}}`,
        headers: { "content-type": "application/json" },
      }),
      400,
    );
    expect((await api("GET", `/api/v1/secrets/store?prefix=${prefix}`)).body.items ?? []).toHaveLength(0);
    expect((await api("GET", store(path))).body).toMatchObject({ value: "ok", version: 1 });
  });

  it("accepts a well-formed surrogate pair and reads it back unchanged", async () => {
    const path = uniquePath("utf16ok");
    expect((await api("POST", store(path), { body: { value: "key \u{1F511}" } })).status).toBe(201);
    expect((await api("GET", store(path))).body.value).toBe("key \u{1F511}");
  });

  it("rejects a lone surrogate anywhere in Vault data (values and keys) with a 400 in Vault's error shape", async () => {
    const path = uniquePath("utf16vault");
    for (const data of [`{"k":${LONE}}`, `{"k":{"deep":["x",${LONE}]}}`, `{${LONE}:"v"}`]) {
      const res = await api("POST", `/v1/secret/data/${path}`, { rawBody: `{"data":${data}}`, headers: { "content-type": "application/json" } });
      // The Vault subset answers in Vault's own error shape.
      expect(res.status).toBe(400);
      expect(res.body.errors[0]).toMatch(/valid Unicode/);
    }
    expect((await api("GET", `/v1/secret/data/${path}`)).status).toBe(404);
    expect((await api("POST", `/v1/secret/data/${path}`, { body: { data: { k: "\u{1F511}" } } })).status).toBe(200);
  });
});
