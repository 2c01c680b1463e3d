-- agencybot schema, SQLite flavour. Kept column-for-column equal to
-- migrations/postgres/0001_initial.sql: the store runs the same SQL on both.
-- Times are milliseconds since the Unix epoch (UTC); JSON is stored as TEXT.

CREATE TABLE teams (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    default_model       TEXT,
    timezone            TEXT,
    daily_credit_budget INTEGER,
    created_at          INTEGER NOT NULL
);

CREATE TABLE members (
    id          INTEGER PRIMARY KEY,
    team_id     INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    from_config BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (team_id, name)
);

CREATE TABLE member_identities (
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    platform  TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    PRIMARY KEY (member_id, platform, user_id)
);
CREATE INDEX member_identities_by_user ON member_identities (platform, user_id);

CREATE TABLE channels (
    id                 INTEGER PRIMARY KEY,
    team_id            INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    platform           TEXT    NOT NULL,
    name               TEXT    NOT NULL UNIQUE,
    settings           TEXT    NOT NULL,
    permitted_user_ids TEXT    NOT NULL,
    allow_everyone     BOOLEAN NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    team_id    INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    key        TEXT    NOT NULL UNIQUE,
    platform   TEXT    NOT NULL,
    summary    TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE conversation_messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    tokens          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX conversation_messages_by_conversation ON conversation_messages (conversation_id, id);

CREATE TABLE pending_actions (
    id               INTEGER PRIMARY KEY,
    team_id          INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    conversation_key TEXT    NOT NULL,
    requested_by     TEXT    NOT NULL,
    tool             TEXT    NOT NULL,
    arguments        TEXT    NOT NULL,
    summary          TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'confirmed', 'executed', 'failed', 'declined', 'expired')),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    decided_at       INTEGER,
    decided_by       TEXT,
    result           TEXT,
    error            TEXT
);
CREATE INDEX pending_actions_by_conversation ON pending_actions (conversation_key, state);

CREATE TABLE scheduled_tasks (
    id                   INTEGER PRIMARY KEY,
    team_id              INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name                 TEXT    NOT NULL,
    creator              TEXT    NOT NULL,
    channel              TEXT    NOT NULL,
    destination          TEXT    NOT NULL,
    model                TEXT,
    prompt               TEXT    NOT NULL,
    skill                TEXT,
    schedule             TEXT    NOT NULL,
    timezone             TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('active', 'paused')),
    allowed_writes       TEXT    NOT NULL,
    last_run_at          INTEGER,
    next_run_at          INTEGER,
    consecutive_failures INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    UNIQUE (team_id, name)
);
CREATE INDEX scheduled_tasks_due ON scheduled_tasks (status, next_run_at);

CREATE TABLE task_runs (
    id            INTEGER PRIMARY KEY,
    task_id       INTEGER NOT NULL REFERENCES scheduled_tasks (id) ON DELETE CASCADE,
    scheduled_for INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    status        TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    output        TEXT,
    error         TEXT,
    instance      TEXT    NOT NULL,
    UNIQUE (task_id, scheduled_for, attempt)
);

CREATE TABLE usage_records (
    id                INTEGER PRIMARY KEY,
    team_id           INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    platform          TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('chat', 'scheduled_task')),
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          REAL    NOT NULL,
    credits           INTEGER NOT NULL,
    web_searches      INTEGER NOT NULL,
    duration_ms       INTEGER NOT NULL,
    outcome           TEXT    NOT NULL CHECK (outcome IN ('success', 'failed', 'refused')),
    created_at        INTEGER NOT NULL
);
CREATE INDEX usage_records_by_team_time ON usage_records (team_id, created_at);

CREATE TABLE installed_skills (
    team_id       INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    installed_via TEXT,
    installed_by  TEXT    NOT NULL,
    installed_at  INTEGER NOT NULL,
    PRIMARY KEY (team_id, name)
);
