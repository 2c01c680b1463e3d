//! The web console: what an agency owner manages from a browser — usage,
//! scheduled tasks, skills, workflows, members, channels and the audit log.
//!
//! There are no passwords. A member asks the bot for the console in a
//! direct message and gets a one-time link, valid for a few minutes; the
//! link starts a session kept in the store (only hashes of links and
//! session ids are stored). Every page checks the member's role as it is
//! now, every form carries the session's CSRF token, and every change is
//! written to the audit log. Each page is backed by the same crate APIs the
//! chat and the CLI use: no rule is implemented twice.

// A refusal is the page to answer with, as axum handlers return it; it is
// built once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod auth;
mod channels;
mod pages;
mod sessions;
mod tool;
mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{ChannelStatus, ConnectedApps};
use agencybot_core::{Clock, Timestamp};
use agencybot_scheduler::Workflow;
use agencybot_skills::Library;
use agencybot_store::{ConsoleIdentity, Store, StoreError};
use sha2::{Digest, Sha256};

pub use auth::SESSION_COOKIE;
pub use tool::{CONSOLE_LINK, register};

/// Where the console lives and what it offers.
#[derive(Clone)]
pub struct ConsoleSettings {
    /// e.g. `https://bot.example.com`: links point at `<public_url>/console/…`.
    pub public_url: String,
    /// How long a sign-in link works.
    pub link_ttl: Duration,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Skill folders, read again on each skills page so new ones show.
    pub skill_dirs: Vec<PathBuf>,
    pub workflows: Vec<Workflow>,
    /// Models a task may name.
    pub models: Vec<String>,
    /// The integrations connected, for what workflows require.
    pub apps: Arc<dyn ConnectedApps>,
    /// How each channel is doing, as its adapter reports it.
    pub status: Arc<ChannelStatus>,
}

/// The console's state, shared by its handlers.
pub struct Console {
    store: Store,
    settings: ConsoleSettings,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no member `{0}` in that team")]
    UnknownMember(String),
}

impl Console {
    #[must_use]
    pub fn new(store: Store, settings: ConsoleSettings, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Console {
            store,
            settings,
            clock,
        })
    }

    /// Serves `/console/…`.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        pages::router(self.clone())
    }

    /// Whether cookies are marked `Secure` (the console is served over https).
    fn secure(&self) -> bool {
        self.settings.public_url.starts_with("https://")
    }

    fn library(&self) -> Library {
        Library::load(&self.settings.skill_dirs)
    }
}

/// Makes a one-time sign-in link for a member; only its hash is stored.
pub async fn issue_link(
    store: &Store,
    public_url: &str,
    team_id: i64,
    member_name: &str,
    now: Timestamp,
    ttl: Duration,
) -> Result<String, ConsoleError> {
    let member = store
        .members(team_id)
        .await?
        .into_iter()
        .find(|m| m.name == member_name)
        .ok_or_else(|| ConsoleError::UnknownMember(member_name.to_owned()))?;
    let token = new_secret();
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(10));
    store
        .create_console_link(
            &hash(&token),
            &ConsoleIdentity {
                team_id,
                member_name: member.name,
            },
            now,
            expires,
        )
        .await?;
    Ok(format!(
        "{}/console/sign-in?token={token}",
        public_url.trim_end_matches('/')
    ))
}

/// 32 random bytes, hex.
fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
