//! Everything behind a channel, wired for tests: a store with a team, its
//! members and one channel; the OnlyFansAPI sandbox; a scripted model; the
//! engine; and the channel's hub. Adapters' tests put their fake platform
//! in front of it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{
    Engine, EngineConfig, Hub, ModelClient, ModelConfig, TurnReport, TurnRequest,
};
use agencybot_core::{ManualClock, OutboundMessage, Platform, Role, Secret, Team};
use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
use agencybot_ofapi::{Client, ClientConfig};
use agencybot_store::{ChannelSpec, MemberSpec, Store, TeamSpec};
use chrono::{DateTime, Utc};

use crate::ScriptedModel;

/// A team member as a test declares them.
pub struct TestMember<'a> {
    pub name: &'a str,
    pub role: Role,
    pub user_id: &'a str,
}

/// What a test may choose about a [`Stack`].
pub struct StackOptions {
    pub engine: EngineConfig,
    /// How long the OnlyFansAPI client waits for one answer.
    pub ofapi_timeout: Duration,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            engine: EngineConfig::default(),
            ofapi_timeout: Duration::from_secs(30),
        }
    }
}

pub struct Stack {
    pub engine: Arc<Engine>,
    pub hub: Hub,
    pub model: ScriptedModel,
    pub sandbox: Sandbox,
    pub store: Store,
    pub team: Team,
    pub clock: Arc<ManualClock>,
}

/// One request straight through the engine: its report and every event it
/// sent, in order.
pub async fn run_turn(engine: &Engine, request: TurnRequest) -> (TurnReport, Vec<OutboundMessage>) {
    let (sink, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let report = engine.handle(request, &sink).await;
    drop(sink);
    let mut events = Vec::new();
    while let Some(event) = receiver.recv().await {
        events.push(event);
    }
    (report, events)
}

/// The sandbox's "now", fixed so figures are the same every run.
#[must_use]
pub fn sandbox_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .expect("a valid date")
        .with_timezone(&Utc)
}

impl Stack {
    pub async fn start(
        channel: &str,
        platform: Platform,
        members: &[TestMember<'_>],
        allow_everyone: bool,
    ) -> Stack {
        Stack::start_with(channel, platform, members, allow_everyone, |_| {}).await
    }

    /// As [`Stack::start`], letting the test register tools on the engine.
    pub async fn start_with(
        channel: &str,
        platform: Platform,
        members: &[TestMember<'_>],
        allow_everyone: bool,
        setup: impl FnOnce(&mut Engine),
    ) -> Stack {
        let store = Store::in_memory().await.expect("store");
        Stack::start_on(store, channel, platform, members, allow_everyone, setup).await
    }

    /// As [`Stack::start_with`], on a store the test opened (and migrated).
    /// Several stacks on one database share the team and channel.
    pub async fn start_on(
        store: Store,
        channel: &str,
        platform: Platform,
        members: &[TestMember<'_>],
        allow_everyone: bool,
        setup: impl FnOnce(&mut Engine),
    ) -> Stack {
        Stack::start_configured(
            store,
            channel,
            platform,
            members,
            allow_everyone,
            StackOptions::default(),
            setup,
        )
        .await
    }

    /// As [`Stack::start_on`], with the engine's settings and the
    /// OnlyFansAPI client's timeout chosen by the test.
    pub async fn start_configured(
        store: Store,
        channel: &str,
        platform: Platform,
        members: &[TestMember<'_>],
        allow_everyone: bool,
        options: StackOptions,
        setup: impl FnOnce(&mut Engine),
    ) -> Stack {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let team = store
            .upsert_team(&TeamSpec {
                name: "Velvet Agency".into(),
                default_model: None,
                timezone: Some("Europe/Berlin".into()),
                daily_credit_budget: None,
                daily_usd_budget: None,
            })
            .await
            .expect("team");
        let specs: Vec<MemberSpec> = members
            .iter()
            .map(|m| MemberSpec {
                name: m.name.into(),
                role: m.role,
                user_ids: BTreeMap::from([(platform, vec![m.user_id.to_owned()])]),
            })
            .collect();
        store
            .sync_config_members(team.id, &specs)
            .await
            .expect("members");
        store
            .sync_channels(&[ChannelSpec {
                team_id: team.id,
                platform,
                name: channel.into(),
                settings: serde_json::Value::Null,
                permitted_user_ids: Vec::new(),
                allow_everyone,
            }])
            .await
            .expect("channel");
        let mut sandbox_config = SandboxConfig::new("sandbox-key");
        sandbox_config.now = sandbox_now();
        let sandbox = Sandbox::start(sandbox_config, 0).await.expect("sandbox");
        let mut client_config = ClientConfig::new(sandbox.url(), Secret::new("sandbox-key"));
        client_config.timeout = options.ofapi_timeout;
        let ofapi = Client::new(client_config).expect("client");
        let model = ScriptedModel::start().await;
        let model_client = ModelClient::new(&ModelConfig::new(
            model.url(),
            None,
            Duration::from_secs(10),
        ))
        .expect("model client");
        let clock = Arc::new(ManualClock::new(sandbox_now()));
        let mut engine = Engine::new(
            store.clone(),
            ofapi,
            model_client,
            options.engine,
            clock.clone(),
        );
        setup(&mut engine);
        let engine = Arc::new(engine);
        let hub = Hub::new(engine.clone(), store.clone(), channel);
        Stack {
            engine,
            hub,
            model,
            sandbox,
            store,
            team,
            clock,
        }
    }

    /// The id of the sandbox's `index`th creator account.
    #[must_use]
    pub fn account(&self, index: usize) -> String {
        self.sandbox.inspect(|data| data.accounts[index].id.clone())
    }

    /// Mass messages the sandbox holds, all accounts together.
    #[must_use]
    pub fn mass_messages(&self) -> usize {
        self.sandbox
            .inspect(|data| data.accounts.iter().map(|a| a.mass_messages.len()).sum())
    }
}
