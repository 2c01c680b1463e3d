//! The sandbox sending webhooks: registered through the API, caused through
//! the `/_sandbox/` control routes, received by a tiny server in the test
//! and checked the way the bot's receiver checks them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use agencybot_core::Secret;
use agencybot_ofapi::sandbox::{DeliveryStatus, Sandbox};
use agencybot_ofapi::webhooks::{self, AccountProblem, Envelope, OfEvent};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Map, Value, json};

use crate::{KEY, client, sandbox};

const SECRET: &str = "whsec-sandbox-test";

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// A webhook receiver on 127.0.0.1:0: records every request and answers
/// 200, or 500 on paths ending in `/fail`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        async fn record(
            State(got): State<Arc<Mutex<Vec<Received>>>>,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let path = uri.path().to_owned();
            let status = if path.ends_with("/fail") {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            got.lock().unwrap().push(Received {
                path,
                headers,
                body,
            });
            status
        }
        let got = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(axum::routing::post(record))
            .with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got }
    }

    /// What reached `path`.
    fn at(&self, path: &str) -> Vec<Received> {
        let got = self.got.lock().unwrap();
        got.iter().filter(|r| r.path == path).cloned().collect()
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn args(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("arguments are an object")
}

/// Registers a webhook through the API; returns its id.
async fn register(sandbox: &Sandbox, settings: Value) -> String {
    let created = client(&sandbox.url())
        .call("webhooks.create-webhook", &args(settings))
        .await
        .expect("the webhook is created");
    created.data["id"].as_str().unwrap().to_owned()
}

/// POSTs to a control route with the API key: (status, body).
async fn control(sandbox: &Sandbox, path: &str, body: Value) -> (u16, Value) {
    control_with(sandbox, reqwest::Method::POST, path, Some(KEY), body).await
}

async fn control_with(
    sandbox: &Sandbox,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    // reqwest is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sandbox.url()))
        .json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let answer = request.send().await.expect("the sandbox answers");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn fixture_payload(event: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/ofapi-webhooks/{event}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["payload"].clone()
}

/// The keys of an object, recursively (`user.id`), to compare shapes.
fn shape(value: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    if let Value::Object(map) = value {
        for (key, inner) in map {
            keys.insert(key.clone());
            keys.extend(shape(inner).into_iter().map(|k| format!("{key}.{k}")));
        }
    }
    keys
}

fn verifies(received: &Received) -> bool {
    received
        .header("signature")
        .is_some_and(|s| webhooks::verify(&[&Secret::new(SECRET)], &received.body, s))
}

#[tokio::test]
async fn a_tip_reaches_only_the_webhooks_subscribed_to_it_for_that_account_signed() {
    let sandbox = sandbox().await;
    let receiver = Receiver::start().await;
    let (account, other, fan, creator) = sandbox.inspect(|data| {
        let a = &data.accounts[0];
        (
            a.id.clone(),
            data.accounts[1].id.clone(),
            a.fans[0].id,
            a.user_id,
        )
    });
    let url = &receiver.url;
    let hook = |path: &str, events: Value, scope: &str, accounts: Value, secret: Option<&str>| {
        let mut settings = json!({
            "endpoint_url": format!("{url}{path}"),
            "events": events,
            "account_scope": scope,
            "account_ids": accounts,
        });
        if let Some(secret) = secret {
            settings["signing_secret"] = json!(secret);
        }
        settings
    };
    let signed = register(
        &sandbox,
        hook(
            "/signed",
            json!(["tips.received"]),
            "inclusive",
            json!([account]),
            Some(SECRET),
        ),
    )
    .await;
    let unsigned = register(
        &sandbox,
        hook(
            "/unsigned",
            json!(["tips.received"]),
            "global",
            json!([]),
            None,
        ),
    )
    .await;
    // Each of these must get nothing.
    register(
        &sandbox,
        hook(
            "/other-event",
            json!(["subscriptions.new", "messages.received"]),
            "global",
            json!([]),
            Some(SECRET),
        ),
    )
    .await;
    register(
        &sandbox,
        hook(
            "/other-account",
            json!(["tips.received"]),
            "inclusive",
            json!([other]),
            Some(SECRET),
        ),
    )
    .await;
    register(
        &sandbox,
        hook(
            "/excluded",
            json!(["tips.received"]),
            "exclusive",
            json!([account]),
            Some(SECRET),
        ),
    )
    .await;
    let paused = register(
        &sandbox,
        hook(
            "/paused",
            json!(["tips.received"]),
            "global",
            json!([]),
            Some(SECRET),
        ),
    )
    .await;
    client(&sandbox.url())
        .call(
            "webhooks.update-webhook",
            &args(json!({
                "webhook_id": paused, "endpoint_url": format!("{url}/paused"),
                "events": ["tips.received"], "account_scope": "global", "enabled": false,
            })),
        )
        .await
        .unwrap();
    let credits = sandbox.credits_used();

    let (status, answer) = control(
        &sandbox,
        &format!("/_sandbox/accounts/{account}/tips"),
        json!({"fan_id": fan, "amount": 150}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        sandbox.credits_used(),
        credits,
        "control routes cost nothing"
    );
    assert!(answer.get("_meta").is_none());
    assert_eq!(answer["transaction"]["type"], "tip");
    assert_eq!(answer["transaction"]["amount"], 150.0);
    assert_eq!(answer["transaction"]["net"], 120.0);
    assert_eq!(answer["transaction"]["user"]["id"], fan);
    let tip = sandbox.inspect(|data| data.accounts[0].transactions[0].clone());
    assert_eq!(
        (tip.id.as_str(), tip.fan_id, tip.gross, tip.net),
        (
            answer["transaction"]["id"].as_str().unwrap(),
            fan,
            150.0,
            120.0
        )
    );

    // Exactly two deliveries, one event: the same idempotency key.
    let deliveries = answer["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{answer}");
    let to: BTreeSet<&str> = deliveries
        .iter()
        .map(|d| d["webhook_id"].as_str().unwrap())
        .collect();
    assert_eq!(to, BTreeSet::from([signed.as_str(), unsigned.as_str()]));
    let key = deliveries[0]["idempotency_key"].as_str().unwrap();
    assert!(key.starts_with("evt_"), "{key}");
    assert_eq!(deliveries[1]["idempotency_key"], key);
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == 200 && d["error"].is_null())
    );
    assert_eq!(receiver.count(), 2, "nobody else got anything");

    let got = receiver.at("/signed");
    assert_eq!(got.len(), 1);
    let post = &got[0];
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        post.header("user-agent"),
        Some("OnlyFansAPI.com/Webhook-Client")
    );
    assert!(verifies(post), "the signature is HMAC-SHA256 of the body");
    assert_eq!(
        post.header("signature").unwrap(),
        webhooks::sign(&Secret::new(SECRET), &post.body),
        "lowercase hex"
    );
    assert_eq!(post.header("x-ofapi-idempotency-key"), Some(key));
    assert_eq!(post.header("x-ofapi-redelivery-of"), None);
    let unsigned_post = &receiver.at("/unsigned")[0];
    assert_eq!(
        unsigned_post.header("signature"),
        None,
        "no secret, no signature"
    );
    assert_eq!(unsigned_post.body, post.body);

    // The body: the documented envelope, and the fixture's payload shape.
    assert!(
        post.body
            .starts_with(br#"{"event":"tips.received","account_id":"#)
    );
    let body = post.json();
    assert_eq!(body["account_id"], account.as_str());
    assert_eq!(body["payload"], answer["payload"]);
    assert_eq!(
        shape(&body["payload"]),
        shape(&fixture_payload("tips.received"))
    );
    assert_eq!(body["payload"]["user"]["id"], fan);
    assert_eq!(body["payload"]["user_id"], creator);
    assert_eq!(body["payload"]["createdAt"], "2026-11-20T12:00:00+00:00");
    let event = OfEvent::from_envelope(&Envelope::parse(&post.body).unwrap()).unwrap();
    assert_eq!(
        event,
        OfEvent::Tip {
            id: body["payload"]["id"].to_string(),
            fan_id: Some(fan.to_string()),
            gross_cents: 15_000,
            net_cents: Some(12_000),
            at: Some("2026-11-20T12:00:00+00:00".into()),
        }
    );

    // The log has both attempts and what they got.
    let log = sandbox.deliveries();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d.status == DeliveryStatus::Answered(200)
        && d.event == "tips.received"
        && d.account_id.as_deref() == Some(account.as_str())
        && d.idempotency_key.as_deref() == Some(key)
        && d.body.as_bytes() == post.body));
}

#[tokio::test]
async fn a_redelivery_repeats_the_body_and_key_and_names_the_original() {
    let sandbox = sandbox().await;
    let receiver = Receiver::start().await;
    let (account, fan) =
        sandbox.inspect(|data| (data.accounts[0].id.clone(), data.accounts[0].fans[1].id));
    let hook = register(
        &sandbox,
        json!({
            "endpoint_url": format!("{}/hook", receiver.url), "events": ["tips.received"],
            "account_scope": "global", "signing_secret": SECRET,
        }),
    )
    .await;
    let (_, tip) = control(
        &sandbox,
        &format!("/_sandbox/accounts/{account}/tips"),
        json!({"fan_id": fan.to_string(), "amount": 25.5}),
    )
    .await;
    let original = tip["deliveries"][0]["id"].as_str().unwrap().to_owned();
    let key = tip["deliveries"][0]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, again) = control(
        &sandbox,
        &format!("/_sandbox/webhooks/deliveries/{original}/redeliver"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    let redelivery = &again["deliveries"][0];
    assert_eq!(again["deliveries"].as_array().unwrap().len(), 1);
    assert_ne!(redelivery["id"], original.as_str());
    assert_eq!(redelivery["webhook_id"], hook.as_str());
    assert_eq!(redelivery["idempotency_key"], key.as_str());
    assert_eq!(redelivery["redelivery_of"], original.as_str());
    assert_eq!(redelivery["status"], 200);

    let got = receiver.at("/hook");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body, got[0].body, "the stored body, verbatim");
    assert!(verifies(&got[1]));
    assert_eq!(got[1].header("x-ofapi-idempotency-key"), Some(key.as_str()));
    assert_eq!(
        got[1].header("x-ofapi-redelivery-of"),
        Some(original.as_str())
    );
    assert_eq!(got[0].header("x-ofapi-redelivery-of"), None);
    assert_eq!(
        sandbox.deliveries()[1].redelivery_of.as_deref(),
        Some(original.as_str())
    );

    let (status, missing) = control(
        &sandbox,
        "/_sandbox/webhooks/deliveries/dlv_0/redeliver",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, missing),
        (
            404,
            json!({"error": "NOT_FOUND", "message": "Delivery not found."})
        )
    );
}

#[tokio::test]
async fn fans_write_and_subscribe_through_the_control_routes() {
    let sandbox = sandbox().await;
    let receiver = Receiver::start().await;
    let (account, fan, price) = sandbox.inspect(|data| {
        let a = &data.accounts[0];
        (a.id.clone(), a.fans[2].id, a.subscribe_price)
    });
    register(
        &sandbox,
        json!({
            "endpoint_url": format!("{}/hook", receiver.url),
            "events": ["messages.received", "subscriptions.new"],
            "account_scope": "global", "signing_secret": SECRET,
        }),
    )
    .await;
    let unread = |sandbox: &Sandbox, fan: i64| {
        sandbox.inspect(|data| {
            data.accounts[0]
                .chats
                .iter()
                .find(|c| c.fan_id == fan)
                .map_or(0, |c| c.unread)
        })
    };
    let before = unread(&sandbox, fan);

    let (status, answer) = control(
        &sandbox,
        &format!("/_sandbox/accounts/{account}/chats/{fan}/fan-message"),
        json!({"text": "Are you online? 😊"}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let message = &answer["message"];
    assert_eq!(message["text"], "Are you online? 😊");
    assert_eq!(message["isSentByMe"], false);
    assert_eq!(message["fromUser"]["id"], fan);
    assert_eq!(unread(&sandbox, fan), before + 1);
    assert_eq!(answer["deliveries"][0]["event"], "messages.received");
    let received = &receiver.at("/hook")[0];
    assert!(verifies(received));
    assert_eq!(received.json()["event"], "messages.received");
    assert_eq!(received.json()["payload"], *message);
    // The API sees it as the newest message, from the fan.
    let listed = client(&sandbox.url())
        .call(
            "chat-messages.list-chat-messages",
            &args(json!({"account": account, "chat_id": fan.to_string()})),
        )
        .await
        .unwrap();
    assert_eq!(listed.data[0]["id"], message["id"]);

    // The Rust twin does the same.
    let twin = sandbox
        .fan_message(&account, fan, "Hello from the twin")
        .await
        .expect("the fan is the account's");
    assert!(twin.from_fan);
    assert_eq!(unread(&sandbox, fan), before + 2);
    assert_eq!(receiver.at("/hook").len(), 2);
    assert!(sandbox.fan_message(&account, 1, "stranger").await.is_none());
    assert!(
        sandbox
            .fan_message("acct_notours", fan, "x")
            .await
            .is_none()
    );

    // A new subscriber: a fan, a payment, the "fans" list, and the event.
    let fans_before = sandbox.inspect(|data| data.accounts[0].fans.len());
    let (status, answer) = control(
        &sandbox,
        &format!("/_sandbox/accounts/{account}/subscribers"),
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let new_fan = answer["fan"]["id"].as_i64().unwrap();
    assert_eq!(answer["fan"]["subscribedOn"], true);
    let (fans_after, in_list, paid) = sandbox.inspect(|data| {
        let a = &data.accounts[0];
        (
            a.fans.len(),
            a.user_lists
                .iter()
                .any(|l| l.kind == "fans" && l.user_ids.contains(&new_fan)),
            a.transactions[0].fan_id == new_fan && a.transactions[0].gross == price,
        )
    });
    assert_eq!(fans_after, fans_before + 1);
    assert!(in_list && paid);
    let received = receiver.at("/hook")[2].clone();
    let body = received.json();
    assert_eq!(body["event"], "subscriptions.new");
    assert_eq!(
        shape(&body["payload"]),
        shape(&fixture_payload("subscriptions.new"))
    );
    assert_eq!(
        body["payload"]["replacePairs"]["{PRICE}"],
        format!("${price:.2}")
    );
    match OfEvent::from_envelope(&Envelope::parse(&received.body).unwrap()).unwrap() {
        OfEvent::NewSubscriber { fan_id, .. } => assert_eq!(fan_id, Some(new_fan.to_string())),
        other => panic!("{other:?}"),
    }
    // A given id is used; the same id twice is refused.
    let (status, answer) = control(
        &sandbox,
        &format!("/_sandbox/accounts/{account}/subscribers"),
        json!({"fan_id": 777_000_001}),
    )
    .await;
    assert_eq!(
        (status, answer["fan"]["id"].as_i64()),
        (201, Some(777_000_001))
    );
    let (status, answer) = control(
        &sandbox,
        &format!("/_sandbox/accounts/{account}/subscribers"),
        json!({"fan_id": 777_000_001}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        answer["message"],
        "User 777000001 is already a fan of this account."
    );
}

#[tokio::test]
async fn any_event_can_be_emitted_and_its_scope_is_respected() {
    let sandbox = sandbox().await;
    let receiver = Receiver::start().await;
    let (first, second) =
        sandbox.inspect(|data| (data.accounts[0].id.clone(), data.accounts[1].id.clone()));
    let url = &receiver.url;
    register(
        &sandbox,
        json!({
            "endpoint_url": format!("{url}/health"),
            "events": ["accounts.otp_code_required", "users.typing", "data_exports.completed"],
            "account_scope": "inclusive", "account_ids": [second], "signing_secret": SECRET,
        }),
    )
    .await;
    register(
        &sandbox,
        json!({"endpoint_url": format!("{url}/fail"), "events": ["accounts.otp_code_required"], "account_scope": "global"}),
    )
    .await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    register(
        &sandbox,
        json!({"endpoint_url": format!("http://{closed}/nobody"), "events": ["accounts.otp_code_required"], "account_scope": "global"}),
    )
    .await;

    let otp = fixture_payload("accounts.otp_code_required");
    let (status, answer) = control(
        &sandbox,
        "/_sandbox/webhooks/emit",
        json!({"event": "accounts.otp_code_required", "account_id": second, "payload": otp}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let statuses: Vec<(Value, bool)> = answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["status"].clone(), d["error"].is_string()))
        .collect();
    assert_eq!(
        statuses,
        [
            (json!(200), false),
            (json!(500), false),
            (Value::Null, true)
        ],
        "{answer}"
    );
    assert!(matches!(
        sandbox.deliveries()[2].status,
        DeliveryStatus::Failed(_)
    ));
    let health = receiver.at("/health");
    assert_eq!(health.len(), 1);
    assert!(verifies(&health[0]));
    assert_eq!(health[0].json()["payload"], otp);
    assert!(matches!(
        OfEvent::from_envelope(&Envelope::parse(&health[0].body).unwrap()).unwrap(),
        OfEvent::AccountHealth {
            problem: AccountProblem::OtpRequired,
            ..
        }
    ));

    // Out of the inclusive scope: only the global ones get it.
    let (_, answer) = control(
        &sandbox,
        "/_sandbox/webhooks/emit",
        json!({"event": "accounts.otp_code_required", "account_id": first, "payload": otp}),
    )
    .await;
    assert_eq!(answer["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(receiver.at("/health").len(), 1);

    // Team-level events have no account_id; the payload's account_ids scope them.
    let (_, answer) = control(
        &sandbox,
        "/_sandbox/webhooks/emit",
        json!({"event": "data_exports.completed", "payload": {"account_ids": [first]}}),
    )
    .await;
    assert_eq!(answer["deliveries"], json!([]));
    control(
        &sandbox,
        "/_sandbox/webhooks/emit",
        json!({"event": "data_exports.completed", "payload": {"account_ids": [first, second]}}),
    )
    .await;
    let export = receiver.at("/health")[1].clone();
    assert_eq!(
        export.json(),
        json!({"event": "data_exports.completed", "payload": {"account_ids": [first, second]}})
    );

    // Ephemeral events carry no idempotency key.
    let (_, answer) = control(
        &sandbox,
        "/_sandbox/webhooks/emit",
        json!({"event": "users.typing", "account_id": second, "payload": {"user": {"id": 1}}}),
    )
    .await;
    assert_eq!(answer["deliveries"][0]["idempotency_key"], Value::Null);
    let typing = receiver.at("/health")[2].clone();
    assert_eq!(typing.header("x-ofapi-idempotency-key"), None);
    assert!(verifies(&typing));
}

#[tokio::test]
async fn control_routes_need_the_key_and_refuse_bad_input_clearly() {
    let sandbox = sandbox().await;
    let (account, fan) =
        sandbox.inspect(|data| (data.accounts[0].id.clone(), data.accounts[0].fans[0].id));
    let tips = format!("/_sandbox/accounts/{account}/tips");
    let (status, _) = control_with(
        &sandbox,
        reqwest::Method::POST,
        &tips,
        None,
        json!({"fan_id": fan, "amount": 5}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = control_with(
        &sandbox,
        reqwest::Method::POST,
        &tips,
        Some("wrong"),
        json!({"fan_id": fan, "amount": 5}),
    )
    .await;
    assert_eq!(status, 401);
    let transactions = sandbox.inspect(|data| data.accounts[0].transactions.len());

    for (path, body, status, message) in [
        (
            tips.as_str(),
            json!({"amount": 5}),
            422,
            "The fan_id field is required.",
        ),
        (
            tips.as_str(),
            json!({"fan_id": "abc", "amount": 5}),
            422,
            "The fan_id must be a user ID.",
        ),
        (
            tips.as_str(),
            json!({"fan_id": fan, "amount": -5}),
            422,
            "The amount must be dollars between 0.01 and 10000, with at most two decimals.",
        ),
        (
            tips.as_str(),
            json!({"fan_id": fan, "amount": 1.234}),
            422,
            "The amount must be dollars between 0.01 and 10000, with at most two decimals.",
        ),
        (
            tips.as_str(),
            json!({"fan_id": 12345, "amount": 5}),
            404,
            "Fan not found.",
        ),
        (
            "/_sandbox/accounts/acct_notours/tips",
            json!({"fan_id": fan, "amount": 5}),
            403,
            "The account acct_notours is not connected to your team.",
        ),
        (
            &format!("/_sandbox/accounts/{account}/chats/{fan}/fan-message"),
            json!({"text": " "}),
            422,
            "The text field is required.",
        ),
        (
            &format!("/_sandbox/accounts/{account}/chats/nope/fan-message"),
            json!({"text": "hi"}),
            422,
            "The fan_id `nope` is not a valid ID.",
        ),
        (
            "/_sandbox/webhooks/emit",
            json!({"payload": {}}),
            422,
            "The event field is required.",
        ),
        (
            "/_sandbox/nothing",
            json!({}),
            404,
            "The route /_sandbox/nothing could not be found.",
        ),
    ] {
        let (got, answer) = control(&sandbox, path, body.clone()).await;
        assert_eq!(
            (got, answer["message"].as_str()),
            (status, Some(message)),
            "{path} {body}"
        );
    }
    let (status, answer) = control_with(
        &sandbox,
        reqwest::Method::GET,
        &tips,
        Some(KEY),
        json!(null),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(
        answer["message"],
        format!("The GET method is not supported for route {tips}. Supported methods: POST.")
    );
    // Not JSON at all.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let broken = reqwest::Client::new()
        .post(format!("{}{tips}", sandbox.url()))
        .bearer_auth(KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status().as_u16(), 400);
    assert_eq!(
        sandbox.inspect(|data| data.accounts[0].transactions.len()),
        transactions,
        "nothing refused was recorded"
    );
    assert_eq!(sandbox.credits_used(), 0);
    assert!(sandbox.deliveries().is_empty());
}

#[tokio::test]
async fn a_message_sent_through_the_api_raises_messages_sent_after_the_answer() {
    let sandbox = sandbox().await;
    let receiver = Receiver::start().await;
    let (account, fan) =
        sandbox.inspect(|data| (data.accounts[0].id.clone(), data.accounts[0].fans[0].id));
    register(
        &sandbox,
        json!({
            "endpoint_url": format!("{}/sent", receiver.url),
            "events": ["messages.sent"],
            "account_scope": "global", "signing_secret": SECRET,
        }),
    )
    .await;
    let sent = client(&sandbox.url())
        .call(
            "chat-messages.send-message",
            &args(json!({"account": account, "chat_id": fan.to_string(), "text": "Thanks for the tip!"})),
        )
        .await
        .unwrap();
    for _ in 0..100 {
        if receiver.count() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let received = receiver.at("/sent");
    assert_eq!(received.len(), 1);
    assert!(verifies(&received[0]));
    let body = received[0].json();
    assert_eq!(body["event"], "messages.sent");
    assert_eq!(body["account_id"], account);
    assert_eq!(body["payload"]["id"], sent.data["id"]);
    assert_eq!(body["payload"]["isSentByMe"], true);
    // The delivery log says how it went.
    for _ in 0..100 {
        if sandbox.deliveries().iter().any(|d| {
            d.event == "messages.sent"
                && d.status != agencybot_ofapi::sandbox::DeliveryStatus::Pending
        }) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let logged = sandbox.deliveries();
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0].status,
        agencybot_ofapi::sandbox::DeliveryStatus::Answered(200)
    );
}
