//! Which part of a conversation the model sees.
//!
//! History is cut at turn boundaries (a turn starts at a user message), so a
//! tool call is never separated from its result. A dropped turn leaves one
//! line, the first 120 characters of what the user asked, in the
//! conversation's list of earlier questions (the newest eight). It is a
//! list, not a summary: no model is asked to condense anything, so it costs
//! no call and nothing the answers said is kept.

use agencybot_store::StoredMessage;
use serde_json::Value;

/// Lines of summary kept at most.
const SUMMARY_LINES: usize = 8;

/// The messages to keep within `budget` tokens: whole turns, newest first,
/// always at least the newest turn. Returns the index of the first kept message.
#[must_use]
pub fn keep_from(history: &[StoredMessage], budget: usize) -> usize {
    let starts: Vec<usize> = turn_starts(history);
    let mut kept_tokens = 0usize;
    let mut first_kept = history.len();
    for (position, &start) in starts.iter().enumerate().rev() {
        let end = starts.get(position + 1).copied().unwrap_or(history.len());
        let tokens: usize = history[start..end]
            .iter()
            .map(|m| usize::try_from(m.tokens).unwrap_or(0))
            .sum();
        if first_kept != history.len() && kept_tokens + tokens > budget {
            break;
        }
        kept_tokens += tokens;
        first_kept = start;
    }
    first_kept
}

fn turn_starts(history: &[StoredMessage]) -> Vec<usize> {
    let mut starts: Vec<usize> = history
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role == "user")
        .map(|(index, _)| index)
        .collect();
    if starts.first() != Some(&0) && !history.is_empty() {
        starts.insert(0, 0);
    }
    starts
}

/// The list of earlier questions after dropping `dropped`: the old list
/// plus the start of each question they asked, keeping the newest lines.
#[must_use]
pub fn summarize(previous: Option<&str>, dropped: &[StoredMessage]) -> Option<String> {
    let mut lines: Vec<String> = previous
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    for message in dropped.iter().filter(|m| m.role == "user") {
        if let Some(text) = message.body.get("content").and_then(Value::as_str) {
            let short: String = text.chars().take(120).collect();
            lines.push(format!("- The user asked: {}", short.replace('\n', " ")));
        }
    }
    let start = lines.len().saturating_sub(SUMMARY_LINES);
    let summary = lines[start..].join("\n");
    (!summary.is_empty()).then_some(summary)
}

/// Drops what the model API would reject: assistant tool calls whose results
/// are missing (a turn cut short by a crash) and results without their call.
#[must_use]
pub fn well_formed(messages: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    let mut index = 0;
    while index < messages.len() {
        let message = &messages[index];
        let calls: Vec<&str> = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|c| c.get("id").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if calls.is_empty() {
            if message.get("role").and_then(Value::as_str) != Some("tool") {
                out.push(message.clone());
            }
            index += 1;
            continue;
        }
        let results: Vec<&Value> = messages[index + 1..]
            .iter()
            .take_while(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
            .collect();
        let answered = calls.iter().all(|id| {
            results
                .iter()
                .any(|r| r.get("tool_call_id").and_then(Value::as_str) == Some(id))
        });
        if answered {
            out.push(message.clone());
            out.extend(results.iter().map(|r| (*r).clone()));
        }
        index += 1 + results.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(id: i64, role: &str, tokens: i64) -> StoredMessage {
        StoredMessage {
            id,
            role: role.into(),
            body: json!({"role": role, "content": format!("m{id}")}),
            tokens,
        }
    }

    #[test]
    fn whole_turns_are_kept_newest_first() {
        let history = vec![
            message(1, "user", 10),
            message(2, "assistant", 50),
            message(3, "tool", 400),
            message(4, "assistant", 20),
            message(5, "user", 10),
            message(6, "assistant", 30),
        ];
        assert_eq!(keep_from(&history, 1000), 0);
        assert_eq!(
            keep_from(&history, 100),
            4,
            "the first turn (480 tokens) is dropped whole"
        );
        assert_eq!(keep_from(&history, 1), 4, "the newest turn is always kept");
        assert_eq!(keep_from(&[], 100), 0);
    }

    #[test]
    fn summaries_keep_what_was_asked() {
        let dropped = vec![message(1, "user", 1), message(2, "assistant", 1)];
        assert_eq!(summarize(None, &dropped).unwrap(), "- The user asked: m1");
        assert_eq!(
            summarize(Some("- The user asked: m0"), &dropped).unwrap(),
            "- The user asked: m0\n- The user asked: m1"
        );
        assert_eq!(summarize(None, &[]), None);
    }

    #[test]
    fn unanswered_tool_calls_are_removed() {
        let call = |id: &str| json!({"role": "assistant", "tool_calls": [{"id": id, "type": "function", "function": {"name": "x", "arguments": "{}"}}]});
        let result = |id: &str| json!({"role": "tool", "tool_call_id": id, "content": "ok"});
        let messages = vec![
            json!({"role": "user", "content": "hi"}),
            call("a"),
            result("a"),
            call("b"),
            json!({"role": "user", "content": "again"}),
            result("orphan"),
        ];
        let kept = well_formed(messages);
        assert_eq!(kept.len(), 4);
        assert_eq!(kept[3]["content"], "again");
    }
}
