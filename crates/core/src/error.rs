/// A value from config, the database or a user could not be turned into a
/// domain type. The message names what was expected so it can be shown as-is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{value}`: expected {expected}")]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl ParseError {
    pub fn new(what: &'static str, value: &str, expected: &'static str) -> Self {
        ParseError {
            what,
            value: value.to_owned(),
            expected,
        }
    }
}

pub type Result<T, E = ParseError> = std::result::Result<T, E>;
