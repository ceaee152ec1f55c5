ALTER TABLE `api_tokens` ADD `entity` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `parent_id` text;--> statement-breakpoint
CREATE INDEX `api_tokens_parent` ON `api_tokens` (`parent_id`);--> statement-breakpoint
ALTER TABLE `approval_requests` ADD `requester_entity` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `approval_votes` ADD `approver_entity` text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Existing rows: each token stands for its own subject (login tokens for their role and subject).
UPDATE `api_tokens` SET `entity` = CASE WHEN `created_by` LIKE 'role:%' THEN 'login:' || substr(`created_by`, 6) || ':' || `subject` ELSE 'subject:' || `subject` END WHERE `entity` = '';--> statement-breakpoint
UPDATE `approval_requests` SET `requester_entity` = 'subject:' || `requester` WHERE `requester_entity` = '';--> statement-breakpoint
UPDATE `approval_votes` SET `approver_entity` = 'subject:' || `approver` WHERE `approver_entity` = '';
