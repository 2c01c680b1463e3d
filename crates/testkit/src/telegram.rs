//! A fake Telegram Bot API on 127.0.0.1.
//!
//! Serves `/bot<TOKEN>/<method>` (method names matched without regard to
//! case, as teloxide sends `GetUpdates`), queues updates that tests push,
//! long-polls `getUpdates`, records every call and answers with the shapes
//! the Bot API documents.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Multipart, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

/// One Bot API call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct BotCall {
    /// Lower-case method name, e.g. `sendmessage`.
    pub method: String,
    pub params: Value,
}

struct TelegramState {
    token: String,
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    calls: Vec<BotCall>,
    /// Answer the next sendMessage that has a parse_mode with "can't parse entities".
    reject_markup: bool,
}

#[derive(Clone)]
pub struct FakeTelegram {
    url: String,
    state: Arc<Mutex<TelegramState>>,
    changed: Arc<Notify>,
}

pub const BOT_USER_ID: i64 = 7_000_000_001;

impl FakeTelegram {
    pub async fn start(token: &str) -> FakeTelegram {
        let state = Arc::new(Mutex::new(TelegramState {
            token: token.to_owned(),
            updates: VecDeque::new(),
            next_update_id: 1,
            next_message_id: 100,
            calls: Vec::new(),
            reject_markup: false,
        }));
        let changed = Arc::new(Notify::new());
        let fake = FakeTelegram {
            url: String::new(),
            state,
            changed,
        };
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::post(handle).get(handle))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { url, ..fake }
    }

    /// The API base URL to give the bot (without `/bot<TOKEN>`).
    #[must_use]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TelegramState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push_update(&self, body: (&str, Value)) -> i64 {
        let id = {
            let mut state = self.lock();
            let id = state.next_update_id;
            state.next_update_id += 1;
            let mut update = json!({"update_id": id});
            update[body.0] = body.1;
            state.updates.push_back(update);
            id
        };
        self.changed.notify_waiters();
        id
    }

    /// A private text message from `user_id`; returns its update id.
    pub fn send_text(&self, user_id: i64, text: &str) -> i64 {
        let message_id = self.next_message_id();
        let mut message = json!({
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": format!("User{user_id}")},
            "from": {"id": user_id, "is_bot": false, "first_name": format!("User{user_id}")},
            "text": text,
        });
        if text.starts_with('/') {
            let length = text.split_whitespace().next().map_or(0, str::len);
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": length}]);
        }
        self.push_update(("message", message))
    }

    /// A press of an inline button with `data` under the bot's message `message_id`.
    pub fn press(&self, user_id: i64, chat_id: i64, message_id: i64, data: &str) -> i64 {
        let query_id = format!("cq{}", self.next_message_id());
        self.push_update((
            "callback_query",
            json!({
                "id": query_id,
                "from": {"id": user_id, "is_bot": false, "first_name": format!("User{user_id}")},
                "chat_instance": "ci-1",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": 1_700_000_000,
                    "chat": {"id": chat_id, "type": "private", "first_name": format!("User{chat_id}")},
                    "from": {"id": BOT_USER_ID, "is_bot": true, "first_name": "agencybot", "username": "agencybot_test_bot"},
                    "text": "Should I go ahead?",
                },
            }),
        ))
    }

    /// Makes the next formatted sendMessage fail as Telegram does on bad markup.
    pub fn reject_next_markup(&self) {
        self.lock().reject_markup = true;
    }

    fn next_message_id(&self) -> i64 {
        let mut state = self.lock();
        state.next_message_id += 1;
        state.next_message_id
    }

    /// Calls of `method` (any case) so far.
    #[must_use]
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let method = method.to_lowercase();
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.params.clone())
            .collect()
    }

    /// Texts sent or edited into chat `chat`, in order of method.
    #[must_use]
    pub fn texts(&self, chat: i64) -> Vec<String> {
        ["sendmessage", "editmessagetext"]
            .iter()
            .flat_map(|method| self.calls(method))
            .filter(|call| call["chat_id"] == chat)
            .map(|call| call["text"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Texts sent or edited into `chat` as Telegram shows them (HTML read).
    #[must_use]
    pub fn shown_texts(&self, chat: i64) -> Vec<String> {
        ["sendmessage", "editmessagetext"]
            .iter()
            .flat_map(|method| self.calls(method))
            .filter(|call| call["chat_id"] == chat)
            .map(|call| {
                let text = call["text"].as_str().unwrap_or("");
                if call["parse_mode"] == "HTML" {
                    shown_text(text).unwrap_or_else(|_| text.to_owned())
                } else {
                    text.to_owned()
                }
            })
            .collect()
    }

    /// Waits until a text containing `needle` is sent or edited into `chat`.
    pub async fn wait_for_text(&self, limit: Duration, chat: i64, needle: &str) {
        self.wait_until(limit, |fake| {
            fake.texts(chat).iter().any(|text| text.contains(needle))
        })
        .await;
    }

    /// Waits until `check` holds for the calls so far (panics after `limit`).
    pub async fn wait_until(&self, limit: Duration, check: impl Fn(&FakeTelegram) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !check(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on the Telegram fake"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The Bot API's limit on a message, in UTF-16 units of the text shown.
pub const MESSAGE_LIMIT: usize = 4096;

/// The text Telegram shows for `html` in its HTML parse mode, or what is
/// wrong with it: tags must be ones Telegram knows, properly nested and
/// closed; entities must be `&lt;`, `&gt;`, `&amp;`, `&quot;` or numeric.
pub fn shown_text(html: &str) -> Result<String, String> {
    const TAGS: [&str; 16] = [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "a",
        "blockquote",
        "span",
        "tg-spoiler",
        "tg-emoji",
    ];
    let mut shown = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        shown.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            let end = rest.find('>').ok_or("unclosed start tag")?;
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                if open.pop().as_deref() != Some(name.trim()) {
                    return Err(format!("unmatched end tag \"{name}\""));
                }
            } else {
                let name = tag.split_whitespace().next().unwrap_or("");
                if !TAGS.contains(&name) {
                    return Err(format!("Unsupported start tag \"{name}\""));
                }
                open.push(name.to_owned());
            }
        } else {
            let end = rest
                .find(';')
                .filter(|&end| end <= 8)
                .ok_or("unescaped &")?;
            let character = match &rest[1..end] {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                numeric => numeric
                    .strip_prefix('#')
                    .and_then(|n| n.parse::<u32>().ok())
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("unsupported entity &{numeric};"))?,
            };
            shown.push(character);
            rest = &rest[end + 1..];
        }
    }
    shown.push_str(rest);
    if let Some(name) = open.pop() {
        return Err(format!(
            "can't find end tag corresponding to start tag \"{name}\""
        ));
    }
    Ok(shown)
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn bot_message(message_id: i64, chat_id: &Value, text: Option<&Value>) -> Value {
    let mut message = json!({
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": {"id": chat_id.as_i64().or_else(|| chat_id.as_str().and_then(|s| s.parse().ok())).unwrap_or(0), "type": "private", "first_name": "User"},
        "from": {"id": BOT_USER_ID, "is_bot": true, "first_name": "agencybot", "username": "agencybot_test_bot"},
    });
    if let Some(text) = text {
        message["text"] = text.clone();
    }
    message
}

async fn read_params(request: Request) -> Value {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
            return Value::Null;
        };
        let mut params = Map::new();
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.unwrap_or_default();
            match file_name {
                Some(file_name) => {
                    params.insert(
                        name,
                        json!({"file_name": file_name, "size": bytes.len(), "content": String::from_utf8_lossy(&bytes)}),
                    );
                }
                None => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    params.insert(
                        name,
                        serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    );
                }
            }
        }
        return Value::Object(params);
    }
    let query = request.uri().query().unwrap_or("").to_owned();
    let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
        return json;
    }
    let form = if bytes.is_empty() {
        query
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Value::Object(
        form.split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned())),
                )
            })
            .collect(),
    )
}

use axum::extract::FromRequest;

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let token = fake.lock().token.clone();
    if bot != format!("bot{token}") {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let method = method.to_lowercase();
    let mut params = read_params(request).await;
    // Record documents with their file resolved from `attach://<part>`.
    if let Some(part) = params
        .get("document")
        .and_then(Value::as_str)
        .and_then(|d| d.strip_prefix("attach://"))
        .map(str::to_owned)
        && let Some(file) = params.get(&part).cloned()
    {
        params["document"] = file;
    }
    if method == "getupdates" {
        return get_updates(&fake, &params).await;
    }
    let reject = {
        let mut state = fake.lock();
        state.calls.push(BotCall {
            method: method.clone(),
            params: params.clone(),
        });
        method == "sendmessage"
            && params.get("parse_mode").is_some()
            && std::mem::take(&mut state.reject_markup)
    };
    if reject {
        return Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}))
            .into_response();
    }
    // As the Bot API does: HTML must be well formed, and the limit is on
    // the text shown (tags and entities read), in UTF-16 units.
    if matches!(method.as_str(), "sendmessage" | "editmessagetext") {
        let text = params.get("text").and_then(Value::as_str).unwrap_or("");
        let shown = if params.get("parse_mode").and_then(Value::as_str) == Some("HTML") {
            match shown_text(text) {
                Ok(shown) => shown,
                Err(problem) => {
                    return Json(json!({"ok": false, "error_code": 400, "description": format!("Bad Request: can't parse entities: {problem}")}))
                        .into_response();
                }
            }
        } else {
            text.to_owned()
        };
        let units = shown.encode_utf16().count();
        if units == 0 || units > MESSAGE_LIMIT {
            let description = if units == 0 {
                "Bad Request: message text is empty"
            } else {
                "Bad Request: message is too long"
            };
            return Json(json!({"ok": false, "error_code": 400, "description": description}))
                .into_response();
        }
    }
    let chat = params.get("chat_id").cloned().unwrap_or(Value::Null);
    match method.as_str() {
        "getme" => ok(json!({"id": BOT_USER_ID, "is_bot": true, "first_name": "agencybot", "username": "agencybot_test_bot",
                             "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
                             "has_main_web_app": false})),
        "getwebhookinfo" => ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})),
        "deletewebhook" | "setwebhook" | "sendchataction" | "answercallbackquery" | "setmycommands" => ok(json!(true)),
        "sendmessage" => {
            let id = fake.next_message_id();
            ok(bot_message(id, &chat, params.get("text")))
        }
        "editmessagetext" | "editmessagereplymarkup" => {
            let id = params.get("message_id").and_then(Value::as_i64).unwrap_or(0);
            ok(bot_message(id, &chat, params.get("text")))
        }
        "senddocument" => {
            let id = fake.next_message_id();
            let mut message = bot_message(id, &chat, None);
            let document = params.get("document").cloned().unwrap_or(Value::Null);
            message["document"] = json!({
                "file_id": format!("doc{id}"),
                "file_unique_id": format!("udoc{id}"),
                "file_name": document.get("file_name").cloned().unwrap_or(Value::Null),
                "file_size": document.get("size").cloned().unwrap_or(json!(0)),
            });
            ok(message)
        }
        other => Json(json!({"ok": false, "error_code": 404, "description": format!("Not Found: method {other} is not faked")})).into_response(),
    }
}

async fn get_updates(fake: &FakeTelegram, params: &Value) -> Response {
    let offset = params.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let timeout = params
        .get("timeout")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = fake.changed.notified();
        let ready: Vec<Value> = {
            let mut state = fake.lock();
            state
                .updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            state.updates.iter().cloned().collect()
        };
        if !ready.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok(Value::Array(ready));
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}
