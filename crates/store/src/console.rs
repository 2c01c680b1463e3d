//! The web console's sign-in links, sessions and audit log. Tokens are
//! handed in already hashed: the store never sees one that signs anyone in.

use agencybot_core::Timestamp;

use crate::db::args;
use crate::{Result, Store, from_millis, millis};

/// Who a link or a session signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleIdentity {
    pub team_id: i64,
    pub member_name: String,
}

/// A live console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub identity: ConsoleIdentity,
    /// Every form of the session carries it back.
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

/// A live session as the sessions page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionInfo {
    /// The stored hash, which names the session without signing anyone in.
    pub id_hash: String,
    pub member_name: String,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// One change made in the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub team_id: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub created_at: Timestamp,
}

type AuditRow = (i64, i64, String, String, String, i64);

impl Store {
    pub async fn create_console_link(
        &self,
        token_hash: &str,
        identity: &ConsoleIdentity,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO console_links (token_hash, team_id, member_name, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                args![
                    token_hash,
                    identity.team_id,
                    identity.member_name.as_str(),
                    millis(now),
                    millis(expires_at)
                ],
            )
            .await?;
        Ok(())
    }

    /// Uses a link: whom it signs in, once, while it is fresh; `None` for a
    /// link that is unknown, used or expired.
    pub async fn redeem_console_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ConsoleIdentity>> {
        let row: Option<(i64, String)> = self
            .db
            .fetch_optional(
                "UPDATE console_links SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING team_id, member_name",
                args![token_hash, millis(now)],
            )
            .await?;
        Ok(row.map(|(team_id, member_name)| ConsoleIdentity {
            team_id,
            member_name,
        }))
    }

    pub async fn create_console_session(
        &self,
        id_hash: &str,
        session: &ConsoleSession,
        user_agent: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO console_sessions (id_hash, team_id, member_name, csrf_token, created_at, expires_at, user_agent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![
                    id_hash,
                    session.identity.team_id,
                    session.identity.member_name.as_str(),
                    session.csrf_token.as_str(),
                    millis(now),
                    millis(session.expires_at),
                    user_agent
                ],
            )
            .await?;
        Ok(())
    }

    /// The session, while it has neither expired nor ended.
    pub async fn console_session(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ConsoleSession>> {
        let row: Option<(i64, String, String, i64)> = self
            .db
            .fetch_optional(
                "SELECT team_id, member_name, csrf_token, expires_at FROM console_sessions \
                 WHERE id_hash = $1 AND ended_at IS NULL AND expires_at > $2",
                args![id_hash, millis(now)],
            )
            .await?;
        row.map(|(team_id, member_name, csrf_token, expires_at)| {
            Ok(ConsoleSession {
                identity: ConsoleIdentity {
                    team_id,
                    member_name,
                },
                csrf_token,
                expires_at: from_millis("console_sessions.expires_at", expires_at)?,
            })
        })
        .transpose()
    }

    /// The team's live sessions, newest first; only `member`'s when given.
    pub async fn console_sessions(
        &self,
        team_id: i64,
        member: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<ConsoleSessionInfo>> {
        let rows: Vec<(String, String, Option<String>, i64, i64)> = self
            .db
            .fetch_all(
                "SELECT id_hash, member_name, user_agent, created_at, expires_at FROM console_sessions \
                 WHERE team_id = $1 AND ($2 IS NULL OR member_name = $2) \
                 AND ended_at IS NULL AND expires_at > $3 ORDER BY created_at DESC, id_hash",
                args![team_id, member, millis(now)],
            )
            .await?;
        rows.into_iter()
            .map(
                |(id_hash, member_name, user_agent, created_at, expires_at)| {
                    Ok(ConsoleSessionInfo {
                        id_hash,
                        member_name,
                        user_agent,
                        created_at: from_millis("console_sessions.created_at", created_at)?,
                        expires_at: from_millis("console_sessions.expires_at", expires_at)?,
                    })
                },
            )
            .collect()
    }

    /// Ends one of the team's sessions; false when there is no such live
    /// session in that team.
    pub async fn end_team_console_session(
        &self,
        team_id: i64,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "UPDATE console_sessions SET ended_at = $3 WHERE id_hash = $2 AND team_id = $1 \
                 AND ended_at IS NULL",
                args![team_id, id_hash, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Signs one session out.
    pub async fn end_console_session(&self, id_hash: &str, now: Timestamp) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "UPDATE console_sessions SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL",
                args![id_hash, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Signs a member out everywhere (a removed member, a changed role);
    /// returns how many sessions ended.
    pub async fn end_member_console_sessions(
        &self,
        identity: &ConsoleIdentity,
        now: Timestamp,
    ) -> Result<u64> {
        self.db
            .execute(
                "UPDATE console_sessions SET ended_at = $3 \
                 WHERE team_id = $1 AND member_name = $2 AND ended_at IS NULL",
                args![identity.team_id, identity.member_name.as_str(), millis(now)],
            )
            .await
    }

    pub async fn record_audit(
        &self,
        team_id: i64,
        actor: &str,
        action: &str,
        detail: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO audit_log (team_id, actor, action, detail, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                args![team_id, actor, action, detail, millis(now)],
            )
            .await?;
        Ok(())
    }

    /// The team's newest audit entries first.
    pub async fn audit_log(&self, team_id: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = self
            .db
            .fetch_all(
                "SELECT id, team_id, actor, action, detail, created_at FROM audit_log \
                 WHERE team_id = $1 ORDER BY id DESC LIMIT $2",
                args![team_id, limit],
            )
            .await?;
        rows.into_iter()
            .map(|(id, team_id, actor, action, detail, created_at)| {
                Ok(AuditEntry {
                    id,
                    team_id,
                    actor,
                    action,
                    detail,
                    created_at: from_millis("audit_log.created_at", created_at)?,
                })
            })
            .collect()
    }
}
