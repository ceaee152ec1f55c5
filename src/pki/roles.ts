import { z } from "@hono/zod-openapi";
import { matchesGlob } from "../auth/access";
import { Glob } from "../http/rules";
import { Problem } from "../http/problem";
import type { KeySpec } from "./x509";

/**
 * A PKI role: which names a certificate may carry, its key, lifetime and usages.
 * Everything a caller asks for is checked here, and a request outside the role is a
 * 400 `pki-role-violation` whose `rule` names the setting that refused it.
 */
export const RoleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "1-63 characters of A-Z a-z 0-9 _ . -");
export const IssuerId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "1-63 characters of a-z 0-9 -");

/** A domain in allowed_domains: lower-case DNS labels; with allow_glob_domains, `*` inside labels. */
const Domain = Glob(253).regex(/^[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?(\.[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?)*$/, "A lower-case DNS name (globs may use *)");

export const KEY_USAGES = ["DigitalSignature", "KeyAgreement", "KeyEncipherment"] as const;
export type KeyUsageName = (typeof KEY_USAGES)[number];

const MAX_TTL = 366 * 24 * 3600;

export const PkiRoleBody = z
  .strictObject({
    /** The issuer that signs; absent = the tenant's default issuer at issue time. */
    issuer: IssuerId.optional(),
    allowed_domains: z.array(Domain).max(64).default([]),
    allow_bare_domains: z.boolean().default(false),
    allow_subdomains: z.boolean().default(false),
    allow_glob_domains: z.boolean().default(false),
    allow_wildcard_certificates: z.boolean().default(false),
    allow_any_name: z.boolean().default(false),
    enforce_hostnames: z.boolean().default(true),
    allow_ip_sans: z.boolean().default(false),
    /** Globs a URI SAN must match (matchesGlob); empty = no URI SANs. */
    allowed_uri_sans: z.array(Glob(256)).max(32).default([]),
    require_cn: z.boolean().default(true),
    key_type: z.enum(["ec", "ed25519", "rsa"]).default("ec"),
    /** ec: 256 or 384; rsa: 2048 or 3072; ed25519: 0. 0 = the type's default. */
    key_bits: z.number().int().default(0),
    ttl_seconds: z.number().int().min(1).max(MAX_TTL).default(3600),
    max_ttl_seconds: z.number().int().min(1).max(MAX_TTL).default(86400),
    key_usage: z.array(z.enum(KEY_USAGES)).max(3).default(["DigitalSignature", "KeyAgreement", "KeyEncipherment"]),
    server_flag: z.boolean().default(true),
    client_flag: z.boolean().default(true),
  })
  .superRefine((role, ctx) => {
    const bits = role.key_bits;
    const ok = role.key_type === "ec" ? [0, 256, 384].includes(bits) : role.key_type === "rsa" ? [0, 2048, 3072].includes(bits) : bits === 0;
    if (!ok) ctx.addIssue({ code: "custom", path: ["key_bits"], message: "ec: 256 or 384; rsa: 2048 or 3072; ed25519: 0" });
    if (role.ttl_seconds > role.max_ttl_seconds) ctx.addIssue({ code: "custom", path: ["ttl_seconds"], message: "Above max_ttl_seconds" });
    if (!role.allow_glob_domains && role.allowed_domains.some((d) => d.includes("*"))) {
      ctx.addIssue({ code: "custom", path: ["allowed_domains"], message: "A glob needs allow_glob_domains" });
    }
  })
  .openapi("PkiRole");
export type PkiRole = z.output<typeof PkiRoleBody>;

export const roleKeySpec = (role: PkiRole): KeySpec => ({
  type: role.key_type,
  bits: role.key_type === "ed25519" ? 0 : role.key_bits || (role.key_type === "rsa" ? 2048 : 256),
});

export const violation = (rule: string, detail: string, value?: unknown) =>
  new Problem(400, "pki-role-violation", detail, { rule, ...(value !== undefined && { value }) });

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const isHostname = (name: string) => name.length <= 253 && name.split(".").every((label) => LABEL.test(label));

/**
 * A glob in allowed_domains: `*` stands for one or more characters of a single DNS label,
 * never a dot, so `*.example.com` allows `a.example.com` but not `a.b.example.com`.
 */
function globDomain(glob: string, name: string): boolean {
  const globLabels = glob.split(".");
  const labels = name.split(".");
  if (globLabels.length !== labels.length) return false;
  return globLabels.every((g, i) => (g.includes("*") ? matchesGlob(g, labels[i]!) && labels[i]!.length > 0 : g === labels[i]));
}

/** Checks one DNS name (CN or DNS SAN) against the role; throws the rule it breaks. */
export function checkDnsName(role: PkiRole, raw: string, field: string): string {
  const name = raw.toLowerCase();
  if (name !== raw.trim().toLowerCase() || name.length === 0) throw violation("enforce_hostnames", `${field} ${JSON.stringify(raw)} is not a host name`, raw);
  const wildcard = name.startsWith("*.");
  const base = wildcard ? name.slice(2) : name;
  if (wildcard && !role.allow_wildcard_certificates) {
    throw violation("allow_wildcard_certificates", `${field} ${raw} is a wildcard and the role does not allow wildcard certificates`, raw);
  }
  // Host names only: no trailing dot, no empty labels, no characters outside LDH, no stray `*`.
  if ((role.enforce_hostnames || wildcard) && !isHostname(base)) {
    throw violation("enforce_hostnames", `${field} ${JSON.stringify(raw)} is not a host name`, raw);
  }
  if (role.allow_any_name) return name;
  for (const domain of role.allowed_domains) {
    if (domain.includes("*")) {
      if (!wildcard && role.allow_glob_domains && globDomain(domain, name)) return name;
      continue;
    }
    // A wildcard covers subdomains, so it needs allow_subdomains, whatever its base.
    if (wildcard) {
      if (role.allow_subdomains && (base === domain || base.endsWith(`.${domain}`))) return name;
      continue;
    }
    if (name === domain && role.allow_bare_domains) return name;
    // The dot matters: evilexample.com is not a subdomain of example.com.
    if (role.allow_subdomains && name.endsWith(`.${domain}`)) return name;
  }
  throw violation("allowed_domains", `${field} ${raw} is not allowed by the role's allowed_domains`, raw);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function checkIp(role: PkiRole, ip: string): string {
  if (!role.allow_ip_sans) throw violation("allow_ip_sans", `IP SAN ${ip} is not allowed: the role has allow_ip_sans off`, ip);
  if (IPV4.test(ip)) return ip;
  if (/^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(":") && URL.canParse(`http://[${ip}]/`)) return ip.toLowerCase();
  throw violation("allow_ip_sans", `${JSON.stringify(ip)} is not an IP address`, ip);
}

export function checkUri(role: PkiRole, uri: string): string {
  if (!URL.canParse(uri) || /[\s]/.test(uri)) throw violation("allowed_uri_sans", `URI SAN ${JSON.stringify(uri)} is not a URI`, uri);
  if (!role.allowed_uri_sans.some((glob) => matchesGlob(glob, uri))) {
    throw violation("allowed_uri_sans", `URI SAN ${uri} does not match the role's allowed_uri_sans`, uri);
  }
  return uri;
}

export interface NameRequest {
  commonName?: string;
  dnsNames: string[];
  ipSans: string[];
  uriSans: string[];
}

export interface CheckedNames {
  commonName: string;
  dnsNames: string[];
  ipSans: string[];
  uriSans: string[];
}

const MAX_SANS = 100;

/** Every name of a request, checked against the role; the CN is added to the DNS SANs. */
export function checkNames(role: PkiRole, request: NameRequest): CheckedNames {
  const total = request.dnsNames.length + request.ipSans.length + request.uriSans.length;
  if (total > MAX_SANS) throw violation("max_sans", `At most ${MAX_SANS} subject alternative names`);
  const cn = request.commonName?.trim();
  if (!cn) {
    if (role.require_cn) throw violation("require_cn", "The role requires a common_name");
  }
  if (cn && cn.length > 64) throw violation("common_name", "A common_name is at most 64 characters");
  const dnsNames = new Set<string>();
  if (cn) dnsNames.add(checkDnsName(role, cn, "common_name"));
  for (const name of request.dnsNames) dnsNames.add(checkDnsName(role, name, "alt_names"));
  const ipSans = [...new Set(request.ipSans.map((ip) => checkIp(role, ip)))];
  const uriSans = [...new Set(request.uriSans.map((uri) => checkUri(role, uri)))];
  return { commonName: cn?.toLowerCase() ?? "", dnsNames: [...dnsNames], ipSans, uriSans };
}

/** `1h`, `30m`, `90s`, `2d`, `3600` or a number of seconds (Vault's duration strings). */
export function parseTtl(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  if (typeof value === "string") {
    const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
    if (match) {
      const n = Number(match[1]);
      const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
      if (n > 0) return n * unit;
    }
  }
  throw violation("ttl", `ttl ${JSON.stringify(value)} is not a duration (seconds, or 90s, 30m, 1h, 2d)`);
}

/** Comma-separated lists (Vault's form) or arrays of strings. */
export function listOf(value: unknown, field: string): string[] {
  if (value === undefined || value === null || value === "") return [];
  if (typeof value === "string")
    return value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.map((s) => s.trim()).filter(Boolean);
  throw new Problem(400, "validation-failed", `${field} must be a string or a list of strings`);
}
