ALTER TABLE `share_index` ADD `key_id` text;--> statement-breakpoint
-- Live server-sealed shares made before this column existed: their key is only known to their
-- ShareObject. "unknown" is never a master key id, so the re-wrap job visits each of them, asks
-- the object, and records the real id (docs/decisions.md, master-key rotation).
UPDATE `share_index` SET `key_id` = 'unknown' WHERE `mode` = 'sealed' AND `state` = 'active';
