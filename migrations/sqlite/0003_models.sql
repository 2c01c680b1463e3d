-- A conversation may choose its own model ("/model claude-sonnet-4.5");
-- NULL follows the team's default.
ALTER TABLE conversations ADD COLUMN model TEXT;
