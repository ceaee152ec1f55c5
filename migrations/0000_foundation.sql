CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`subject` text NOT NULL,
	`scopes` text NOT NULL,
	`paths` text,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`expires_at` integer,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_hash` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `api_tokens_tenant` ON `api_tokens` (`tenant_id`,`subject`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`tenant_id` text NOT NULL,
	`seq` integer NOT NULL,
	`id` text NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`resource` text,
	`outcome` text NOT NULL,
	`status` integer NOT NULL,
	`request_id` text NOT NULL,
	`detail` text,
	`hash` text,
	PRIMARY KEY(`tenant_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `audit_events_resource` ON `audit_events` (`tenant_id`,`resource`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_events_unsealed` ON `audit_events` (`tenant_id`,`seq`) WHERE hash IS NULL;--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`fingerprint` text NOT NULL,
	`state` text NOT NULL,
	`status` integer,
	`response` blob,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_created` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `secret_versions` (
	`tenant_id` text NOT NULL,
	`path` text NOT NULL,
	`version` integer NOT NULL,
	`ciphertext` blob,
	`iv` blob,
	`wrapped_key` blob,
	`key_id` text,
	`state` text DEFAULT 'live' NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`readable_until` integer,
	`destroyed_at` integer,
	PRIMARY KEY(`tenant_id`, `path`, `version`)
);
--> statement-breakpoint
CREATE TABLE `secrets` (
	`tenant_id` text NOT NULL,
	`path` text NOT NULL,
	`current_version` integer NOT NULL,
	`type` text DEFAULT 'CUSTOM' NOT NULL,
	`environment` text,
	`description` text,
	`tags` text DEFAULT '[]' NOT NULL,
	`expires_at` integer,
	`rotation_policy` text DEFAULT 'MANUAL' NOT NULL,
	`rotation_days` integer,
	`next_rotation_at` integer,
	`max_versions` integer DEFAULT 0 NOT NULL,
	`custom_metadata` text,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	`deleted_at` integer,
	PRIMARY KEY(`tenant_id`, `path`)
);
--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
