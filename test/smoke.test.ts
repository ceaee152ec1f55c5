import { describe, expect, it } from "vitest";
import { api } from "./helpers";

describe("smoke", () => {
  it("stores and reads a secret", async () => {
    const w = await api("POST", "/api/v1/secrets/store/app/db/password", { body: { value: "hunter2" } });
    expect(w.status, w.text).toBe(201);
    const r = await api("GET", "/api/v1/secrets/store/app/db/password");
    expect(r.status, r.text).toBe(200);
    expect(r.body.value).toBe("hunter2");
  });
});
