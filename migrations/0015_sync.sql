CREATE TABLE `sync_bindings` (
	`sync_id` text NOT NULL,
	`path` text NOT NULL,
	`tenant_id` text NOT NULL,
	`remote_key` text NOT NULL,
	`last_version` integer,
	`last_synced_at` integer,
	`last_error` text,
	`last_error_at` integer,
	`deleted` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`sync_id`, `path`)
);
--> statement-breakpoint
CREATE TABLE `sync_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`sync_id` text NOT NULL,
	`path` text NOT NULL,
	`version` integer,
	`op` text NOT NULL,
	`force` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`last_sent_at` integer,
	`sends` integer DEFAULT 0 NOT NULL,
	`claimed_until` integer,
	`delivered_at` integer,
	`dead_at` integer,
	`outcome` text
);
--> statement-breakpoint
CREATE INDEX `sync_outbox_unsent` ON `sync_outbox` (`tenant_id`,`created_at`) WHERE last_sent_at IS NULL AND delivered_at IS NULL AND dead_at IS NULL;--> statement-breakpoint
CREATE INDEX `sync_outbox_pending` ON `sync_outbox` (`last_sent_at`) WHERE delivered_at IS NULL AND dead_at IS NULL;--> statement-breakpoint
CREATE TABLE `sync_targets` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`config` blob NOT NULL,
	`summary` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `syncs` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`target` text NOT NULL,
	`source_path` text,
	`source_prefix` text,
	`remote_key` text,
	`remote_prefix` text,
	`propagate_deletes` integer DEFAULT false NOT NULL,
	`export_approved` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_by_token` text NOT NULL,
	`created_by_entity` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `syncs_tenant` ON `syncs` (`tenant_id`,`created_at`);--> statement-breakpoint
-- Hand-written (drizzle-kit does not manage triggers; docs/sync.md): a new version of a synced
-- path writes its delivery row in the same transaction as the version, whichever writer wrote it.
CREATE TRIGGER `sync_outbox_on_version` AFTER INSERT ON `secret_versions`
BEGIN
  INSERT OR IGNORE INTO `sync_outbox` (`id`, `tenant_id`, `sync_id`, `path`, `version`, `op`, `force`, `created_at`, `sends`)
  SELECT s.`id` || ':' || NEW.`path` || ':' || NEW.`version`, NEW.`tenant_id`, s.`id`, NEW.`path`, NEW.`version`, 'put', 0, NEW.`created_at`, 0
  FROM `syncs` s
  WHERE s.`tenant_id` = NEW.`tenant_id`
    AND (s.`source_path` = NEW.`path` OR (s.`source_prefix` IS NOT NULL AND substr(NEW.`path`, 1, length(s.`source_prefix`)) = s.`source_prefix`));
END;
--> statement-breakpoint
-- A soft deletion of a synced path: a delete delivery for the syncs that propagate deletes.
CREATE TRIGGER `sync_outbox_on_delete` AFTER UPDATE OF `deleted_at` ON `secrets`
WHEN OLD.`deleted_at` IS NULL AND NEW.`deleted_at` IS NOT NULL
BEGIN
  INSERT OR IGNORE INTO `sync_outbox` (`id`, `tenant_id`, `sync_id`, `path`, `version`, `op`, `force`, `created_at`, `sends`)
  SELECT s.`id` || ':' || NEW.`path` || ':delete:' || NEW.`deleted_at`, NEW.`tenant_id`, s.`id`, NEW.`path`, NEW.`current_version`, 'delete', 0, NEW.`deleted_at`, 0
  FROM `syncs` s
  WHERE s.`tenant_id` = NEW.`tenant_id` AND s.`propagate_deletes` = 1
    AND (s.`source_path` = NEW.`path` OR (s.`source_prefix` IS NOT NULL AND substr(NEW.`path`, 1, length(s.`source_prefix`)) = s.`source_prefix`));
END;
