CREATE TABLE `approval_consumptions` (
	`tenant_id` text NOT NULL,
	`request_id` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `request_id`)
);
--> statement-breakpoint
CREATE TABLE `approval_policies` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`paths` text NOT NULL,
	`actions` text NOT NULL,
	`approvals_required` integer NOT NULL,
	`approver_subjects` text NOT NULL,
	`approver_policies` text NOT NULL,
	`request_ttl_seconds` integer NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `approval_requests` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`policy_id` text NOT NULL,
	`action` text NOT NULL,
	`path` text NOT NULL,
	`requester` text NOT NULL,
	`required` integer NOT NULL,
	`received` integer DEFAULT 0 NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `approval_requests_open` ON `approval_requests` (`tenant_id`,`requester`,`action`,`path`,`state`);--> statement-breakpoint
CREATE TABLE `approval_votes` (
	`tenant_id` text NOT NULL,
	`request_id` text NOT NULL,
	`approver` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `request_id`, `approver`)
);
--> statement-breakpoint
CREATE TABLE `auth_roles` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`issuer` text NOT NULL,
	`audience` text NOT NULL,
	`jwks` text,
	`jwks_url` text,
	`bound_claims` text NOT NULL,
	`token_subject` text,
	`token_ttl_seconds` integer NOT NULL,
	`max_ttl_seconds` integer NOT NULL,
	`policies` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `policies` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`rules` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`)
);
--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `policies` text;--> statement-breakpoint
ALTER TABLE `secrets` ADD `allowed_services` text;