-- Conversations are keyed by channel too, so one person talking to two bots
-- (two teams, or two bots of one install) never shares history or pending
-- actions. Pending actions gain the `unknown` state (sent, effect unknown),
-- the batch of the message that showed them, and when the user was told of
-- an outcome they did not see. Teams gain a daily USD budget.
-- Kept column-for-column equal to migrations/sqlite/0002_gate.sql.

ALTER TABLE teams ADD COLUMN daily_usd_budget DOUBLE PRECISION;

-- An existing conversation belongs to its team's first channel on its
-- platform; terminal conversations to `terminal`.
UPDATE conversations SET key = COALESCE(
    (SELECT c.name FROM channels c
      WHERE c.team_id = conversations.team_id AND c.platform = conversations.platform
      ORDER BY c.id LIMIT 1),
    CASE platform WHEN 'terminal' THEN 'terminal' ELSE 'unassigned' END
) || '#' || key;

UPDATE pending_actions a SET conversation_key = COALESCE(
    (SELECT c.name FROM channels c
      WHERE c.team_id = a.team_id AND c.platform = split_part(a.conversation_key, ':', 1)
      ORDER BY c.id LIMIT 1),
    CASE split_part(a.conversation_key, ':', 1) WHEN 'terminal' THEN 'terminal' ELSE 'unassigned' END
) || '#' || a.conversation_key;

ALTER TABLE pending_actions DROP CONSTRAINT pending_actions_state_check;
ALTER TABLE pending_actions ADD CONSTRAINT pending_actions_state_check
    CHECK (state IN ('pending', 'confirmed', 'executed', 'failed', 'declined', 'expired', 'unknown'));
ALTER TABLE pending_actions ADD COLUMN batch BIGINT;
ALTER TABLE pending_actions ADD COLUMN notified_at BIGINT;
CREATE INDEX pending_actions_by_state ON pending_actions (state, expires_at);
