//! Reading a typed yes/no, and describing writes before they run.

use std::collections::BTreeMap;

use agencybot_ofapi::Endpoint;
use serde_json::{Map, Value};

/// Which of the waiting actions an answer is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// 1-based positions in the list the user was shown.
    Numbers(Vec<usize>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve(Selection),
    Decline(Selection),
}

/// Only explicit approvals: "ok", "sure" or "yeah" also acknowledge or
/// muse ("ok, and what about last week?"), so they never approve a write.
const APPROVE: [&str; 9] = [
    "yes",
    "y",
    "confirm",
    "confirmed",
    "approve",
    "approved",
    "go ahead",
    "do it",
    "send it",
];
const DECLINE: [&str; 10] = [
    "no",
    "n",
    "nope",
    "cancel",
    "stop",
    "decline",
    "abort",
    "don't",
    "dont",
    "never mind",
];

/// A plain yes or no (optionally with the numbers of the actions meant, as
/// in "yes 2" or "no 1,3"). Anything longer is a new request, not an answer.
#[must_use]
pub fn parse_reply(text: &str) -> Option<Decision> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' || c == ' ' || c == ',' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let cleaned = cleaned.replace(" to ", " ").replace(',', " ");
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .filter(|w| *w != "please" && *w != "all")
        .collect();
    let numbers_from = |start: usize| -> Option<Selection> {
        if start == words.len() {
            return Some(Selection::All);
        }
        let numbers: Option<Vec<usize>> = words[start..].iter().map(|w| w.parse().ok()).collect();
        numbers
            .filter(|n| n.iter().all(|&n| n > 0))
            .map(Selection::Numbers)
    };
    for phrase in APPROVE {
        let length = phrase.split(' ').count();
        if words.len() >= length && words[..length].join(" ") == phrase {
            return numbers_from(length).map(Decision::Approve);
        }
    }
    for phrase in DECLINE {
        let length = phrase.split(' ').count();
        if words.len() >= length && words[..length].join(" ") == phrase {
            return numbers_from(length).map(Decision::Decline);
        }
    }
    None
}

/// One line saying exactly what calling `endpoint` with `arguments` does:
/// the account, the endpoint, and every argument, texts quoted in full.
/// `names` shows ids by name where they are known (user lists: "Fans (59)").
#[must_use]
pub fn summarize_call(
    endpoint: &Endpoint,
    arguments: &Map<String, Value>,
    account_name: Option<&str>,
    names: &BTreeMap<String, String>,
) -> String {
    let mut parts = Vec::new();
    for (key, value) in arguments {
        if key == "account" {
            continue;
        }
        let shown = match value {
            Value::String(text) => format!("“{text}”"),
            Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .map(|id| names.get(&id).cloned().unwrap_or(id))
                    .collect();
                items.join(", ")
            }
            other => other.to_string(),
        };
        parts.push(format!("{} {shown}", label(key)));
    }
    let account = account_name
        .map(|name| format!(" on {name}"))
        .or_else(|| {
            arguments
                .get("account")
                .and_then(Value::as_str)
                .map(|id| format!(" on {id}"))
        })
        .unwrap_or_default();
    let verb = match endpoint.access {
        agencybot_ofapi::Access::Destructive => "(cannot be undone) ",
        _ => "",
    };
    if parts.is_empty() {
        format!("{}{account} {verb}", endpoint.title)
            .trim_end()
            .to_owned()
    } else {
        format!("{}{account} {verb}— {}", endpoint.title, parts.join("; "))
    }
}

/// `userLists` → "user lists", `chat_id` → "chat id".
fn label(key: &str) -> String {
    let mut out = String::new();
    for (index, c) in key.chars().enumerate() {
        if c == '_' {
            out.push(' ');
        } else if c.is_uppercase() && index > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use agencybot_ofapi::Catalog;
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_answers_are_recognised() {
        assert_eq!(parse_reply("Yes"), Some(Decision::Approve(Selection::All)));
        assert_eq!(
            parse_reply("yes please!"),
            Some(Decision::Approve(Selection::All))
        );
        assert_eq!(
            parse_reply("go ahead"),
            Some(Decision::Approve(Selection::All))
        );
        assert_eq!(
            parse_reply("yes to 2"),
            Some(Decision::Approve(Selection::Numbers(vec![2])))
        );
        assert_eq!(
            parse_reply("yes 1, 3"),
            Some(Decision::Approve(Selection::Numbers(vec![1, 3])))
        );
        assert_eq!(parse_reply("no"), Some(Decision::Decline(Selection::All)));
        assert_eq!(
            parse_reply("Cancel 2"),
            Some(Decision::Decline(Selection::Numbers(vec![2])))
        );
    }

    #[test]
    fn only_an_explicit_yes_approves() {
        for vague in ["ok", "okay", "sure", "yeah", "yep", "k", "fine"] {
            assert_eq!(parse_reply(vague), None, "{vague}");
        }
        assert_eq!(parse_reply("Yes!"), Some(Decision::Approve(Selection::All)));
    }

    #[test]
    fn anything_more_is_not_an_answer() {
        assert_eq!(parse_reply("yes but change the text first"), None);
        assert_eq!(parse_reply("how much did we earn?"), None);
        assert_eq!(parse_reply("nobody"), None);
        assert_eq!(parse_reply("yes 0"), None);
    }

    #[test]
    fn summaries_say_exactly_what_will_happen() {
        let endpoint = Catalog::onlyfans()
            .get("mass-messaging.send-mass-message")
            .unwrap();
        let arguments = json!({"account": "acct_1", "text": "New set tonight 🔥", "userLists": ["1100"], "price": 9.99});
        assert_eq!(
            summarize_call(
                endpoint,
                arguments.as_object().unwrap(),
                Some("@miarose"),
                &BTreeMap::from([("1100".to_owned(), "Fans (59)".to_owned())])
            ),
            "Send Mass Message on @miarose — price 9.99; text “New set tonight 🔥”; user lists Fans (59)"
        );
        let delete = Catalog::onlyfans()
            .get("tracking-links.delete-tracking-link")
            .unwrap();
        let arguments = json!({"account": "acct_1", "tracking_link_id": "77"});
        assert_eq!(
            summarize_call(
                delete,
                arguments.as_object().unwrap(),
                None,
                &BTreeMap::new()
            ),
            "Delete Tracking Link on acct_1 (cannot be undone) — tracking link id “77”"
        );
    }
}
