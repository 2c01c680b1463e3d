//! What each kind of rule alerts on, and the words of the alert.

use agencybot_ofapi::webhooks::{AccountProblem, OfEvent};
use agencybot_store::AlertRule;

/// The kinds of rule a team can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A tip at or above the threshold.
    WhaleTip,
    /// A PPV message bought at or above the threshold.
    PpvUnlocked,
    /// New subscribers, gathered into one message per digest window.
    NewSubscribers,
    /// A transaction taken back (at or above the threshold, if any).
    Chargeback,
    /// An account that needs someone: failed sign-in, a code or a face check.
    AccountHealth,
}

impl RuleKind {
    pub const ALL: [RuleKind; 5] = [
        RuleKind::WhaleTip,
        RuleKind::PpvUnlocked,
        RuleKind::NewSubscribers,
        RuleKind::Chargeback,
        RuleKind::AccountHealth,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::WhaleTip => "whale_tip",
            RuleKind::PpvUnlocked => "ppv_unlocked",
            RuleKind::NewSubscribers => "new_subscribers",
            RuleKind::Chargeback => "chargeback",
            RuleKind::AccountHealth => "account_health",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The webhook events the rule needs, and nothing more.
    #[must_use]
    pub fn events(self) -> &'static [&'static str] {
        match self {
            RuleKind::WhaleTip => &["tips.received"],
            RuleKind::PpvUnlocked => &["messages.ppv.unlocked"],
            RuleKind::NewSubscribers => &["subscriptions.new"],
            RuleKind::Chargeback => &["transactions.new"],
            RuleKind::AccountHealth => &[
                "accounts.authentication_failed",
                "accounts.otp_code_required",
                "accounts.face_otp_required",
            ],
        }
    }
}

/// What a rule makes of one event: an alert with the key that keeps it
/// from being sent twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub key: String,
    pub text: String,
}

/// `$150.00` from cents.
#[must_use]
pub fn dollars(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

fn fan(fan_id: Option<&String>) -> String {
    fan_id.map_or_else(|| "a fan".to_owned(), |id| format!("fan {id}"))
}

/// The alert `rule` raises for `event` on `account`, if any.
/// `delivery_key` is the event's idempotency key, for events with no id.
#[must_use]
pub fn decide(
    rule: &AlertRule,
    event: &OfEvent,
    account: Option<&str>,
    delivery_key: &str,
) -> Option<Alert> {
    let kind = RuleKind::parse(&rule.kind)?;
    let account_name = account.unwrap_or("an account");
    if !rule.accounts.is_empty() && !account.is_some_and(|a| rule.accounts.iter().any(|r| r == a)) {
        return None;
    }
    let at_least = |cents: i64| {
        rule.threshold_cents
            .is_none_or(|threshold| cents >= threshold)
    };
    match (kind, event) {
        (
            RuleKind::WhaleTip,
            OfEvent::Tip {
                id,
                fan_id,
                gross_cents,
                ..
            },
        ) if at_least(*gross_cents) => Some(Alert {
            key: format!("tip:{account_name}:{id}"),
            text: format!(
                "💸 {} tipped {} on {account_name}.",
                capitalise(&fan(fan_id.as_ref())),
                dollars(*gross_cents)
            ),
        }),
        (
            RuleKind::PpvUnlocked,
            OfEvent::PpvUnlocked {
                id,
                fan_id,
                price_cents,
                ..
            },
        ) if at_least(*price_cents) => Some(Alert {
            key: format!("ppv:{account_name}:{id}"),
            text: format!(
                "🔓 {} unlocked a {} PPV on {account_name}.",
                capitalise(&fan(fan_id.as_ref())),
                dollars(*price_cents)
            ),
        }),
        (
            RuleKind::Chargeback,
            OfEvent::Chargeback {
                id,
                fan_id,
                amount_cents,
                ..
            },
        ) if at_least(*amount_cents) => Some(Alert {
            key: format!("chargeback:{account_name}:{id}"),
            text: format!(
                "↩️ Chargeback of {} from {} on {account_name}.",
                dollars(*amount_cents),
                fan(fan_id.as_ref())
            ),
        }),
        (RuleKind::NewSubscribers, OfEvent::NewSubscriber { key, fan_id, at }) => Some(Alert {
            key: format!("sub:{account_name}:{key}"),
            text: format!(
                "{} on {account_name}{}",
                capitalise(&fan(fan_id.as_ref())),
                at.as_deref()
                    .map(|at| format!(" ({at})"))
                    .unwrap_or_default()
            ),
        }),
        (RuleKind::AccountHealth, OfEvent::AccountHealth { problem, detail })
            if *problem != AccountProblem::SessionExpired =>
        {
            let mut text = format!("⚠️ {account_name} needs attention: {}.", problem.advice());
            if let Some(detail) = detail {
                text.push_str(&format!(" OnlyFans said: “{detail}”"));
            }
            Some(Alert {
                key: format!("health:{delivery_key}"),
                text,
            })
        }
        _ => None,
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Whether `local` (`HH:MM`) falls in the quiet hours `from`–`until`,
/// which may run past midnight.
#[must_use]
pub fn is_quiet(from: Option<&str>, until: Option<&str>, local: chrono::NaiveTime) -> bool {
    let parse = |text: &str| chrono::NaiveTime::parse_from_str(text, "%H:%M").ok();
    let (Some(from), Some(until)) = (from.and_then(parse), until.and_then(parse)) else {
        return false;
    };
    if from <= until {
        from <= local && local < until
    } else {
        local >= from || local < until
    }
}

/// Quiet hours as given by people: `HH:MM` each.
pub fn check_quiet_hours(from: &str, until: &str) -> Result<(), String> {
    for text in [from, until] {
        if chrono::NaiveTime::parse_from_str(text, "%H:%M").is_err() {
            return Err(format!("`{text}` is not a time of day like 22:00"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: RuleKind, threshold: Option<i64>, accounts: &[&str]) -> AlertRule {
        AlertRule {
            id: 1,
            team_id: 1,
            kind: kind.name().into(),
            accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
            threshold_cents: threshold,
            channel: "tg".into(),
            destination: "111".into(),
            digest_minutes: None,
            quiet_from: None,
            quiet_until: None,
            created_by: "Ann".into(),
            created_at: chrono::Utc::now(),
        }
    }

    fn tip(cents: i64) -> OfEvent {
        OfEvent::Tip {
            id: "n1".into(),
            fan_id: Some("482".into()),
            gross_cents: cents,
            net_cents: None,
            at: None,
        }
    }

    #[test]
    fn a_whale_tip_alerts_at_the_threshold_and_above_only() {
        let whale = rule(RuleKind::WhaleTip, Some(10_000), &[]);
        assert_eq!(decide(&whale, &tip(9_999), Some("acct_1"), "evt"), None);
        let alert = decide(&whale, &tip(10_000), Some("acct_1"), "evt").unwrap();
        assert_eq!(alert.text, "💸 Fan 482 tipped $100.00 on acct_1.");
        assert_eq!(alert.key, "tip:acct_1:n1");
        let only_two = rule(RuleKind::WhaleTip, Some(100), &["acct_2"]);
        assert_eq!(decide(&only_two, &tip(15_000), Some("acct_1"), "evt"), None);
        assert!(decide(&only_two, &tip(15_000), Some("acct_2"), "evt").is_some());
        // A tip is never a PPV or a subscriber.
        assert_eq!(
            decide(
                &rule(RuleKind::PpvUnlocked, None, &[]),
                &tip(15_000),
                None,
                "e"
            ),
            None
        );
    }

    #[test]
    fn a_chargeback_alerts_above_its_threshold() {
        let chargeback = |cents| OfEvent::Chargeback {
            id: "t1".into(),
            fan_id: None,
            amount_cents: cents,
            at: None,
        };
        let rule = rule(RuleKind::Chargeback, Some(2_000), &[]);
        assert_eq!(decide(&rule, &chargeback(1_999), Some("acct_1"), "e"), None);
        let alert = decide(&rule, &chargeback(2_500), Some("acct_1"), "e").unwrap();
        assert_eq!(alert.text, "↩️ Chargeback of $25.00 from a fan on acct_1.");
        assert_eq!(decide(&rule, &tip(9_000), Some("acct_1"), "e"), None);
    }

    #[test]
    fn quiet_hours_may_run_past_midnight() {
        let at = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert!(is_quiet(Some("23:00"), Some("07:00"), at(23, 30)));
        assert!(is_quiet(Some("23:00"), Some("07:00"), at(3, 0)));
        assert!(!is_quiet(Some("23:00"), Some("07:00"), at(7, 0)));
        assert!(is_quiet(Some("12:00"), Some("13:00"), at(12, 59)));
        assert!(!is_quiet(Some("12:00"), Some("13:00"), at(13, 0)));
        assert!(!is_quiet(None, Some("13:00"), at(12, 30)));
        assert!(!is_quiet(Some("bad"), Some("13:00"), at(12, 30)));
        assert!(check_quiet_hours("22:00", "07:30").is_ok());
        assert!(check_quiet_hours("25:00", "07:30").is_err());
    }

    #[test]
    fn amounts_read_as_dollars() {
        assert_eq!(dollars(15_000), "$150.00");
        assert_eq!(dollars(5), "$0.05");
    }
}
