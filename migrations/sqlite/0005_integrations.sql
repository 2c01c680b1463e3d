-- Calls a request made to integrations (MCP servers), as a JSON object of
-- integration name to number of calls.
ALTER TABLE usage_records ADD COLUMN integration_calls TEXT NOT NULL DEFAULT '{}';
