-- Live alerts from OnlyFansAPI webhooks. Kept column-for-column equal to
-- the other backend's 0007_webhook_alerts.sql.

-- One webhook per team: its unguessable path segment is the id; the
-- signing secrets verify each delivery (the previous one while rotating).
CREATE TABLE webhook_registrations (
    id              TEXT PRIMARY KEY,
    team_id         INTEGER NOT NULL REFERENCES teams(id),
    webhook_id      TEXT,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    events          TEXT NOT NULL DEFAULT '[]',
    accounts        TEXT NOT NULL DEFAULT '[]',
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Every verified delivery, once per idempotency key, journaled before it
-- is acknowledged and worked on afterwards (again after a restart).
CREATE TABLE webhook_events (
    id              INTEGER PRIMARY KEY,
    registration_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    redelivery_of   TEXT,
    event           TEXT NOT NULL,
    account_id      TEXT,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'working', 'done', 'quarantined')),
    detail          TEXT,
    received_at     INTEGER NOT NULL,
    claimed_at      INTEGER,
    processed_at    INTEGER
);
CREATE INDEX webhook_events_open ON webhook_events (status, received_at);

-- What a team wants to hear about, and where.
CREATE TABLE alert_rules (
    id              INTEGER PRIMARY KEY,
    team_id         INTEGER NOT NULL REFERENCES teams(id),
    kind            TEXT NOT NULL,
    accounts        TEXT NOT NULL DEFAULT '[]',
    threshold_cents INTEGER,
    channel         TEXT NOT NULL,
    destination     TEXT NOT NULL,
    digest_minutes  INTEGER,
    quiet_from      TEXT,
    quiet_until     TEXT,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

-- An alert is sent once per rule and event, whichever instance gets there.
CREATE TABLE alert_deliveries (
    rule_id      INTEGER NOT NULL,
    business_key TEXT NOT NULL,
    sent_at      INTEGER NOT NULL,
    PRIMARY KEY (rule_id, business_key)
);

-- Items waiting for a rule's digest; a batch claims them all at once.
CREATE TABLE alert_digest_items (
    rule_id  INTEGER NOT NULL,
    item_key TEXT NOT NULL,
    line     TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    batch    TEXT,
    PRIMARY KEY (rule_id, item_key)
);

-- Alerts are recorded in usage as their own request type. SQLite cannot
-- change a CHECK in place, so the table is rebuilt with its rows.
CREATE TABLE usage_records_new (
    id                  INTEGER PRIMARY KEY,
    team_id             INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    platform            TEXT    NOT NULL,
    user_id             TEXT    NOT NULL,
    kind                TEXT    NOT NULL CHECK (kind IN ('chat', 'scheduled_task', 'alert')),
    model               TEXT    NOT NULL,
    prompt_tokens       INTEGER NOT NULL,
    completion_tokens   INTEGER NOT NULL,
    cost_usd            REAL    NOT NULL,
    credits             INTEGER NOT NULL,
    web_searches        INTEGER NOT NULL,
    duration_ms         INTEGER NOT NULL,
    outcome             TEXT    NOT NULL CHECK (outcome IN ('success', 'failed', 'refused')),
    created_at          INTEGER NOT NULL,
    web_searches_cached INTEGER NOT NULL DEFAULT 0,
    web_search_usd      REAL    NOT NULL DEFAULT 0,
    integration_calls   TEXT    NOT NULL DEFAULT '{}'
);
INSERT INTO usage_records_new (id, team_id, platform, user_id, kind, model, prompt_tokens,
    completion_tokens, cost_usd, credits, web_searches, duration_ms, outcome, created_at,
    web_searches_cached, web_search_usd, integration_calls)
SELECT id, team_id, platform, user_id, kind, model, prompt_tokens, completion_tokens, cost_usd,
    credits, web_searches, duration_ms, outcome, created_at, web_searches_cached, web_search_usd,
    integration_calls
FROM usage_records;
DROP TABLE usage_records;
ALTER TABLE usage_records_new RENAME TO usage_records;
CREATE INDEX usage_records_by_team_time ON usage_records (team_id, created_at);
