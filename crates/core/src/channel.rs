use crate::{Member, Platform, Role};

/// A configured place where agencybot listens: one bot on one platform,
/// serving one team.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: i64,
    pub team_id: i64,
    pub platform: Platform,
    /// Unique name from the config, e.g. `telegram-main`.
    pub name: String,
    /// Platform-specific settings (API URL, mode…), as configured.
    pub settings: serde_json::Value,
    /// Users this channel serves besides the team's members. When empty,
    /// only the team's members on this platform may talk to the bot.
    pub permitted_user_ids: Vec<String>,
    /// Anyone who can reach the bot may ask (Discord servers mostly).
    pub allow_everyone: bool,
}

/// Who is talking to the bot, as far as permissions go.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// A team member; their role applies.
    Member(Member),
    /// Permitted by the channel (its own list or allow-everyone) without
    /// being a team member: may ask, may not confirm writes.
    Guest,
    /// Not allowed to use this channel.
    Denied,
}

impl Access {
    /// The role that decides what the user may do; `None` when denied.
    #[must_use]
    pub fn role(&self) -> Option<Role> {
        match self {
            Access::Member(member) => Some(member.role),
            Access::Guest => Some(Role::Viewer),
            Access::Denied => None,
        }
    }
}

impl Channel {
    /// Decides whether `user_id` may use this channel, given the team's members.
    #[must_use]
    pub fn access(&self, user_id: &str, members: &[Member]) -> Access {
        if let Some(member) = members
            .iter()
            .find(|m| m.is_known_as(self.platform, user_id))
        {
            return Access::Member(member.clone());
        }
        if self.allow_everyone || self.permitted_user_ids.iter().any(|id| id == user_id) {
            return Access::Guest;
        }
        Access::Denied
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn member(name: &str, role: Role, telegram_id: &str) -> Member {
        Member {
            id: 1,
            team_id: 1,
            name: name.into(),
            role,
            user_ids: BTreeMap::from([(Platform::Telegram, vec![telegram_id.into()])]),
            from_config: true,
        }
    }

    fn channel(permitted: &[&str], allow_everyone: bool) -> Channel {
        Channel {
            id: 1,
            team_id: 1,
            platform: Platform::Telegram,
            name: "telegram-main".into(),
            settings: serde_json::Value::Null,
            permitted_user_ids: permitted.iter().map(|s| s.to_string()).collect(),
            allow_everyone,
        }
    }

    #[test]
    fn members_get_their_role_and_strangers_are_denied() {
        let members = [
            member("Ann", Role::Admin, "10"),
            member("Bo", Role::Viewer, "11"),
        ];
        let locked = channel(&[], false);
        assert_eq!(locked.access("10", &members).role(), Some(Role::Admin));
        assert_eq!(locked.access("11", &members).role(), Some(Role::Viewer));
        assert_eq!(locked.access("99", &members), Access::Denied);
    }

    #[test]
    fn channel_lists_and_allow_everyone_admit_guests_who_cannot_confirm() {
        let members = [member("Ann", Role::Owner, "10")];
        assert_eq!(
            channel(&["99"], false).access("99", &members),
            Access::Guest
        );
        assert_eq!(
            channel(&["98"], false).access("99", &members),
            Access::Denied
        );
        let open = channel(&[], true);
        assert_eq!(open.access("77", &members), Access::Guest);
        assert!(!Access::Guest.role().unwrap().can_confirm_writes());
        // A member keeps their role even in an open channel.
        assert_eq!(open.access("10", &members).role(), Some(Role::Owner));
    }
}
