//! agencybot on Telegram: direct messages to a bot, through teloxide.
//!
//! Long polling by default, or a webhook whose secret-token header is
//! checked. Locked by default: only the channel's permitted users get
//! answers; anyone else learns their user ID and nothing happens. Answers
//! are sent as HTML (falling back to plain text if Telegram rejects the
//! markup), each message as full as Telegram allows (4,096 UTF-16 units of
//! shown text, as Telegram counts), cut between paragraphs; writes are confirmed with inline Yes/No buttons.

mod format;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agencybot_agent::reply::{self, GiveWay, ProgressMessage, Repeating, Surface};
use agencybot_agent::{
    ConfirmButton, Hub, Incoming, Lease, Outbox, Responder, Seen, ShownConfirmations, TurnReport,
    answered_text, refusal, too_large, utf16_len,
};
use agencybot_core::{
    Attachment, ConversationKey, InboundContent, InboundMessage, OutboundMessage, Platform,
    ProposedAction, Secret,
};
use futures::future::BoxFuture;
use subtle::ConstantTimeEq;
use teloxide::prelude::*;
use teloxide::types::{
    AllowedUpdate, ChatAction, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId,
    ParseMode, UpdateKind,
};
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;

pub use format::markdown_to_html;

/// How many group chats are remembered as told that the bot works in DMs
/// only; one forgotten is told again.
const REMEMBERED_GROUPS: usize = 10_000;
/// Chats whose open confirmation messages are remembered, to show their outcome.
const REMEMBERED_CHATS: usize = 10_000;
/// Telegram's limit on a document caption, in UTF-16 units.
const CAPTION_LIMIT: usize = 1024;

#[derive(Debug, Clone)]
pub enum Mode {
    Polling,
    Webhook {
        /// Public HTTPS URL Telegram posts to.
        url: String,
        /// Local address the webhook server listens on.
        listen: SocketAddr,
        secret: Secret,
    },
}

#[derive(Debug, Clone)]
pub struct TelegramOptions {
    pub token: Secret,
    /// Bot API server, e.g. `https://api.telegram.org` (no trailing slash).
    pub api_url: String,
    pub mode: Mode,
    /// How long shutdown waits for turns in flight.
    pub grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("invalid Telegram API URL `{0}`")]
    ApiUrl(String),
    #[error("Telegram rejected the bot token: {0}")]
    Token(String),
    #[error("cannot start the Telegram webhook server on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("Telegram refused the webhook: {0}")]
    Webhook(String),
    #[error("cannot build the HTTP client for Telegram: {0}")]
    Client(String),
}

/// The Bot API client: teloxide's settings, with idle connections beyond a
/// few closed after a burst, so descriptors go back to the idle level.
fn bot(token: &Secret) -> Result<Bot, TelegramError> {
    let client = teloxide::net::default_reqwest_settings()
        .pool_max_idle_per_host(16)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| TelegramError::Client(error.to_string()))?;
    Ok(Bot::with_client(token.expose(), client))
}

/// Runs the channel until `stop` turns true, then lets turns in flight finish.
pub async fn serve(
    options: TelegramOptions,
    hub: Hub,
    mut stop: watch::Receiver<bool>,
) -> Result<(), TelegramError> {
    let url = reqwest_url(&options.api_url)?;
    let bot = bot(&options.token)?.set_api_url(url);
    let me = loop {
        match bot.get_me().await {
            Ok(me) => break me,
            Err(RequestError::Api(error)) => {
                let error = TelegramError::Token(error.to_string());
                hub.report_disconnected(&error);
                return Err(error);
            }
            Err(error) => {
                hub.report_disconnected(&error);
                tracing::warn!(channel = hub.channel_name(), %error, "cannot reach Telegram; retrying");
                if wait_or_stop(&mut stop, Duration::from_secs(5)).await {
                    return Ok(());
                }
            }
        }
    };
    tracing::info!(channel = hub.channel_name(), bot = ?me.username, "Telegram channel is live");
    let adapter = Adapter {
        bot: bot.clone(),
        hub: hub.clone(),
        told_groups: Arc::new(Mutex::new(Seen::new(REMEMBERED_GROUPS))),
        shown: Arc::new(ShownConfirmations::new(REMEMBERED_CHATS)),
    };
    match options.mode {
        Mode::Polling => {
            // Telegram serves a bot's updates to one poller: with several
            // instances, the one holding the lease polls.
            let lease = Lease::new(
                hub.store().clone(),
                format!("telegram-polling:{}", hub.channel_name()),
            );
            adapter.poll_while_held(&lease, &mut stop).await;
        }
        Mode::Webhook {
            url,
            listen,
            secret,
        } => adapter.webhook(&url, listen, &secret, &mut stop).await?,
    }
    if !hub.shutdown(options.grace).await {
        tracing::warn!(
            channel = hub.channel_name(),
            "stopped before every turn finished"
        );
    }
    Ok(())
}

/// Delivers scheduled messages to Telegram chats (destination: a chat id).
pub fn outbox(options: &TelegramOptions, hub: Hub) -> Result<Arc<dyn Outbox>, TelegramError> {
    let bot = bot(&options.token)?.set_api_url(reqwest_url(&options.api_url)?);
    Ok(Arc::new(TelegramOutbox {
        bot,
        hub,
        shown: Arc::new(ShownConfirmations::new(REMEMBERED_CHATS)),
    }))
}

struct TelegramOutbox {
    bot: Bot,
    hub: Hub,
    shown: Arc<ShownConfirmations<MessageId>>,
}

impl Outbox for TelegramOutbox {
    fn to(&self, destination: &str) -> Option<Arc<dyn Responder>> {
        let chat = ChatId(destination.trim().parse().ok()?);
        Some(Arc::new(TelegramResponder::new(
            self.bot.clone(),
            chat,
            self.hub.clone(),
            self.shown.clone(),
            None,
        )))
    }
}

fn reqwest_url(url: &str) -> Result<reqwest::Url, TelegramError> {
    reqwest::Url::parse(url.trim_end_matches('/'))
        .map_err(|_| TelegramError::ApiUrl(url.to_owned()))
}

/// Sleeps `wait` unless told to stop first; true when told to stop.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = stop.changed() => true,
        () = tokio::time::sleep(wait) => *stop.borrow(),
    }
}

#[derive(Clone)]
struct Adapter {
    bot: Bot,
    hub: Hub,
    /// Group chats already told that the bot works in DMs only.
    told_groups: Arc<Mutex<Seen<i64>>>,
    /// Confirmation messages not yet edited to show their outcome.
    shown: Arc<ShownConfirmations<MessageId>>,
}

impl Adapter {
    async fn poll_while_held(&self, lease: &Lease, stop: &mut watch::Receiver<bool>) {
        let held = agencybot_agent::metrics::metrics()
            .leases
            .with_label_values(&[lease.name()]);
        loop {
            if !lease.try_hold().await.unwrap_or(false) {
                self.hub.report_standby();
            }
            if !lease.acquire(stop).await {
                break;
            }
            held.set(1);
            tokio::select! {
                () = lease.keep() => {
                    held.set(0);
                    self.hub.report_standby();
                }
                () = self.poll(stop) => break,
            }
        }
        held.set(0);
        lease.release().await;
    }

    async fn poll(&self, stop: &mut watch::Receiver<bool>) {
        let mut offset = 0;
        let mut failures = 0u32;
        while !*stop.borrow() {
            let request = self
                .bot
                .get_updates()
                .offset(offset)
                .timeout(10)
                .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
            let result = tokio::select! {
                _ = stop.changed() => break,
                result = request.send() => result,
            };
            match result {
                Ok(updates) => {
                    failures = 0;
                    self.hub.report_connected();
                    for update in updates {
                        offset = update.id.as_offset();
                        self.handle(update).await;
                    }
                }
                Err(RequestError::RetryAfter(wait)) => {
                    if wait_or_stop(stop, wait.duration()).await {
                        break;
                    }
                }
                Err(error) => {
                    let wait = Duration::from_secs(1 << failures.min(5));
                    failures += 1;
                    self.hub.report_disconnected(&error);
                    tracing::warn!(channel = self.hub.channel_name(), %error, retry_in = ?wait, "polling Telegram failed");
                    if wait_or_stop(stop, wait).await {
                        break;
                    }
                }
            }
        }
    }

    async fn webhook(
        &self,
        url: &str,
        listen: SocketAddr,
        secret: &Secret,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), TelegramError> {
        let url = reqwest::Url::parse(url)
            .map_err(|_| TelegramError::Webhook(format!("invalid webhook URL `{url}`")))?;
        let listening = async {
            self.bot
                .set_webhook(url)
                .secret_token(secret.expose().to_owned())
                .await
                .map_err(|error| TelegramError::Webhook(error.to_string()))?;
            tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|source| TelegramError::Listen {
                    address: listen,
                    source,
                })
        };
        let listener = listening.await.inspect_err(|error| {
            self.hub.report_disconnected(error);
        })?;
        self.hub.report_connected();
        let adapter = self.clone();
        let expected = secret.clone();
        let app = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let adapter = adapter.clone();
                let expected = expected.clone();
                async move {
                    let given = headers
                        .get("x-telegram-bot-api-secret-token")
                        .map(axum::http::HeaderValue::as_bytes);
                    if !given.is_some_and(|given| secret_matches(given, &expected)) {
                        tracing::debug!("refused a webhook call without the right secret token");
                        return axum::http::StatusCode::UNAUTHORIZED;
                    }
                    match serde_json::from_slice::<teloxide::types::Update>(&body) {
                        Ok(update) => {
                            adapter.handle(update).await;
                            axum::http::StatusCode::OK
                        }
                        Err(error) => {
                            tracing::warn!(%error, "unreadable Telegram update");
                            axum::http::StatusCode::OK
                        }
                    }
                }
            },
        );
        let mut server_stop = stop.clone();
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|stopped| *stopped).await;
        });
        if let Err(error) = served.await {
            self.hub.report_disconnected(&error);
            tracing::error!(%error, "Telegram webhook server failed");
        }
        let _ = self.bot.delete_webhook().await;
        Ok(())
    }

    async fn handle(&self, update: teloxide::types::Update) {
        let delivery = format!("telegram:{}", update.id.0);
        match update.kind {
            UpdateKind::Message(message) => self.on_message(delivery, message).await,
            UpdateKind::CallbackQuery(query) => self.on_button(delivery, query).await,
            _ => {}
        }
    }

    async fn on_message(&self, delivery: String, message: Message) {
        let chat = message.chat.id;
        let Some(user) = message.from.as_ref() else {
            return;
        };
        if !message.chat.is_private() {
            if self.lock_groups().insert(chat.0) {
                let _ = self
                    .bot
                    .send_message(
                        chat,
                        "I only work in direct messages — message me privately.",
                    )
                    .await;
            }
            return;
        }
        let user_id = user.id.0.to_string();
        let Some(text) = message.text() else {
            let _ = self
                .bot
                .send_message(chat, "I can only read text messages.")
                .await;
            return;
        };
        let command = text.split_whitespace().next().unwrap_or("");
        let content = match command.split('@').next().unwrap_or("") {
            "/start" | "/reset" => InboundContent::Reset,
            _ => InboundContent::Text(text.to_owned()),
        };
        let responder = Arc::new(TelegramResponder::new(
            self.bot.clone(),
            chat,
            self.hub.clone(),
            self.shown.clone(),
            None,
        ));
        self.submit(
            delivery,
            chat,
            &user_id,
            user.username.clone(),
            content,
            responder,
        )
        .await;
    }

    async fn on_button(&self, delivery: String, query: CallbackQuery) {
        let user_id = query.from.id.0.to_string();
        let Some((chat, message_id)) = query.message.as_ref().map(|m| (m.chat().id, m.id())) else {
            let _ = self.bot.answer_callback_query(query.id.clone()).await;
            return;
        };
        let Some(button) = query.data.as_deref().and_then(ConfirmButton::parse) else {
            let _ = self
                .bot
                .answer_callback_query(query.id.clone())
                .text("That button is no longer valid.")
                .await;
            return;
        };
        match self.hub.access(&user_id).await {
            Ok((_, access)) if access.role().is_some() => {}
            _ => {
                let _ = self
                    .bot
                    .answer_callback_query(query.id.clone())
                    .text("You're not allowed to use this bot.")
                    .await;
                return;
            }
        }
        // A press on a question already decided (a double tap, an old
        // message): the outcome pops up on the button and the message shows
        // it; no new message, and nothing is decided again.
        if let Some(outcome) = self.hub.decided_text(&button.action_ids()).await {
            let popup: String = outcome.chars().take(CALLBACK_TEXT_LIMIT).collect();
            let _ = self
                .bot
                .answer_callback_query(query.id.clone())
                .text(popup)
                .await;
            let _ = self.bot.edit_message_text(chat, message_id, outcome).await;
            return;
        }
        // Answered at once so the button stops spinning; the outcome follows as a message.
        let _ = self.bot.answer_callback_query(query.id.clone()).await;
        let content = button.content();
        let shown_text = query
            .message
            .as_ref()
            .and_then(|m| m.regular_message())
            .and_then(|m| m.text())
            .unwrap_or_default()
            .to_owned();
        let responder = Arc::new(TelegramResponder::new(
            self.bot.clone(),
            chat,
            self.hub.clone(),
            self.shown.clone(),
            Some((message_id, button.action_ids(), shown_text)),
        ));
        self.submit(
            delivery,
            chat,
            &user_id,
            query.from.username.clone(),
            content,
            responder,
        )
        .await;
    }

    async fn submit(
        &self,
        delivery: String,
        chat: ChatId,
        user_id: &str,
        user_name: Option<String>,
        content: InboundContent,
        responder: Arc<TelegramResponder>,
    ) {
        let incoming = Incoming {
            delivery_id: Some(delivery),
            message: InboundMessage {
                channel: self.hub.channel_name().to_owned(),
                conversation: ConversationKey::direct(
                    self.hub.channel_name(),
                    Platform::Telegram,
                    chat.0.to_string(),
                    user_id,
                ),
                user_id: user_id.to_owned(),
                user_name,
                content,
            },
            responder,
        };
        let admission = self.hub.submit(incoming).await;
        if let Some(text) = refusal(&admission, || {
            format!(
                "You're not allowed to use this bot yet. Your Telegram user ID is {user_id} — ask an admin to add it."
            )
        }) {
            let _ = self.bot.send_message(chat, text).await;
        }
    }

    fn lock_groups(&self) -> std::sync::MutexGuard<'_, Seen<i64>> {
        self.told_groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether the webhook's secret-token header is the configured secret,
/// compared in constant time so its bytes cannot be guessed one by one
/// from response times.
fn secret_matches(given: &[u8], expected: &Secret) -> bool {
    given.ct_eq(expected.expose().as_bytes()).into()
}

/// Yes/No per action, and Yes/No for all when there are several (and
/// their ids fit Telegram's 64-byte callback data).
fn keyboard(actions: &[ProposedAction]) -> InlineKeyboardMarkup {
    let several = actions.len() > 1;
    let mut rows: Vec<Vec<InlineKeyboardButton>> = actions
        .iter()
        .enumerate()
        .map(|(index, action)| {
            let label = |word: &str| {
                if several {
                    format!("{word} {}", index + 1)
                } else {
                    word.to_owned()
                }
            };
            vec![
                InlineKeyboardButton::callback(
                    label("✅ Yes"),
                    ConfirmButton::One {
                        id: action.id,
                        approve: true,
                    }
                    .data(),
                ),
                InlineKeyboardButton::callback(
                    label("✖️ No"),
                    ConfirmButton::One {
                        id: action.id,
                        approve: false,
                    }
                    .data(),
                ),
            ]
        })
        .collect();
    let ids: Vec<i64> = actions.iter().map(|a| a.id).collect();
    let all_yes = ConfirmButton::All {
        approve: true,
        ids: ids.clone(),
    }
    .data();
    if several && all_yes.len() <= 64 {
        rows.push(vec![
            InlineKeyboardButton::callback("✅ Yes to all", all_yes),
            InlineKeyboardButton::callback(
                "✖️ No to all",
                ConfirmButton::All {
                    approve: false,
                    ids,
                }
                .data(),
            ),
        ]);
    }
    InlineKeyboardMarkup::new(rows)
}

/// The longest text a button press's pop-up shows.
const CALLBACK_TEXT_LIMIT: usize = 200;

/// How often "typing…" is repeated during a long turn: Telegram shows it
/// for five seconds.
const TYPING_REPEAT: Duration = Duration::from_millis(4_500);

/// Sends one conversation's events to its chat.
struct TelegramResponder {
    bot: Bot,
    chat: ChatId,
    hub: Hub,
    /// "On it…", replaced by the first part of the answer.
    progress: ProgressMessage<MessageId>,
    /// Repeats "typing…" while the turn works (Telegram shows it for 5 s).
    typing: Repeating,
    shown: Arc<ShownConfirmations<MessageId>>,
    /// The confirmation message a button press came from, its actions and
    /// text (it may predate this process, so not be among `shown`).
    pressed: Option<(MessageId, Vec<i64>, String)>,
}

/// The chat as [`reply::show`] uses it, with the buttons a text carries.
struct TelegramChat<'a> {
    responder: &'a TelegramResponder,
    buttons: Option<InlineKeyboardMarkup>,
}

impl TelegramChat<'_> {
    fn markup(&self, buttons: bool) -> Option<InlineKeyboardMarkup> {
        self.buttons.clone().filter(|_| buttons)
    }
}

impl Surface for TelegramChat<'_> {
    type Id = MessageId;
    /// Plain text and HTML.
    type Piece = (String, String);

    async fn post(&self, (plain, html): &(String, String), buttons: bool) -> Option<MessageId> {
        self.responder.send(plain, html, self.markup(buttons)).await
    }

    async fn edit(&self, id: &MessageId, (plain, html): &(String, String), buttons: bool) -> bool {
        self.responder
            .edit(*id, plain, html, self.markup(buttons))
            .await
    }

    async fn remove(&self, id: &MessageId) -> bool {
        self.responder
            .bot
            .delete_message(self.responder.chat, *id)
            .await
            .is_ok()
    }
}

impl TelegramResponder {
    fn new(
        bot: Bot,
        chat: ChatId,
        hub: Hub,
        shown: Arc<ShownConfirmations<MessageId>>,
        pressed: Option<(MessageId, Vec<i64>, String)>,
    ) -> Self {
        TelegramResponder {
            bot,
            chat,
            hub,
            progress: ProgressMessage::default(),
            typing: Repeating::default(),
            shown,
            pressed,
        }
    }

    /// Sends `text` in as many messages as it takes, each as full as
    /// Telegram allows; returns the last (which carries the buttons).
    async fn send_text(
        &self,
        text: &str,
        buttons: Option<InlineKeyboardMarkup>,
    ) -> Option<MessageId> {
        let pieces = format::chunks(text, Platform::Telegram.message_limit());
        let with_buttons = buttons.is_some();
        let chat = TelegramChat {
            responder: self,
            buttons,
        };
        reply::show(&chat, &self.progress, &pieces, with_buttons, GiveWay::Edit).await
    }

    /// Replaces a decided confirmation message with its outcome; the
    /// buttons go with the edit.
    async fn show_outcome(&self, message: MessageId, text: &str) {
        let plain = format::chunks(text, Platform::Telegram.message_limit()).pop();
        if let Some((plain, html)) = plain
            && !self.edit(message, &plain, &html, None).await
        {
            tracing::debug!("cannot edit a Telegram confirmation message");
        }
    }

    async fn send(
        &self,
        plain: &str,
        html: &str,
        markup: Option<InlineKeyboardMarkup>,
    ) -> Option<MessageId> {
        let mut request = self
            .bot
            .send_message(self.chat, html)
            .parse_mode(ParseMode::Html);
        if let Some(markup) = markup.clone() {
            request = request.reply_markup(markup);
        }
        match request.await {
            Ok(message) => Some(message.id),
            Err(RequestError::Api(ApiError::CantParseEntities(_))) => {
                let mut plain_request = self.bot.send_message(self.chat, plain);
                if let Some(markup) = markup {
                    plain_request = plain_request.reply_markup(markup);
                }
                match plain_request.await {
                    Ok(message) => Some(message.id),
                    Err(error) => {
                        self.hub.report_error(&error);
                        tracing::warn!(%error, "cannot send a Telegram message");
                        None
                    }
                }
            }
            Err(error) => {
                self.hub.report_error(&error);
                tracing::warn!(%error, "cannot send a Telegram message");
                None
            }
        }
    }

    /// Replaces the progress message; false if Telegram would not.
    async fn edit(
        &self,
        message: MessageId,
        plain: &str,
        html: &str,
        markup: Option<InlineKeyboardMarkup>,
    ) -> bool {
        let mut request = self
            .bot
            .edit_message_text(self.chat, message, html)
            .parse_mode(ParseMode::Html);
        if let Some(markup) = markup.clone() {
            request = request.reply_markup(markup);
        }
        match request.await {
            Ok(_) => true,
            Err(RequestError::Api(ApiError::CantParseEntities(_))) => {
                let mut plain_request = self.bot.edit_message_text(self.chat, message, plain);
                if let Some(markup) = markup {
                    plain_request = plain_request.reply_markup(markup);
                }
                plain_request.await.is_ok()
            }
            Err(_) => false,
        }
    }

    async fn send_file(&self, file: Attachment) {
        if let Some(text) = too_large(&file, Platform::Telegram) {
            self.send(&text, &format::markdown_to_html(&text), None)
                .await;
            return;
        }
        let mut request = self.bot.send_document(
            self.chat,
            InputFile::memory(file.bytes).file_name(file.file_name.clone()),
        );
        // A caption over Telegram's limit follows the file as a message.
        let (caption, follow_up) = match file.caption {
            Some(caption) if utf16_len(&caption) <= CAPTION_LIMIT => (Some(caption), None),
            other => (None, other),
        };
        if let Some(caption) = caption {
            request = request.caption(caption);
        }
        if let Err(error) = request.await {
            self.hub.report_error(&error);
            tracing::warn!(%error, file = %file.file_name, "cannot send a file to Telegram");
        }
        if let Some(text) = follow_up {
            self.send_text(&text, None).await;
        }
    }
}

impl Responder for TelegramResponder {
    fn deliver(&self, event: OutboundMessage) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match event {
                OutboundMessage::Typing => {
                    let _ = self
                        .bot
                        .send_chat_action(self.chat, ChatAction::Typing)
                        .await;
                    let (bot, chat) = (self.bot.clone(), self.chat);
                    self.typing.start(TYPING_REPEAT, move || {
                        let bot = bot.clone();
                        async move {
                            let _ = bot.send_chat_action(chat, ChatAction::Typing).await;
                        }
                    });
                }
                OutboundMessage::Progress(text) => {
                    // Later progress (a rate limit's wait) replaces "On it…".
                    if let Some(message) = self.progress.shown()
                        && self
                            .bot
                            .edit_message_text(self.chat, message, text.clone())
                            .await
                            .is_ok()
                    {
                        return;
                    }
                    if let Ok(message) = self.bot.send_message(self.chat, text).await {
                        self.progress.set(message.id);
                    }
                }
                OutboundMessage::Text(text) => {
                    self.send_text(&text, None).await;
                }
                OutboundMessage::Confirmation { text, actions } => {
                    if let Some(message) = self.send_text(&text, Some(keyboard(&actions))).await {
                        let ids = actions.iter().map(|a| a.id).collect();
                        self.shown
                            .remember(&self.chat.0.to_string(), message, ids, text);
                    }
                }
                OutboundMessage::File(file) => self.send_file(file).await,
            }
        })
    }

    /// Shows the outcome of every confirmation message of this chat that
    /// is decided now (whoever decided it, however: button, typed answer,
    /// expiry), in place of its question and buttons.
    fn finished<'a>(&'a self, _report: &'a TurnReport) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.typing.stop();
            let decided = self
                .shown
                .decided(&self.hub, &self.chat.0.to_string())
                .await;
            for (message, text) in &decided {
                self.show_outcome(*message, text).await;
            }
            if let Some((message, ids, question)) = &self.pressed
                && !decided.iter().any(|(shown, _)| shown == message)
                && let Some(outcome) = self.hub.decided_text(ids).await
            {
                self.show_outcome(*message, &answered_text(question, &outcome))
                    .await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_data_round_trips_within_64_bytes() {
        for button in [
            ConfirmButton::One {
                id: 12,
                approve: true,
            },
            ConfirmButton::One {
                id: 9_999_999,
                approve: false,
            },
            ConfirmButton::All {
                approve: true,
                ids: vec![1, 2, 3],
            },
        ] {
            assert!(button.data().len() <= 64);
            assert_eq!(ConfirmButton::parse(&button.data()), Some(button));
        }
        assert_eq!(ConfirmButton::parse("garbage"), None);
        assert_eq!(ConfirmButton::parse("y:abc"), None);
    }

    #[test]
    fn only_the_exact_secret_matches() {
        let secret = Secret::new("s3cret-token");
        assert!(secret_matches(b"s3cret-token", &secret));
        assert!(!secret_matches(b"s3cret-tokem", &secret), "same length");
        assert!(!secret_matches(b"s3cret", &secret), "a prefix");
        assert!(!secret_matches(b"s3cret-token-and-more", &secret));
        assert!(!secret_matches(b"", &secret));
    }

    #[test]
    fn the_groups_told_are_bounded() {
        let mut told: Seen<i64> = Seen::new(REMEMBERED_GROUPS);
        for chat in 0..(REMEMBERED_GROUPS as i64 + 50) {
            assert!(told.insert(-chat));
        }
        assert_eq!(told.len(), REMEMBERED_GROUPS);
        assert!(
            told.insert(0),
            "the oldest group is forgotten and told again"
        );
        assert!(!told.insert(-(REMEMBERED_GROUPS as i64 + 49)));
    }

    #[test]
    fn several_actions_get_numbered_buttons_and_yes_to_all() {
        let actions: Vec<ProposedAction> = (1..=2)
            .map(|id| ProposedAction {
                id,
                summary: format!("a{id}"),
            })
            .collect();
        let markup = keyboard(&actions);
        assert_eq!(markup.inline_keyboard.len(), 3);
        assert_eq!(markup.inline_keyboard[0][0].text, "✅ Yes 1");
        assert_eq!(markup.inline_keyboard[2][0].text, "✅ Yes to all");
        assert_eq!(keyboard(&actions[..1]).inline_keyboard.len(), 1);
    }
}
