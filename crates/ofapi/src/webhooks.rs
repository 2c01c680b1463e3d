//! OnlyFansAPI webhooks: the signature on each delivery and what its
//! events say, in types that cannot carry a guessed number.
//!
//! OnlyFansAPI signs only the raw body (HMAC-SHA256, lowercase hex in the
//! `Signature` header), with no timestamp: a captured delivery verifies
//! forever, so replays are stopped by de-duplicating on the idempotency key,
//! never by the signature.

use agencybot_core::Secret;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "signature";
/// A stable id per event, the same on every redelivery.
pub const IDEMPOTENCY_HEADER: &str = "x-ofapi-idempotency-key";
/// Present only on manual redeliveries: the delivery replayed.
pub const REDELIVERY_HEADER: &str = "x-ofapi-redelivery-of";

/// The signature OnlyFansAPI sends for `body` signed with `secret`.
#[must_use]
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `header` is the signature of `body` under one of `secrets`
/// (the current one and, while it is rotated, the previous one). Compared
/// in constant time; hex of either case is accepted.
#[must_use]
pub fn verify(secrets: &[&Secret], body: &[u8], header: &str) -> bool {
    let Ok(expected) = hex::decode(header.trim()) else {
        return false;
    };
    if expected.len() != 32 {
        return false;
    }
    secrets.iter().any(|secret| {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}

/// One delivery's body: `{ "event", "account_id", "payload" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub event: String,
    /// Absent on team-level events (data exports).
    pub account_id: Option<String>,
    pub payload: Value,
}

/// Why a body is not a usable event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body has no `{0}`")]
    Missing(&'static str),
    #[error("`{field}` is not a clean amount: {value}")]
    Amount { field: &'static str, value: String },
}

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Envelope, EventError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|error| EventError::NotJson(error.to_string()))?;
        let event = value
            .get("event")
            .and_then(Value::as_str)
            .filter(|event| !event.is_empty())
            .ok_or(EventError::Missing("event"))?
            .to_owned();
        let account_id = value
            .get("account_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let payload = value.get("payload").cloned().unwrap_or(Value::Null);
        Ok(Envelope {
            event,
            account_id,
            payload,
        })
    }

    /// The accounts this event is about: its `account_id`, or a team-level
    /// event's `payload.account_ids`.
    #[must_use]
    pub fn accounts(&self) -> Vec<String> {
        match &self.account_id {
            Some(account) => vec![account.clone()],
            None => self
                .payload
                .get("account_ids")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Trouble with an account that someone must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountProblem {
    AuthenticationFailed,
    OtpRequired,
    FaceVerificationRequired,
    SessionExpired,
}

impl AccountProblem {
    /// What happened and what to do, for people.
    #[must_use]
    pub fn advice(self) -> &'static str {
        match self {
            AccountProblem::AuthenticationFailed => {
                "its sign-in to OnlyFans failed: reconnect it in the OnlyFansAPI dashboard (Accounts → Reconnect), checking its email and password"
            }
            AccountProblem::OtpRequired => {
                "OnlyFans asks for a one-time code: enter the code sent to the creator's phone or email in the OnlyFansAPI dashboard"
            }
            AccountProblem::FaceVerificationRequired => {
                "OnlyFans asks for face verification: the creator completes it from the link in the OnlyFansAPI dashboard"
            }
            AccountProblem::SessionExpired => {
                "its session expired and OnlyFansAPI reconnected it; nothing to do unless this keeps happening"
            }
        }
    }
}

/// What an event means for alerts. Money is integer cents, parsed
/// strictly; the fan is `payload.user.id` (`user_id` is the creator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfEvent {
    Tip {
        /// The notification's id: the same tip always has it.
        id: String,
        fan_id: Option<String>,
        gross_cents: i64,
        net_cents: Option<i64>,
        at: Option<String>,
    },
    PpvUnlocked {
        id: String,
        fan_id: Option<String>,
        price_cents: i64,
        at: Option<String>,
    },
    NewSubscriber {
        /// Stable across redeliveries: the notification id, or fan and time.
        key: String,
        fan_id: Option<String>,
        at: Option<String>,
    },
    /// A transaction taken back by the fan's bank.
    Chargeback {
        id: String,
        fan_id: Option<String>,
        amount_cents: i64,
        at: Option<String>,
    },
    AccountHealth {
        problem: AccountProblem,
        /// The platform's own words, when it gave any.
        detail: Option<String>,
    },
    /// Any other event: kept, never alerted on.
    Other { event: String },
}

impl OfEvent {
    /// Reads an envelope's payload; an amount that is not clean, or a tip
    /// without one, is an error rather than a guess.
    pub fn from_envelope(envelope: &Envelope) -> Result<OfEvent, EventError> {
        let payload = &envelope.payload;
        let text = |key: &str| payload.get(key).and_then(id_text);
        let fan = payload
            .get("user")
            .and_then(|user| user.get("id"))
            .and_then(id_text);
        Ok(match envelope.event.as_str() {
            "tips.received" => {
                let gross = payload
                    .get("amountGross")
                    .or_else(|| payload.get("amount"))
                    .ok_or(EventError::Missing("payload.amountGross"))?;
                OfEvent::Tip {
                    id: text("id").ok_or(EventError::Missing("payload.id"))?,
                    fan_id: fan,
                    gross_cents: cents_of("payload.amountGross", gross)?,
                    net_cents: payload
                        .get("amountNet")
                        .map(|net| cents_of("payload.amountNet", net))
                        .transpose()?,
                    at: text("createdAt"),
                }
            }
            "messages.ppv.unlocked" => {
                let amount = payload
                    .get("replacePairs")
                    .and_then(|pairs| pairs.get("{AMOUNT}"))
                    .or_else(|| payload.get("price"))
                    .ok_or(EventError::Missing("payload.replacePairs.{AMOUNT}"))?;
                let link_fan = payload
                    .get("replacePairs")
                    .and_then(|pairs| pairs.get("{MESSAGE_LINK}"))
                    .and_then(Value::as_str)
                    .and_then(fan_of_chat_link);
                OfEvent::PpvUnlocked {
                    id: text("id").ok_or(EventError::Missing("payload.id"))?,
                    fan_id: fan.or(link_fan),
                    price_cents: cents_of("payload.replacePairs.{AMOUNT}", amount)?,
                    at: text("createdAt"),
                }
            }
            "subscriptions.new" => {
                let at = text("createdAt");
                let key = match (text("id"), &fan, &at) {
                    (Some(id), _, _) => id,
                    (None, Some(fan), Some(at)) => format!("{fan}:{at}"),
                    _ => return Err(EventError::Missing("payload.id")),
                };
                OfEvent::NewSubscriber {
                    key,
                    fan_id: fan,
                    at,
                }
            }
            "transactions.new" if is_chargeback(payload) => {
                let amount = payload
                    .get("amount")
                    .ok_or(EventError::Missing("payload.amount"))?;
                // Chargebacks may be written as negative amounts.
                let unsigned = match amount {
                    Value::Number(number) => number.to_string(),
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let unsigned = unsigned.strip_prefix('-').unwrap_or(&unsigned);
                OfEvent::Chargeback {
                    id: text("id").ok_or(EventError::Missing("payload.id"))?,
                    fan_id: fan,
                    amount_cents: parse_cents(unsigned).ok_or(EventError::Amount {
                        field: "payload.amount",
                        value: unsigned.to_owned(),
                    })?,
                    at: text("createdAt"),
                }
            }
            "accounts.authentication_failed"
            | "accounts.otp_code_required"
            | "accounts.face_otp_required"
            | "accounts.session_expired" => OfEvent::AccountHealth {
                problem: match envelope.event.as_str() {
                    "accounts.authentication_failed" => AccountProblem::AuthenticationFailed,
                    "accounts.otp_code_required" => AccountProblem::OtpRequired,
                    "accounts.face_otp_required" => AccountProblem::FaceVerificationRequired,
                    _ => AccountProblem::SessionExpired,
                },
                detail: payload
                    .get("latestAuthAttempt")
                    .and_then(|attempt| attempt.get("error_message"))
                    .and_then(Value::as_str)
                    .filter(|message| !message.trim().is_empty())
                    .map(|message| message.chars().take(300).collect()),
            },
            other => OfEvent::Other {
                event: other.to_owned(),
            },
        })
    }
}

/// Whether a transaction is a chargeback: by its type, status or words.
fn is_chargeback(payload: &Value) -> bool {
    ["type", "status", "description"].iter().any(|key| {
        payload
            .get(*key)
            .and_then(Value::as_str)
            .is_some_and(|text| text.to_ascii_lowercase().contains("chargeback"))
    })
}

/// An id given as a string or a number.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The fan in a chat link (`…/my/chats/chat/<fan>?firstId=…`).
fn fan_of_chat_link(link: &str) -> Option<String> {
    let after = link.split("/my/chats/chat/").nth(1)?;
    let fan: String = after.chars().take_while(char::is_ascii_digit).collect();
    (!fan.is_empty()).then_some(fan)
}

fn cents_of(field: &'static str, value: &Value) -> Result<i64, EventError> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    parse_cents(&text).ok_or(EventError::Amount { field, value: text })
}

/// Dollars to cents, strictly: `45`, `45.5`, `45.00`, `$45.00`. Anything
/// else (`$1,234.00`, `12 USD`, `abc`, negatives, three decimals) is None.
#[must_use]
pub fn parse_cents(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('$').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (digits, ""),
    };
    if whole.is_empty()
        || whole.len() > 12
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
        || (digits.contains('.') && fraction.is_empty())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_parsed_strictly_into_cents() {
        for (text, cents) in [
            ("45", Some(4500)),
            ("45.5", Some(4550)),
            ("45.00", Some(4500)),
            ("$45.00", Some(4500)),
            ("0.01", Some(1)),
            ("150", Some(15000)),
            ("$1,234.00", None),
            ("12 USD", None),
            ("abc", None),
            ("-5", None),
            ("1.234", None),
            ("1.", None),
            (".5", None),
            ("", None),
            ("$", None),
            ("1e3", None),
            ("9999999999999", None),
        ] {
            assert_eq!(parse_cents(text), cents, "{text}");
        }
    }

    #[test]
    fn signatures_are_checked_on_raw_bytes_in_either_case() {
        let secret = Secret::new("whsec-test");
        let body = br#"{"event":"tips.received"}"#;
        // Known answer, from Python: hmac.new(b"whsec-test", body, sha256).hexdigest()
        let signature = sign(&secret, body);
        assert_eq!(
            signature,
            "2319bc92554c4bd28aa2da85347fb2effa17f6edf2e58dc5a70986acce964144"
        );
        assert!(verify(&[&secret], body, &signature));
        assert!(verify(&[&secret], body, &signature.to_uppercase()));
        let old = Secret::new("whsec-old");
        assert!(
            verify(&[&old, &secret], body, &signature),
            "the previous secret during rotation"
        );
        assert!(!verify(&[&old], body, &signature));
        assert!(
            !verify(&[&secret], br#"{"event": "tips.received"}"#, &signature),
            "re-serialised"
        );
        assert!(!verify(&[&secret], body, ""));
        assert!(!verify(&[&secret], body, "zz"));
        assert!(!verify(&[&secret], body, &signature[..62]));
    }
}
