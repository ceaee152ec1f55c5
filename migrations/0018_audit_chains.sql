-- Several audit chains per tenant (docs/decisions.md): a D1 copy names its chain, (tenant, chain, seq) is unique;
-- every existing copy and tenant is chain 0 of 1.
DROP INDEX `audit_events_seq`;--> statement-breakpoint
ALTER TABLE `audit_events` ADD `chain` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `audit_events_seq` ON `audit_events` (`tenant_id`,`chain`,`seq`);--> statement-breakpoint
ALTER TABLE `tenants` ADD `audit_chains` integer DEFAULT 1 NOT NULL;