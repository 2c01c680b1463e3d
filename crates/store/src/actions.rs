//! Pending actions: writes waiting for the asking user's yes.

use agencybot_core::{ActionState, ConversationKey, NewPendingAction, PendingAction, Timestamp};

use crate::db::args;
use crate::{
    Result, Store, StoreError, from_millis, millis, opt_from_millis, parse_json, parse_stored,
};

/// The columns `ActionRow` reads, as a literal for `concat!`.
macro_rules! action_columns {
    () => {
        "id, team_id, conversation_key, requested_by, tool, arguments, summary, state, \
         created_at, expires_at, decided_at, decided_by, result, error, batch, notified_at"
    };
}

/// Why a confirmation (or a decline) changed nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmRefusal {
    NotFound,
    /// Only the user who asked may answer.
    OtherUser,
    /// Answers count only in the conversation the action was proposed in.
    OtherConversation,
    Expired,
    /// Already confirmed, executed, failed, declined or expired.
    AlreadyDecided(ActionState),
}

impl std::fmt::Display for ConfirmRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfirmRefusal::NotFound => f.write_str("there is no such pending action"),
            ConfirmRefusal::OtherUser => {
                f.write_str("only the person who asked for this action can answer it")
            }
            ConfirmRefusal::OtherConversation => {
                f.write_str("this action belongs to another conversation")
            }
            ConfirmRefusal::Expired => f.write_str("this action expired before it was confirmed"),
            ConfirmRefusal::AlreadyDecided(state) => write!(f, "this action was already {state}"),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: i64,
    team_id: i64,
    conversation_key: String,
    requested_by: String,
    tool: String,
    arguments: String,
    summary: String,
    state: String,
    created_at: i64,
    expires_at: i64,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    result: Option<String>,
    error: Option<String>,
    batch: Option<i64>,
    notified_at: Option<i64>,
}

impl ActionRow {
    fn into_action(self) -> Result<PendingAction> {
        Ok(PendingAction {
            id: self.id,
            team_id: self.team_id,
            conversation: parse_stored("action conversation", &self.conversation_key)?,
            requested_by: self.requested_by,
            tool: self.tool,
            arguments: parse_json("action arguments", &self.arguments)?,
            summary: self.summary,
            state: parse_stored("action state", &self.state)?,
            created_at: from_millis("action created_at", self.created_at)?,
            expires_at: from_millis("action expires_at", self.expires_at)?,
            decided_at: opt_from_millis("action decided_at", self.decided_at)?,
            decided_by: self.decided_by,
            result: self
                .result
                .as_deref()
                .map(|r| parse_json("action result", r))
                .transpose()?,
            error: self.error,
            batch: self.batch.unwrap_or(self.id),
            notified_at: opt_from_millis("action notified_at", self.notified_at)?,
        })
    }
}

/// How a confirmed action ended.
#[derive(Debug, Clone, Copy)]
pub enum ActionOutcome<'a> {
    Executed(&'a serde_json::Value),
    /// The API (or tool) refused: nothing happened.
    Failed(&'a str),
    /// Sent, but whether it took effect is not known (timeout, lost
    /// connection): the user must check, it is never sent again by itself.
    Unknown(&'a str),
}

/// The decision a user makes about a pending action.
#[derive(Clone, Copy)]
enum Decision {
    Confirm,
    Decline,
}

impl Store {
    pub async fn create_pending_action(
        &self,
        action: &NewPendingAction,
        now: Timestamp,
    ) -> Result<PendingAction> {
        let (id,): (i64,) = self
            .db
            .fetch_one(
                "INSERT INTO pending_actions (team_id, conversation_key, requested_by, tool, \
                 arguments, summary, state, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) RETURNING id",
                args![
                    action.team_id,
                    action.conversation.to_string(),
                    &action.requested_by,
                    &action.tool,
                    action.arguments.to_string(),
                    &action.summary,
                    millis(now),
                    millis(action.expires_at)
                ],
            )
            .await?;
        self.pending_action(id).await?.ok_or(StoreError::NotFound {
            what: "pending action",
            key: id.to_string(),
        })
    }

    pub async fn pending_action(&self, id: i64) -> Result<Option<PendingAction>> {
        let row: Option<ActionRow> = self
            .db
            .fetch_optional(
                concat!(
                    "SELECT ",
                    action_columns!(),
                    " FROM pending_actions WHERE id = $1"
                ),
                args![id],
            )
            .await?;
        row.map(ActionRow::into_action).transpose()
    }

    /// Actions of a conversation still waiting for an answer at `now`,
    /// oldest first. An action past its expiry is never listed, swept or not.
    pub async fn open_actions(
        &self,
        conversation: &ConversationKey,
        now: Timestamp,
    ) -> Result<Vec<PendingAction>> {
        let rows: Vec<ActionRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    action_columns!(),
                    " FROM pending_actions WHERE conversation_key = $1 AND state = 'pending' \
                     AND expires_at > $2 ORDER BY id"
                ),
                args![conversation.to_string(), millis(now)],
            )
            .await?;
        rows.into_iter().map(ActionRow::into_action).collect()
    }

    /// Marks actions proposed in one message as one batch (a typed yes
    /// answers one message's actions together).
    pub async fn group_actions(&self, ids: &[i64]) -> Result<()> {
        let Some(&first) = ids.iter().min() else {
            return Ok(());
        };
        for id in ids {
            self.db
                .execute(
                    "UPDATE pending_actions SET batch = $2 WHERE id = $1",
                    args![*id, first],
                )
                .await?;
        }
        Ok(())
    }

    /// Outcomes the user has not been told of yet in this conversation
    /// (expired requests, writes whose outcome became unknown in a restart),
    /// marked as told: each is returned once, across instances. A request
    /// still pending past its expiry is expired here, so one query finds
    /// them all without sweeping every conversation first.
    pub async fn take_unnoticed(
        &self,
        conversation: &ConversationKey,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<PendingAction>> {
        let rows: Vec<ActionRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    action_columns!(),
                    " FROM pending_actions WHERE conversation_key = $1 AND requested_by = $2 \
                     AND notified_at IS NULL \
                     AND (state IN ('expired', 'unknown') OR (state = 'pending' AND expires_at <= $3)) \
                     ORDER BY id"
                ),
                args![conversation.to_string(), user_id, millis(now)],
            )
            .await?;
        let mut taken = Vec::new();
        for row in rows {
            let mut action = row.into_action()?;
            if action.state == ActionState::Pending {
                // Confirmed or declined a moment ago: not expired after all.
                if !self.mark_expired(action.id, now).await? {
                    continue;
                }
                action.state = ActionState::Expired;
                action.decided_at = Some(now);
            }
            if self.mark_notified(action.id, now).await? {
                action.notified_at = Some(now);
                taken.push(action);
            }
        }
        Ok(taken)
    }

    /// Records that the user was told how the action ended; false if they
    /// already were.
    pub async fn mark_notified(&self, id: i64, now: Timestamp) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "UPDATE pending_actions SET notified_at = $2 WHERE id = $1 AND notified_at IS NULL",
                args![id, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Confirmed actions whose execution never recorded an end (the process
    /// stopped between the yes and the API's answer) become `unknown`.
    /// Only those confirmed before `confirmed_before`, so an action another
    /// instance is still executing is left alone.
    pub async fn recover_interrupted(
        &self,
        confirmed_before: Timestamp,
    ) -> Result<Vec<PendingAction>> {
        self.move_each(
            "SELECT id FROM pending_actions WHERE state = 'confirmed' AND decided_at < $1",
            millis(confirmed_before),
            "UPDATE pending_actions SET state = 'unknown', error = $2 \
             WHERE id = $1 AND state = 'confirmed'",
            "agencybot stopped after this was confirmed and before the API answered".into(),
        )
        .await
    }

    /// Applies the conditional `update` (`$1` the id, `$2` = `value`) to
    /// each action `select` (`$1` = `bound`) finds; returns those this call
    /// moved, so racing instances each report an action once.
    async fn move_each(
        &self,
        select: &'static str,
        bound: i64,
        update: &'static str,
        value: crate::db::Value,
    ) -> Result<Vec<PendingAction>> {
        let due: Vec<(i64,)> = self.db.fetch_all(select, args![bound]).await?;
        let mut moved = Vec::new();
        for (id,) in due {
            let changed = self
                .db
                .execute(update, vec![crate::db::Value::from(id), value.clone()])
                .await?;
            if changed == 1
                && let Some(action) = self.pending_action(id).await?
            {
                moved.push(action);
            }
        }
        Ok(moved)
    }

    /// Whether any write of the conversation was sent or may have been
    /// (confirmed, executed or of unknown outcome): a run that made one is
    /// never run again.
    pub async fn conversation_sent_writes(&self, conversation: &ConversationKey) -> Result<bool> {
        let (count,): (i64,) = self
            .db
            .fetch_one(
                "SELECT COUNT(*) FROM pending_actions WHERE conversation_key = $1 \
                 AND state IN ('confirmed', 'executed', 'unknown')",
                args![conversation.to_string()],
            )
            .await?;
        Ok(count > 0)
    }

    /// The user's most recent actions in a conversation, in any state, newest first.
    pub async fn recent_actions(
        &self,
        conversation: &ConversationKey,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<PendingAction>> {
        let rows: Vec<ActionRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    action_columns!(),
                    " FROM pending_actions WHERE conversation_key = $1 AND requested_by = $2 \
                     ORDER BY id DESC LIMIT $3"
                ),
                args![conversation.to_string(), user_id, limit],
            )
            .await?;
        rows.into_iter().map(ActionRow::into_action).collect()
    }

    /// Confirms the action if `user_id` asked for it in `conversation`, it is
    /// still pending and not expired. Atomic: of any number of concurrent
    /// confirmations exactly one returns `Ok(Ok(action))`.
    pub async fn confirm_action(
        &self,
        id: i64,
        conversation: &ConversationKey,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Result<PendingAction, ConfirmRefusal>> {
        self.decide(id, conversation, user_id, now, Decision::Confirm)
            .await
    }

    /// Declines the action under the same rules as [`Store::confirm_action`].
    pub async fn decline_action(
        &self,
        id: i64,
        conversation: &ConversationKey,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Result<PendingAction, ConfirmRefusal>> {
        self.decide(id, conversation, user_id, now, Decision::Decline)
            .await
    }

    async fn decide(
        &self,
        id: i64,
        conversation: &ConversationKey,
        user_id: &str,
        now: Timestamp,
        decision: Decision,
    ) -> Result<Result<PendingAction, ConfirmRefusal>> {
        let sql = match decision {
            Decision::Confirm => {
                "UPDATE pending_actions SET state = 'confirmed', decided_at = $4, decided_by = $3 \
                 WHERE id = $1 AND conversation_key = $2 AND requested_by = $3 \
                 AND state = 'pending' AND expires_at > $4"
            }
            Decision::Decline => {
                "UPDATE pending_actions SET state = 'declined', decided_at = $4, decided_by = $3 \
                 WHERE id = $1 AND conversation_key = $2 AND requested_by = $3 \
                 AND state = 'pending' AND expires_at > $4"
            }
        };
        let changed = self
            .db
            .execute(
                sql,
                args![id, conversation.to_string(), user_id, millis(now)],
            )
            .await?;
        let Some(action) = self.pending_action(id).await? else {
            return Ok(Err(ConfirmRefusal::NotFound));
        };
        if changed == 1 {
            return Ok(Ok(action));
        }
        if action.conversation != *conversation {
            return Ok(Err(ConfirmRefusal::OtherConversation));
        }
        if action.requested_by != user_id {
            return Ok(Err(ConfirmRefusal::OtherUser));
        }
        if action.state != ActionState::Pending {
            return Ok(Err(ConfirmRefusal::AlreadyDecided(action.state)));
        }
        self.mark_expired(id, now).await?;
        Ok(Err(ConfirmRefusal::Expired))
    }

    /// Records how a confirmed action ended. Returns false if it was not in
    /// the `confirmed` state (so it is recorded once). The user sees the
    /// outcome in the same turn, so it counts as told.
    pub async fn finish_action(
        &self,
        id: i64,
        outcome: ActionOutcome<'_>,
        now: Timestamp,
    ) -> Result<bool> {
        let (state, result, error) = match outcome {
            ActionOutcome::Executed(result) => ("executed", Some(result.to_string()), None),
            ActionOutcome::Failed(error) => ("failed", None, Some(error)),
            ActionOutcome::Unknown(error) => ("unknown", None, Some(error)),
        };
        let changed = self
            .db
            .execute(
                "UPDATE pending_actions SET state = $2, result = $3, error = $4, notified_at = $5 \
                 WHERE id = $1 AND state = 'confirmed'",
                args![id, state, result, error, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Moves every pending action past its expiry to `expired`; returns those
    /// this call expired, so each expiry is reported once.
    pub async fn expire_actions(&self, now: Timestamp) -> Result<Vec<PendingAction>> {
        self.move_each(
            "SELECT id FROM pending_actions WHERE state = 'pending' AND expires_at <= $1",
            millis(now),
            "UPDATE pending_actions SET state = 'expired', decided_at = $2 \
             WHERE id = $1 AND state = 'pending' AND expires_at <= $2",
            millis(now).into(),
        )
        .await
    }

    async fn mark_expired(&self, id: i64, now: Timestamp) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "UPDATE pending_actions SET state = 'expired', decided_at = $2 \
                 WHERE id = $1 AND state = 'pending' AND expires_at <= $2",
                args![id, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }
}
