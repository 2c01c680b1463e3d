//! Live alerts from OnlyFansAPI webhooks: a fan tipped $200, a PPV was
//! unlocked, ten new subscribers, an account that needs a code.
//!
//! A delivery is verified (HMAC of the raw body, current or previous
//! secret), journaled once per idempotency key and acknowledged at once;
//! a worker then turns each journaled event into the team's alerts. The
//! journal survives restarts, and every alert and digest is claimed in the
//! store before it is sent, so one goes out once however many instances
//! run. Receiving only reads; the webhook itself is created, changed and
//! deleted by the alert tools, which are writes through the gate.

mod receiver;
pub mod rules;
mod tools;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::Outbox;
use agencybot_core::{Clock, Platform};
use agencybot_store::Store;
use tokio::sync::Notify;

pub use receiver::{MAX_BODY_BYTES, hook_path};
pub use rules::{Alert, RuleKind, decide, dollars};
pub use tools::{
    ADD_ALERT, Asked, LIST_ALERTS, REMOVE_ALERT, add_alert, check_add, describe_rule, register,
    remove_alert, summarize_add,
};

/// Where alerts for one channel go.
#[derive(Clone)]
pub struct AlertChannel {
    pub platform: Platform,
    pub outbox: Arc<dyn Outbox>,
}

/// The receiver and its worker, sharing the store.
pub struct Alerts {
    store: Store,
    channels: HashMap<String, AlertChannel>,
    clock: Arc<dyn Clock>,
    wake: Notify,
    /// An event a worker took longer ago than this is taken again (its
    /// instance is presumed gone).
    stale_after: Duration,
    /// How often the worker looks for work it was not woken for (events
    /// left by a stopped instance, digests coming due).
    tick: Duration,
}

impl Alerts {
    #[must_use]
    pub fn new(
        store: Store,
        channels: HashMap<String, AlertChannel>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Self::with_timings(
            store,
            channels,
            clock,
            Duration::from_secs(60),
            Duration::from_secs(15),
        )
    }

    /// The same, with the worker's timings (tests use short ones).
    #[must_use]
    pub fn with_timings(
        store: Store,
        channels: HashMap<String, AlertChannel>,
        clock: Arc<dyn Clock>,
        stale_after: Duration,
        tick: Duration,
    ) -> Arc<Self> {
        Arc::new(Alerts {
            store,
            channels,
            clock,
            wake: Notify::new(),
            stale_after,
            tick,
        })
    }
}
