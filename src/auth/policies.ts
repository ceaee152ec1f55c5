import { z } from "@hono/zod-openapi";
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { policies } from "../db/schema";
import type { ResolvedRule } from "../http/context";
import { PathGlob } from "../http/rules";
import { CAPABILITIES } from "./access";

export const PolicyName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "1-64 characters of a-z 0-9 _ -, starting with a letter or digit");

export const PolicyRuleSchema = z
  .strictObject({
    paths: z.array(PathGlob).min(1).max(64),
    capabilities: z.array(z.enum(CAPABILITIES)).min(1),
    effect: z.enum(["allow", "deny"]).default("allow").openapi({ description: "deny rules win over every allow" }),
  })
  .openapi("PolicyRule");

/** The rules of the named policies of a tenant, flattened; unknown names grant nothing. */
export async function resolvePolicies(db: Db, tenantId: string, names: readonly string[]): Promise<ResolvedRule[]> {
  if (names.length === 0) return [];
  const rows = await db
    .select({ name: policies.name, rules: policies.rules })
    .from(policies)
    .where(and(eq(policies.tenantId, tenantId), inArray(policies.name, [...names])))
    .all();
  return rows.flatMap((row) =>
    row.rules.map((rule) => ({ policy: row.name, paths: rule.paths, capabilities: rule.capabilities, effect: rule.effect ?? "allow" })),
  );
}

/** Names among `names` that are not policies of the tenant. */
export async function unknownPolicies(db: Db, tenantId: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await db
    .select({ name: policies.name })
    .from(policies)
    .where(and(eq(policies.tenantId, tenantId), inArray(policies.name, [...names])))
    .all();
  const known = new Set(rows.map((r) => r.name));
  return names.filter((n) => !known.has(n));
}
