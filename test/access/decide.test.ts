import { describe, expect, it } from "vitest";
import { allowsEveryPathUnder, decide, onLeaseRole, onSecret, onTransitKey } from "../../src/auth/access";
import { checkGrant, childSubject, serviceOf } from "../../src/auth/identity";
import type { Principal, ResolvedRule } from "../../src/http/context";
import { readRefusal } from "../../src/secrets/read-rule";
import type { SecretRow, VersionRow } from "../../src/secrets/store";

/** Fast unit tests of the one access decision and the one read rule: no I/O at all. */

const principal = (over: Partial<Principal> & { rules?: ResolvedRule[] } = {}): Principal => ({
  tokenId: "tok_1",
  tenantId: "t",
  subject: "dev",
  entity: "subject:dev",
  service: null,
  scopes: new Set<string>(),
  paths: null,
  isRoot: false,
  expiresAt: null,
  policies: [],
  rules: [],
  ...over,
});
const rule = (paths: string[], capabilities: string[], effect: "allow" | "deny" = "allow", policy = "p"): ResolvedRule => ({
  policy,
  paths,
  capabilities,
  effect,
});

describe("decide()", () => {
  it("a scope counts only for its own capability: transit:encrypt reads nothing", () => {
    const p = principal({ scopes: new Set(["transit:encrypt"]), rules: [rule(["public/*"], ["read"])] });
    expect(decide(p, "secrets:read", "secret.read", onSecret("public/a")).allow).toBe(true);
    expect(decide(p, "secrets:read", "secret.read", onSecret("private/a")).allow).toBe(false);
    expect(decide(p, "secrets:export", "secret.export", onSecret("private/a")).allow).toBe(false);
    expect(decide(p, "secrets:read", "secret.list", onSecret("private/a")).allow).toBe(false);
  });

  it("deny wins over the scope and over every allow", () => {
    const p = principal({ scopes: new Set(["secrets:read"]), rules: [rule(["*"], ["read"]), rule(["app/prod/*"], ["read"], "deny", "no-prod")] });
    const denied = decide(p, "secrets:read", "secret.read", onSecret("app/prod/db"));
    expect(denied).toMatchObject({ allow: false, reason: "policy-deny", policy: "no-prod" });
    expect(decide(p, "secrets:read", "secret.read", onSecret("app/dev/db")).allow).toBe(true);
  });

  it("token paths bound scopes in the secret tree", () => {
    const p = principal({ scopes: new Set(["secrets:read"]), paths: ["app/*"] });
    expect(decide(p, "secrets:read", "secret.read", onSecret("app/x")).allow).toBe(true);
    expect(decide(p, "secrets:read", "secret.read", onSecret("db/x"))).toMatchObject({ allow: false, reason: "path" });
  });

  it("the lease capability is decided on provider/role", () => {
    const p = principal({ rules: [rule(["db/readonly"], ["lease"])] });
    expect(decide(p, "leases:write", "lease.issue", onLeaseRole("db", "readonly")).allow).toBe(true);
    expect(decide(p, "leases:write", "lease.issue", onLeaseRole("db", "admin")).allow).toBe(false);
    expect(decide(p, "leases:write", "lease.issue", onLeaseRole("hush-tokens", "admin")).allow).toBe(false);
  });

  it("admin capabilities count only on the whole tree, or on the named key", () => {
    const p = principal({ rules: [rule(["app/*"], ["admin"])] });
    expect(decide(p, "tokens:admin", "token.create").allow).toBe(false);
    const keyAdmin = principal({ rules: [rule(["payments"], ["admin"])] });
    expect(decide(keyAdmin, "transit:admin", "transit.key.rotate", onTransitKey("payments")).allow).toBe(true);
    expect(decide(keyAdmin, "transit:admin", "transit.key.rotate", onTransitKey("billing")).allow).toBe(false);
  });

  it("root is allowed everything", () => {
    expect(decide(principal({ isRoot: true }), "auth:admin", "policy.write").allow).toBe(true);
  });
});

describe("identities", () => {
  it("children nest under their creator and inherit its service binding", () => {
    const web = principal({ subject: "service:web", service: "web" });
    expect(childSubject(web, "billing")).toBe("service:web/billing");
    expect(childSubject(web, "service:web/ci")).toBe("service:web/ci");
    expect(serviceOf("service:web/billing")).toBe("web");
    expect(serviceOf("dev/service:billing")).toBeNull();
  });

  it("root cannot name reserved subjects", () => {
    for (const subject of ["root", "system", "anonymous", "role:x", "lease:x", "login:x", "jwt:ci:alice"]) {
      expect(() => childSubject(principal({ isRoot: true }), subject), subject).toThrow(/reserved/);
    }
  });

  it("a grant never exceeds the granter", () => {
    const p = principal({ scopes: new Set(["secrets:read"]), paths: ["app/*"] });
    expect(() => checkGrant(p, { scopes: ["secrets:read"], paths: ["app/db/*"] })).not.toThrow();
    expect(() => checkGrant(p, { scopes: ["tokens:admin"], paths: ["app/*"] })).toThrow(/scopes it does not hold/);
    expect(() => checkGrant(p, { scopes: ["secrets:read"], paths: null })).toThrow(/limited to paths/);
    expect(() => checkGrant(p, { scopes: ["secrets:read"], paths: ["db/*"] })).toThrow(/outside its own/);
  });
});

const now = 1_700_000_000_000;
const secret = (over: Partial<SecretRow> = {}): SecretRow =>
  ({ tenantId: "t", path: "app/db", currentVersion: 2, deletedAt: null, expiresAt: null, allowedServices: null, ...over }) as SecretRow;
const version = (over: Partial<VersionRow> = {}): VersionRow =>
  ({ tenantId: "t", path: "app/db", version: 2, state: "live", readableUntil: null, ...over }) as VersionRow;
const reader = principal({ scopes: new Set(["secrets:read"]) });

describe("readRefusal()", () => {
  it("lets a live value leave to a reader", () => {
    expect(readRefusal(reader, "read", "app/db", { secret: secret(), version: version() }, {}, now)).toBeUndefined();
  });

  it.each([
    ["soft-deleted", { secret: secret({ deletedAt: now - 1 }), version: version() }, "not-found"],
    ["deleted version", { secret: secret(), version: version({ state: "deleted" }) }, "version-deleted"],
    ["destroyed version", { secret: secret(), version: version({ state: "destroyed" }) }, "version-destroyed"],
    ["past its grace period", { secret: secret(), version: version({ readableUntil: now - 1 }) }, "version-expired"],
    ["expired secret", { secret: secret({ expiresAt: now - 1 }), version: version() }, "secret-expired"],
  ] as const)("refuses a %s", (_, found, reason) => {
    expect(readRefusal(reader, "read", "app/db", found, {}, now)?.reason).toBe(reason);
  });

  it("include_expired counts only for a caller that may write the path", () => {
    const found = { secret: secret({ expiresAt: now - 1 }), version: version() };
    expect(readRefusal(reader, "read", "app/db", found, { includeExpired: true }, now)?.reason).toBe("secret-expired");
    const writer = principal({ scopes: new Set(["secrets:read", "secrets:write"]) });
    expect(readRefusal(writer, "read", "app/db", found, { includeExpired: true }, now)).toBeUndefined();
  });

  it("a service-bound caller reads only secrets that list its service", () => {
    const web = principal({ subject: "service:web/ci", service: "web", scopes: new Set(["secrets:read"]) });
    expect(readRefusal(web, "read", "app/db", { secret: secret({ allowedServices: ["billing"] }), version: version() }, {}, now)?.reason).toBe(
      "service-not-allowed",
    );
    expect(readRefusal(web, "read", "app/db", { secret: secret({ allowedServices: ["web"] }), version: version() }, {}, now)).toBeUndefined();
  });

  it("export needs secrets:export (or read through a policy) on the path itself", () => {
    const found = { secret: secret(), version: version() };
    expect(readRefusal(reader, "export", "app/db", found, {}, now)?.reason).toBe("access");
    const exporter = principal({ rules: [rule(["public/*"], ["read"])] });
    expect(readRefusal(exporter, "export", "app/db", found, {}, now)?.reason).toBe("access");
    expect(readRefusal(exporter, "export", "public/x", { secret: secret({ path: "public/x" }), version: version() }, {}, now)).toBeUndefined();
  });
});

describe("allowsEveryPathUnder()", () => {
  const read = new Set(["secrets:read"]);
  const cases: [string, Principal, string, boolean][] = [
    ["root", principal({ isRoot: true }), "", true],
    ["the scope, no token paths", principal({ scopes: read }), "", true],
    ["token paths covering the folder", principal({ scopes: read, paths: ["app/*"] }), "app/db/", true],
    ["token paths inside the folder only", principal({ scopes: read, paths: ["app/db/*"] }), "app/", false],
    ["a token path with a star in the middle", principal({ scopes: read, paths: ["app/*/db"] }), "app/", false],
    ["an allow rule covering the folder", principal({ rules: [rule(["app/*"], ["list"])] }), "app/x/", true],
    ["an allow rule of another capability", principal({ rules: [rule(["app/*"], ["read"])] }), "app/", false],
    ["a deny rule anywhere", principal({ scopes: read, rules: [rule(["other/*"], ["list"], "deny")] }), "app/", false],
    ["no scope, no rule", principal(), "", false],
  ];
  const samples = ["app/a", "app/db/x", "app/db/y/z", "app/x/1", "other/q", "db"];
  for (const [name, p, prefix, expected] of cases) {
    it(`${name}: ${expected}, and never true where decide() refuses a path`, () => {
      expect(allowsEveryPathUnder(p, "secrets:read", "secret.list", prefix)).toBe(expected);
      if (!expected) return;
      for (const path of samples.filter((s) => s.startsWith(prefix))) {
        expect(decide(p, "secrets:read", "secret.list", onSecret(path)).allow, path).toBe(true);
      }
    });
  }
});
