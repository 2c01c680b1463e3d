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
