PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_audit_events` (
	`n` integer PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`seq` integer,
	`id` text NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`resource` text,
	`outcome` text NOT NULL,
	`status` integer NOT NULL,
	`request_id` text NOT NULL,
	`detail` text,
	`hash` text
);
--> statement-breakpoint
INSERT INTO `__new_audit_events`("n", "tenant_id", "seq", "id", "at", "actor", "action", "resource", "outcome", "status", "request_id", "detail", "hash") SELECT rowid, "tenant_id", "seq", "id", "at", "actor", "action", "resource", "outcome", "status", "request_id", "detail", "hash" FROM `audit_events`;--> statement-breakpoint
DROP TABLE `audit_events`;--> statement-breakpoint
ALTER TABLE `__new_audit_events` RENAME TO `audit_events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `audit_events_seq` ON `audit_events` (`tenant_id`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_events_tenant` ON `audit_events` (`tenant_id`,`n`);--> statement-breakpoint
CREATE INDEX `audit_events_resource` ON `audit_events` (`tenant_id`,`resource`,`n`);--> statement-breakpoint
CREATE INDEX `audit_events_unsealed` ON `audit_events` (`tenant_id`,`n`) WHERE seq IS NULL;