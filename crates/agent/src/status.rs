//! How each channel is doing, as this process sees it: connected or not,
//! when its last message came in, and its last error. Adapters report
//! through their [`Hub`](crate::Hub); the console and health checks read.

use std::collections::HashMap;
use std::sync::Mutex;

use agencybot_core::Timestamp;

/// Longest error text kept; platform errors can carry whole bodies.
const MAX_ERROR_CHARS: usize = 300;

/// One channel's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelHealth {
    /// The platform accepted the bot's credentials and the channel is
    /// receiving (polling, socket or gateway up, or webhook listening).
    pub connected: bool,
    /// Not connected because another instance does this channel's
    /// one-at-a-time work (polling, the gateway); this one takes over.
    pub standby: bool,
    /// When `connected` last changed.
    pub since: Option<Timestamp>,
    /// When the last message from the platform was received.
    pub last_event: Option<Timestamp>,
    /// The last failure talking to the platform, with when it happened.
    pub last_error: Option<(Timestamp, String)>,
}

/// Every channel's state, by channel name.
#[derive(Debug, Default)]
pub struct ChannelStatus {
    channels: Mutex<HashMap<String, ChannelHealth>>,
}

impl ChannelStatus {
    fn update(&self, channel: &str, change: impl FnOnce(&mut ChannelHealth)) {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(channels.entry(channel.to_owned()).or_default());
    }

    pub fn connected(&self, channel: &str, now: Timestamp) {
        self.update(channel, |health| {
            health.standby = false;
            if !health.connected {
                health.connected = true;
                health.since = Some(now);
            }
        });
    }

    /// Another instance holds the channel's lease; this one waits to take over.
    pub fn standby(&self, channel: &str, now: Timestamp) {
        self.update(channel, |health| {
            if health.connected || !health.standby {
                health.since = Some(now);
            }
            health.connected = false;
            health.standby = true;
        });
    }

    /// Ready to serve: connected, or standing by for another instance.
    #[must_use]
    pub fn ready(&self, channel: &str) -> bool {
        let health = self.of(channel);
        health.connected || health.standby
    }

    /// The channel lost its connection (or could not make one) because of `error`.
    pub fn disconnected(&self, channel: &str, error: &str, now: Timestamp) {
        self.update(channel, |health| {
            health.standby = false;
            if health.connected || health.since.is_none() {
                health.connected = false;
                health.since = Some(now);
            }
            health.last_error = Some((now, shorten(error)));
        });
    }

    /// A failure that leaves the connection up (a message that could not be sent).
    pub fn failed(&self, channel: &str, error: &str, now: Timestamp) {
        self.update(channel, |health| {
            health.last_error = Some((now, shorten(error)));
        });
    }

    pub fn event(&self, channel: &str, now: Timestamp) {
        self.update(channel, |health| health.last_event = Some(now));
    }

    /// The channel's state; the default (never connected) when it never reported.
    #[must_use]
    pub fn of(&self, channel: &str) -> ChannelHealth {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }
}

fn shorten(error: &str) -> String {
    let error = error.trim();
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((end, _)) => format!("{}…", &error[..end]),
        None => error.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn a_channel_reports_connection_events_and_errors() {
        let status = ChannelStatus::default();
        let at = |s| Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, s).unwrap();
        assert_eq!(status.of("tg"), ChannelHealth::default());
        status.disconnected("tg", "connection refused", at(1));
        assert!(!status.of("tg").connected);
        assert_eq!(status.of("tg").since, Some(at(1)));
        status.connected("tg", at(2));
        status.connected("tg", at(3));
        status.event("tg", at(4));
        status.failed("tg", &"x".repeat(1000), at(5));
        let health = status.of("tg");
        assert!(health.connected);
        assert_eq!(
            health.since,
            Some(at(2)),
            "still connected since the first report"
        );
        assert_eq!(health.last_event, Some(at(4)));
        let (when, error) = health.last_error.unwrap();
        assert_eq!(when, at(5));
        assert_eq!(error.chars().count(), MAX_ERROR_CHARS + 1);
        status.disconnected("tg", "gone", at(6));
        assert_eq!(status.of("tg").since, Some(at(6)));
        assert_eq!(status.of("other"), ChannelHealth::default());
    }
}
