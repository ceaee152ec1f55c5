CREATE TABLE `static_roles` (
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`provider` text NOT NULL,
	`strategy` text NOT NULL,
	`usernames` text NOT NULL,
	`grace_seconds` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `static_rotations` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`provider` text NOT NULL,
	`strategy` text NOT NULL,
	`state` text NOT NULL,
	`phase` text NOT NULL,
	`failed_phase` text,
	`old_version` integer NOT NULL,
	`old_username` text NOT NULL,
	`new_username` text NOT NULL,
	`new_version` integer,
	`republished_version` integer,
	`staged` blob,
	`retire_at` integer,
	`claimed_until` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`trigger` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `static_rotations_one_running` ON `static_rotations` (`tenant_id`,`key`) WHERE state = 'running';--> statement-breakpoint
CREATE INDEX `static_rotations_running` ON `static_rotations` (`updated_at`) WHERE state = 'running';--> statement-breakpoint
CREATE INDEX `static_rotations_by_key` ON `static_rotations` (`tenant_id`,`key`,`created_at`);