use std::fmt;
use std::str::FromStr;

use crate::{ParseError, Platform};

/// Identifies one conversation, and so one memory and its pending actions.
///
/// The configured channel is part of the key: one person talking to two
/// bots (two teams, or two bots of one team) has two conversations, never
/// one shared history. A DM conversation includes the user, so two people
/// never share history. A thread conversation (Slack, Discord) is shared by
/// everyone in the thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationKey {
    /// Name of the configured channel (`telegram-main`); `terminal` for the
    /// terminal chat.
    pub channel: String,
    pub platform: Platform,
    /// Chat, DM or channel ID on the platform.
    pub chat: String,
    /// Thread (Slack `thread_ts`, Discord thread channel ID) if any.
    pub thread: Option<String>,
    /// Set for direct messages and the terminal.
    pub user: Option<String>,
}

impl ConversationKey {
    #[must_use]
    pub fn direct(
        channel: impl Into<String>,
        platform: Platform,
        chat: impl Into<String>,
        user: impl Into<String>,
    ) -> Self {
        ConversationKey {
            channel: channel.into(),
            platform,
            chat: chat.into(),
            thread: None,
            user: Some(user.into()),
        }
    }

    #[must_use]
    pub fn thread(
        channel: impl Into<String>,
        platform: Platform,
        chat: impl Into<String>,
        thread: impl Into<String>,
    ) -> Self {
        ConversationKey {
            channel: channel.into(),
            platform,
            chat: chat.into(),
            thread: Some(thread.into()),
            user: None,
        }
    }
}

/// Stable text form stored in the database:
/// `channel#platform:chat[/thread][@user]`. Channel names are limited to
/// letters, digits, `-`, `_` and `.` (the config checks), and platform IDs
/// never contain `/`, `@` or `:` except Slack timestamps (`.`), so the form
/// is unambiguous.
impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}:{}", self.channel, self.platform, self.chat)?;
        if let Some(thread) = &self.thread {
            write!(f, "/{thread}")?;
        }
        if let Some(user) = &self.user {
            write!(f, "@{user}")?;
        }
        Ok(())
    }
}

impl FromStr for ConversationKey {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            ParseError::new(
                "conversation key",
                s,
                "channel#platform:chat[/thread][@user]",
            )
        };
        let (channel, rest) = s.split_once('#').ok_or_else(invalid)?;
        if !is_channel_name(channel) {
            return Err(invalid());
        }
        let (platform, rest) = rest.split_once(':').ok_or_else(invalid)?;
        let platform: Platform = platform.parse()?;
        let (rest, user) = match rest.rsplit_once('@') {
            Some((rest, user)) => (rest, Some(user.to_owned())),
            None => (rest, None),
        };
        let (chat, thread) = match rest.split_once('/') {
            Some((chat, thread)) => (chat, Some(thread.to_owned())),
            None => (rest, None),
        };
        if chat.is_empty() {
            return Err(invalid());
        }
        Ok(ConversationKey {
            channel: channel.to_owned(),
            platform,
            chat: chat.to_owned(),
            thread,
            user,
        })
    }
}

/// Whether `name` can name a channel: letters, digits, `-`, `_` and `.`.
#[must_use]
pub fn is_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// What a person sent to the bot, already freed of platform details.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// Name of the configured channel it arrived on.
    pub channel: String,
    pub conversation: ConversationKey,
    /// Platform user ID of the sender.
    pub user_id: String,
    /// Display name, for summaries and logs; never used for permissions.
    pub user_name: Option<String>,
    pub content: InboundContent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InboundContent {
    Text(String),
    /// A Yes/No button press answering a confirmation request: exactly the
    /// actions the pressed button showed, never more.
    Confirmation {
        action_ids: Vec<i64>,
        approve: bool,
    },
    /// `/start` or `/reset`: forget the conversation.
    Reset,
}

/// What the bot sends back.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundMessage {
    /// The bot is working (a typing indicator where the platform has one).
    Typing,
    /// "On it…" for turns that take several steps.
    Progress(String),
    /// The answer to the request.
    Text(String),
    /// A summary of writes waiting for the user's yes, with their action IDs
    /// so the adapter can render one Yes/No pair per action (or one for all).
    Confirmation {
        text: String,
        actions: Vec<ProposedAction>,
    },
    /// A file (CSV export, chart).
    File(Attachment),
}

/// One write in a confirmation request.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedAction {
    pub id: i64,
    /// One line saying exactly what will happen.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub file_name: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_round_trip(key: ConversationKey, text: &str) {
        assert_eq!(key.to_string(), text);
        assert_eq!(text.parse::<ConversationKey>().unwrap(), key);
    }

    #[test]
    fn conversation_keys_round_trip() {
        check_round_trip(
            ConversationKey::direct("tg", Platform::Telegram, "42", "42"),
            "tg#telegram:42@42",
        );
        check_round_trip(
            ConversationKey::thread("slack-main", Platform::Slack, "C01", "1700000000.000100"),
            "slack-main#slack:C01/1700000000.000100",
        );
        check_round_trip(
            ConversationKey {
                channel: "discord_1".into(),
                platform: Platform::Discord,
                chat: "123".into(),
                thread: None,
                user: None,
            },
            "discord_1#discord:123",
        );
    }

    #[test]
    fn malformed_conversation_keys_are_rejected() {
        assert!("tg#nowhere:1".parse::<ConversationKey>().is_err());
        assert!("tg#telegram".parse::<ConversationKey>().is_err());
        assert!("tg#telegram:".parse::<ConversationKey>().is_err());
        assert!(
            "telegram:42@42".parse::<ConversationKey>().is_err(),
            "a key without its channel is refused"
        );
        assert!("a b#telegram:1".parse::<ConversationKey>().is_err());
    }
}
