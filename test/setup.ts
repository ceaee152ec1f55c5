import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Every D1 database the tenants spread over (DB, DB_1: src/db/directory.ts).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.DB_1, env.TEST_MIGRATIONS);
