CREATE TABLE `pki_certificates` (
	`tenant_id` text NOT NULL,
	`serial` text NOT NULL,
	`issuer_id` text NOT NULL,
	`role` text NOT NULL,
	`lease_id` text NOT NULL,
	`common_name` text NOT NULL,
	`certificate` text NOT NULL,
	`not_after` integer NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	PRIMARY KEY(`tenant_id`, `serial`)
);
--> statement-breakpoint
CREATE INDEX `pki_certificates_revoked` ON `pki_certificates` (`tenant_id`,`issuer_id`,`not_after`) WHERE revoked_at IS NOT NULL;--> statement-breakpoint
CREATE TABLE `pki_issuers` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`common_name` text NOT NULL,
	`key_type` text NOT NULL,
	`key_bits` integer NOT NULL,
	`certificate` text,
	`chain` text NOT NULL,
	`csr` text,
	`not_after` integer,
	`is_default` integer DEFAULT false NOT NULL,
	`ciphertext` blob NOT NULL,
	`iv` blob NOT NULL,
	`wrapped_key` blob NOT NULL,
	`key_id` text NOT NULL,
	`crl` blob,
	`crl_number` integer DEFAULT 0 NOT NULL,
	`crl_next_update` integer,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `pki_issuers_default` ON `pki_issuers` (`tenant_id`) WHERE is_default = 1;--> statement-breakpoint
CREATE TABLE `pki_roles` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`config` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`)
);
