-- Channels' permitted users can be edited in the web console. The config's
-- own list is kept beside the one in force, so a config change still shows
-- and the console can go back to it; a channel edited in the console keeps
-- its list across restarts until then.
ALTER TABLE channels ADD COLUMN config_permitted_user_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE channels ADD COLUMN config_allow_everyone BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE channels ADD COLUMN access_edited_by TEXT;
ALTER TABLE channels ADD COLUMN access_edited_at BIGINT;
UPDATE channels SET config_permitted_user_ids = permitted_user_ids,
                    config_allow_everyone = allow_everyone;

-- Which browser a session is, so a member can tell their sessions apart.
ALTER TABLE console_sessions ADD COLUMN user_agent TEXT;
