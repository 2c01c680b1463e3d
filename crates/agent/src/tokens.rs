//! Token counts with OpenAI's o200k encoding, for the prompt budget and for
//! keeping conversation history short.

use serde_json::Value;

/// Tokens in `text` under o200k_base.
#[must_use]
pub fn count(text: &str) -> usize {
    tiktoken_rs::o200k_base_singleton()
        .encode_with_special_tokens(text)
        .len()
}

/// At least the tokens of `text` under o200k, without the tokenizer: a
/// token per digit (ids and amounts split finely) and two per five other
/// bytes, more than o200k spends on words, JSON or other scripts. Keeping
/// history within budget at run time uses this, so the 50 MB tokenizer is
/// loaded only by tests and benchmarks that count exactly.
#[must_use]
pub fn estimate(text: &str) -> usize {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    digits + ((text.len() - digits) * 2).div_ceil(5)
}

/// [`estimate`] for a chat message, given as its JSON text, plus the framing.
#[must_use]
pub fn estimate_message(json: &str) -> usize {
    estimate(json) + 4
}

/// Tokens a chat message takes: its JSON text plus a few for the framing
/// every message gets.
#[must_use]
pub fn count_message(message: &Value) -> usize {
    count(&message.to_string()) + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_never_below_the_count() {
        for text in [
            "How much did we earn this week?",
            r#"{"role":"tool","content":"{\"total\":{\"gross\":1234.5,\"net\":987.6}}"}"#,
            "Привет, сколько мы заработали за неделю?",
            "🔥🔥 Exclusive set tonight 🔥🔥",
            "2026-11-20 12:00:00, 1234567890, acct_9f8e7d6c5b4a",
            r#"{"account":"acct_4f1c","period":{"start":"2026-11-13","end":"2026-11-20"},"total":{"gross":4120.55,"net":3296.44},"top_fans":[{"id":88123,"name":"Jay","spent":512.0}]}"#,
            "Here is your week: **$3,296.44 net** (up 12% on last week).\n\n- Mia: $1,204\n- Aria: $980",
        ] {
            assert!(
                estimate(text) >= count(text),
                "{text}: {} < {}",
                estimate(text),
                count(text)
            );
        }
    }
}
