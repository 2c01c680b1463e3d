use std::time::Duration;

/// What went wrong with an API call, as far as a caller has to decide
/// anything (tell the user, fix the arguments, try later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401: the API key is wrong or revoked.
    Unauthorized,
    /// 403: the account is not connected to this team's API key.
    Forbidden,
    /// 404: no such account, fan, link…
    NotFound,
    /// 400/422 `ONLYFANS_COM_ERROR`: OnlyFans itself refused.
    OnlyFans,
    /// 400/422: the arguments were wrong (validation), or the call could
    /// not be built from them.
    InvalidRequest,
    /// 429 after the allowed retries (or a wait longer than allowed).
    RateLimited,
    /// 5xx after the allowed retries.
    Server,
    /// No answer within the timeout.
    Timeout,
    /// No connection could be made: the request was never sent.
    Network,
    /// The connection broke after the request was sent.
    ConnectionLost,
    /// The answer was larger than the client reads into memory.
    ResponseTooLarge,
    /// The answer was not the JSON envelope the API sends.
    MalformedResponse,
    /// The sandbox does not simulate this endpoint (501).
    NotSimulated,
}

/// A failed API call. `message` is written to be shown to a person (or a
/// model) as it is; it never contains the API key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Credits the failed call(s) still used, for billing.
    pub credits_used: i64,
    /// How long the API asked us to wait (429).
    pub retry_after: Option<Duration>,
    /// Details from the answer (OnlyFans' own error body, validation errors).
    pub details: Option<serde_json::Value>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            credits_used: 0,
            retry_after: None,
            details: None,
        }
    }

    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Worth trying again for a read: the same request may succeed later.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Network
                | ErrorKind::ConnectionLost
        )
    }

    /// The request may have taken effect although no success was seen: a
    /// write that ended like this must be checked, never sent again blindly.
    #[must_use]
    pub fn effect_unknown(&self) -> bool {
        match self.kind {
            ErrorKind::Timeout | ErrorKind::ConnectionLost | ErrorKind::ResponseTooLarge => true,
            ErrorKind::Server => self.status != Some(501),
            _ => false,
        }
    }

    /// Builds the error for a non-success answer from its status and body.
    pub(crate) fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let api_message = field("message");
        let code = field("error");
        let mut error = match status {
            401 => Error::new(
                ErrorKind::Unauthorized,
                "OnlyFansAPI rejected the API key (401): check ONLYFANSAPI_API_KEY",
            ),
            403 => Error::new(
                ErrorKind::Forbidden,
                format!(
                    "OnlyFansAPI refused access (403): {}",
                    api_message
                        .as_deref()
                        .unwrap_or("the account is not connected to this API key's team")
                ),
            ),
            404 => Error::new(
                ErrorKind::NotFound,
                format!(
                    "not found (404): {}",
                    api_message.as_deref().unwrap_or("no such resource")
                ),
            ),
            429 => Error::new(
                ErrorKind::RateLimited,
                format!(
                    "OnlyFansAPI rate limit reached (429){}",
                    retry_after.map_or(String::new(), |d| format!(
                        "; retry after {} s",
                        d.as_secs_f64().ceil()
                    ))
                ),
            ),
            501 => Error::new(
                ErrorKind::NotSimulated,
                api_message
                    .clone()
                    .unwrap_or_else(|| "not implemented (501)".into()),
            ),
            500..=599 => Error::new(
                ErrorKind::Server,
                format!(
                    "OnlyFansAPI server error ({status}){}",
                    api_message
                        .as_deref()
                        .map_or(String::new(), |m| format!(": {m}"))
                ),
            ),
            _ if code.as_deref() == Some("ONLYFANS_COM_ERROR") => {
                let onlyfans = json.as_ref().and_then(|j| j.get("onlyfans_response"));
                let onlyfans_message = onlyfans
                    .and_then(|r| r.pointer("/body/error/message"))
                    .and_then(|m| m.as_str())
                    .map(str::to_owned);
                let mut error = Error::new(
                    ErrorKind::OnlyFans,
                    format!(
                        "OnlyFans refused the request: {}",
                        onlyfans_message
                            .or(api_message)
                            .unwrap_or_else(|| format!("HTTP {status}"))
                    ),
                );
                error.details = onlyfans.cloned();
                error
            }
            _ => {
                let mut error = Error::new(
                    ErrorKind::InvalidRequest,
                    format!(
                        "the request was rejected ({status}): {}",
                        api_message.unwrap_or_else(|| "invalid parameters".into())
                    ),
                );
                error.details = json.as_ref().and_then(|j| j.get("errors")).cloned();
                error
            }
        };
        error.status = Some(status);
        error.retry_after = retry_after;
        error.credits_used = json
            .as_ref()
            .and_then(|j| j.pointer("/_meta/_credits/used"))
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_onlyfans_message_is_surfaced() {
        let body = br#"{"error":"ONLYFANS_COM_ERROR","message":"Bad Request - The request could not be understood by the server.",
            "onlyfans_response":{"status":400,"body":{"error":{"code":0,"message":"Name already in use"},"errors":{"name":["Name already in use"]}}}}"#;
        let error = Error::from_response(400, body, None);
        assert_eq!(error.kind, ErrorKind::OnlyFans);
        assert_eq!(
            error.message,
            "OnlyFans refused the request: Name already in use"
        );
        assert_eq!(error.details.unwrap()["status"], 400);
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(
            Error::from_response(401, b"{}", None).kind,
            ErrorKind::Unauthorized
        );
        assert_eq!(
            Error::from_response(403, b"", None).kind,
            ErrorKind::Forbidden
        );
        assert_eq!(
            Error::from_response(404, b"", None).kind,
            ErrorKind::NotFound
        );
        let limited = Error::from_response(429, b"", Some(Duration::from_secs(2)));
        assert_eq!(
            limited.message,
            "OnlyFansAPI rate limit reached (429); retry after 2 s"
        );
        assert_eq!(
            Error::from_response(502, b"<html>", None).kind,
            ErrorKind::Server
        );
        assert_eq!(
            Error::from_response(501, b"", None).kind,
            ErrorKind::NotSimulated
        );
        let invalid = Error::from_response(
            422,
            br#"{"message":"The text field is required.","errors":{"text":["required"]}}"#,
            None,
        );
        assert_eq!(invalid.kind, ErrorKind::InvalidRequest);
        assert_eq!(
            invalid.message,
            "the request was rejected (422): The text field is required."
        );
        assert!(!invalid.is_transient());
    }
}
