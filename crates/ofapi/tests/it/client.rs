//! The client against scripted fakes: each failure the API can produce.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agencybot_ofapi::{Access, ErrorKind, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use crate::client;

/// One scripted answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: body.to_owned(),
        delay: Duration::ZERO,
    }
}

const OK_BODY: &str = r#"{"data":{"ok":true},"_meta":{"_credits":{"used":1,"balance":99,"note":"Always"},"_cache":{"is_cached":false}}}"#;

/// Serves the scripted answers in order (the last one repeats) and counts requests.
struct Fake {
    url: String,
    requests: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

async fn fake(script: Vec<Answer>) -> Fake {
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
        let script = script.clone();
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push((uri.to_string(), headers));
            let next = {
                let mut script = script.lock().unwrap();
                if script.len() > 1 {
                    script.pop_front().unwrap()
                } else {
                    script[0].clone()
                }
            };
            tokio::time::sleep(next.delay).await;
            let mut response =
                (StatusCode::from_u16(next.status).unwrap(), next.body).into_response();
            for (name, value) in next.headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { url, requests }
}

impl Fake {
    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn write_request() -> Request {
    let mut request = Request::new(
        reqwest::Method::POST,
        "/api/acct_1/mass-messaging",
        Access::Write,
    );
    request.body = Some(json!({"text": "hi"}));
    request
}

#[tokio::test]
async fn a_429_is_waited_out_per_retry_after_then_succeeds() {
    let mut limited = answer(429, r#"{"message":"Too Many Attempts."}"#);
    limited.headers.push(("retry-after", "1".into()));
    let fake = fake(vec![limited, answer(200, OK_BODY)]).await;
    let started = Instant::now();
    let response = client(&fake.url)
        .send(&Request::get("/api/whoami"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(response.attempts, 2);
    assert_eq!(response.data, json!({"ok": true}));
    assert_eq!(fake.count(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_reported_not_waited() {
    let mut limited = answer(429, "{}");
    limited.headers.push(("retry-after", "3600".into()));
    let fake = fake(vec![limited]).await;
    let started = Instant::now();
    let error = client(&fake.url)
        .send(&Request::get("/api/whoami"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.retry_after, Some(Duration::from_secs(3600)));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn a_500_on_a_read_is_retried() {
    let fake = fake(vec![
        answer(500, "oops"),
        answer(502, ""),
        answer(200, OK_BODY),
    ])
    .await;
    let response = client(&fake.url)
        .send(&Request::get("/api/acct_1/fans/top"))
        .await
        .unwrap();
    assert_eq!(response.attempts, 3);
    assert_eq!(fake.count(), 3);
}

#[tokio::test]
async fn reads_give_up_after_the_allowed_retries() {
    let fake = fake(vec![answer(503, r#"{"message":"maintenance"}"#)]).await;
    let error = client(&fake.url)
        .send(&Request::get("/api/acct_1/fans/top"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Server);
    assert_eq!(error.message, "OnlyFansAPI server error (503): maintenance");
    assert_eq!(fake.count(), 3, "1 try + 2 retries");
}

#[tokio::test]
async fn a_500_on_a_write_is_not_retried() {
    let fake = fake(vec![answer(500, "oops"), answer(200, OK_BODY)]).await;
    let error = client(&fake.url).send(&write_request()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Server);
    assert_eq!(fake.count(), 1, "a write is sent once");
}

#[tokio::test]
async fn a_429_on_a_write_is_not_retried_either() {
    let mut limited = answer(429, "{}");
    limited.headers.push(("retry-after", "1".into()));
    let fake = fake(vec![limited, answer(200, OK_BODY)]).await;
    let error = client(&fake.url).send(&write_request()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn timeouts_are_retried_for_reads_only() {
    let mut slow = answer(200, OK_BODY);
    slow.delay = Duration::from_secs(3);
    let fake = fake(vec![slow]).await;
    let mut config =
        agencybot_ofapi::ClientConfig::new(&fake.url, agencybot_core::Secret::new(crate::KEY));
    config.timeout = Duration::from_millis(200);
    config.retry.max_retries = 1;
    config.retry.base_delay = Duration::from_millis(10);
    let client = agencybot_ofapi::Client::new(config).unwrap();
    let error = client.send(&Request::get("/api/whoami")).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(error.message, "OnlyFansAPI did not answer in time");
    assert_eq!(fake.count(), 2);
    let error = client.send(&write_request()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(fake.count(), 3, "the write was sent once");
}

#[tokio::test]
async fn malformed_json_is_an_error_not_a_panic() {
    let mut truncated = answer(200, r#"{"data": [{"id": 1}, "#);
    truncated.headers.push(("x-ofapi-credits-used", "1".into()));
    let fake = fake(vec![truncated]).await;
    let error = client(&fake.url)
        .send(&Request::get("/api/whoami"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::MalformedResponse);
    assert!(
        error
            .message
            .starts_with("OnlyFansAPI answered 200 with a body that is not JSON"),
        "{}",
        error.message
    );
    assert_eq!(error.credits_used, 1, "the failed call is still billed");
}

#[tokio::test]
async fn a_bad_key_is_unauthorized_and_not_retried() {
    let fake = fake(vec![answer(401, r#"{"message":"Unauthenticated."}"#)]).await;
    let error = client(&fake.url)
        .send(&Request::get("/api/whoami"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert_eq!(fake.count(), 1);
    let (_, headers) = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(headers["authorization"], format!("Bearer {}", crate::KEY));
    assert!(
        headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("agencybot/")
    );
}

#[tokio::test]
async fn the_onlyfans_error_message_is_surfaced() {
    let body = r#"{
      "error": "ONLYFANS_COM_ERROR",
      "message": "Bad Request - The request could not be understood by the server.",
      "description": "This error happened most probably because of a bug in the OnlyFans.com API or you sent wrong parameters (like a non-existing user id).",
      "onlyfans_response": {"status": 400, "body": {"error": {"code": 0, "message": "Name already in use"}, "errors": {"name": ["Name already in use"]}}},
      "_meta": {"_credits": {"used": 1, "balance": 500}}
    }"#;
    let fake = fake(vec![answer(400, body)]).await;
    let error = client(&fake.url).send(&write_request()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::OnlyFans);
    assert_eq!(
        error.message,
        "OnlyFans refused the request: Name already in use"
    );
    assert_eq!(error.credits_used, 1);
    assert_eq!(error.status, Some(400));
}

#[tokio::test]
async fn fresh_and_query_arguments_are_sent_as_the_sdk_sends_them() {
    let fake = fake(vec![answer(200, OK_BODY)]).await;
    let mut request = Request::get("/api/acct_1/fans/all").query("limit", 20);
    request.query.extend(agencybot_ofapi::query_pairs(
        "filter",
        &json!({"max_total_spent": 0}),
    ));
    request
        .query
        .extend(agencybot_ofapi::query_pairs("ids", &json!([1, 2, 3])));
    request.fresh = true;
    client(&fake.url).send(&request).await.unwrap();
    let (uri, _) = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(
        uri,
        "/api/acct_1/fans/all?limit=20&filter%5Bmax_total_spent%5D=0&ids=1%2C2%2C3&fresh=true"
    );
}

#[tokio::test]
async fn next_page_links_to_another_host_are_not_followed() {
    let page = r#"{"data":[{"id":1}],"_pagination":{"next_page":"http://198.51.100.7/api/acct_1/fans/all?offset=1"}}"#;
    let fake = fake(vec![answer(200, page)]).await;
    let error = client(&fake.url)
        .collect_pages(&Request::get("/api/acct_1/fans/all"), 10)
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::MalformedResponse);
    assert!(
        error
            .message
            .contains("refusing to follow a next page on another host")
    );
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn an_unreachable_api_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = client(&url)
        .send(&Request::get("/api/whoami"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Network);
    assert!(
        error.message.starts_with("cannot reach OnlyFansAPI"),
        "{}",
        error.message
    );
}
