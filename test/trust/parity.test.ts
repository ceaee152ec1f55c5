import { beforeAll, describe, expect, it } from "vitest";
import { api, ROOT } from "../helpers";
import { putPolicy, uniqueName } from "../identity/helpers";
import { mint, put, setColumn, vault } from "./helpers";

/**
 * The parity matrix of issue 12: one read rule, so every front door that can release a
 * value gives the same decision for the same token and secret state. The decision is
 * computed once per cell (`expected`); each door only reports what it did.
 *
 * To add a front door, add ONE line to DOORS.
 */

const KINDS = [
  "root",
  "scope secrets:read",
  "scope with paths elsewhere",
  "policy allow",
  "policy allow + deny on the path",
  "service:web on a billing-only secret",
  "transit only",
] as const;
type Kind = (typeof KINDS)[number];

const STATES = [
  "live",
  "expired",
  "previous version past its grace period",
  "soft-deleted",
  "current version destroyed (Vault destroy)",
  "allowed_services excludes the caller",
] as const;
type State = (typeof STATES)[number];

/** Everything a door needs to try one cell. */
interface Ctx {
  kind: Kind;
  state: State;
  /** The target secret's path, its folder and its last segment. */
  path: string;
  folder: string;
  leaf: string;
  /** The version the cell is about and whether it is not the current one (only doors that address versions apply). */
  version: number;
  pastVersion: boolean;
  /** The value of that version: a door released it iff its answer contains it. */
  value: string;
  /** A secret the token may read whose value is `${secret.<path>}`. */
  referrer: string;
  /** The service whose map the token asks for. */
  service: string;
}

interface Door {
  name: string;
  /** Listings decide visibility (metadata), not value release. */
  visibility?: true;
  /** Can address a version other than the current one. */
  versions?: true;
  releases(token: string, path: string, ctx: Ctx): Promise<boolean>;
}

/** A response with a 5xx is a failure of the cell whatever the door; so is a value without a 200. */
function answer(door: string, res: { status: number; text: string }, value: string): boolean {
  if (res.status >= 500) throw new Error(`${door} answered ${res.status}: ${res.text.slice(0, 300)}`);
  const leaked = res.text.includes(value);
  if (leaked && res.status !== 200) throw new Error(`${door} answered ${res.status} with the value`);
  return leaked;
}

const q = encodeURIComponent;

const DOORS: Door[] = [
  {
    name: "native GET /store/{path}",
    versions: true,
    releases: async (token, path, ctx) =>
      answer("native", await api("GET", `/api/v1/secrets/store/${path}${ctx.pastVersion ? `?version=${ctx.version}` : ""}`, { token }), ctx.value),
  },
  {
    name: "history GET /store/history/{path}?version=N",
    versions: true,
    releases: async (token, path, ctx) =>
      answer("history", await api("GET", `/api/v1/secrets/store/history/${path}?version=${ctx.version}`, { token }), ctx.value),
  },
  {
    name: "Vault GET /v1/secret/data/{path}",
    versions: true,
    releases: async (token, path, ctx) =>
      answer("vault", await vault("GET", `secret/data/${path}${ctx.pastVersion ? `?version=${ctx.version}` : ""}`, { token }), ctx.value),
  },
  {
    name: "export ?include_values=true",
    releases: async (token, _path, ctx) =>
      answer("export", await api("GET", `/api/v1/secrets/export?prefix=${q(ctx.folder + "/")}&include_values=true`, { token }), ctx.value),
  },
  {
    name: "service map GET /service/{service}",
    releases: async (token, _path, ctx) => answer("service map", await api("GET", `/api/v1/secrets/service/${ctx.service}`, { token }), ctx.value),
  },
  {
    name: "reference ${secret.path} (?resolve=true)",
    releases: async (token, _path, ctx) => answer("reference", await api("GET", `/api/v1/secrets/store/${ctx.referrer}?resolve=true`, { token }), ctx.value),
  },
  {
    name: "native list GET /store?prefix=",
    visibility: true,
    releases: async (token, path, ctx) =>
      listed("native list", await api("GET", `/api/v1/secrets/store?prefix=${q(ctx.folder + "/")}&limit=1000`, { token }), (b) =>
        b.items.some((i: any) => i.path === path),
      ),
  },
  {
    name: "compare GET /secrets/compare (equality of values)",
    releases: async (token, _path, ctx) =>
      compared(await api("GET", `/api/v1/secrets/compare?left=${q(ctx.folder)}&right=${q(ctx.folder)}`, { token }), ctx, (i) => i.status === "same"),
  },
  {
    name: "compare GET /secrets/compare (keys)",
    visibility: true,
    releases: async (token, _path, ctx) =>
      compared(await api("GET", `/api/v1/secrets/compare?left=${q(ctx.folder)}&right=${q(`${ctx.folder}-none`)}`, { token }), ctx, (i) => i.left !== null),
  },
  {
    name: "folder listing GET /secrets/folders?prefix=",
    visibility: true,
    releases: async (token, path, ctx) =>
      listed("folders", await api("GET", `/api/v1/secrets/folders?prefix=${q(ctx.folder)}&limit=1000`, { token }), (b) =>
        b.secrets.some((i: any) => i.path === path),
      ),
  },
  {
    name: "Vault LIST /v1/secret/metadata/{folder}?list=true",
    visibility: true,
    releases: async (token, _path, ctx) =>
      listed("vault list", await vault("GET", `secret/metadata/${ctx.folder}?list=true`, { token }), (b) => b.data.keys.includes(ctx.leaf)),
  },
];

/** The compare route answers with fingerprints only: a value in it is a failure whatever the cell. */
function compared(res: { status: number; text: string; body: any }, ctx: Ctx, shows: (item: any) => boolean): boolean {
  if (res.status >= 500) throw new Error(`compare answered ${res.status}: ${res.text.slice(0, 300)}`);
  if (res.text.includes(ctx.value)) throw new Error("compare answered with the value");
  return res.status === 200 && res.body.items.some((i: any) => i.key === ctx.leaf && shows(i));
}

function listed(door: string, res: { status: number; text: string; body: any }, shows: (body: any) => boolean): boolean {
  if (res.status >= 500) throw new Error(`${door} answered ${res.status}: ${res.text.slice(0, 300)}`);
  return res.status === 200 && shows(res.body);
}

// The decision, once per cell.
const READS: Record<Kind, boolean> = {
  root: true,
  "scope secrets:read": true,
  "scope with paths elsewhere": false,
  "policy allow": true,
  "policy allow + deny on the path": false,
  "service:web on a billing-only secret": true,
  "transit only": false,
};
/** Listing needs `list` on the path; the deny rule denies read and list. */
const LISTS = READS;

function expectedRelease(kind: Kind, state: State): boolean {
  if (!READS[kind]) return false;
  if (state === "live") return true;
  if (state === "allowed_services excludes the caller") return kind !== "service:web on a billing-only secret";
  return false; // expired, past grace, soft-deleted, destroyed
}

/** Metadata shows for whoever may list the path, whatever the value's state, until the path is deleted. */
const expectedVisible = (kind: Kind, state: State) => LISTS[kind] && state !== "soft-deleted";

const tag = uniqueName("par");
const folder = `parity/${tag}`;
const refFolder = `parityref/${tag}`;
const web = uniqueName("web");
const billing = uniqueName("billing");
const leafOf = (state: State) => `s${STATES.indexOf(state)}`;
const pathOf = (state: State) => `${folder}/${leafOf(state)}`;
const valueOf = (state: State, version = 1) => `val.${leafOf(state)}.v${version}.${tag}.end`;

const tokens = {} as Record<Kind, string>;
const cells: Record<string, Pick<Ctx, "version" | "pastVersion" | "value">> = {};

beforeAll(async () => {
  const both = [web, billing];
  for (const state of STATES) {
    const path = pathOf(state);
    const services = state === "allowed_services excludes the caller" ? [billing] : both;
    await put(path, { value: valueOf(state), allowed_services: services });
    await put(`${refFolder}/${leafOf(state)}`, { value: `ref:\${secret.${path}}`, allowed_services: both });
    cells[state] = { version: 1, pastVersion: false, value: valueOf(state) };
    switch (state) {
      case "expired":
        await setColumn("secrets", "expires_at", Date.now() - 60_000, path);
        break;
      case "previous version past its grace period": {
        const res = await api("POST", `/api/v1/secrets/store/${path}/rotate`, { body: { value: valueOf(state, 2), expire_old_after_seconds: 0 } });
        expect(res.status, res.text).toBe(200);
        cells[state] = { version: 1, pastVersion: true, value: valueOf(state, 1) };
        break;
      }
      case "soft-deleted":
        expect((await api("DELETE", `/api/v1/secrets/store/${path}`)).status).toBe(200);
        break;
      case "current version destroyed (Vault destroy)": {
        await put(path, { value: valueOf(state, 2) });
        expect((await vault("PUT", `secret/destroy/${path}`, { body: { versions: [2] } })).status).toBe(204);
        cells[state] = { version: 2, pastVersion: false, value: valueOf(state, 2) };
        break;
      }
    }
  }
  const targets = STATES.map(pathOf);
  const allow = await putPolicy(uniqueName("parity-allow"), [{ paths: [`${folder}/*`, `${refFolder}/*`], capabilities: ["read", "list"] }]);
  const deny = await putPolicy(uniqueName("parity-deny"), [
    { paths: [`${folder}/*`, `${refFolder}/*`], capabilities: ["read", "list"] },
    { paths: targets, capabilities: ["read", "list"], effect: "deny" },
  ]);
  const read = ["secrets:read", "secrets:export"]; // export's values need secrets:export besides read
  tokens.root = ROOT;
  tokens["scope secrets:read"] = (await mint({ subject: uniqueName("par-scope"), scopes: read })).token;
  tokens["scope with paths elsewhere"] = (await mint({ subject: uniqueName("par-elsewhere"), scopes: read, paths: [`${refFolder}/*`] })).token;
  tokens["policy allow"] = (await mint({ subject: uniqueName("par-allow"), policies: [allow] })).token;
  tokens["policy allow + deny on the path"] = (await mint({ subject: uniqueName("par-deny"), policies: [deny] })).token;
  tokens["service:web on a billing-only secret"] = (await mint({ subject: `service:${web}`, scopes: read })).token;
  tokens["transit only"] = (await mint({ subject: uniqueName("par-transit"), scopes: ["transit:encrypt"] })).token;
});

describe("parity: every front door gives the read rule's decision", () => {
  for (const kind of KINDS) {
    for (const state of STATES) {
      const release = expectedRelease(kind, state);
      const visible = expectedVisible(kind, state);
      it(`${kind} × ${state}: value ${release ? "released" : "withheld"}, ${visible ? "listed" : "not listed"}`, async () => {
        const ctx: Ctx = {
          kind,
          state,
          path: pathOf(state),
          folder,
          leaf: leafOf(state),
          referrer: `${refFolder}/${leafOf(state)}`,
          service: kind === "service:web on a billing-only secret" ? web : billing,
          ...cells[state]!,
        };
        const doors = DOORS.filter((d) => d.visibility || !ctx.pastVersion || d.versions);
        const got: Record<string, string> = {};
        const want: Record<string, string> = {};
        for (const door of doors) {
          const expected = door.visibility ? visible : release;
          want[door.name] = door.visibility ? (expected ? "listed" : "not listed") : expected ? "released" : "withheld";
          try {
            const did = await door.releases(tokens[kind], ctx.path, ctx);
            got[door.name] = door.visibility ? (did ? "listed" : "not listed") : did ? "released" : "withheld";
          } catch (err) {
            got[door.name] = `error: ${(err as Error).message}`;
          }
        }
        expect(got).toEqual(want);
      });
    }
  }
});
