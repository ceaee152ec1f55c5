CREATE TABLE `lease_providers` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`config` blob NOT NULL,
	`roles` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`health_status` text,
	`health_error` text,
	`health_checked_at` integer,
	PRIMARY KEY(`tenant_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `leases` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`provider` text NOT NULL,
	`kind` text NOT NULL,
	`role` text NOT NULL,
	`state` text NOT NULL,
	`external_id` text,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`expires_at` integer NOT NULL,
	`max_expires_at` integer NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	`revoke_reason` text,
	`revoke_requested_at` integer,
	`revoked_at` integer,
	`failed_at` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `leases_tenant_state` ON `leases` (`tenant_id`,`state`,`created_at`);--> statement-breakpoint
CREATE INDEX `leases_tenant_provider` ON `leases` (`tenant_id`,`provider`,`role`);--> statement-breakpoint
CREATE INDEX `leases_issued_expiry` ON `leases` (`expires_at`) WHERE state = 'issued';--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`lease_id` text NOT NULL,
	`generation` integer NOT NULL,
	`created_at` integer NOT NULL,
	`last_sent_at` integer NOT NULL,
	`sends` integer DEFAULT 1 NOT NULL,
	`claimed_until` integer,
	`delivered_at` integer,
	`dead_at` integer
);
--> statement-breakpoint
CREATE INDEX `outbox_pending` ON `outbox` (`last_sent_at`) WHERE delivered_at IS NULL AND dead_at IS NULL;