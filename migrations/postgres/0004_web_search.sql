-- Web searches answered from the cache (free), and what the request's
-- searches cost (part of cost_usd), for the monthly search budget.
ALTER TABLE usage_records ADD COLUMN web_searches_cached BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN web_search_usd DOUBLE PRECISION NOT NULL DEFAULT 0;
