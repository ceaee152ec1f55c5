DROP INDEX `audit_events_tenant`;--> statement-breakpoint
DROP INDEX `audit_events_resource`;--> statement-breakpoint
DROP INDEX `audit_events_unsealed`;--> statement-breakpoint
-- Events written before the audit chain moved into the AuditChain objects (issue 13) keep their
-- old numbering here, out of the way of the chain's copies (whose seq starts again at 1).
CREATE TABLE `audit_events_legacy` AS SELECT * FROM `audit_events`;--> statement-breakpoint
DELETE FROM `audit_events`;
--> statement-breakpoint
-- The chain object imports a tenant's legacy events on its first use, in commit order (durable-objects/audit-chain.ts).
CREATE INDEX `audit_events_legacy_tenant` ON `audit_events_legacy` (`tenant_id`,`n`);
