//! Conversations and their message history (the turn engine's memory).

use agencybot_core::{ConversationKey, Timestamp};

use crate::db::{args, placeholders};
use crate::{Result, Store, StoreError, millis, parse_json, parse_stored};

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: i64,
    pub team_id: i64,
    pub key: ConversationKey,
    /// Summary of turns dropped from the history to keep it short.
    pub summary: Option<String>,
    /// The model chosen for this conversation; `None` follows the team.
    pub model: Option<String>,
}

/// One chat-completions message (user, assistant with tool calls, tool result)
/// kept verbatim so a tool call is never separated from its result.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: i64,
    pub role: String,
    pub body: serde_json::Value,
    /// Token count measured when it was stored, for history budgeting.
    pub tokens: i64,
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: i64,
    team_id: i64,
    key: String,
    summary: Option<String>,
    model: Option<String>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    role: String,
    body: String,
    tokens: i64,
}

impl Store {
    /// The conversation for `key`, created on first use. A key already used
    /// by another team is refused, so no history crosses teams.
    pub async fn conversation(
        &self,
        team_id: i64,
        key: &ConversationKey,
        now: Timestamp,
    ) -> Result<Conversation> {
        let key_text = key.to_string();
        // Read first: nearly every message is to a conversation that
        // exists, and a read does not queue behind other writes.
        let found: Option<ConversationRow> = self
            .db
            .fetch_optional(
                "SELECT id, team_id, key, summary, model FROM conversations WHERE key = $1",
                args![key_text.as_str()],
            )
            .await?;
        let row = match found {
            Some(row) => row,
            // Created by whichever turn gets there first; the other reads it back.
            None => self
                .db
                .fetch_one(
                    "INSERT INTO conversations (team_id, key, platform, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) \
                         ON CONFLICT (key) DO UPDATE SET key = excluded.key \
                         RETURNING id, team_id, key, summary, model",
                    args![team_id, key_text, key.platform.as_str(), millis(now)],
                )
                .await?,
        };
        if row.team_id != team_id {
            return Err(StoreError::OtherTeam { key: row.key });
        }
        Ok(Conversation {
            id: row.id,
            team_id: row.team_id,
            key: parse_stored("conversation key", &row.key)?,
            summary: row.summary,
            model: row.model,
        })
    }

    /// The model chosen for the conversation, if it exists and chose one.
    pub async fn conversation_model(&self, key: &ConversationKey) -> Result<Option<String>> {
        let found: Option<(Option<String>,)> = self
            .db
            .fetch_optional(
                "SELECT model FROM conversations WHERE key = $1",
                args![key.to_string()],
            )
            .await?;
        Ok(found.and_then(|(model,)| model))
    }

    /// Chooses the model of a conversation (`None`: the team's again).
    pub async fn set_conversation_model(
        &self,
        team_id: i64,
        key: &ConversationKey,
        model: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let conversation = self.conversation(team_id, key, now).await?;
        self.db
            .execute(
                "UPDATE conversations SET model = $2, updated_at = $3 WHERE id = $1",
                args![conversation.id, model.map(str::to_owned), millis(now)],
            )
            .await?;
        Ok(())
    }

    /// Whether anything was ever said in the conversation (for adapters
    /// deciding whether a thread is one of the bot's).
    pub async fn has_conversation(&self, key: &ConversationKey) -> Result<bool> {
        let found: Option<(i64,)> = self
            .db
            .fetch_optional(
                "SELECT id FROM conversations WHERE key = $1",
                args![key.to_string()],
            )
            .await?;
        Ok(found.is_some())
    }

    /// The conversation's messages, oldest first.
    pub async fn history(&self, conversation_id: i64) -> Result<Vec<StoredMessage>> {
        let rows: Vec<MessageRow> = self
            .db
            .fetch_all(
                "SELECT id, role, body, tokens FROM conversation_messages \
                 WHERE conversation_id = $1 ORDER BY id",
                args![conversation_id],
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredMessage {
                    id: row.id,
                    role: row.role,
                    body: parse_json("conversation message", &row.body)?,
                    tokens: row.tokens,
                })
            })
            .collect()
    }

    /// Appends `messages` (role, body as JSON, tokens) in order, in one
    /// statement: a turn's messages land together or not at all.
    pub async fn append_messages(
        &self,
        conversation_id: i64,
        messages: &[(&str, &serde_json::value::RawValue, i64)],
        now: Timestamp,
    ) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT INTO conversation_messages (conversation_id, role, body, tokens, created_at) VALUES ",
        );
        sql.push_str(&placeholders(messages.len(), 5));
        let mut values = Vec::with_capacity(messages.len() * 5);
        for (role, body, tokens) in messages {
            values.extend(args![
                conversation_id,
                *role,
                body.get(),
                *tokens,
                millis(now)
            ]);
        }
        self.db.execute_built(sql, values).await?;
        Ok(())
    }

    /// Drops messages older than `keep_from_id` and stores the summary that replaces them.
    pub async fn compact_history(
        &self,
        conversation_id: i64,
        summary: Option<&str>,
        keep_from_id: i64,
    ) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM conversation_messages WHERE conversation_id = $1 AND id < $2",
                args![conversation_id, keep_from_id],
            )
            .await?;
        self.db
            .execute(
                "UPDATE conversations SET summary = $2 WHERE id = $1",
                args![conversation_id, summary],
            )
            .await?;
        Ok(())
    }

    /// Forgets everything said in the conversation (`/start`, `/reset`).
    pub async fn reset_conversation(&self, key: &ConversationKey) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM conversation_messages WHERE conversation_id IN \
                 (SELECT id FROM conversations WHERE key = $1)",
                args![key.to_string()],
            )
            .await?;
        self.db
            .execute(
                "UPDATE conversations SET summary = NULL WHERE key = $1",
                args![key.to_string()],
            )
            .await?;
        Ok(())
    }
}
