use crate::Platform;
use std::collections::BTreeMap;

/// An agency (or one of its departments): the unit that owns channels,
/// members, installed skills, scheduled tasks and usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: i64,
    pub name: String,
    /// The model used when a request does not name one.
    pub default_model: Option<String>,
    /// IANA timezone used when a member does not say one.
    pub timezone: Option<String>,
    /// OnlyFansAPI credits the team may spend per UTC day; `None` = no limit.
    pub daily_credit_budget: Option<i64>,
    /// Model spend in USD the team may use per UTC day; `None` = no limit.
    pub daily_usd_budget: Option<f64>,
}

/// What a member may do. Ordered: every role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Asks questions; cannot confirm writes.
    Viewer,
    /// Also confirms writes.
    Member,
    /// Also manages scheduled tasks, skills and members.
    Admin,
    /// Everything.
    Owner,
}

named_enum!(Role, "role", {
    Viewer => "viewer",
    Member => "member",
    Admin => "admin",
    Owner => "owner",
});

impl Role {
    #[must_use]
    pub fn can_ask(self) -> bool {
        true
    }

    #[must_use]
    pub fn can_confirm_writes(self) -> bool {
        self >= Role::Member
    }

    #[must_use]
    pub fn can_manage(self) -> bool {
        self >= Role::Admin
    }
}

/// A person in a team, known on one or more platforms by their user IDs.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: i64,
    pub team_id: i64,
    pub name: String,
    pub role: Role,
    /// User IDs per platform (Telegram numeric IDs, Slack `U…`, Discord snowflakes).
    pub user_ids: BTreeMap<Platform, Vec<String>>,
    /// Declared in the config file (and therefore managed there) rather than by the CLI.
    pub from_config: bool,
}

impl Member {
    #[must_use]
    pub fn is_known_as(&self, platform: Platform, user_id: &str) -> bool {
        self.user_ids
            .get(&platform)
            .is_some_and(|ids| ids.iter().any(|id| id == user_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(!Role::Viewer.can_confirm_writes());
        assert!(Role::Member.can_confirm_writes());
        assert!(!Role::Member.can_manage());
        assert!(Role::Admin.can_manage());
        assert!(Role::Owner.can_manage());
    }

    #[test]
    fn role_parses_case_insensitively_and_names_the_choices() {
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        let err = "boss".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid role `boss`: expected one of: viewer member admin owner"
        );
    }
}
