CREATE TABLE `share_index` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`mode` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`expires_at` integer NOT NULL,
	`max_views` integer NOT NULL,
	`views_left` integer NOT NULL,
	`state` text NOT NULL,
	`passphrase_required` integer NOT NULL,
	`viewed_at` integer,
	`ended_at` integer
);
--> statement-breakpoint
CREATE INDEX `share_index_tenant` ON `share_index` (`tenant_id`,`created_at`);