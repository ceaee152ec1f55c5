CREATE TABLE `scan_findings` (
	`tenant_id` text NOT NULL,
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`rule` text NOT NULL,
	`file` text NOT NULL,
	`line` integer NOT NULL,
	`column` integer,
	`commit` text,
	`fingerprint` text NOT NULL,
	`preview` text NOT NULL,
	`matches` text,
	PRIMARY KEY(`tenant_id`, `run_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `scan_runs` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`source` text NOT NULL,
	`rules_active` text NOT NULL,
	`finding_count` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `scan_runs_created` ON `scan_runs` (`tenant_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `secret_versions` ADD `value_mac` blob;--> statement-breakpoint
ALTER TABLE `secret_versions` ADD `value_mac_key_id` text;--> statement-breakpoint
CREATE INDEX `secret_versions_value_mac` ON `secret_versions` (`tenant_id`,`value_mac`);--> statement-breakpoint
CREATE INDEX `secret_versions_mac_pending` ON `secret_versions` (`value_mac_key_id`) WHERE state <> 'destroyed';