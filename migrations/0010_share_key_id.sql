ALTER TABLE `share_index` ADD `key_id` text;--> statement-breakpoint
-- Live server-sealed shares made before this column existed: their key is known only to their
-- ShareObject. "?unknown" can never be a master key id (ids are [A-Za-z0-9._-]), so the re-wrap
-- job visits each of them, asks the object, and records the real id (docs/decisions.md).
UPDATE `share_index` SET `key_id` = '?unknown' WHERE `mode` = 'sealed' AND `state` = 'active';
