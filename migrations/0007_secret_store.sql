ALTER TABLE `secret_versions` ADD `source_version` integer;--> statement-breakpoint
ALTER TABLE `secrets` ADD `generator` text;--> statement-breakpoint
CREATE INDEX `secrets_next_rotation` ON `secrets` (`tenant_id`,`next_rotation_at`);--> statement-breakpoint
CREATE INDEX `secrets_expires` ON `secrets` (`tenant_id`,`expires_at`);--> statement-breakpoint
CREATE INDEX `secrets_automatic_rotation` ON `secrets` (`next_rotation_at`) WHERE rotation_policy = 'AUTOMATIC' AND generator IS NOT NULL AND deleted_at IS NULL;