//! agencybot persistence: one API over two backends.
//!
//! [`Store`] keeps teams, members, channels, conversation history, pending
//! actions, scheduled tasks and their runs, usage records and installed
//! skills. It runs on **SQLite** (the embedded default, one file, WAL) or on
//! **PostgreSQL** (for teams running several instances).
//!
//! Design choice: every query is written once, in the SQL both databases
//! understand (`$1` placeholders, `ON CONFLICT`, `RETURNING`), and executed
//! on whichever pool is open. Times are stored as milliseconds since the
//! epoch and JSON as text, so no type needs backend-specific decoding (sqlx's
//! `Any` driver, for one, cannot decode PostgreSQL `TIMESTAMPTZ`). The two
//! migration folders are kept column-for-column equal, and the test suite
//! runs every store test on both backends.
//!
//! Transitions that must happen once (confirming a pending action, claiming
//! a scheduled run) are single conditional statements whose affected-row
//! count says who won, which is atomic on both backends.

mod actions;
mod alerts;
mod console;
mod conversations;
mod credentials;
mod db;
mod leases;
mod skills;
mod tasks;
mod teams;
mod usage;

pub use actions::{ActionOutcome, ConfirmRefusal};
pub use alerts::{
    AlertRule, EventStatus, NewAlertRule, NewWebhookEvent, WebhookEvent, WebhookRegistration,
};
pub use console::{AuditEntry, ConsoleIdentity, ConsoleSession, ConsoleSessionInfo};
pub use conversations::{Conversation, StoredMessage};
pub use db::{Backend, MigrationStatus, StoreOptions, redact_url};
pub use leases::{DeliveryClaims, LeaseHolder};
pub use skills::InstalledSkill;
pub use teams::{ChannelAccess, ChannelSpec, MemberSpec, TeamSpec};
pub use usage::UsageFilter;

use db::Db;

/// Handle to the database. Cheap to clone; share one per process.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    /// Bumped by every change this process makes to teams, members or
    /// channels, so caches of who may talk can tell they are stale.
    access_changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// How many changes to teams, members and channels this process has
    /// made; a cache built at another value is stale.
    #[must_use]
    pub fn access_generation(&self) -> u64 {
        self.access_changes
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counts a change to who may talk when the guard drops, after the
    /// change: a cache that read the counter before its data sees it stale.
    fn access_change(&self) -> AccessChange<'_> {
        AccessChange(self)
    }
}

struct AccessChange<'a>(&'a Store);

impl Drop for AccessChange<'_> {
    fn drop(&mut self) {
        self.0
            .access_changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what} `{key}` not found")]
    NotFound { what: &'static str, key: String },
    #[error("{what} `{key}` already exists")]
    AlreadyExists { what: &'static str, key: String },
    /// A conversation key used by another team (a channel moved between
    /// teams): its history is not handed to the new team.
    #[error("conversation `{key}` belongs to another team")]
    OtherTeam { key: String },
    #[error("member `{0}` is declared in the config file; change or remove it there")]
    ManagedByConfig(String),
    /// A stored value no longer parses (edited by hand, or written by a newer version).
    #[error("stored {what} is invalid: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The error of a statement written for several requests at once
    /// (see [`DeliveryClaims`]), told to each of them.
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
    /// The store's background writer has stopped (the process is ending).
    #[error("the store is shutting down")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn millis(time: agencybot_core::Timestamp) -> i64 {
    time.timestamp_millis()
}

fn from_millis(what: &'static str, value: i64) -> Result<agencybot_core::Timestamp> {
    chrono::DateTime::from_timestamp_millis(value).ok_or_else(|| StoreError::Corrupt {
        what,
        detail: format!("timestamp {value} out of range"),
    })
}

fn opt_from_millis(
    what: &'static str,
    value: Option<i64>,
) -> Result<Option<agencybot_core::Timestamp>> {
    value.map(|v| from_millis(what, v)).transpose()
}

fn parse_stored<T: std::str::FromStr>(what: &'static str, value: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|err: T::Err| StoreError::Corrupt {
        what,
        detail: err.to_string(),
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &'static str, value: &str) -> Result<T> {
    serde_json::from_str(value).map_err(|err| StoreError::Corrupt {
        what,
        detail: err.to_string(),
    })
}
