CREATE TABLE `vault_config` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`cas_required` integer DEFAULT false NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `secrets` ADD `cas_required` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `secrets` ADD `delete_version_after` integer;