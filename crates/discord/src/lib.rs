//! agencybot on Discord, through serenity.
//!
//! In a server channel, an @mention starts a conversation: the bot opens a
//! thread on that message and answers there; later messages in the thread
//! need no mention. Direct messages are not served (the bot says so once).
//! Per channel, anyone may ask or only the permitted members, and only in
//! the listed servers if any are listed. Nothing the bot sends pings
//! anyone: answers quote text that may hold `@everyone`. Writes are
//! confirmed with buttons; only the requester's click counts. Answers are
//! written in Discord's Markdown and posted (so Discord notifies) in
//! messages of up to 2,000 characters, cut between paragraphs and never
//! inside a code block; files up to 10 MB are attached.

mod format;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use agencybot_agent::reply::{self, GiveWay, ProgressMessage, Repeating, Surface};
use agencybot_agent::{
    ConfirmButton, Hub, Incoming, Lease, Outbox, Responder, Seen, ShownConfirmations, TurnReport,
    answered_text, refusal, too_large,
};
use agencybot_core::{
    Attachment, ConversationKey, InboundContent, InboundMessage, OutboundMessage, Platform,
    ProposedAction, Secret,
};
use futures::future::BoxFuture;
use serenity::all::{
    ButtonStyle, Channel, ChannelId, ChannelType, ClientBuilder, ComponentInteraction, Context,
    CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateButton,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage, CreateThread,
    EditMessage, EventHandler, GatewayIntents, GuildId, Http, HttpBuilder, Interaction, Message,
    MessageId, Ready, UserId,
};
use tokio::sync::{Notify, watch};

/// Discord's own REST base; anything else is a proxy or a fake.
pub const DISCORD_API_URL: &str = "https://discord.com";
/// What a sender who may not use the channel is told.
const NOT_ALLOWED: &str =
    "Sorry, you're not allowed to use agencybot here. Ask an admin to add you.";
/// REST calls are given this long before the adapter gives up on them.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many channels are remembered as ours or not; one forgotten is
/// looked up again.
const REMEMBERED_THREADS: usize = 10_000;
/// How many users are remembered as told that DMs are not served; one
/// forgotten is told again.
const REMEMBERED_DM_USERS: usize = 10_000;
/// Channels and threads whose open confirmation messages are remembered,
/// to show their outcome.
const REMEMBERED_CONVERSATIONS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct DiscordOptions {
    pub token: Secret,
    /// REST base; the gateway address comes from its `/api/v10/gateway` answer.
    pub api_url: String,
    /// How long shutdown waits for turns in flight.
    pub grace: Duration,
    /// Servers (guild ids) served; empty serves every server the bot is in.
    pub guilds: Vec<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("cannot start the Discord client: {0}")]
    Start(String),
    #[error("the Discord gateway closed: {0}")]
    Gateway(String),
}

/// Mentions allowed in what the bot sends: none. Answers repeat what the
/// model and users wrote, so an `@everyone` or `<@id>` in them must not ping.
fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// A plain text message that pings no one.
fn quiet(content: impl Into<String>) -> CreateMessage {
    CreateMessage::new()
        .content(content)
        .allowed_mentions(no_mentions())
}

fn http(options: &DiscordOptions) -> HttpBuilder {
    // Also the default, for any message built without saying so.
    let http = HttpBuilder::new(options.token.expose()).default_allowed_mentions(no_mentions());
    let api_url = options.api_url.trim_end_matches('/');
    if api_url == DISCORD_API_URL {
        http
    } else {
        // serenity ignores a proxy while its rate limiter is on.
        http.proxy(api_url).ratelimiter_disabled(true)
    }
}

/// Delivers scheduled messages to Discord channels (destination: a channel id).
#[must_use]
pub fn outbox(options: &DiscordOptions, hub: Hub) -> Arc<dyn Outbox> {
    Arc::new(DiscordOutbox {
        http: Arc::new(http(options).build()),
        hub,
        shown: Arc::new(ShownConfirmations::new(REMEMBERED_CONVERSATIONS)),
    })
}

struct DiscordOutbox {
    http: Arc<Http>,
    hub: Hub,
    shown: Arc<ShownConfirmations<MessageId>>,
}

impl Outbox for DiscordOutbox {
    fn to(&self, destination: &str) -> Option<Arc<dyn Responder>> {
        let channel = ChannelId::new(destination.trim().parse().ok().filter(|id| *id != 0)?);
        Some(Arc::new(DiscordResponder::new(
            self.http.clone(),
            channel,
            self.hub.clone(),
            self.shown.clone(),
            None,
        )))
    }
}

/// Runs the channel until `stop` turns true, then lets turns in flight finish.
pub async fn serve(
    options: DiscordOptions,
    hub: Hub,
    mut stop: watch::Receiver<bool>,
) -> Result<(), DiscordError> {
    let intents = GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT;
    let adapter = Arc::new(Adapter {
        hub: hub.clone(),
        bot: OnceLock::new(),
        ready: Notify::new(),
        threads: Mutex::new(Seen::new(REMEMBERED_THREADS)),
        told_dm: Mutex::new(Seen::new(REMEMBERED_DM_USERS)),
        told_denied: Mutex::new(Seen::new(REMEMBERED_DM_USERS)),
        guilds: options.guilds.iter().copied().map(GuildId::new).collect(),
        shown: Arc::new(ShownConfirmations::new(REMEMBERED_CONVERSATIONS)),
    });
    // Discord gives a bot's events to its gateway connection: with several
    // instances, the one holding the lease connects.
    let lease = Lease::new(
        hub.store().clone(),
        format!("discord-gateway:{}", hub.channel_name()),
    );
    let held = agencybot_agent::metrics::metrics()
        .leases
        .with_label_values(&[lease.name()]);
    let mut outcome = Ok(());
    loop {
        if !lease.try_hold().await.unwrap_or(false) {
            hub.report_standby();
        }
        if !lease.acquire(&mut stop).await {
            break;
        }
        held.set(1);
        let mut client = match ClientBuilder::new_with_http(http(&options).build(), intents)
            .event_handler(Handler(adapter.clone()))
            .await
        {
            Ok(client) => client,
            Err(error) => {
                let error = DiscordError::Start(error.to_string());
                hub.report_disconnected(&error);
                outcome = Err(error);
                break;
            }
        };
        let shards = client.shard_manager.clone();
        let mut running = tokio::spawn(async move { client.start().await });
        let lost = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => false,
            () = lease.keep() => true,
            ended = &mut running => {
                outcome = match ended {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(DiscordError::Gateway(error.to_string())),
                    Err(error) => Err(DiscordError::Gateway(error.to_string())),
                };
                false
            }
        };
        if let Err(error) = &outcome {
            hub.report_disconnected(error);
        }
        if !running.is_finished() {
            // A shard that never connected cannot be shut down: give it a moment, then abort.
            if adapter.bot.get().is_some() {
                shards.shutdown_all().await;
            }
            if tokio::time::timeout(Duration::from_secs(6), &mut running)
                .await
                .is_err()
            {
                running.abort();
            }
        }
        held.set(0);
        if !lost {
            break;
        }
        hub.report_standby();
    }
    held.set(0);
    lease.release().await;
    if !hub.shutdown(options.grace).await {
        tracing::warn!(
            channel = hub.channel_name(),
            "stopped before every turn finished"
        );
    }
    outcome
}

struct Adapter {
    hub: Hub,
    bot: OnceLock<UserId>,
    ready: Notify,
    /// Channel → whether it is a thread of ours, and its parent channel.
    threads: Mutex<Seen<ChannelId, Option<ChannelId>>>,
    /// Users already told that DMs are not served.
    told_dm: Mutex<Seen<UserId>>,
    /// Who was told, in which channel or thread, that they may not use the
    /// bot: said once, not at every message.
    told_denied: Mutex<Seen<(ChannelId, UserId)>>,
    /// Servers served; empty serves all.
    guilds: HashSet<GuildId>,
    /// Confirmation messages not yet edited to show their outcome.
    shown: Arc<ShownConfirmations<MessageId>>,
}

struct Handler(Arc<Adapter>);

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _context: Context, ready: Ready) {
        let _ = self.0.bot.set(ready.user.id);
        self.0.ready.notify_waiters();
        self.0.hub.report_connected();
        tracing::info!(channel = self.0.hub.channel_name(), bot = %ready.user.name, "Discord channel is live");
    }

    async fn resume(&self, _context: Context, _event: serenity::model::event::ResumedEvent) {
        self.0.hub.report_connected();
    }

    async fn shard_stage_update(
        &self,
        _context: Context,
        event: serenity::gateway::ShardStageUpdateEvent,
    ) {
        use serenity::gateway::ConnectionStage;
        if matches!(event.new, ConnectionStage::Disconnected)
            && !matches!(event.old, ConnectionStage::Disconnected)
        {
            self.0.hub.report_disconnected(&format!(
                "shard {} lost its gateway connection",
                event.shard_id
            ));
        }
    }

    async fn message(&self, context: Context, message: Message) {
        self.0.on_message(context, message).await;
    }

    async fn interaction_create(&self, context: Context, interaction: Interaction) {
        if let Interaction::Component(click) = interaction {
            self.0.on_click(context, click).await;
        }
    }
}

/// The text without the bot's mention.
fn without_mention(content: &str, bot: UserId) -> String {
    content
        .replace(&format!("<@{bot}>"), "")
        .replace(&format!("<@!{bot}>"), "")
        .trim()
        .to_owned()
}

impl Adapter {
    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The parent channel if `channel` is a thread the bot opened.
    async fn our_thread(&self, context: &Context, channel: ChannelId) -> Option<ChannelId> {
        if let Some(known) = Self::lock(&self.threads).get(&channel) {
            return *known;
        }
        let bot = self.bot_id(context);
        let parent =
            match tokio::time::timeout(CALL_TIMEOUT, channel.to_channel(&context.http)).await {
                Ok(Ok(Channel::Guild(guild_channel)))
                    if matches!(
                        guild_channel.kind,
                        ChannelType::PublicThread | ChannelType::PrivateThread
                    ) && guild_channel.owner_id == Some(bot) =>
                {
                    guild_channel.parent_id
                }
                Ok(Ok(_)) => None,
                // Unknown for now: ask again next time.
                _ => return None,
            };
        Self::lock(&self.threads).put(channel, parent);
        parent
    }

    /// Whether events from `guild` are served (a DM has no guild).
    fn serves(&self, guild: Option<GuildId>) -> bool {
        match guild {
            Some(guild) if !self.guilds.is_empty() && !self.guilds.contains(&guild) => {
                tracing::debug!(channel = self.hub.channel_name(), %guild, "ignored an event from a server not in the channel's guild list");
                false
            }
            _ => true,
        }
    }

    /// The bot's user id; the cache has it from READY even before the
    /// `ready` handler (a separate task) has run.
    fn bot_id(&self, context: &Context) -> UserId {
        self.bot
            .get()
            .copied()
            .unwrap_or_else(|| context.cache.current_user().id)
    }

    async fn on_message(&self, context: Context, message: Message) {
        let bot = self.bot_id(&context);
        if message.author.bot || message.author.id == bot || !self.serves(message.guild_id) {
            return;
        }
        let http = context.http.clone();
        if message.guild_id.is_none() {
            if Self::lock(&self.told_dm).insert(message.author.id) {
                let _ = message
                    .channel_id
                    .send_message(&http, quiet("I don't answer direct messages — mention me in a server channel and I'll reply in a thread."))
                    .await;
            }
            return;
        }
        let parent = self.our_thread(&context, message.channel_id).await;
        let mentioned = message.mentions_user_id(bot);
        if parent.is_none() && !mentioned {
            return;
        }
        let user_id = message.author.id.to_string();
        match self.hub.access(&user_id).await {
            Ok((_, access)) if access.role().is_some() => {}
            Ok(_) => {
                if Self::lock(&self.told_denied).insert((message.channel_id, message.author.id)) {
                    let _ = message
                        .channel_id
                        .send_message(&http, quiet(NOT_ALLOWED).reference_message(&message))
                        .await;
                }
                return;
            }
            Err(error) => {
                tracing::error!(%error, "cannot check who may use the Discord channel");
                return;
            }
        }
        let text = without_mention(&message.content, bot);
        let (thread, parent) = match parent {
            Some(parent) => (message.channel_id, parent),
            None => {
                let name: String = if text.is_empty() {
                    "agencybot".into()
                } else {
                    text.chars().take(80).collect()
                };
                let created = tokio::time::timeout(
                    CALL_TIMEOUT,
                    message.channel_id.create_thread_from_message(
                        &http,
                        message.id,
                        CreateThread::new(name),
                    ),
                )
                .await;
                match created {
                    Ok(Ok(thread)) => {
                        Self::lock(&self.threads).put(thread.id, Some(message.channel_id));
                        (thread.id, message.channel_id)
                    }
                    _ => {
                        let _ = message
                            .channel_id
                            .send_message(&http, quiet("I couldn't open a thread here — check that I may create public threads.").reference_message(&message))
                            .await;
                        return;
                    }
                }
            }
        };
        let content = match text.as_str() {
            "/reset" | "reset" => InboundContent::Reset,
            "" => InboundContent::Text("Hi".into()),
            _ => InboundContent::Text(text),
        };
        let responder = Arc::new(DiscordResponder::new(
            http.clone(),
            thread,
            self.hub.clone(),
            self.shown.clone(),
            None,
        ));
        self.submit(
            format!("discord:{}", message.id),
            parent,
            thread,
            &message.author,
            content,
            responder,
        )
        .await;
    }

    async fn on_click(&self, context: Context, click: ComponentInteraction) {
        if !self.serves(click.guild_id) {
            return;
        }
        let http = context.http.clone();
        let user_id = click.user.id.to_string();
        let allowed =
            matches!(self.hub.access(&user_id).await, Ok((_, access)) if access.role().is_some());
        let Some(button) = ConfirmButton::parse(&click.data.custom_id).filter(|_| allowed) else {
            let refusal = if allowed {
                "That button is no longer valid."
            } else {
                "You're not allowed to use agencybot here."
            };
            reply_privately(&http, &click, refusal).await;
            return;
        };
        // A click on a question already decided (a double click, an old
        // message): the outcome is shown to the clicker alone and on the
        // message; nothing is decided again and no turn runs.
        if let Some(outcome) = self.hub.decided_text(&button.action_ids()).await {
            let popup = format::chunks(&outcome, Platform::Discord.message_limit())
                .into_iter()
                .next()
                .unwrap_or_default();
            reply_privately(&http, &click, &popup).await;
            DiscordResponder::new(
                http.clone(),
                click.channel_id,
                self.hub.clone(),
                self.shown.clone(),
                None,
            )
            .show_outcome(
                click.message.id,
                &answered_text(&click.message.content, &outcome),
            )
            .await;
            return;
        }
        let _ = click
            .create_response(&http, CreateInteractionResponse::Acknowledge)
            .await;
        let parent = self
            .our_thread(&context, click.channel_id)
            .await
            .unwrap_or(click.channel_id);
        let content = button.content();
        let responder = Arc::new(DiscordResponder::new(
            http.clone(),
            click.channel_id,
            self.hub.clone(),
            self.shown.clone(),
            Some((
                click.message.id,
                button.action_ids(),
                click.message.content.clone(),
            )),
        ));
        self.submit(
            format!("discord:{}", click.id),
            parent,
            click.channel_id,
            &click.user,
            content,
            responder,
        )
        .await;
    }

    async fn submit(
        &self,
        delivery: String,
        parent: ChannelId,
        thread: ChannelId,
        user: &serenity::all::User,
        content: InboundContent,
        responder: Arc<DiscordResponder>,
    ) {
        let http = responder.http.clone();
        let incoming = Incoming {
            delivery_id: Some(delivery),
            message: InboundMessage {
                channel: self.hub.channel_name().to_owned(),
                conversation: ConversationKey::thread(
                    self.hub.channel_name(),
                    Platform::Discord,
                    parent.to_string(),
                    thread.to_string(),
                ),
                user_id: user.id.to_string(),
                user_name: Some(user.name.clone()),
                content,
            },
            responder,
        };
        let admission = self.hub.submit(incoming).await;
        if let Some(text) = refusal(&admission, || NOT_ALLOWED.to_owned()) {
            let _ = thread.send_message(&http, quiet(text)).await;
        }
    }
}

/// Yes/No rows per action (Discord allows five rows of five buttons), and
/// Yes/No to all when there are several.
fn buttons(actions: &[ProposedAction]) -> Vec<CreateActionRow> {
    let several = actions.len() > 1;
    let mut rows: Vec<CreateActionRow> = actions
        .iter()
        .take(4)
        .enumerate()
        .map(|(index, action)| {
            let label = |word: &str| {
                if several {
                    format!("{word} {}", index + 1)
                } else {
                    word.to_owned()
                }
            };
            CreateActionRow::Buttons(vec![
                CreateButton::new(
                    ConfirmButton::One {
                        id: action.id,
                        approve: true,
                    }
                    .data(),
                )
                .label(label("Yes"))
                .style(ButtonStyle::Success),
                CreateButton::new(
                    ConfirmButton::One {
                        id: action.id,
                        approve: false,
                    }
                    .data(),
                )
                .label(label("No"))
                .style(ButtonStyle::Danger),
            ])
        })
        .collect();
    let ids: Vec<i64> = actions.iter().map(|a| a.id).collect();
    let all = ConfirmButton::All {
        approve: true,
        ids: ids.clone(),
    }
    .data();
    // Discord's custom ids hold up to 100 characters.
    if several && all.len() <= 100 {
        rows.push(CreateActionRow::Buttons(vec![
            CreateButton::new(all)
                .label("Yes to all")
                .style(ButtonStyle::Success),
            CreateButton::new(
                ConfirmButton::All {
                    approve: false,
                    ids,
                }
                .data(),
            )
            .label("No to all")
            .style(ButtonStyle::Danger),
        ]));
    }
    rows
}

/// How often "typing…" is repeated during a long turn: Discord shows it
/// for ten seconds.
const TYPING_REPEAT: Duration = Duration::from_secs(8);

struct DiscordResponder {
    http: Arc<Http>,
    channel: ChannelId,
    hub: Hub,
    /// "On it…", removed once the answer is posted.
    progress: ProgressMessage<MessageId>,
    /// Repeats "typing…" while the turn works.
    typing: Repeating,
    shown: Arc<ShownConfirmations<MessageId>>,
    /// The message a button click came from, its actions and text (it may
    /// predate this process, so not be among `shown`).
    pressed: Option<(MessageId, Vec<i64>, String)>,
}

/// The channel or thread as [`reply::show`] uses it, with the buttons a
/// text carries.
struct DiscordChat<'a> {
    responder: &'a DiscordResponder,
    rows: Vec<CreateActionRow>,
}

impl DiscordChat<'_> {
    fn rows(&self, buttons: bool) -> Vec<CreateActionRow> {
        if buttons {
            self.rows.clone()
        } else {
            Vec::new()
        }
    }
}

/// Answers `click` with a message only the clicker sees.
async fn reply_privately(http: &Http, click: &ComponentInteraction, text: &str) {
    let reply = CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text)
            .ephemeral(true)
            .allowed_mentions(no_mentions()),
    );
    let _ = click.create_response(http, reply).await;
}

impl Surface for DiscordChat<'_> {
    type Id = MessageId;
    type Piece = String;

    async fn post(&self, piece: &String, buttons: bool) -> Option<MessageId> {
        self.responder
            .send(quiet(piece.clone()).components(self.rows(buttons)))
            .await
    }

    async fn edit(&self, id: &MessageId, piece: &String, buttons: bool) -> bool {
        let edit = EditMessage::new()
            .content(piece.clone())
            .components(self.rows(buttons))
            .allowed_mentions(no_mentions());
        let responder = self.responder;
        matches!(
            tokio::time::timeout(
                CALL_TIMEOUT,
                responder.channel.edit_message(&responder.http, *id, edit),
            )
            .await,
            Ok(Ok(_))
        )
    }

    async fn remove(&self, id: &MessageId) -> bool {
        let responder = self.responder;
        matches!(
            tokio::time::timeout(
                CALL_TIMEOUT,
                responder.channel.delete_message(&responder.http, *id),
            )
            .await,
            Ok(Ok(()))
        )
    }
}

impl DiscordResponder {
    fn new(
        http: Arc<Http>,
        channel: ChannelId,
        hub: Hub,
        shown: Arc<ShownConfirmations<MessageId>>,
        pressed: Option<(MessageId, Vec<i64>, String)>,
    ) -> Self {
        DiscordResponder {
            http,
            channel,
            hub,
            progress: ProgressMessage::default(),
            typing: Repeating::default(),
            shown,
            pressed,
        }
    }

    /// Replaces a decided confirmation message with its outcome, buttons gone.
    async fn show_outcome(&self, message: MessageId, text: &str) {
        let chat = DiscordChat {
            responder: self,
            rows: Vec::new(),
        };
        let piece = format::chunks(text, Platform::Discord.message_limit())
            .pop()
            .unwrap_or_default();
        if !chat.edit(&message, &piece, false).await {
            tracing::debug!("cannot edit a Discord confirmation message");
        }
    }

    async fn send(&self, message: CreateMessage) -> Option<MessageId> {
        match tokio::time::timeout(CALL_TIMEOUT, self.channel.send_message(&self.http, message))
            .await
        {
            Ok(Ok(sent)) => Some(sent.id),
            Ok(Err(error)) => {
                self.hub.report_error(&error);
                tracing::warn!(%error, "cannot send a Discord message");
                None
            }
            Err(_) => {
                self.hub.report_error(&"Discord did not answer in time");
                tracing::warn!("Discord did not answer in time");
                None
            }
        }
    }

    /// Sends `text` in pieces Discord takes whole, posted so that Discord
    /// notifies (an edit does not), with "On it…" removed after them; the
    /// last piece carries the buttons. Returns the last.
    async fn send_text(&self, text: &str, rows: Vec<CreateActionRow>) -> Option<MessageId> {
        let pieces = format::chunks(text, Platform::Discord.message_limit());
        let buttons = !rows.is_empty();
        let chat = DiscordChat {
            responder: self,
            rows,
        };
        reply::show(&chat, &self.progress, &pieces, buttons, GiveWay::Repost).await
    }

    async fn send_file(&self, file: Attachment) {
        if let Some(text) = too_large(&file, Platform::Discord) {
            self.send(quiet(text)).await;
            return;
        }
        let mut message = CreateMessage::new()
            .add_file(CreateAttachment::bytes(file.bytes, file.file_name))
            .allowed_mentions(no_mentions());
        if let Some(caption) = file.caption {
            message = message.content(caption);
        }
        self.send(message).await;
    }
}

impl Responder for DiscordResponder {
    fn deliver(&self, event: OutboundMessage) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match event {
                OutboundMessage::Typing => {
                    let (http, channel) = (self.http.clone(), self.channel);
                    let typing = move || {
                        let http = http.clone();
                        async move {
                            let _ =
                                tokio::time::timeout(CALL_TIMEOUT, channel.broadcast_typing(&http))
                                    .await;
                        }
                    };
                    typing().await;
                    self.typing.start(TYPING_REPEAT, typing);
                }
                OutboundMessage::Progress(text) => {
                    // Later progress (a rate limit's wait) replaces "On it…".
                    if let Some(shown) = self.progress.shown() {
                        let chat = DiscordChat {
                            responder: self,
                            rows: Vec::new(),
                        };
                        if chat.edit(&shown, &text, false).await {
                            return;
                        }
                    }
                    if let Some(id) = self.send(quiet(text)).await {
                        self.progress.set(id);
                    }
                }
                OutboundMessage::Text(text) => {
                    self.send_text(&text, Vec::new()).await;
                }
                OutboundMessage::Confirmation { text, actions } => {
                    if let Some(message) = self.send_text(&text, buttons(&actions)).await {
                        let ids = actions.iter().map(|a| a.id).collect();
                        self.shown
                            .remember(&self.channel.to_string(), message, ids, text);
                    }
                }
                OutboundMessage::File(file) => self.send_file(file).await,
            }
        })
    }

    /// Shows the outcome of every confirmation message of this channel or
    /// thread that is decided now (by a button, a typed answer or expiry),
    /// in place of its question and buttons.
    fn finished<'a>(&'a self, _report: &'a TurnReport) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.typing.stop();
            let decided = self
                .shown
                .decided(&self.hub, &self.channel.to_string())
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
    fn mentions_are_removed_from_the_question() {
        let bot = UserId::new(42);
        assert_eq!(
            without_mention("<@42> how much did we earn?", bot),
            "how much did we earn?"
        );
        assert_eq!(without_mention("hey <@!42>", bot), "hey");
    }

    #[test]
    fn threads_and_dm_users_remembered_are_bounded() {
        let mut threads: Seen<ChannelId, Option<ChannelId>> = Seen::new(REMEMBERED_THREADS);
        let mut told: Seen<UserId> = Seen::new(REMEMBERED_DM_USERS);
        for id in 1..=(REMEMBERED_THREADS as u64 + 100) {
            threads.put(ChannelId::new(id), Some(ChannelId::new(1)));
            told.insert(UserId::new(id));
        }
        assert_eq!(threads.len(), REMEMBERED_THREADS);
        assert_eq!(told.len(), REMEMBERED_DM_USERS);
        assert!(
            threads.get(&ChannelId::new(1)).is_none(),
            "the oldest is forgotten"
        );
        assert!(
            told.insert(UserId::new(1)),
            "a forgotten user is told again"
        );
    }

    #[test]
    fn the_messages_built_allow_no_mentions() {
        let body = serde_json::to_value(quiet("@everyone <@123>")).unwrap();
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(body["allowed_mentions"]["users"], serde_json::json!([]));
        assert_eq!(body["allowed_mentions"]["roles"], serde_json::json!([]));
    }

    #[test]
    fn several_actions_get_a_row_each_and_one_for_all() {
        let actions: Vec<ProposedAction> = (1..=3)
            .map(|id| ProposedAction {
                id,
                summary: format!("a{id}"),
            })
            .collect();
        assert_eq!(buttons(&actions).len(), 4);
        assert_eq!(buttons(&actions[..1]).len(), 1);
    }
}
