import { mkdtempSync, statSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { freshConfigHome, hush, tokenWith } from "./helpers";

describe("hush login / status / logout", () => {
  it("login verifies the token and stores it in a 0600 file that later commands use", async () => {
    const home = freshConfigHome();
    const env = { XDG_CONFIG_HOME: home, HUSH_ADDR: undefined };
    const token = await tokenWith(["secrets:read", "audit:read"], "cli-login");
    const login = await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], { token: null, env, input: `${token}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain("as cli-login");
    expect(login.stdout).not.toContain(token);

    const file = join(home, "hush", "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "hush")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ addr: inject("hushAddr"), token, subject: "cli-login" });

    const status = await hush(["status"], { token: null, env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/address\s+http:\/\/127\.0\.0\.1:\d+ \(from .*config\.json\)/);
    expect(status.stdout).toMatch(/tenant\s+default/);
    expect(status.stdout).toMatch(/subject\s+cli-login/);
    expect(status.stdout).toMatch(/scopes\s+secrets:read, audit:read/);
    expect(status.stdout).toMatch(/expires\s+\d{4}-/);
    expect(status.stdout).not.toContain(token);

    const json = JSON.parse((await hush(["status", "--json"], { token: null, env })).stdout);
    expect(json).toMatchObject({ subject: "cli-login", tenant: "default", scopes: ["secrets:read", "audit:read"] });

    const logout = await hush(["logout"], { token: null, env });
    expect(logout.code).toBe(0);
    // The token is gone; the address stays for the next `hush login` (issue 14).
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ addr: inject("hushAddr") });
    const after = await hush(["status"], { token: null, env });
    expect(after.code).toBe(4);
    expect(after.stderr).toContain("hush login");
  });

  it("tightens an existing config file to 0600 when it rewrites it", async () => {
    const home = freshConfigHome();
    const file = join(home, "hush", "config.json");
    await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], { token: null, env: { XDG_CONFIG_HOME: home }, input: inject("hushRootToken") });
    const { chmodSync } = await import("node:fs");
    chmodSync(file, 0o644);
    const again = await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], {
      token: null,
      env: { XDG_CONFIG_HOME: home },
      input: inject("hushRootToken"),
    });
    expect(again.stderr).toContain("readable by other users");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("a rejected token is exit 4 and is not saved", async () => {
    const home = freshConfigHome();
    const login = await hush(["login", "--addr", inject("hushAddr"), "--token-stdin"], {
      token: null,
      env: { XDG_CONFIG_HOME: home },
      input: "hush_wrong_token_wrong_token_wrong_token_00",
    });
    expect(login.code).toBe(4);
    expect(login.stderr).toContain("How to fix:");
    expect(existsSync(join(home, "hush", "config.json"))).toBe(false);
  });

  it("login without a terminal and without --token-stdin is a usage error", async () => {
    const login = await hush(["login", "--addr", inject("hushAddr")], { token: null, env: { XDG_CONFIG_HOME: freshConfigHome() } });
    expect(login.code).toBe(2);
    expect(login.stderr).toContain("--token-stdin");
  });

  it("HUSH_ADDR and HUSH_TOKEN win over the config file", async () => {
    const status = JSON.parse((await hush(["status", "--json"])).stdout);
    expect(status).toMatchObject({ subject: "root", addr_source: "HUSH_ADDR", token_source: "HUSH_TOKEN" });
  });

  it("HUSH_CONFIG names another config file", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "hush-cfg-")), "custom.json");
    writeFileSync(file, JSON.stringify({ addr: inject("hushAddr"), token: inject("hushRootToken") }), { mode: 0o600 });
    const status = await hush(["status", "--json"], { token: null, env: { HUSH_ADDR: undefined, HUSH_CONFIG: file } });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).token_source).toBe(file);
  });

  it("login --role --jwt-file exchanges a JWT for a token", async () => {
    const admin = { authorization: `Bearer ${inject("hushRootToken")}`, "content-type": "application/json" };
    const policy = await fetch(`${inject("hushAddr")}/api/v1/auth/policies/cli-read`, {
      method: "PUT",
      headers: admin,
      body: JSON.stringify({ rules: [{ paths: ["*"], capabilities: ["read", "list"] }] }),
    });
    expect(policy.status).toBe(200);
    const { generateKeyPair, exportJWK, SignJWT } = await import("jose");
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "cli-test", alg: "ES256" };
    const role = await fetch(`${inject("hushAddr")}/api/v1/auth/roles`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({
        name: "cli-ci",
        issuer: "https://issuer.test",
        audience: "hush",
        jwks: { keys: [jwk] },
        bound_claims: { repository: "acme/app" },
        token_ttl_seconds: 600,
        policies: ["cli-read"],
      }),
    });
    expect(role.status).toBe(201);
    const jwt = await new SignJWT({ repository: "acme/app" })
      .setProtectedHeader({ alg: "ES256", kid: "cli-test" })
      .setIssuer("https://issuer.test")
      .setAudience("hush")
      .setSubject("repo:acme/app")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    const home = freshConfigHome();
    const jwtFile = join(home, "jwt");
    writeFileSync(jwtFile, jwt);
    const login = await hush(["login", "--addr", inject("hushAddr"), "--role", "cli-ci", "--jwt-file", jwtFile], {
      token: null,
      env: { XDG_CONFIG_HOME: home },
    });
    expect(login.code, login.stderr).toBe(0);
    expect(statSync(join(home, "hush", "config.json")).mode & 0o777).toBe(0o600);
    const status = await hush(["status", "--json"], { token: null, env: { XDG_CONFIG_HOME: home, HUSH_ADDR: undefined } });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).tenant).toBe("default");
    const bad = await hush(["login", "--addr", inject("hushAddr"), "--role", "no-such-role", "--jwt-file", jwtFile], {
      token: null,
      env: { XDG_CONFIG_HOME: home },
    });
    expect(bad.code).toBe(4);
  });
});

describe("hush health", () => {
  it("reports a healthy server", async () => {
    const health = await hush(["health"], { token: null });
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout).toMatch(/status\s+ok/);
    expect(JSON.parse((await hush(["health", "--json"], { token: null })).stdout)).toMatchObject({ status: "ok", master_key: "configured" });
  });
});

describe("npx hush", () => {
  it("is the package's bin", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"));
    expect(pkg.bin).toEqual({ hush: "cli/hush.mjs" });
    const head = readFileSync(join(import.meta.dirname, "..", "..", "cli", "hush.mjs"), "utf8").split("\n")[0];
    expect(head).toBe("#!/usr/bin/env node");
    expect(statSync(join(import.meta.dirname, "..", "..", "cli", "hush.mjs")).mode & 0o100).toBe(0o100);
  });
});
