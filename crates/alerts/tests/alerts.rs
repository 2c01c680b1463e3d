//! The receiver on a real socket, OnlyFansAPI's signed deliveries sent to
//! it over HTTP, the journal in a real store (SQLite, and PostgreSQL for
//! two instances), and the alerts as the channel's outbox receives them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use agencybot_agent::{Outbox, Responder};
use agencybot_alerts::{AlertChannel, Alerts, hook_path};
use agencybot_core::{Clock, ManualClock, OutboundMessage, Platform, Secret};
use agencybot_ofapi::webhooks::sign;
use agencybot_store::{
    EventStatus, NewAlertRule, Store, StoreOptions, TeamSpec, WebhookRegistration,
};
use futures::future::BoxFuture;
use serde_json::{Value, json};

const SECRET: &str = "whsec-velvet-current";
const ACCOUNT: &str = "acct_5b1e0c9d7a2f4e38b6c4d2a19f0e8c73";

/// What the channel was asked to post, by destination.
#[derive(Default)]
struct Posted(Mutex<Vec<(String, String)>>);

struct To(Arc<Posted>, String);

impl Responder for To {
    fn deliver(&self, event: OutboundMessage) -> BoxFuture<'_, ()> {
        if let OutboundMessage::Text(text) = event {
            self.0.0.lock().unwrap().push((self.1.clone(), text));
        }
        Box::pin(async {})
    }
}

struct PostedOutbox(Arc<Posted>);

impl Outbox for PostedOutbox {
    fn to(&self, destination: &str) -> Option<Arc<dyn Responder>> {
        Some(Arc::new(To(self.0.clone(), destination.to_owned())))
    }
}

impl Posted {
    fn texts(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }
}

fn fixture(event: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ofapi/tests/fixtures/ofapi-webhooks")
        .join(format!("{event}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tip(cents_text: Value, id: u64) -> Value {
    let mut body = fixture("tips.received");
    body["payload"]["amountGross"] = cents_text;
    body["payload"]["id"] = json!(id);
    body
}

/// One bot instance: its receiver served on loopback, its worker driven
/// by the test.
struct Instance {
    alerts: Arc<Alerts>,
    url: String,
    posted: Arc<Posted>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn instance(store: &Store, clock: Arc<ManualClock>) -> Instance {
    let posted = Arc::new(Posted::default());
    let channels = HashMap::from([(
        "tg".to_owned(),
        AlertChannel {
            platform: Platform::Telegram,
            outbox: Arc::new(PostedOutbox(posted.clone())),
        },
    )]);
    let alerts = Alerts::with_timings(
        store.clone(),
        channels,
        clock,
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(3600),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = alerts.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Instance {
        alerts,
        url,
        posted,
        server,
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-20T21:14:07Z")
            .unwrap()
            .into(),
    ))
}

/// A team with one webhook registration and the given rules.
async fn seeded(store: &Store, rules: &[(&str, Option<i64>, Option<i64>)]) -> i64 {
    store.migrate().await.unwrap();
    let team = store
        .upsert_team(&TeamSpec {
            name: "Velvet".into(),
            default_model: None,
            timezone: Some("Europe/London".into()),
            daily_credit_budget: None,
            daily_usd_budget: None,
        })
        .await
        .unwrap();
    store
        .add_webhook_registration(&WebhookRegistration {
            id: "k9Qx2".into(),
            team_id: team.id,
            webhook_id: Some("wh_1".into()),
            secret: SECRET.into(),
            previous_secret: Some("whsec-velvet-old".into()),
            events: vec!["tips.received".into()],
            accounts: vec![ACCOUNT.into()],
            created_by: "Ann".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    for (kind, threshold, digest) in rules {
        store
            .add_alert_rule(&NewAlertRule {
                team_id: team.id,
                kind,
                accounts: &[],
                threshold_cents: *threshold,
                channel: "tg",
                destination: "111",
                digest_minutes: *digest,
                quiet_from: None,
                quiet_until: None,
                created_by: "Ann",
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    team.id
}

/// Posts `body` as OnlyFansAPI would, signed with `secret`.
async fn deliver(url: &str, body: &[u8], secret: &str, key: Option<&str>) -> (u16, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut request = reqwest::Client::new()
        .post(format!("{url}{}", hook_path("k9Qx2")))
        .header("content-type", "application/json")
        .header("signature", sign(&Secret::new(secret), body))
        .body(body.to_vec());
    if let Some(key) = key {
        request = request.header("x-ofapi-idempotency-key", key);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn deliver_json(instance: &Instance, body: &Value, key: &str) -> u16 {
    deliver(
        &instance.url,
        body.to_string().as_bytes(),
        SECRET,
        Some(key),
    )
    .await
    .0
}

async fn sqlite_store(dir: &Path) -> Store {
    let mut options = StoreOptions::new(format!("sqlite://{}", dir.join("bot.db").display()));
    options.create_if_missing = true;
    Store::connect(&options).await.unwrap()
}

#[tokio::test]
async fn a_whale_tip_alerts_once_and_nothing_else_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    seeded(&store, &[("whale_tip", Some(10_000), None)]).await;
    let bot = instance(&store, clock()).await;

    // $150 against a $100 rule: one alert naming fan, amount and account.
    assert_eq!(
        deliver_json(&bot, &tip(json!(150.00), 1), "evt_1").await,
        200
    );
    assert_eq!(bot.alerts.work_once().await.unwrap(), 1);
    assert_eq!(
        bot.posted.texts(),
        vec![format!("💸 Fan 482115630 tipped $150.00 on {ACCOUNT}.")]
    );
    // The same event again, and a replayed capture: acknowledged, ignored.
    let body = tip(json!(150.00), 1).to_string();
    for _ in 0..2 {
        let (status, said) = deliver(&bot.url, body.as_bytes(), SECRET, Some("evt_1")).await;
        assert_eq!((status, said.as_str()), (200, "duplicate"));
    }
    // The same tip under another key (a second source) still alerts once.
    assert_eq!(
        deliver_json(&bot, &tip(json!(150.00), 1), "evt_1b").await,
        200
    );
    // $50: below the rule.
    assert_eq!(deliver_json(&bot, &tip(json!(50), 2), "evt_2").await, 200);
    // Not a clean amount: kept, never alerted with a guess.
    assert_eq!(
        deliver_json(&bot, &tip(json!("abc"), 3), "evt_3").await,
        200
    );
    assert_eq!(bot.alerts.work_once().await.unwrap(), 0);
    assert_eq!(bot.posted.texts().len(), 1);

    let journal = store.webhook_events("k9Qx2").await.unwrap();
    let before = journal.len();
    assert_eq!(before, 4);
    assert!(journal.iter().any(|e| e.idempotency_key == "evt_3"
        && e.status == EventStatus::Quarantined
        && e.detail.as_deref().unwrap_or_default().contains("abc")));

    // Wrong signature, or none: 401 and nothing journaled.
    let (status, _) = deliver(
        &bot.url,
        tip(json!(900), 9).to_string().as_bytes(),
        "guess",
        Some("evt_9"),
    )
    .await;
    assert_eq!(status, 401);
    let unsigned = reqwest::Client::new()
        .post(format!("{}{}", bot.url, hook_path("k9Qx2")))
        .body(tip(json!(900), 9).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // Signed, then changed: the signature is over the raw bytes.
    let signed = tip(json!(900), 9).to_string();
    let tampered = signed.replace("900", "9000");
    let request = reqwest::Client::new()
        .post(format!("{}{}", bot.url, hook_path("k9Qx2")))
        .header("signature", sign(&Secret::new(SECRET), signed.as_bytes()))
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), 401);
    assert_eq!(store.webhook_events("k9Qx2").await.unwrap().len(), before);

    // The previous secret still verifies while it is rotated out.
    let (status, _) = deliver(
        &bot.url,
        tip(json!(20), 4).to_string().as_bytes(),
        "whsec-velvet-old",
        Some("evt_4"),
    )
    .await;
    assert_eq!(status, 200);

    // Unknown registration: 404. Valid signature, broken JSON: 200, quarantined.
    let unknown = reqwest::Client::new()
        .post(format!("{}{}", bot.url, hook_path("nope")))
        .header("signature", sign(&Secret::new(SECRET), b"{}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let (status, _) = deliver(&bot.url, b"{not json", SECRET, Some("evt_5")).await;
    assert_eq!(status, 200);
    // Another team's account, and an event with no user or amount at all.
    let mut foreign = tip(json!(500), 6);
    foreign["account_id"] = json!("acct_someone_else");
    assert_eq!(deliver_json(&bot, &foreign, "evt_6").await, 200);
    let bare = json!({"event": "tips.received", "account_id": ACCOUNT, "payload": {"id": 7}});
    assert_eq!(deliver_json(&bot, &bare, "evt_7").await, 200);
    let unknown_event = json!({"event": "posts.liked", "account_id": ACCOUNT, "payload": {}});
    assert_eq!(deliver_json(&bot, &unknown_event, "evt_8").await, 200);
    // Too large: refused before it is read.
    let huge = vec![b' '; agencybot_alerts::MAX_BODY_BYTES + 1];
    let (status, _) = deliver(&bot.url, &huge, SECRET, Some("evt_10")).await;
    assert_eq!(status, 413);

    assert_eq!(bot.alerts.work_once().await.unwrap(), 0);
    assert_eq!(bot.posted.texts().len(), 1, "{:?}", bot.posted.texts());
    let journal = store.webhook_events("k9Qx2").await.unwrap();
    let status_of = |key: &str| {
        journal
            .iter()
            .find(|e| e.idempotency_key == key)
            .map(|e| e.status)
    };
    assert_eq!(status_of("evt_5"), Some(EventStatus::Quarantined));
    assert_eq!(status_of("evt_6"), Some(EventStatus::Quarantined));
    assert_eq!(status_of("evt_7"), Some(EventStatus::Quarantined));
    assert_eq!(status_of("evt_8"), Some(EventStatus::Done));
    assert_eq!(status_of("evt_10"), None);
    // One alert, one usage record of type alert, no model.
    let usage = store
        .usage_records(&agencybot_store::UsageFilter::default())
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].kind, agencybot_core::RequestKind::Alert);
    assert_eq!(usage[0].prompt_tokens, 0);
}

#[tokio::test]
async fn an_event_acknowledged_before_a_crash_is_alerted_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    seeded(&store, &[("whale_tip", Some(10_000), None)]).await;
    let clock = clock();
    {
        // Acknowledged, then the process dies before its worker runs.
        let first = instance(&store, clock.clone()).await;
        assert_eq!(
            deliver_json(&first, &tip(json!(150), 1), "evt_1").await,
            200
        );
        assert_eq!(
            deliver_json(&first, &tip(json!(200), 2), "evt_2").await,
            200
        );
        // And one it had taken when it died.
        let taken = store.open_webhook_events(clock.now(), 10).await.unwrap()[1];
        assert!(
            store
                .claim_webhook_event(taken, clock.now(), clock.now())
                .await
                .unwrap()
                .is_some()
        );
        assert!(first.posted.texts().is_empty());
    }
    store.close().await;

    let store = sqlite_store(dir.path()).await;
    let second = instance(&store, clock.clone()).await;
    assert_eq!(
        second.alerts.work_once().await.unwrap(),
        1,
        "the untaken one at once"
    );
    // The taken one once its worker is presumed gone.
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(second.alerts.work_once().await.unwrap(), 1);
    assert_eq!(second.alerts.work_once().await.unwrap(), 0);
    let mut texts = second.posted.texts();
    texts.sort();
    assert_eq!(
        texts,
        vec![
            format!("💸 Fan 482115630 tipped $150.00 on {ACCOUNT}."),
            format!("💸 Fan 482115630 tipped $200.00 on {ACCOUNT}."),
        ]
    );
}

/// Ten new subscribers in a window, two instances on one store: one digest.
async fn ten_subscribers_one_digest(store: &Store) {
    seeded(store, &[("new_subscribers", None, Some(30))]).await;
    let clock = clock();
    let (a, b) = (
        instance(store, clock.clone()).await,
        instance(store, clock.clone()).await,
    );
    for fan in 0..10u64 {
        let mut body = fixture("subscriptions.new");
        body["payload"]["id"] = json!(9000 + fan);
        body["payload"]["user"]["id"] = json!(500 + fan);
        let to = if fan % 2 == 0 { &a } else { &b };
        assert_eq!(
            deliver_json(to, &body, &format!("evt_sub_{fan}")).await,
            200
        );
    }
    // Before the window has passed: nothing, on either instance.
    let (sent_a, sent_b) = tokio::join!(a.alerts.work_once(), b.alerts.work_once());
    assert_eq!(sent_a.unwrap() + sent_b.unwrap(), 0);
    clock.advance(chrono::Duration::minutes(31));
    let (sent_a, sent_b) = tokio::join!(a.alerts.work_once(), b.alerts.work_once());
    assert_eq!(sent_a.unwrap() + sent_b.unwrap(), 1);
    let mut texts = a.posted.texts();
    texts.extend(b.posted.texts());
    assert_eq!(texts.len(), 1, "{texts:?}");
    let digest = &texts[0];
    assert!(
        digest.starts_with("🆕 10 new subscribers in the last 30 minutes:"),
        "{digest}"
    );
    for fan in 0..10 {
        assert!(digest.contains(&format!("Fan {}", 500 + fan)), "{digest}");
    }
    let (sent_a, sent_b) = tokio::join!(a.alerts.work_once(), b.alerts.work_once());
    assert_eq!(sent_a.unwrap() + sent_b.unwrap(), 0);
    let usage = store
        .usage_records(&agencybot_store::UsageFilter::default())
        .await
        .unwrap();
    assert_eq!(usage.len(), 1, "one digest, one usage record");
    assert_eq!(usage[0].kind, agencybot_core::RequestKind::Alert);
}

#[tokio::test]
async fn ten_new_subscribers_make_one_digest_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    ten_subscribers_one_digest(&sqlite_store(dir.path()).await).await;
}

#[tokio::test]
async fn ten_new_subscribers_make_one_digest_across_two_instances_on_postgres() {
    let schema = agencybot_testkit::PostgresSchema::create()
        .await
        .expect("PostgreSQL for the two-instance test");
    let mut options = StoreOptions::new(schema.url.clone());
    options.schema = Some(schema.name.clone());
    let store = Store::connect(&options).await.unwrap();
    ten_subscribers_one_digest(&store).await;
}

#[tokio::test]
async fn an_account_that_cannot_sign_in_is_alerted_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    seeded(&store, &[("account_health", None, None)]).await;
    let bot = instance(&store, clock()).await;
    for (event, key) in [
        ("accounts.authentication_failed", "evt_a"),
        ("accounts.session_expired", "evt_b"),
        ("accounts.otp_code_required", "evt_c"),
    ] {
        assert_eq!(deliver_json(&bot, &fixture(event), key).await, 200);
    }
    assert_eq!(bot.alerts.work_once().await.unwrap(), 2);
    let texts = bot.posted.texts();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(&format!("⚠️ {ACCOUNT} needs attention"))
                && t.contains("reconnect it in the OnlyFansAPI dashboard")
                && t.contains("Could not sign in")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("one-time code")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn alerts_in_quiet_hours_wait_until_they_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let team = seeded(&store, &[]).await;
    store
        .add_alert_rule(&NewAlertRule {
            team_id: team,
            kind: "whale_tip",
            accounts: &[],
            threshold_cents: Some(10_000),
            channel: "tg",
            destination: "111",
            digest_minutes: None,
            // London is on UTC in November: 21:14 is inside.
            quiet_from: Some("21:00"),
            quiet_until: Some("23:00"),
            created_by: "Ann",
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let clock = clock();
    let bot = instance(&store, clock.clone()).await;
    assert_eq!(deliver_json(&bot, &tip(json!(150), 1), "evt_1").await, 200);
    assert_eq!(deliver_json(&bot, &tip(json!(300), 2), "evt_2").await, 200);
    assert_eq!(bot.alerts.work_once().await.unwrap(), 0);
    assert!(bot.posted.texts().is_empty());
    // 22:04: still quiet. 23:04: over, and both arrive in one message.
    clock.advance(chrono::Duration::minutes(50));
    assert_eq!(bot.alerts.work_once().await.unwrap(), 0);
    clock.advance(chrono::Duration::minutes(60));
    assert_eq!(bot.alerts.work_once().await.unwrap(), 1);
    let texts = bot.posted.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("While it was quiet (2 alerts):"),
        "{texts:?}"
    );
    assert!(texts[0].contains("$150.00") && texts[0].contains("$300.00"));
    assert_eq!(bot.alerts.work_once().await.unwrap(), 0);
}
