-- Conversations are keyed by channel too, so one person talking to two bots
-- (two teams, or two bots of one install) never shares history or pending
-- actions. Pending actions gain the `unknown` state (sent, effect unknown),
-- the batch of the message that showed them, and when the user was told of
-- an outcome they did not see. Teams gain a daily USD budget.
-- Kept column-for-column equal to migrations/postgres/0002_gate.sql.

ALTER TABLE teams ADD COLUMN daily_usd_budget REAL;

-- An existing conversation belongs to its team's first channel on its
-- platform; terminal conversations to `terminal`.
UPDATE conversations SET key = COALESCE(
    (SELECT c.name FROM channels c
      WHERE c.team_id = conversations.team_id AND c.platform = conversations.platform
      ORDER BY c.id LIMIT 1),
    CASE platform WHEN 'terminal' THEN 'terminal' ELSE 'unassigned' END
) || '#' || key;

CREATE TABLE pending_actions_new (
    id               INTEGER PRIMARY KEY,
    team_id          INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    conversation_key TEXT    NOT NULL,
    requested_by     TEXT    NOT NULL,
    tool             TEXT    NOT NULL,
    arguments        TEXT    NOT NULL,
    summary          TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'confirmed', 'executed', 'failed', 'declined', 'expired', 'unknown')),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    decided_at       INTEGER,
    decided_by       TEXT,
    result           TEXT,
    error            TEXT,
    batch            INTEGER,
    notified_at      INTEGER
);
INSERT INTO pending_actions_new (id, team_id, conversation_key, requested_by, tool, arguments,
    summary, state, created_at, expires_at, decided_at, decided_by, result, error)
SELECT a.id, a.team_id,
       COALESCE(
           (SELECT c.name FROM channels c
             WHERE c.team_id = a.team_id
               AND c.platform = substr(a.conversation_key, 1, instr(a.conversation_key, ':') - 1)
             ORDER BY c.id LIMIT 1),
           CASE substr(a.conversation_key, 1, instr(a.conversation_key, ':') - 1)
               WHEN 'terminal' THEN 'terminal' ELSE 'unassigned' END
       ) || '#' || a.conversation_key,
       a.requested_by, a.tool, a.arguments, a.summary, a.state, a.created_at, a.expires_at,
       a.decided_at, a.decided_by, a.result, a.error
  FROM pending_actions a;
DROP TABLE pending_actions;
ALTER TABLE pending_actions_new RENAME TO pending_actions;
CREATE INDEX pending_actions_by_conversation ON pending_actions (conversation_key, state);
CREATE INDEX pending_actions_by_state ON pending_actions (state, expires_at);
