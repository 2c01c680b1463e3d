//! `agencybot run`: every configured channel and the scheduled-task runner
//! in one process, stopped gracefully by SIGTERM or Ctrl-C (turns and runs
//! in flight finish first).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{Engine, Hub, Outbox};
use agencybot_core::SystemClock;
use agencybot_scheduler::Runner;
use agencybot_store::Store;
use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Config, Secrets, SlackMode, TelegramMode};

/// How long a stopping channel waits for turns in flight.
const GRACE: Duration = Duration::from_secs(30);

fn secret(secrets: &Secrets, env: &str) -> anyhow::Result<agencybot_core::Secret> {
    secrets
        .get(env)
        .cloned()
        .with_context(|| format!("{env} is not set"))
}

fn address(text: &str, key: &str) -> anyhow::Result<SocketAddr> {
    text.parse()
        .with_context(|| format!("`{key}` must be an address like 0.0.0.0:8443, not `{text}`"))
}

/// Starts every channel and waits for a stop signal.
pub async fn channels(
    config: &Config,
    secrets: &Secrets,
    store: Store,
    engine: Arc<Engine>,
    skills: Arc<agencybot_skills::Skills>,
) -> anyhow::Result<()> {
    let recovered = engine
        .recover_interrupted()
        .await
        .context("looking for writes interrupted by the last stop")?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "writes interrupted by the last stop are marked \"outcome unknown\"; their users are told"
        );
    }
    for (what, why) in config.warnings() {
        tracing::warn!("{what}: {why}");
    }
    let (stop, stopped) = watch::channel(false);
    let reload = Duration::from_secs(config.skills.reload_secs.max(1));
    tokio::spawn(skills.clone().watch(reload, stopped.clone()));
    let mut running = Running::new();
    let hub = |name: &str| Hub::new(engine.clone(), store.clone(), name);
    let mut outboxes: HashMap<String, Arc<dyn Outbox>> = HashMap::new();
    for channel in &config.channels.telegram {
        let name = channel.name.get_ref().clone();
        let mode = match channel.mode {
            TelegramMode::Polling => agencybot_telegram::Mode::Polling,
            TelegramMode::Webhook => agencybot_telegram::Mode::Webhook {
                url: channel.webhook_url.clone().unwrap_or_default(),
                listen: address(&channel.webhook_listen, "webhook_listen")?,
                secret: secret(secrets, &channel.webhook_secret_env)?,
            },
        };
        let options = agencybot_telegram::TelegramOptions {
            token: secret(secrets, &channel.token_env)?,
            api_url: channel.api_url.clone(),
            mode,
            grace: GRACE,
        };
        outboxes.insert(
            name.clone(),
            agencybot_telegram::outbox(&options, hub(&name))
                .with_context(|| format!("channel `{name}`"))?,
        );
        spawn(
            &mut running,
            name.clone(),
            agencybot_telegram::serve(options, hub(&name), stopped.clone()),
        );
    }
    for channel in &config.channels.slack {
        let name = channel.name.get_ref().clone();
        let mode = match channel.mode {
            SlackMode::Socket => agencybot_slack::SlackMode::Socket {
                app_token: secret(secrets, &channel.app_token_env)?,
            },
            SlackMode::Events => agencybot_slack::SlackMode::Events {
                signing_secret: secret(secrets, &channel.signing_secret_env)?,
                listen: address(&channel.events_listen, "events_listen")?,
            },
        };
        let options = agencybot_slack::SlackOptions {
            bot_token: secret(secrets, &channel.bot_token_env)?,
            api_url: channel.api_url.clone(),
            mode,
            grace: GRACE,
        };
        outboxes.insert(name.clone(), agencybot_slack::outbox(&options, hub(&name)));
        spawn(
            &mut running,
            name.clone(),
            agencybot_slack::serve(options, hub(&name), stopped.clone()),
        );
    }
    for channel in &config.channels.discord {
        let name = channel.name.get_ref().clone();
        let options = agencybot_discord::DiscordOptions {
            token: secret(secrets, &channel.token_env)?,
            api_url: channel.api_url.clone(),
            grace: GRACE,
            guilds: channel.guild_ids(),
        };
        outboxes.insert(
            name.clone(),
            agencybot_discord::outbox(&options, hub(&name)),
        );
        spawn(
            &mut running,
            name.clone(),
            agencybot_discord::serve(options, hub(&name), stopped.clone()),
        );
    }
    let alerts = alerts(config, &store, &outboxes, &mut running, &stopped).await?;
    web(config, &store, &engine, &mut running, &stopped).await?;
    tokio::spawn(prune_deliveries(store.clone(), stopped.clone()));
    tokio::spawn(crate::memory::trim_after_bursts(
        engine.clone(),
        store.clone(),
        stopped.clone(),
    ));
    let library = skills.clone();
    let runner = Arc::new(Runner::new(
        store.clone(),
        engine.clone(),
        outboxes,
        Arc::new(SystemClock),
        crate::setup::runner_config(config),
        Some(Arc::new(move |name: &str| {
            library.library().get(name).map(|skill| skill.body.clone())
        })),
    ));
    let scheduler = tokio::spawn(runner.run(stopped.clone()));
    tracing::info!(
        channels = running.len(),
        "agencybot is running; SIGTERM or Ctrl-C stops it"
    );
    let mut failures = Vec::new();
    tokio::select! {
        () = shutdown_signal() => tracing::info!("stopping: finishing turns in flight"),
        Some(ended) = running.join_next() => {
            if let Ok((name, Err(error))) = ended {
                tracing::error!(channel = %name, %error, "channel stopped");
                failures.push(format!("{name}: {error}"));
            }
        }
    }
    let _ = stop.send(true);
    while let Some(ended) = running.join_next().await {
        if let Ok((name, Err(error))) = ended {
            failures.push(format!("{name}: {error}"));
        }
    }
    let _ = scheduler.await;
    if let Some(alerts) = alerts {
        let _ = alerts.await;
    }
    store.close().await;
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("channels failed: {}", failures.join("; "))
    }
}

type Running = JoinSet<(String, Result<(), String>)>;

/// The webhook receiver (one of the running services) and the alerts
/// worker, when `[alerts]` is configured.
async fn alerts(
    config: &Config,
    store: &Store,
    outboxes: &HashMap<String, Arc<dyn Outbox>>,
    running: &mut Running,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if !config.alerts.enabled() {
        return Ok(None);
    }
    let platforms: HashMap<&str, agencybot_core::Platform> = config
        .channel_list()
        .into_iter()
        .map(|(platform, name, _, _)| (name, platform))
        .collect();
    let channels = outboxes
        .iter()
        .filter_map(|(name, outbox)| {
            Some((
                name.clone(),
                agencybot_alerts::AlertChannel {
                    platform: *platforms.get(name.as_str())?,
                    outbox: outbox.clone(),
                },
            ))
        })
        .collect();
    // Left-behind events are looked for a few times per takeover window.
    let takeover = std::time::Duration::from_secs(*config.alerts.takeover_secs.get_ref());
    let alerts = agencybot_alerts::Alerts::with_timings(
        store.clone(),
        channels,
        Arc::new(SystemClock),
        takeover,
        (takeover / 4).clamp(
            std::time::Duration::from_millis(250),
            std::time::Duration::from_secs(15),
        ),
    );
    let listen = address(&config.alerts.listen, "[alerts] listen")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening for webhooks on {listen}"))?;
    tracing::info!(%listen, "webhook receiver listening for OnlyFansAPI alerts");
    let router = alerts.router();
    let mut stop = stopped.clone();
    spawn(running, "alerts".into(), async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await
    });
    Ok(Some(tokio::spawn(alerts.run(stopped.clone()))))
}

/// How long handled deliveries are remembered: longer than any platform
/// retries one (Telegram keeps updates for 24 hours).
const DELIVERY_RETENTION: chrono::Duration = chrono::Duration::hours(48);

/// Forgets handled deliveries past their retention, now and then.
async fn prune_deliveries(store: Store, mut stopped: watch::Receiver<bool>) {
    loop {
        match store
            .prune_deliveries(chrono::Utc::now() - DELIVERY_RETENTION)
            .await
        {
            Ok(pruned) if pruned > 0 => tracing::debug!(pruned, "forgot old deliveries"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot prune old deliveries"),
        }
        tokio::select! {
            _ = stopped.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
    }
}

/// The web listener, when `[web]` is configured: the console, and the
/// checks and metrics load balancers, orchestrators and Prometheus read.
async fn web(
    config: &Config,
    store: &Store,
    engine: &Engine,
    running: &mut Running,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some(mut settings) = crate::setup::console_settings(config)? else {
        return Ok(());
    };
    settings.apps = engine.connected_apps();
    settings.status = engine.channel_status();
    let listen = address(&config.web.listen, "[web] listen")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening for the web console on {listen}"))?;
    tracing::info!(%listen, public_url = %settings.public_url, "web console, /healthz, /readyz and /metrics listening");
    let health = Health {
        store: store.clone(),
        status: engine.channel_status(),
        channels: config
            .channel_list()
            .into_iter()
            .map(|(_, name, _, _)| name.to_owned())
            .collect(),
    };
    let router = agencybot_console::Console::new(store.clone(), settings, Arc::new(SystemClock))
        .router()
        .merge(health.router());
    let mut stop = stopped.clone();
    spawn(running, "web".into(), async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await
    });
    Ok(())
}

/// What `/healthz`, `/readyz` and `/metrics` look at.
#[derive(Clone)]
struct Health {
    store: Store,
    status: Arc<agencybot_agent::ChannelStatus>,
    channels: Vec<String>,
}

impl Health {
    fn router(self) -> axum::Router {
        use axum::routing::get;
        axum::Router::new()
            // Live: the process answers.
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self)
    }
}

/// Ready: the store answers in time and every channel is connected or
/// standing by for the instance that holds it.
async fn readyz(
    axum::extract::State(health): axum::extract::State<Health>,
) -> (axum::http::StatusCode, String) {
    let mut problems = Vec::new();
    match tokio::time::timeout(Duration::from_secs(2), health.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => problems.push(format!("store: {error}")),
        Err(_) => problems.push("store: no answer within 2 s".to_owned()),
    }
    for channel in &health.channels {
        if !health.status.ready(channel) {
            let why = health
                .status
                .of(channel)
                .last_error
                .map_or("not connected yet".to_owned(), |(_, error)| error);
            problems.push(format!("channel {channel}: {why}"));
        }
    }
    if problems.is_empty() {
        (axum::http::StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{}\n", problems.join("\n")),
        )
    }
}

async fn metrics(
    axum::extract::State(health): axum::extract::State<Health>,
) -> impl axum::response::IntoResponse {
    let metrics = agencybot_agent::metrics::metrics();
    let connected = health
        .channels
        .iter()
        .filter(|c| health.status.of(c).connected)
        .count();
    metrics
        .channels_connected
        .set(i64::try_from(connected).unwrap_or(i64::MAX));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// Runs one channel, reporting its name with how it ended.
fn spawn<E: std::fmt::Display>(
    running: &mut Running,
    name: String,
    serving: impl std::future::Future<Output = Result<(), E>> + Send + 'static,
) {
    running.spawn(async move { (name, serving.await.map_err(|error| error.to_string())) });
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
