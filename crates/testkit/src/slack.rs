//! A fake Slack: the Web API under `/api` (auth.test, chat.postMessage,
//! chat.update, the external file upload calls, apps.connections.open), a
//! Socket Mode websocket, and a client that posts Events API and
//! interactivity requests signed the way Slack signs them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::broadcast;

pub const SLACK_BOT_USER: &str = "UBOT0001";

/// One Web API call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackCall {
    pub method: String,
    pub body: Value,
}

struct SlackState {
    calls: Vec<SlackCall>,
    /// Envelope ids the client acknowledged on the socket.
    acks: Vec<String>,
    /// Uploaded files: (file id, bytes).
    uploads: Vec<(String, Vec<u8>)>,
    sockets: usize,
}

#[derive(Clone)]
pub struct FakeSlack {
    url: String,
    state: Arc<Mutex<SlackState>>,
    frames: broadcast::Sender<Value>,
    counter: Arc<AtomicU64>,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let (frames, _) = broadcast::channel(256);
        let mut fake = FakeSlack {
            url: String::new(),
            state: Arc::new(Mutex::new(SlackState {
                calls: Vec::new(),
                acks: Vec::new(),
                uploads: Vec::new(),
                sockets: 0,
            })),
            frames,
            counter: Arc::new(AtomicU64::new(100)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        fake.url = format!("http://{}", listener.local_addr().expect("address"));
        let app = Router::new()
            .route("/api/{method}", any(web_api))
            .route("/upload/{file}", post(upload))
            .route("/socket", get(socket))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// The Web API base to configure (`…/api`, no trailing slash).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}/api", self.url)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlackState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// A Slack timestamp, increasing.
    #[must_use]
    pub fn next_ts(&self) -> String {
        format!("1700000000.{:06}", self.next())
    }

    /// Whether a Socket Mode client is connected.
    #[must_use]
    pub fn socket_connected(&self) -> bool {
        self.lock().sockets > 0
    }

    /// An Events API callback for `event` (its `event_id` is returned).
    #[must_use]
    pub fn event_callback(&self, event: Value) -> (String, Value) {
        let event_id = format!("Ev{}", self.next());
        let callback = json!({
            "type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": event_id,
            "event_time": 1_700_000_000, "event": event,
        });
        (event_id, callback)
    }

    /// A DM from `user`, as a `message` event.
    #[must_use]
    pub fn dm(&self, user: &str, text: &str) -> Value {
        json!({"type": "message", "channel": format!("D{user}"), "channel_type": "im", "user": user, "text": text, "ts": self.next_ts()})
    }

    /// An @mention of the bot in `channel` (in `thread` if given).
    #[must_use]
    pub fn mention(&self, channel: &str, user: &str, text: &str, thread: Option<&str>) -> Value {
        let mut event = json!({"type": "app_mention", "channel": channel, "user": user,
                               "text": format!("<@{SLACK_BOT_USER}> {text}"), "ts": self.next_ts()});
        if let Some(thread) = thread {
            event["thread_ts"] = json!(thread);
        }
        event
    }

    /// A plain message in a channel thread (no mention).
    #[must_use]
    pub fn thread_message(&self, channel: &str, thread: &str, user: &str, text: &str) -> Value {
        json!({"type": "message", "channel": channel, "channel_type": "channel", "user": user, "text": text,
               "ts": self.next_ts(), "thread_ts": thread})
    }

    /// A `block_actions` payload: `user` clicks the button `value` on the message `message_ts`.
    #[must_use]
    pub fn click(
        &self,
        channel: &str,
        message_ts: &str,
        user: &str,
        action_id: &str,
        value: &str,
        block_id: &str,
    ) -> Value {
        json!({
            "type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A1",
            "trigger_id": format!("trg{}", self.next()),
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "channel": {"id": channel}, "message": {"ts": message_ts, "text": "Should I go ahead?"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": block_id, "value": value,
                         "action_ts": self.next_ts(), "text": {"type": "plain_text", "text": "Yes"}}],
        })
    }

    /// Sends an Events API callback over Socket Mode; returns the envelope id.
    pub fn socket_event(&self, callback: Value) -> String {
        self.send_envelope("events_api", callback)
    }

    /// Sends an interactivity payload over Socket Mode; returns the envelope id.
    pub fn socket_interaction(&self, payload: Value) -> String {
        self.send_envelope("interactive", payload)
    }

    fn send_envelope(&self, kind: &str, payload: Value) -> String {
        let envelope_id = format!("env{}", self.next());
        let _ = self.frames.send(json!({"type": kind, "envelope_id": envelope_id, "accepts_response_payload": false, "payload": payload}));
        envelope_id
    }

    #[must_use]
    pub fn acked(&self, envelope_id: &str) -> bool {
        self.lock().acks.iter().any(|a| a == envelope_id)
    }

    /// Web API calls of `method` (e.g. `chat.postMessage`).
    #[must_use]
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.body.clone())
            .collect()
    }

    /// Texts posted (also ephemerally) or updated in `channel`, in order.
    #[must_use]
    pub fn texts(&self, channel: &str) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .filter(|c| {
                (c.method == "chat.postMessage"
                    || c.method == "chat.update"
                    || c.method == "chat.postEphemeral")
                    && c.body["channel"] == channel
            })
            .filter_map(|c| c.body["text"].as_str().map(str::to_owned))
            .collect()
    }

    #[must_use]
    pub fn uploads(&self) -> Vec<(String, Vec<u8>)> {
        self.lock().uploads.clone()
    }

    pub async fn wait_until(&self, limit: Duration, check: impl Fn(&FakeSlack) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !check(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on the Slack fake"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`, as Slack signs requests.
#[must_use]
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` to `url` signed with `secret` at `timestamp` (Unix seconds);
/// `form` sends it as an interactivity `payload=` form. Returns the status.
pub async fn post_signed(
    url: &str,
    secret: &str,
    timestamp: i64,
    body: &Value,
    form: bool,
    retry: Option<u32>,
) -> (u16, String) {
    let (content_type, bytes) = if form {
        let encoded: String = form_urlencode(&body.to_string());
        (
            "application/x-www-form-urlencoded",
            format!("payload={encoded}").into_bytes(),
        )
    } else {
        ("application/json", body.to_string().into_bytes())
    };
    let signature = slack_signature(secret, timestamp, &bytes);
    let mut request = reqwest::Client::new()
        .post(url)
        .header(CONTENT_TYPE, content_type)
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(bytes);
    if let Some(retry) = retry {
        request = request
            .header("x-slack-retry-num", retry.to_string())
            .header("x-slack-retry-reason", "http_timeout");
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(error) => (0, error.to_string()),
    }
}

fn form_urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Slack's limit on a section block's text, in characters.
pub const SECTION_LIMIT: usize = 3000;
/// Slack's limit on a message's text, in characters.
const MESSAGE_TEXT_LIMIT: usize = 40_000;

fn ok_false(error: &str) -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        json!({"ok": false, "error": error}).to_string(),
    )
        .into_response()
}

fn ok(mut body: Value) -> Response {
    body["ok"] = json!(true);
    ([(CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn web_api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    let query = request.uri().query().unwrap_or("").to_owned();
    let bytes = axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some((key, value)) = pair.split_once('=') {
            body[key] = json!(value);
        }
    }
    // Slack's limits: 3,000 characters in a section's text, 40,000 in a
    // message's.
    let too_long = body["blocks"].as_array().is_some_and(|blocks| {
        blocks.iter().any(|block| {
            block["text"]["text"]
                .as_str()
                .is_some_and(|text| text.chars().count() > SECTION_LIMIT)
        })
    });
    let posted_ts = (method == "chat.postMessage").then(|| fake.next_ts());
    let mut recorded = body.clone();
    if let Some(ts) = &posted_ts {
        // The ts the message was given, for tests to find it by.
        recorded["posted_ts"] = json!(ts);
    }
    fake.lock().calls.push(SlackCall {
        method: method.clone(),
        body: recorded,
    });
    if too_long && matches!(method.as_str(), "chat.postMessage" | "chat.update") {
        return ok_false("invalid_blocks");
    }
    if body["text"]
        .as_str()
        .is_some_and(|text| text.chars().count() > MESSAGE_TEXT_LIMIT)
    {
        return ok_false("msg_too_long");
    }
    match method.as_str() {
        "auth.test" => ok(
            json!({"url": "https://fake.slack.com/", "team": "Velvet", "user": "agencybot",
                                 "team_id": "T1", "user_id": SLACK_BOT_USER, "bot_id": "B1"}),
        ),
        "chat.postMessage" => {
            let ts = posted_ts.unwrap_or_default();
            ok(
                json!({"channel": body["channel"], "ts": ts, "message": {"ts": ts, "text": body["text"]}}),
            )
        }
        "chat.postEphemeral" => ok(json!({"message_ts": fake.next_ts()})),
        "chat.delete" => ok(json!({"channel": body["channel"], "ts": body["ts"]})),
        "chat.update" => ok(
            json!({"channel": body["channel"], "ts": body["ts"], "text": body["text"], "message": {"text": body["text"]}}),
        ),
        "files.getUploadURLExternal" => {
            let file = format!("F{}", fake.next());
            ok(json!({"upload_url": format!("{}/upload/{file}", fake.url), "file_id": file}))
        }
        "files.completeUploadExternal" => {
            let files: Vec<Value> = body["files"].as_array().cloned().unwrap_or_default();
            ok(
                json!({"files": files.iter().map(|f| json!({"id": f["id"], "title": f["title"]})).collect::<Vec<_>>()}),
            )
        }
        "apps.connections.open" => {
            ok(json!({"url": format!("{}/socket", fake.url.replacen("http://", "ws://", 1))}))
        }
        other => ok_false(&format!("unknown_method:{other}")),
    }
}

async fn upload(
    State(fake): State<FakeSlack>,
    Path(file): Path<String>,
    request: Request,
) -> Response {
    let bytes = axum::body::to_bytes(request.into_body(), 200 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let length = bytes.len();
    fake.lock().uploads.push((file, bytes.to_vec()));
    ([(CONTENT_TYPE, "text/plain")], format!("OK - {length}")).into_response()
}

async fn socket(State(fake): State<FakeSlack>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(fake, socket))
}

async fn session(fake: FakeSlack, mut socket: WebSocket) {
    let mut frames = fake.frames.subscribe();
    let hello = json!({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}, "debug_info": {"host": "fake"}});
    if socket
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    fake.lock().sockets += 1;
    loop {
        tokio::select! {
            frame = socket.recv() => {
                match frame {
                    Some(Ok(WsMessage::Text(text))) => {
                        if let Ok(ack) = serde_json::from_str::<Value>(&text)
                            && let Some(id) = ack["envelope_id"].as_str()
                        {
                            fake.lock().acks.push(id.to_owned());
                        }
                    }
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
            frame = frames.recv() => {
                let Ok(frame) = frame else { break };
                if socket.send(WsMessage::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    fake.lock().sockets -= 1;
}
