//! The webhook normaliser on the documented payload shapes
//! (`tests/fixtures/ofapi-webhooks/`) and on their traps.

use agencybot_ofapi::webhooks::{AccountProblem, Envelope, EventError, OfEvent};
use serde_json::{Value, json};

fn fixture(event: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/ofapi-webhooks/{event}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn normalise(body: &Value) -> Result<OfEvent, EventError> {
    OfEvent::from_envelope(&Envelope::parse(body.to_string().as_bytes()).unwrap())
}

#[test]
fn a_tip_names_the_fan_not_the_creator_and_counts_cents() {
    let event = normalise(&fixture("tips.received")).unwrap();
    assert_eq!(
        event,
        OfEvent::Tip {
            id: "72019384756".into(),
            fan_id: Some("482115630".into()),
            gross_cents: 15_000,
            net_cents: Some(12_000),
            at: Some("2026-11-20T21:14:07+00:00".into()),
        }
    );
    // Amounts as formatted strings are read the same way.
    let mut body = fixture("tips.received");
    body["payload"]["amountGross"] = json!("$150.00");
    body["payload"]["amountNet"] = json!("120");
    assert!(matches!(
        normalise(&body).unwrap(),
        OfEvent::Tip {
            gross_cents: 15_000,
            net_cents: Some(12_000),
            ..
        }
    ));
}

#[test]
fn a_tip_without_a_clean_amount_is_refused_never_guessed() {
    for amount in [
        json!("abc"),
        json!("$1,234.00"),
        json!("12 USD"),
        json!(-5),
        json!(null),
    ] {
        let mut body = fixture("tips.received");
        body["payload"]["amountGross"] = amount.clone();
        assert!(
            matches!(normalise(&body), Err(EventError::Amount { .. })),
            "{amount}"
        );
    }
    let mut body = fixture("tips.received");
    body["payload"]
        .as_object_mut()
        .unwrap()
        .remove("amountGross");
    assert_eq!(
        normalise(&body),
        Err(EventError::Missing("payload.amountGross"))
    );
    // No fan: still a tip, from an unknown fan (never the creator's id).
    let mut body = fixture("tips.received");
    body["payload"].as_object_mut().unwrap().remove("user");
    assert!(matches!(
        normalise(&body).unwrap(),
        OfEvent::Tip { fan_id: None, .. }
    ));
}

#[test]
fn a_ppv_unlock_reads_its_formatted_amount_and_finds_the_fan_in_the_link() {
    let event = normalise(&fixture("messages.ppv.unlocked")).unwrap();
    assert!(matches!(
        &event,
        OfEvent::PpvUnlocked { price_cents: 4_500, fan_id: Some(fan), .. } if fan == "482115630"
    ));
    let mut body = fixture("messages.ppv.unlocked");
    body["payload"].as_object_mut().unwrap().remove("user");
    assert!(matches!(
        normalise(&body).unwrap(),
        OfEvent::PpvUnlocked { fan_id: Some(fan), .. } if fan == "482115630"
    ));
    body["payload"]["replacePairs"]["{AMOUNT}"] = json!("$1,234.00");
    assert!(matches!(normalise(&body), Err(EventError::Amount { .. })));
}

#[test]
fn subscribers_and_account_problems_are_recognised() {
    assert!(matches!(
        normalise(&fixture("subscriptions.new")).unwrap(),
        OfEvent::NewSubscriber { key, fan_id: Some(fan), .. } if key == "72019380003" && fan == "482115630"
    ));
    for (event, problem) in [
        (
            "accounts.authentication_failed",
            AccountProblem::AuthenticationFailed,
        ),
        ("accounts.otp_code_required", AccountProblem::OtpRequired),
        (
            "accounts.face_otp_required",
            AccountProblem::FaceVerificationRequired,
        ),
        ("accounts.session_expired", AccountProblem::SessionExpired),
    ] {
        match normalise(&fixture(event)).unwrap() {
            OfEvent::AccountHealth { problem: got, .. } => assert_eq!(got, problem, "{event}"),
            other => panic!("{event}: {other:?}"),
        }
    }
    assert!(matches!(
        normalise(&fixture("accounts.authentication_failed")).unwrap(),
        OfEvent::AccountHealth { detail: Some(detail), .. } if detail.contains("Could not sign in")
    ));
}

#[test]
fn unknown_events_and_broken_bodies_never_panic() {
    assert_eq!(
        normalise(&json!({"event": "posts.liked", "account_id": "acct_1", "payload": {}})).unwrap(),
        OfEvent::Other {
            event: "posts.liked".into()
        }
    );
    assert!(matches!(
        Envelope::parse(b"{not json"),
        Err(EventError::NotJson(_))
    ));
    assert_eq!(
        Envelope::parse(br#"{"payload": {}}"#),
        Err(EventError::Missing("event"))
    );
    for payload in [
        json!(null),
        json!([]),
        json!("x"),
        json!({"user": "x", "id": {}}),
    ] {
        for event in [
            "tips.received",
            "messages.ppv.unlocked",
            "subscriptions.new",
            "accounts.otp_code_required",
        ] {
            let _ = normalise(&json!({"event": event, "account_id": "acct_1", "payload": payload}));
        }
    }
    let export = Envelope::parse(
        br#"{"event":"data_exports.completed","payload":{"account_ids":["acct_1","acct_2"]}}"#,
    )
    .unwrap();
    assert_eq!(export.accounts(), vec!["acct_1", "acct_2"]);
}

#[test]
fn a_chargeback_is_told_apart_from_an_ordinary_transaction() {
    // The same tip as tips.received, seen as a transaction: no event of its own.
    assert_eq!(
        normalise(&fixture("transactions.new")).unwrap(),
        OfEvent::Other {
            event: "transactions.new".into()
        }
    );
    let mut body = fixture("transactions.new");
    body["payload"]["type"] = json!("chargeback");
    body["payload"]["amount"] = json!(-150.0);
    assert_eq!(
        normalise(&body).unwrap(),
        OfEvent::Chargeback {
            id: "5e8a1f3c7b2d4a90e6f1b3c5d7".into(),
            fan_id: Some("482115630".into()),
            amount_cents: 15_000,
            at: Some("2026-11-20T21:14:07+00:00".into()),
        }
    );
    body["payload"]["amount"] = json!("a lot");
    assert!(matches!(normalise(&body), Err(EventError::Amount { .. })));
}
