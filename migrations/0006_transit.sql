CREATE TABLE `rewrap_job` (
	`id` integer PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`state` text NOT NULL,
	`target_key_id` text NOT NULL,
	`table_index` integer NOT NULL,
	`cursor` text,
	`step` integer NOT NULL,
	`total` integer NOT NULL,
	`done` integer NOT NULL,
	`failed` integer NOT NULL,
	`started_at` integer NOT NULL,
	`started_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE TABLE `transit_key_versions` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`ciphertext` blob NOT NULL,
	`iv` blob NOT NULL,
	`wrapped_key` blob NOT NULL,
	`key_id` text NOT NULL,
	`public_key` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`, `version`)
);
--> statement-breakpoint
CREATE TABLE `transit_keys` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`latest_version` integer NOT NULL,
	`min_decryption_version` integer DEFAULT 1 NOT NULL,
	`deletion_allowed` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`)
);
