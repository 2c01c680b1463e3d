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

/// Tokens a chat message takes: its JSON text plus a few for the framing
/// every message gets.
#[must_use]
pub fn count_message(message: &Value) -> usize {
    count(&message.to_string()) + 4
}
