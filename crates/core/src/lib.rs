//! Domain types shared by every agencybot crate.
//!
//! This crate is the vocabulary of agencybot: teams and their members,
//! the chat platforms, conversation keys, inbound and outbound messages,
//! pending (confirmable) actions, scheduled tasks and usage records.
//!
//! It does no I/O and depends on no adapter, storage or HTTP crate, so every
//! other crate can depend on it without pulling anything else in.

#[macro_use]
mod names;

mod action;
mod channel;
mod clock;
mod error;
mod message;
mod platform;
mod secret;
mod task;
mod team;
mod usage;

pub use action::{ActionState, NewPendingAction, PendingAction};
pub use channel::{Access, Channel};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ParseError, Result};
pub use message::{
    Attachment, ConversationKey, InboundContent, InboundMessage, OutboundMessage, ProposedAction,
    is_channel_name,
};
pub use platform::Platform;
pub use secret::Secret;
pub use task::{AllowedWrite, NewScheduledTask, ScheduledTask, TaskRun, TaskRunStatus, TaskStatus};
pub use team::{Member, Role, Team};
pub use usage::{NewUsageRecord, RequestKind, UsageOutcome, UsageRecord};

/// Point in time used across agencybot. Always UTC; timezones only matter
/// when showing times to people and when computing schedules.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
