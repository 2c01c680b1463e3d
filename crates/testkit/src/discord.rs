//! A fake Discord: REST under `/api/v10` and a gateway websocket, both on
//! one 127.0.0.1 port. The gateway says HELLO, takes IDENTIFY, answers
//! READY, acknowledges heartbeats, and then dispatches the MESSAGE_CREATE
//! and INTERACTION_CREATE events tests push. REST calls are recorded and
//! answered with the shapes serenity's models need.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::broadcast;

pub const DISCORD_BOT_ID: u64 = 1_000_000_000_000_001;
pub const DISCORD_GUILD_ID: u64 = 4_000_000_000_000_001;

/// One REST call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RestCall {
    /// e.g. `POST /channels/{c}/messages`.
    pub route: String,
    pub channel: u64,
    pub body: Value,
}

struct DiscordState {
    calls: Vec<RestCall>,
    /// Threads the bot created: (thread id, parent channel id).
    threads: Vec<(u64, u64)>,
    identified: bool,
}

#[derive(Clone)]
pub struct FakeDiscord {
    url: String,
    state: Arc<Mutex<DiscordState>>,
    events: broadcast::Sender<Value>,
    ids: Arc<AtomicU64>,
    sequence: Arc<AtomicU64>,
}

fn user(id: u64, name: &str, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": name, "avatar": null, "bot": bot})
}

fn message(
    id: u64,
    channel: u64,
    author: Value,
    content: &str,
    mentions: Vec<Value>,
    guild: Option<u64>,
) -> Value {
    let mut message = json!({
        "id": id.to_string(), "channel_id": channel.to_string(), "author": author, "content": content,
        "timestamp": "2026-11-20T12:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": mentions, "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0,
    });
    if let Some(guild) = guild {
        message["guild_id"] = json!(guild.to_string());
    }
    message
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let (events, _) = broadcast::channel(256);
        let mut fake = FakeDiscord {
            url: String::new(),
            state: Arc::new(Mutex::new(DiscordState {
                calls: Vec::new(),
                threads: Vec::new(),
                identified: false,
            })),
            events,
            ids: Arc::new(AtomicU64::new(2_000_000_000_000_000)),
            sequence: Arc::new(AtomicU64::new(1)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        fake.url = format!("http://{}", listener.local_addr().expect("address"));
        let app = Router::new()
            .route("/api/v10/gateway", get(gateway_url))
            .route("/gateway", get(gateway))
            .route("/api/v10/channels/{channel}", get(get_channel))
            .route("/api/v10/channels/{channel}/messages", post(create_message))
            .route("/api/v10/channels/{channel}/messages/{message}", patch(edit_message).delete(delete_message))
            .route("/api/v10/channels/{channel}/messages/{message}/threads", post(create_thread))
            .route("/api/v10/channels/{channel}/typing", post(typing))
            .route("/api/v10/interactions/{id}/{token}/callback", post(interaction_callback))
            .fallback(|request: Request| async move {
                (StatusCode::NOT_FOUND, Json(json!({"code": 0, "message": format!("not faked: {} {}", request.method(), request.uri())})))
            })
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// The REST base URL to give serenity as its proxy.
    #[must_use]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DiscordState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dispatch(&self, kind: &str, data: Value) {
        let sequence = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self
            .events
            .send(json!({"op": 0, "s": sequence, "t": kind, "d": data}));
    }

    /// Whether the bot has identified on the gateway (events can be pushed).
    #[must_use]
    pub fn connected(&self) -> bool {
        self.lock().identified
    }

    /// A message from `author` in `channel` (a server channel, or a thread);
    /// `mention` adds the bot to the message's mentions. Returns its id.
    pub fn user_message(&self, channel: u64, author: u64, content: &str, mention: bool) -> u64 {
        self.guild_message(DISCORD_GUILD_ID, channel, author, content, mention)
    }

    /// [`FakeDiscord::user_message`] in another server (guild) than the default one.
    pub fn guild_message(
        &self,
        guild: u64,
        channel: u64,
        author: u64,
        content: &str,
        mention: bool,
    ) -> u64 {
        let id = self.next_id();
        let mentions = if mention {
            vec![user(DISCORD_BOT_ID, "agencybot", true)]
        } else {
            Vec::new()
        };
        let text = if mention {
            format!("<@{DISCORD_BOT_ID}> {content}")
        } else {
            content.to_owned()
        };
        self.dispatch(
            "MESSAGE_CREATE",
            message(
                id,
                channel,
                user(author, &format!("user{author}"), false),
                &text,
                mentions,
                Some(guild),
            ),
        );
        id
    }

    /// A direct message to the bot.
    pub fn direct_message(&self, author: u64, content: &str) -> u64 {
        let id = self.next_id();
        self.dispatch(
            "MESSAGE_CREATE",
            message(
                id,
                9_000 + author,
                user(author, &format!("user{author}"), false),
                content,
                Vec::new(),
                None,
            ),
        );
        id
    }

    /// `clicker` presses the button `custom_id` on the bot's message `message_id` in `channel`.
    pub fn click(&self, channel: u64, message_id: u64, clicker: u64, custom_id: &str) {
        let id = self.next_id();
        let bot_message = message(
            message_id,
            channel,
            user(DISCORD_BOT_ID, "agencybot", true),
            "Should I go ahead?",
            Vec::new(),
            Some(DISCORD_GUILD_ID),
        );
        self.dispatch(
            "INTERACTION_CREATE",
            json!({
                "id": id.to_string(), "application_id": DISCORD_BOT_ID.to_string(), "type": 3,
                "token": format!("itok-{id}"), "version": 1,
                "data": {"custom_id": custom_id, "component_type": 2},
                "guild_id": DISCORD_GUILD_ID.to_string(), "channel_id": channel.to_string(),
                "user": user(clicker, &format!("user{clicker}"), false),
                "message": bot_message, "app_permissions": "0", "locale": "en-US", "entitlements": [],
                "authorizing_integration_owners": {}, "context": 0, "attachment_size_limit": 26_214_400,
            }),
        );
    }

    /// REST calls whose route is `route` (e.g. `POST /channels/{c}/messages`).
    #[must_use]
    pub fn calls(&self, route: &str) -> Vec<RestCall> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.route == route)
            .cloned()
            .collect()
    }

    /// Threads the bot opened, as (thread, parent channel).
    #[must_use]
    pub fn threads(&self) -> Vec<(u64, u64)> {
        self.lock().threads.clone()
    }

    /// Message texts posted in `channel`, in order.
    #[must_use]
    pub fn texts(&self, channel: u64) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .filter(|c| {
                c.channel == channel
                    && (c.route == "POST /channels/{c}/messages"
                        || c.route == "PATCH /channels/{c}/messages/{m}")
            })
            .filter_map(|c| {
                c.body
                    .get("content")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }

    /// What `channel` shows now: the bot's messages as last edited, without
    /// those it deleted, in the order they were posted.
    #[must_use]
    pub fn shown(&self, channel: u64) -> Vec<String> {
        let mut shown: Vec<(u64, String)> = Vec::new();
        for call in self.lock().calls.iter().filter(|c| c.channel == channel) {
            let id = call.body["id"].as_u64().unwrap_or_default();
            let content = call.body["content"].as_str().map(str::to_owned);
            match call.route.as_str() {
                "POST /channels/{c}/messages" => {
                    shown.push((id, content.unwrap_or_default()));
                }
                "PATCH /channels/{c}/messages/{m}" => {
                    if let (Some(content), Some(message)) =
                        (content, shown.iter_mut().find(|(shown, _)| *shown == id))
                    {
                        message.1 = content;
                    }
                }
                "DELETE /channels/{c}/messages/{m}" => shown.retain(|(shown, _)| *shown != id),
                _ => {}
            }
        }
        shown.into_iter().map(|(_, content)| content).collect()
    }

    pub async fn wait_until(&self, limit: Duration, check: impl Fn(&FakeDiscord) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !check(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on the Discord fake"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn record(&self, route: &str, channel: u64, body: Value) {
        self.lock().calls.push(RestCall {
            route: route.into(),
            channel,
            body,
        });
    }
}

async fn gateway_url(State(fake): State<FakeDiscord>) -> Json<Value> {
    Json(json!({"url": format!("{}/gateway", fake.url.replacen("http://", "ws://", 1))}))
}

async fn gateway(State(fake): State<FakeDiscord>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(fake, socket))
}

async fn session(fake: FakeDiscord, mut socket: WebSocket) {
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 45_000}, "s": null, "t": null});
    if socket
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut events = fake.events.subscribe();
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let Some(Ok(frame)) = frame else { return };
                let WsMessage::Text(text) = frame else {
                    if matches!(frame, WsMessage::Close(_)) { return; }
                    continue;
                };
                let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                match payload["op"].as_u64() {
                    Some(2) => {
                        let ready = json!({"op": 0, "s": 1, "t": "READY", "d": {
                            "v": 10, "user": user(DISCORD_BOT_ID, "agencybot", true), "guilds": [],
                            "session_id": "session-1", "resume_gateway_url": fake.url.replacen("http://", "ws://", 1),
                            "shard": [0, 1], "application": {"id": DISCORD_BOT_ID.to_string(), "flags": 0}}});
                        if socket.send(WsMessage::Text(ready.to_string().into())).await.is_err() {
                            return;
                        }
                        fake.lock().identified = true;
                    }
                    Some(1) => {
                        let _ = socket.send(WsMessage::Text(json!({"op": 11}).to_string().into())).await;
                    }
                    _ => {}
                }
            }
            event = events.recv() => {
                let Ok(event) = event else { return };
                if socket.send(WsMessage::Text(event.to_string().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn get_channel(State(fake): State<FakeDiscord>, Path(channel): Path<u64>) -> Json<Value> {
    let thread = fake
        .lock()
        .threads
        .iter()
        .find(|(id, _)| *id == channel)
        .copied();
    Json(match thread {
        Some((id, parent)) => {
            json!({"id": id.to_string(), "type": 11, "guild_id": DISCORD_GUILD_ID.to_string(),
                                     "parent_id": parent.to_string(), "name": "thread", "owner_id": DISCORD_BOT_ID.to_string()})
        }
        None => {
            json!({"id": channel.to_string(), "type": 0, "guild_id": DISCORD_GUILD_ID.to_string(), "name": "general"})
        }
    })
}

async fn read_body(request: Request) -> Value {
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        use axum::extract::FromRequest;
        let Ok(mut form) = Multipart::from_request(request, &()).await else {
            return Value::Null;
        };
        let mut body = json!({});
        let mut files = Vec::new();
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.unwrap_or_default();
            if name == "payload_json" {
                let payload: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                if let Value::Object(map) = payload {
                    for (key, value) in map {
                        body[key] = value;
                    }
                }
            } else if let Some(file_name) = file_name {
                files.push(json!({"file_name": file_name, "size": bytes.len(), "content": String::from_utf8_lossy(&bytes)}));
            }
        }
        body["files"] = Value::Array(files);
        return body;
    }
    let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn bot_message(id: u64, channel: u64, body: &Value) -> Json<Value> {
    let content = body.get("content").and_then(Value::as_str).unwrap_or("");
    Json(message(
        id,
        channel,
        user(DISCORD_BOT_ID, "agencybot", true),
        content,
        Vec::new(),
        None,
    ))
}

/// Discord's limit on a message's content, in characters.
pub const DISCORD_MESSAGE_LIMIT: usize = 2000;

/// Discord's answer to content over the limit, which it does not post.
fn too_long(body: &Value) -> Option<Response> {
    let length = body["content"].as_str()?.chars().count();
    (length > DISCORD_MESSAGE_LIMIT).then(|| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": 50035, "message": "Invalid Form Body", "errors": {"content": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": format!("Must be {DISCORD_MESSAGE_LIMIT} or fewer in length.")}
            ]}}})),
        )
            .into_response()
    })
}

async fn create_message(
    State(fake): State<FakeDiscord>,
    Path(channel): Path<u64>,
    request: Request,
) -> Response {
    let body = read_body(request).await;
    if let Some(rejected) = too_long(&body) {
        return rejected;
    }
    let id = fake.next_id();
    let mut recorded = body.clone();
    recorded["id"] = json!(id);
    fake.record("POST /channels/{c}/messages", channel, recorded);
    bot_message(id, channel, &body).into_response()
}

async fn edit_message(
    State(fake): State<FakeDiscord>,
    Path((channel, message)): Path<(u64, u64)>,
    request: Request,
) -> Response {
    let body = read_body(request).await;
    if let Some(rejected) = too_long(&body) {
        return rejected;
    }
    let mut recorded = body.clone();
    recorded["id"] = json!(message);
    fake.record("PATCH /channels/{c}/messages/{m}", channel, recorded);
    bot_message(message, channel, &body).into_response()
}

async fn delete_message(
    State(fake): State<FakeDiscord>,
    Path((channel, message)): Path<(u64, u64)>,
) -> StatusCode {
    fake.record(
        "DELETE /channels/{c}/messages/{m}",
        channel,
        json!({"id": message}),
    );
    StatusCode::NO_CONTENT
}

async fn create_thread(
    State(fake): State<FakeDiscord>,
    Path((channel, message)): Path<(u64, u64)>,
    request: Request,
) -> Json<Value> {
    let body = read_body(request).await;
    let id = fake.next_id();
    fake.lock().threads.push((id, channel));
    let mut recorded = body.clone();
    recorded["message"] = json!(message);
    recorded["thread"] = json!(id);
    fake.record("POST /channels/{c}/messages/{m}/threads", channel, recorded);
    Json(
        json!({"id": id.to_string(), "type": 11, "guild_id": DISCORD_GUILD_ID.to_string(), "parent_id": channel.to_string(),
                "name": body.get("name").cloned().unwrap_or(json!("thread")), "owner_id": DISCORD_BOT_ID.to_string(),
                "thread_metadata": {"archived": false, "auto_archive_duration": 1440, "locked": false},
                "message_count": 0, "member_count": 1}),
    )
}

async fn typing(State(fake): State<FakeDiscord>, Path(channel): Path<u64>) -> StatusCode {
    fake.record("POST /channels/{c}/typing", channel, Value::Null);
    StatusCode::NO_CONTENT
}

async fn interaction_callback(
    State(fake): State<FakeDiscord>,
    Path((id, _token)): Path<(u64, String)>,
    request: Request,
) -> impl IntoResponse {
    let body = read_body(request).await;
    fake.record("POST /interactions/{id}/{token}/callback", id, body);
    StatusCode::NO_CONTENT
}
