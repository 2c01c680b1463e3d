/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Telegram,
    Slack,
    Discord,
    /// `agencybot chat` in a terminal.
    Terminal,
}

named_enum!(Platform, "platform", {
    Telegram => "telegram",
    Slack => "slack",
    Discord => "discord",
    Terminal => "terminal",
});

impl Platform {
    /// The longest text one message may carry on this platform.
    #[must_use]
    pub fn message_limit(self) -> usize {
        match self {
            Platform::Telegram => 4096,
            // Slack accepts more, but a section block holds 3,000.
            Platform::Slack => 3000,
            Platform::Discord => 2000,
            Platform::Terminal => usize::MAX,
        }
    }

    /// Refuses text that cannot be a user ID on this platform, saying what
    /// one looks like: Telegram and Discord IDs are numbers, Slack's start
    /// with U or W.
    pub fn check_user_id(self, id: &str) -> Result<(), String> {
        let well_formed = match self {
            Platform::Telegram | Platform::Discord => {
                !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
            }
            Platform::Slack => {
                (id.starts_with('U') || id.starts_with('W'))
                    && (3..=20).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            }
            Platform::Terminal => !id.is_empty() && !id.contains(char::is_whitespace),
        };
        if well_formed {
            return Ok(());
        }
        let looks_like = match self {
            Platform::Telegram => "a number such as 123456789",
            Platform::Discord => "a number such as 112233445566778899",
            Platform::Slack => "U or W followed by capitals and digits, such as U012AB3CD",
            Platform::Terminal => "one word",
        };
        Err(format!(
            "`{id}` is not a {self} user ID: one is {looks_like}"
        ))
    }

    /// The largest file the bot uploads on this platform, in bytes.
    #[must_use]
    pub fn file_limit(self) -> u64 {
        match self {
            Platform::Telegram => 50 * 1024 * 1024,
            Platform::Slack => 100 * 1024 * 1024,
            Platform::Discord => 10 * 1024 * 1024,
            Platform::Terminal => u64::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_checked_per_platform() {
        assert!(Platform::Telegram.check_user_id("123456789").is_ok());
        assert!(
            Platform::Discord
                .check_user_id("112233445566778899")
                .is_ok()
        );
        assert!(Platform::Slack.check_user_id("U012AB3CD").is_ok());
        assert!(Platform::Slack.check_user_id("W012AB3CD").is_ok());
        let refused = Platform::Telegram.check_user_id("@ann").unwrap_err();
        assert!(
            refused.contains("`@ann` is not a telegram user ID"),
            "{refused}"
        );
        assert!(Platform::Slack.check_user_id("u012ab").is_err());
        assert!(Platform::Slack.check_user_id("U").is_err());
        assert!(Platform::Discord.check_user_id("").is_err());
        assert!(Platform::Discord.check_user_id(&"1".repeat(21)).is_err());
    }
}
