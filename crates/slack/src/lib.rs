//! agencybot on Slack, through slack-morphism.
//!
//! Socket Mode (no public URL) or the Events API over HTTP, whose signing
//! secret is verified with Slack's 5-minute replay window. Direct messages
//! are answered in place; an @mention in a channel is answered in a thread,
//! and follow-ups in that thread need no mention. Slack's retries carry the
//! same event id and are handled once. Writes are confirmed with Block Kit
//! buttons; files go through the external upload flow.

mod format;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agencybot_agent::reply::{self, GiveWay, ProgressMessage, Surface};
use agencybot_agent::{
    Admission, ConfirmButton, Hub, Incoming, Outbox, Responder, Seen, ShownConfirmations,
    TurnReport, answered_text, refusal, too_large,
};
use agencybot_core::{
    Attachment, ConversationKey, InboundContent, InboundMessage, OutboundMessage, Platform,
    ProposedAction, Secret,
};
use axum::Extension;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use slack_morphism::prelude::*;
use tokio::sync::{mpsc, watch};

pub use format::markdown_to_mrkdwn;

/// Slack's own Web API base.
pub const SLACK_API_URL: &str = "https://slack.com/api";
/// Slack calls are given this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Marks the button blocks this bot posts; the rest of the block id is the
/// thread the question was asked in (`dm` for direct messages).
const BLOCK_PREFIX: &str = "agencybot:";

#[derive(Debug, Clone)]
pub enum SlackMode {
    /// Socket Mode with an app-level token (`xapp-…`).
    Socket { app_token: Secret },
    /// Events API and interactivity over HTTP, on `listen`, at `/slack/events`
    /// and `/slack/interactivity`.
    Events {
        signing_secret: Secret,
        listen: SocketAddr,
    },
}

#[derive(Debug, Clone)]
pub struct SlackOptions {
    /// Bot token (`xoxb-…`).
    pub bot_token: Secret,
    /// Web API base, without a trailing slash.
    pub api_url: String,
    pub mode: SlackMode,
    /// How long shutdown waits for turns in flight.
    pub grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack rejected the bot token: {0}")]
    Token(String),
    #[error("cannot start Socket Mode: {0}")]
    SocketMode(String),
    #[error("cannot start the Slack events server on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// What arrived from Slack, in the order it arrived.
enum Delivery {
    Event {
        id: String,
        body: Box<SlackEventCallbackBody>,
    },
    Click {
        id: String,
        user: String,
        channel: String,
        message_ts: String,
        message_text: Option<String>,
        value: String,
        block_id: Option<String>,
    },
}

/// Where Socket Mode callbacks (plain `fn`s) find the adapter's inbox.
/// Bounded: past it a delivery is refused (the Events API answers 503 so
/// Slack delivers it again later) instead of piling up in memory.
#[derive(Clone)]
struct Inbox(mpsc::Sender<Delivery>);

/// Conversations whose open confirmation messages are remembered, to show
/// their outcome.
const REMEMBERED_CONVERSATIONS: usize = 10_000;

/// Deliveries waiting for the adapter at most.
const INBOX_CAPACITY: usize = 1024;

impl Inbox {
    /// Hands a delivery to the adapter; false when the inbox is full.
    fn offer(&self, delivery: Delivery) -> bool {
        match self.0.try_send(delivery) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("the Slack inbox is full; a delivery was refused");
                false
            }
            // The adapter is stopping: nothing will read it.
            Err(mpsc::error::TrySendError::Closed(_)) => true,
        }
    }
}

/// A client whose connector speaks HTTPS, and plain HTTP for a local fake
/// or proxy.
fn client(api_url: &str) -> Arc<SlackHyperClient> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https: SlackHyperHttpsConnector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_all_versions()
        .build();
    let connector = SlackClientHyperConnector::with_connector(https)
        .with_slack_api_url(api_url.trim_end_matches('/'));
    Arc::new(SlackClient::new(connector))
}

/// Delivers scheduled messages to Slack conversations (destination: a
/// channel or DM id).
#[must_use]
pub fn outbox(options: &SlackOptions, hub: Hub) -> Arc<dyn Outbox> {
    Arc::new(SlackOutbox {
        client: client(&options.api_url),
        token: SlackApiToken::new(SlackApiTokenValue::from(
            options.bot_token.expose().to_owned(),
        )),
        hub,
        shown: Arc::new(ShownConfirmations::new(REMEMBERED_CONVERSATIONS)),
    })
}

struct SlackOutbox {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    hub: Hub,
    shown: Arc<ShownConfirmations<String>>,
}

impl Outbox for SlackOutbox {
    fn to(&self, destination: &str) -> Option<Arc<dyn Responder>> {
        let destination = destination.trim();
        (!destination.is_empty()).then(|| {
            Arc::new(SlackResponder {
                client: self.client.clone(),
                token: self.token.clone(),
                hub: self.hub.clone(),
                channel: SlackChannelId::new(destination.to_owned()),
                thread: None,
                progress: ProgressMessage::default(),
                shown: self.shown.clone(),
                pressed: None,
            }) as Arc<dyn Responder>
        })
    }
}

/// Runs the channel until `stop` turns true, then lets turns in flight finish.
pub async fn serve(
    options: SlackOptions,
    hub: Hub,
    mut stop: watch::Receiver<bool>,
) -> Result<(), SlackError> {
    let client = client(&options.api_url);
    let token = SlackApiToken::new(SlackApiTokenValue::from(
        options.bot_token.expose().to_owned(),
    ));
    let me = loop {
        match tokio::time::timeout(CALL_TIMEOUT, client.open_session(&token).auth_test()).await {
            Ok(Ok(me)) => break me,
            Ok(Err(slack_morphism::errors::SlackClientError::ApiError(error))) => {
                let error = SlackError::Token(error.code);
                hub.report_disconnected(&error);
                return Err(error);
            }
            Ok(Err(error)) => {
                hub.report_disconnected(&error);
                tracing::warn!(%error, "cannot reach Slack; retrying");
            }
            Err(_) => {
                hub.report_disconnected(&"Slack did not answer auth.test");
                tracing::warn!("Slack did not answer auth.test; retrying");
            }
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    };
    let adapter = Arc::new(Adapter {
        hub: hub.clone(),
        client: client.clone(),
        token,
        bot_user: me.user_id.to_string(),
        shown: Arc::new(ShownConfirmations::new(REMEMBERED_CONVERSATIONS)),
        told_denied: Mutex::new(Seen::new(REMEMBERED_CONVERSATIONS)),
    });
    tracing::info!(channel = hub.channel_name(), bot = %adapter.bot_user, "Slack channel is live");
    let (inbox, deliveries) = mpsc::channel(INBOX_CAPACITY);
    let consumer = tokio::spawn(adapter.clone().consume(deliveries, stop.clone()));
    let result = match options.mode {
        SlackMode::Socket { app_token } => {
            socket_mode(client, &app_token, Inbox(inbox), &hub, &mut stop).await
        }
        SlackMode::Events {
            signing_secret,
            listen,
        } => {
            events_api(
                client,
                &signing_secret,
                listen,
                Inbox(inbox),
                &hub,
                &mut stop,
            )
            .await
        }
    };
    if let Err(error) = &result {
        hub.report_disconnected(error);
    }
    let _ = consumer.await;
    if !hub.shutdown(options.grace).await {
        tracing::warn!(
            channel = hub.channel_name(),
            "stopped before every turn finished"
        );
    }
    result
}

async fn socket_mode(
    client: Arc<SlackHyperClient>,
    app_token: &Secret,
    inbox: Inbox,
    hub: &Hub,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), SlackError> {
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_push)
        .with_interaction_events(on_interaction);
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(socket_errors)
            .with_user_state(inbox),
    );
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(1)
        .with_initial_backoff_in_seconds(0)
        .with_reconnect_timeout_in_seconds(2);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue::from(app_token.expose().to_owned()));
    listener
        .listen_for(&token)
        .await
        .map_err(|error| SlackError::SocketMode(error.to_string()))?;
    listener.start().await;
    hub.report_connected();
    let _ = stop.wait_for(|stopped| *stopped).await;
    listener.shutdown().await;
    Ok(())
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(inbox) = states.read().await.get_user_state::<Inbox>() {
        inbox.offer(Delivery::Event {
            id: event.event_id.to_string(),
            body: Box::new(event.event),
        });
    }
    Ok(())
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(inbox) = states.read().await.get_user_state::<Inbox>() {
        for delivery in clicks(event) {
            inbox.offer(delivery);
        }
    }
    Ok(())
}

/// Button presses in a `block_actions` payload.
fn clicks(event: SlackInteractionEvent) -> Vec<Delivery> {
    let SlackInteractionEvent::BlockActions(actions) = event else {
        return Vec::new();
    };
    let (Some(user), Some(channel)) = (actions.user.as_ref(), actions.channel.as_ref()) else {
        return Vec::new();
    };
    let SlackInteractionActionContainer::Message(container) = &actions.container else {
        return Vec::new();
    };
    let message_text = actions
        .message
        .as_ref()
        .and_then(|m| m.content.text.clone());
    actions
        .actions
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|action| {
            Some(Delivery::Click {
                id: format!("{}:{}", actions.trigger_id, action.action_id),
                user: user.id.to_string(),
                channel: channel.id.to_string(),
                message_ts: container.message_ts.to_string(),
                message_text: message_text.clone(),
                value: action.value?,
                block_id: action.block_id.map(|b| b.to_string()),
            })
        })
        .collect()
}

/// Always acknowledged: a bad frame would only be redelivered.
fn socket_errors(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    tracing::warn!(%error, "Slack Socket Mode frame not handled");
    HttpStatusCode::OK
}

/// Signature problems are 401; anything else the request got wrong is 400.
fn http_errors(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    use slack_morphism::signature_verifier::{
        SlackEventAbsentSignatureError, SlackEventSignatureVerifierError,
    };
    if error
        .downcast_ref::<SlackEventSignatureVerifierError>()
        .is_some()
        || error
            .downcast_ref::<SlackEventAbsentSignatureError>()
            .is_some()
    {
        tracing::info!("refused a Slack request with a bad or missing signature");
        HttpStatusCode::UNAUTHORIZED
    } else {
        tracing::warn!(%error, "refused a malformed Slack request");
        HttpStatusCode::BAD_REQUEST
    }
}

async fn events_api(
    client: Arc<SlackHyperClient>,
    signing_secret: &Secret,
    listen: SocketAddr,
    inbox: Inbox,
    hub: &Hub,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), SlackError> {
    let environment =
        Arc::new(SlackClientEventsListenerEnvironment::new(client).with_error_handler(http_errors));
    let listener: SlackEventsAxumListener<SlackHyperHttpsConnector> =
        SlackEventsAxumListener::new(environment);
    let secret = SlackSigningSecret::new(signing_secret.expose().to_owned());
    let events_inbox = inbox.clone();
    let app = axum::Router::new()
        .route(
            "/slack/events",
            axum::routing::post(move |Extension(event): Extension<SlackPushEvent>| {
                let inbox = events_inbox.clone();
                async move { push_event(&inbox, event) }
            })
            .layer(
                listener
                    .events_layer(&secret)
                    .with_event_extractor(SlackEventsExtractors::push_event()),
            ),
        )
        .route(
            "/slack/interactivity",
            axum::routing::post(move |Extension(event): Extension<SlackInteractionEvent>| {
                let inbox = inbox.clone();
                async move {
                    if clicks(event)
                        .into_iter()
                        .all(|delivery| inbox.offer(delivery))
                    {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                }
            })
            .layer(
                listener
                    .events_layer(&secret)
                    .with_event_extractor(SlackEventsExtractors::interaction_event()),
            ),
        );
    let tcp = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| SlackError::Listen {
            address: listen,
            source,
        })?;
    hub.report_connected();
    let mut server_stop = stop.clone();
    let served = axum::serve(tcp, app).with_graceful_shutdown(async move {
        let _ = server_stop.wait_for(|stopped| *stopped).await;
    });
    if let Err(error) = served.await {
        hub.report_disconnected(&error);
        tracing::error!(%error, "Slack events server failed");
    }
    let _ = stop.wait_for(|stopped| *stopped).await;
    Ok(())
}

fn push_event(inbox: &Inbox, event: SlackPushEvent) -> Response {
    match event {
        SlackPushEvent::UrlVerification(verification) => verification.challenge.into_response(),
        SlackPushEvent::EventCallback(callback) => {
            let offered = inbox.offer(Delivery::Event {
                id: callback.event_id.to_string(),
                body: Box::new(callback.event),
            });
            if offered {
                StatusCode::OK.into_response()
            } else {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
        _ => StatusCode::OK.into_response(),
    }
}

struct Adapter {
    hub: Hub,
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    bot_user: String,
    /// Confirmation messages (by ts) not yet edited to show their outcome.
    shown: Arc<ShownConfirmations<String>>,
    /// Who was already told, in which channel and thread, that they may
    /// not use the bot: told once, and only them.
    told_denied: Mutex<Seen<(String, String, String)>>,
}

/// A message the adapter decided to answer.
struct Ask {
    id: String,
    conversation: ConversationKey,
    channel: String,
    /// The thread answers go to (none in DMs).
    thread: Option<String>,
    user: String,
    text: String,
}

impl Adapter {
    /// Handles deliveries one after another, so each conversation sees its
    /// messages in the order Slack sent them.
    async fn consume(
        self: Arc<Self>,
        mut deliveries: mpsc::Receiver<Delivery>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let delivery = tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                delivery = deliveries.recv() => match delivery {
                    Some(delivery) => delivery,
                    None => return,
                },
            };
            match delivery {
                Delivery::Event { id, body } => {
                    if let Some(ask) = self.ask(id, *body).await {
                        self.submit_text(ask).await;
                    }
                }
                Delivery::Click {
                    id,
                    user,
                    channel,
                    message_ts,
                    message_text,
                    value,
                    block_id,
                } => {
                    self.on_click(
                        id,
                        user,
                        channel,
                        message_ts,
                        message_text,
                        &value,
                        block_id.as_deref(),
                    )
                    .await;
                }
            }
        }
    }

    /// Which events are for the bot: DMs, @mentions, and follow-ups in a
    /// thread the bot is already part of.
    async fn ask(&self, id: String, body: SlackEventCallbackBody) -> Option<Ask> {
        let mention = format!("<@{}>", self.bot_user);
        match body {
            SlackEventCallbackBody::AppMention(event) => {
                let channel = event.channel.to_string();
                let thread = event
                    .origin
                    .thread_ts
                    .unwrap_or(event.origin.ts)
                    .to_string();
                Some(Ask {
                    id,
                    conversation: ConversationKey::thread(
                        self.hub.channel_name(),
                        Platform::Slack,
                        channel.clone(),
                        thread.clone(),
                    ),
                    channel,
                    thread: Some(thread),
                    user: event.user.to_string(),
                    text: event
                        .content
                        .text
                        .unwrap_or_default()
                        .replace(&mention, "")
                        .trim()
                        .to_owned(),
                })
            }
            SlackEventCallbackBody::Message(event) => {
                if event.sender.bot_id.is_some() || event.hidden == Some(true) {
                    return None;
                }
                if !matches!(
                    event.subtype,
                    None | Some(
                        SlackMessageEventType::FileShare | SlackMessageEventType::ThreadBroadcast
                    )
                ) {
                    return None;
                }
                let user = event.sender.user?.to_string();
                if user == self.bot_user {
                    return None;
                }
                let channel = event.origin.channel?.to_string();
                let text = event.content.and_then(|c| c.text).unwrap_or_default();
                let direct = event
                    .origin
                    .channel_type
                    .as_ref()
                    .is_some_and(|t| t.to_string() == "im")
                    || channel.starts_with('D');
                if direct {
                    return Some(Ask {
                        id,
                        conversation: ConversationKey::direct(
                            self.hub.channel_name(),
                            Platform::Slack,
                            channel.clone(),
                            user.clone(),
                        ),
                        channel,
                        thread: None,
                        user,
                        text,
                    });
                }
                // A mention arrives as its own app_mention event.
                if text.contains(&mention) {
                    return None;
                }
                let thread = event.origin.thread_ts?.to_string();
                let conversation = ConversationKey::thread(
                    self.hub.channel_name(),
                    Platform::Slack,
                    channel.clone(),
                    thread.clone(),
                );
                if !self
                    .hub
                    .store()
                    .has_conversation(&conversation)
                    .await
                    .unwrap_or(false)
                {
                    return None;
                }
                Some(Ask {
                    id,
                    conversation,
                    channel,
                    thread: Some(thread),
                    user,
                    text,
                })
            }
            _ => None,
        }
    }

    async fn submit_text(&self, ask: Ask) {
        let content = match ask.text.as_str() {
            "/reset" | "reset" | "/start" => InboundContent::Reset,
            "" => InboundContent::Text("Hi".into()),
            text => InboundContent::Text(text.to_owned()),
        };
        let responder = Arc::new(self.responder(&ask.channel, ask.thread.clone(), None));
        self.submit(
            format!("slack:{}", ask.id),
            ask.conversation,
            &ask.user,
            content,
            responder,
        )
        .await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn on_click(
        &self,
        id: String,
        user: String,
        channel: String,
        message_ts: String,
        message_text: Option<String>,
        value: &str,
        block_id: Option<&str>,
    ) {
        let (Some(button), Some(place)) = (
            ConfirmButton::parse(value),
            block_id.and_then(|b| b.strip_prefix(BLOCK_PREFIX)),
        ) else {
            return;
        };
        let (conversation, thread) = if place == "dm" {
            (
                ConversationKey::direct(
                    self.hub.channel_name(),
                    Platform::Slack,
                    channel.clone(),
                    user.clone(),
                ),
                None,
            )
        } else {
            (
                ConversationKey::thread(
                    self.hub.channel_name(),
                    Platform::Slack,
                    channel.clone(),
                    place,
                ),
                Some(place.to_owned()),
            )
        };
        let content = button.content();
        let pressed = Pressed {
            ts: message_ts,
            text: message_text.unwrap_or_default(),
            action_ids: button.action_ids(),
        };
        let responder = Arc::new(self.responder(&channel, thread, Some(pressed)));
        self.submit(
            format!("slack:{id}"),
            conversation,
            &user,
            content,
            responder,
        )
        .await;
    }

    fn responder(
        &self,
        channel: &str,
        thread: Option<String>,
        pressed: Option<Pressed>,
    ) -> SlackResponder {
        SlackResponder {
            client: self.client.clone(),
            token: self.token.clone(),
            hub: self.hub.clone(),
            channel: SlackChannelId::new(channel.to_owned()),
            thread: thread.map(SlackTs::new),
            progress: ProgressMessage::default(),
            shown: self.shown.clone(),
            pressed,
        }
    }

    async fn submit(
        &self,
        delivery: String,
        conversation: ConversationKey,
        user: &str,
        content: InboundContent,
        responder: Arc<SlackResponder>,
    ) {
        let incoming = Incoming {
            delivery_id: Some(delivery),
            message: InboundMessage {
                channel: self.hub.channel_name().to_owned(),
                conversation,
                user_id: user.to_owned(),
                user_name: None,
                content,
            },
            responder: responder.clone(),
        };
        let admission = self.hub.submit(incoming).await;
        if matches!(admission, Ok(Admission::Denied)) {
            // Only they see it, once per channel and thread: a stranger's
            // messages do not fill a shared channel with refusals.
            let place = (
                responder.channel.to_string(),
                responder
                    .thread
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                user.to_owned(),
            );
            let first = self
                .told_denied
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .put(place, ());
            if first {
                responder
                    .post_ephemeral(
                        user,
                        &format!(
                            "Sorry, you're not allowed to use agencybot yet. Ask an admin to add your Slack ID ({user})."
                        ),
                    )
                    .await;
            }
            return;
        }
        if let Some(text) = refusal(&admission, String::new) {
            responder.post(&text, None).await;
        }
    }
}

/// The question message whose button was pressed.
struct Pressed {
    ts: String,
    text: String,
    action_ids: Vec<i64>,
}

struct SlackResponder {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    hub: Hub,
    channel: SlackChannelId,
    thread: Option<SlackTs>,
    /// "On it…", removed once the answer is posted.
    progress: ProgressMessage<SlackTs>,
    shown: Arc<ShownConfirmations<String>>,
    /// The question a button press came from (it may predate this process).
    pressed: Option<Pressed>,
}

fn section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(SlackBlockMarkDownText::new(text.to_owned()).into())
        .into()
}

/// Yes/No per action (and for all, when there are several), in a block
/// whose id says which thread the question belongs to.
fn buttons(actions: &[ProposedAction], place: &str) -> SlackBlock {
    let several = actions.len() > 1;
    let mut elements: Vec<SlackActionBlockElement> = Vec::new();
    for (index, action) in actions.iter().enumerate().take(10) {
        let label = |word: &str| {
            if several {
                format!("{word} {}", index + 1)
            } else {
                word.to_owned()
            }
        };
        for (approve, word, style) in [
            (true, "Yes", SlackBlockButtonStyle::Primary),
            (false, "No", SlackBlockButtonStyle::Danger),
        ] {
            let data = ConfirmButton::One {
                id: action.id,
                approve,
            }
            .data();
            elements.push(
                SlackBlockButtonElement::new(label(word).into())
                    .with_action_id(SlackActionId::new(format!("confirm-{data}")))
                    .with_value(data)
                    .with_style(style)
                    .into(),
            );
        }
    }
    if several {
        let ids: Vec<i64> = actions.iter().map(|a| a.id).collect();
        for (approve, word) in [(true, "Yes to all"), (false, "No to all")] {
            let data = ConfirmButton::All {
                approve,
                ids: ids.clone(),
            }
            .data();
            elements.push(
                SlackBlockButtonElement::new(word.to_owned().into())
                    .with_action_id(SlackActionId::new(format!("confirm-all-{approve}")))
                    .with_value(data)
                    .into(),
            );
        }
    }
    SlackActionsBlock::new(elements)
        .with_block_id(SlackBlockId::new(format!("{BLOCK_PREFIX}{place}")))
        .into()
}

impl SlackResponder {
    fn place(&self) -> String {
        self.thread
            .as_ref()
            .map_or_else(|| "dm".to_owned(), ToString::to_string)
    }

    /// Which conversation's confirmation messages these are.
    fn shown_key(&self) -> String {
        format!("{}/{}", self.channel, self.place())
    }

    /// A message only `user` sees (in the thread, if any).
    async fn post_ephemeral(&self, user: &str, text: &str) {
        let mut request = SlackApiChatPostEphemeralRequest::new(
            self.channel.clone(),
            SlackUserId::new(user.to_owned()),
            SlackMessageContent::new().with_text(text.to_owned()),
        );
        if let Some(thread) = &self.thread {
            request = request.with_thread_ts(thread.clone());
        }
        let session = self.client.open_session(&self.token);
        match tokio::time::timeout(CALL_TIMEOUT, session.chat_post_ephemeral(&request)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                self.hub.report_error(&error);
                tracing::warn!(%error, "cannot post an ephemeral Slack message");
            }
            Err(_) => tracing::warn!("Slack did not answer chat.postEphemeral in time"),
        }
    }

    /// Posts one message (in the thread, if any); returns its ts.
    async fn post(&self, text: &str, blocks: Option<Vec<SlackBlock>>) -> Option<SlackTs> {
        let mut content = SlackMessageContent::new().with_text(text.to_owned());
        if let Some(blocks) = blocks {
            content = content.with_blocks(blocks);
        }
        let mut request = SlackApiChatPostMessageRequest::new(self.channel.clone(), content);
        if let Some(thread) = &self.thread {
            request = request.with_thread_ts(thread.clone());
        }
        let session = self.client.open_session(&self.token);
        match tokio::time::timeout(CALL_TIMEOUT, session.chat_post_message(&request)).await {
            Ok(Ok(posted)) => Some(posted.ts),
            Ok(Err(error)) => {
                self.hub.report_error(&error);
                tracing::warn!(%error, "cannot post to Slack");
                None
            }
            Err(_) => {
                self.hub
                    .report_error(&"Slack did not answer chat.postMessage in time");
                tracing::warn!("Slack did not answer chat.postMessage in time");
                None
            }
        }
    }

    async fn update(&self, ts: &SlackTs, text: &str, blocks: Vec<SlackBlock>) -> bool {
        let content = SlackMessageContent::new()
            .with_text(text.to_owned())
            .with_blocks(blocks);
        let request = SlackApiChatUpdateRequest::new(self.channel.clone(), content, ts.clone());
        let session = self.client.open_session(&self.token);
        matches!(
            tokio::time::timeout(CALL_TIMEOUT, session.chat_update(&request)).await,
            Ok(Ok(_))
        )
    }

    /// Sends `text` in pieces Slack shows whole, posted so that Slack
    /// notifies (an edit does not), with "On it…" removed after them; the
    /// last piece carries the buttons. Returns the last.
    async fn send_text(&self, text: &str, actions: Option<&[ProposedAction]>) -> Option<SlackTs> {
        let pieces = format::chunks(text, Platform::Slack.message_limit());
        let chat = SlackChat {
            responder: self,
            actions,
        };
        reply::show(
            &chat,
            &self.progress,
            &pieces,
            actions.is_some(),
            GiveWay::Repost,
        )
        .await
    }

    async fn send_file(&self, file: Attachment) {
        if let Some(text) = too_large(&file, Platform::Slack) {
            self.post(&text, None).await;
            return;
        }
        let session = self.client.open_session(&self.token);
        let url =
            SlackApiFilesGetUploadUrlExternalRequest::new(file.file_name.clone(), file.bytes.len());
        let upload =
            match tokio::time::timeout(CALL_TIMEOUT, session.get_upload_url_external(&url)).await {
                Ok(Ok(upload)) => upload,
                _ => {
                    self.post(
                        &format!(
                            "I couldn't upload {} to Slack; please try again.",
                            file.file_name
                        ),
                        None,
                    )
                    .await;
                    return;
                }
            };
        let sent = SlackApiFilesUploadViaUrlRequest::new(
            upload.upload_url.clone(),
            file.bytes,
            file.mime_type.clone(),
        );
        if !matches!(
            tokio::time::timeout(CALL_TIMEOUT, session.files_upload_via_url(&sent)).await,
            Ok(Ok(_))
        ) {
            self.post(
                &format!(
                    "I couldn't upload {} to Slack; please try again.",
                    file.file_name
                ),
                None,
            )
            .await;
            return;
        }
        let mut complete = SlackApiFilesCompleteUploadExternalRequest::new(vec![
            SlackApiFilesComplete::new(upload.file_id.clone()).with_title(file.file_name.clone()),
        ])
        .with_channel_id(self.channel.clone());
        if let Some(thread) = &self.thread {
            complete = complete.with_thread_ts(thread.clone());
        }
        if let Some(caption) = file.caption {
            complete = complete.with_initial_comment(caption);
        }
        if let Err(error) = session.files_complete_upload_external(&complete).await {
            self.hub.report_error(&error);
            tracing::warn!(%error, "cannot share an uploaded file in Slack");
        }
    }
}

impl Responder for SlackResponder {
    fn deliver(&self, event: OutboundMessage) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match event {
                // Slack has no typing indicator for bots outside the RTM API.
                OutboundMessage::Typing => {}
                OutboundMessage::Progress(text) => {
                    if let Some(ts) = self.post(&text, None).await {
                        self.progress.set(ts);
                    }
                }
                OutboundMessage::Text(text) => {
                    self.send_text(&text, None).await;
                }
                OutboundMessage::Confirmation { text, actions } => {
                    if let Some(ts) = self.send_text(&text, Some(&actions)).await {
                        let ids = actions.iter().map(|a| a.id).collect();
                        self.shown
                            .remember(&self.shown_key(), ts.to_string(), ids, text);
                    }
                }
                OutboundMessage::File(file) => self.send_file(file).await,
            }
        })
    }

    /// Shows the outcome of every confirmation message of this
    /// conversation that is decided now (by a button, a typed answer or
    /// expiry), in place of its question and buttons.
    fn finished<'a>(&'a self, _report: &'a TurnReport) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let decided = self.shown.decided(&self.hub, &self.shown_key()).await;
            for (ts, text) in &decided {
                self.show_outcome(ts, text).await;
            }
            if let Some(pressed) = &self.pressed
                && !decided.iter().any(|(ts, _)| *ts == pressed.ts)
                && let Some(outcome) = self.hub.decided_text(&pressed.action_ids).await
            {
                self.show_outcome(&pressed.ts, &answered_text(&pressed.text, &outcome))
                    .await;
            }
        })
    }
}

/// The conversation as [`reply::show`] uses it, with the actions a text
/// asks about.
struct SlackChat<'a> {
    responder: &'a SlackResponder,
    actions: Option<&'a [ProposedAction]>,
}

impl SlackChat<'_> {
    fn blocks(&self, piece: &str, with_buttons: bool) -> Vec<SlackBlock> {
        let mut blocks = vec![section(piece)];
        if with_buttons && let Some(actions) = self.actions {
            blocks.push(buttons(actions, &self.responder.place()));
        }
        blocks
    }
}

impl Surface for SlackChat<'_> {
    type Id = SlackTs;
    type Piece = String;

    async fn post(&self, piece: &String, buttons: bool) -> Option<SlackTs> {
        self.responder
            .post(piece, Some(self.blocks(piece, buttons)))
            .await
    }

    async fn edit(&self, id: &SlackTs, piece: &String, buttons: bool) -> bool {
        self.responder
            .update(id, piece, self.blocks(piece, buttons))
            .await
    }

    async fn remove(&self, id: &SlackTs) -> bool {
        let delete = SlackApiChatDeleteRequest::new(self.responder.channel.clone(), id.clone());
        let session = self.responder.client.open_session(&self.responder.token);
        matches!(
            tokio::time::timeout(CALL_TIMEOUT, session.chat_delete(&delete)).await,
            Ok(Ok(_))
        )
    }
}

impl SlackResponder {
    /// Replaces the question's last message (the one with the buttons) with
    /// the end of `text`, where the outcome is.
    async fn show_outcome(&self, ts: &str, text: &str) {
        let mrkdwn = format::chunks(text, Platform::Slack.message_limit())
            .pop()
            .unwrap_or_default();
        if !self
            .update(
                &SlackTs::new(ts.to_owned()),
                &mrkdwn,
                vec![section(&mrkdwn)],
            )
            .await
        {
            tracing::debug!("cannot edit a Slack confirmation message");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The bot scope each Web API method this crate calls needs, as Slack's
    /// method reference lists it; `auth.test` needs none.
    const SCOPE_OF_METHOD: &[(&str, Option<&str>)] = &[
        ("auth_test", None),
        ("chat_post_message", Some("chat:write")),
        ("chat_post_ephemeral", Some("chat:write")),
        ("chat_update", Some("chat:write")),
        ("chat_delete", Some("chat:write")),
        ("get_upload_url_external", Some("files:write")),
        // The bytes go to the URL Slack handed out, not to a Web API method.
        ("files_upload_via_url", None),
        ("files_complete_upload_external", Some("files:write")),
    ];

    /// The scope each subscribed event needs.
    const SCOPE_OF_EVENT: &[(&str, &str)] = &[
        ("app_mention", "app_mentions:read"),
        ("message.im", "im:history"),
        ("message.channels", "channels:history"),
        ("message.groups", "groups:history"),
    ];

    const MANIFEST: &str = include_str!("../../../config/slack-app-manifest.yml");

    /// The `- item` lines under the manifest key `section:` (by indentation).
    fn manifest_list(section: &str) -> BTreeSet<String> {
        let mut items = BTreeSet::new();
        let mut inside: Option<usize> = None;
        for line in MANIFEST.lines() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if trimmed == format!("{section}:") {
                inside = Some(indent);
                continue;
            }
            if let Some(depth) = inside {
                match trimmed.strip_prefix("- ") {
                    Some(item) if indent >= depth => {
                        items.insert(item.trim().to_owned());
                    }
                    _ => inside = None,
                }
            }
        }
        items
    }

    /// Every method the crate's source calls on a Slack session.
    fn methods_called() -> BTreeSet<String> {
        let source = include_str!("lib.rs");
        let mut methods = BTreeSet::new();
        for (at, word) in source.match_indices("session") {
            let Some(rest) = source[at + word.len()..].trim_start().strip_prefix('.') else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with('(') {
                methods.insert(name);
            }
        }
        methods
    }

    #[test]
    fn the_manifest_asks_for_exactly_the_scopes_the_bot_uses() {
        let called = methods_called();
        for method in [
            "chat_post_message",
            "chat_delete",
            "get_upload_url_external",
        ] {
            assert!(called.contains(method), "{called:?}");
        }
        let mut needed = BTreeSet::new();
        for method in &called {
            let scope = SCOPE_OF_METHOD
                .iter()
                .find(|(name, _)| name == method)
                .unwrap_or_else(|| {
                    panic!("`{method}` is called: add the scope it needs to the table")
                })
                .1;
            needed.extend(scope.map(str::to_owned));
        }
        let events = manifest_list("bot_events");
        assert_eq!(
            events,
            SCOPE_OF_EVENT
                .iter()
                .map(|(event, _)| (*event).to_owned())
                .collect()
        );
        needed.extend(SCOPE_OF_EVENT.iter().map(|(_, scope)| (*scope).to_owned()));
        assert_eq!(manifest_list("bot"), needed, "the manifest's bot scopes");
    }
}
