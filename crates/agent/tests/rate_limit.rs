//! When OnlyFansAPI rate-limits a read or the model service a call (429
//! with `Retry-After`), the user hears why and for how long; a wait beyond
//! what a request waits ends it with when to try again, instead of minutes
//! of "On it…".

use std::time::Duration;

use agencybot_agent::{Mode, TurnRequest};
use agencybot_core::{
    ConversationKey, InboundContent, OutboundMessage, Platform, RequestKind, Role,
};
use agencybot_testkit::{Reply, Stack, Step, TestMember, run_turn};
use serde_json::json;

/// A stack whose account list is already cached, so the next API call is
/// the read the model asks for.
async fn stack() -> Stack {
    let members = [TestMember {
        name: "Ann",
        role: Role::Owner,
        user_id: "111",
    }];
    let stack = Stack::start("tg", Platform::Telegram, &members, false).await;
    stack.model.push(Reply::text("Hello."));
    let (report, _) = run_turn(&stack.engine, ask(&stack)).await;
    assert_eq!(report.answer.as_deref(), Some("Hello."));
    stack
}

fn ask(stack: &Stack) -> TurnRequest {
    TurnRequest {
        team: stack.team.clone(),
        conversation: ConversationKey::direct("tg", Platform::Telegram, "111", "111"),
        user_id: "111".into(),
        role: Role::Owner,
        content: InboundContent::Text("How much did we earn this week?".into()),
        kind: RequestKind::Chat,
        model: None,
        mode: Mode::Interactive,
        instructions: None,
    }
}

fn earnings_call(stack: &Stack) -> Reply {
    let account = stack.sandbox.inspect(|d| d.accounts[0].id.clone());
    Reply::tool(
        "call_api",
        json!({"endpoint": "statistics.get-earnings", "arguments": {
            "account": account, "start_date": "2026-11-13", "end_date": "2026-11-20"}}),
    )
}

#[tokio::test]
async fn a_short_rate_limit_is_named_in_the_progress_message_and_waited_out() {
    let stack = stack().await;
    stack.model.push(earnings_call(&stack));
    stack
        .model
        .push(Reply::text("You earned $1,234 this week."));
    stack.sandbox.throttle_next(Duration::from_secs(30));
    let started = std::time::Instant::now();
    let (report, events) = run_turn(&stack.engine, ask(&stack)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "the wait was waited out"
    );
    let progress: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            OutboundMessage::Progress(text) => Some(text),
            _ => None,
        })
        .collect();
    assert!(
        progress
            .iter()
            .any(|t| t.contains("wait 30 seconds") && t.contains("rate limit")),
        "{progress:?}"
    );
    assert_eq!(
        report.answer.as_deref(),
        Some("You earned $1,234 this week.")
    );
    assert_eq!(stack.model.remaining(), 0);
}

#[tokio::test]
async fn a_ten_minute_rate_limit_ends_the_turn_with_when_to_try_again() {
    let stack = stack().await;
    stack.model.push(earnings_call(&stack));
    stack.sandbox.throttle_next(Duration::from_secs(600));
    let started = std::time::Instant::now();
    let (report, _) = run_turn(&stack.engine, ask(&stack)).await;
    assert!(started.elapsed() < Duration::from_secs(20), "no long wait");
    let answer = report.answer.unwrap_or_default();
    assert!(
        answer.contains("rate limit asks to wait 10 minutes") && answer.contains("Try again after"),
        "{answer}"
    );
    assert_eq!(report.outcome, agencybot_core::UsageOutcome::Failed);
    assert_eq!(stack.model.requests().len(), 2, "no model call after it");
}

fn progress(events: &[OutboundMessage]) -> Vec<&String> {
    events
        .iter()
        .filter_map(|e| match e {
            OutboundMessage::Progress(text) => Some(text),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_model_rate_limit_is_named_in_the_progress_message_and_waited_out() {
    let stack = stack().await;
    stack.model.push(Step::RateLimited(2));
    stack
        .model
        .push(Reply::text("You earned $1,234 this week."));
    let started = std::time::Instant::now();
    let (report, events) = run_turn(&stack.engine, ask(&stack)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the wait was waited out"
    );
    let progress = progress(&events);
    assert!(
        progress.iter().any(
            |t| t.contains("AI model service asked me to wait 2 seconds")
                && t.contains("rate limit")
        ),
        "{progress:?}"
    );
    assert_eq!(
        report.answer.as_deref(),
        Some("You earned $1,234 this week.")
    );
    assert_eq!(
        stack.model.requests().len(),
        3,
        "asked again once after the wait"
    );
}

#[tokio::test]
async fn a_ten_minute_model_rate_limit_ends_the_turn_with_when_to_try_again() {
    let stack = stack().await;
    stack.model.push(Step::RateLimited(600));
    let started = std::time::Instant::now();
    let (report, events) = run_turn(&stack.engine, ask(&stack)).await;
    assert!(started.elapsed() < Duration::from_secs(20), "no long wait");
    let answer = report.answer.unwrap_or_default();
    assert!(
        answer.contains("AI model service's rate limit asks to wait 10 minutes")
            && answer.contains("Nothing was changed")
            && answer.contains("Try again after"),
        "{answer}"
    );
    assert!(
        progress(&events).iter().all(|t| !t.contains("wait")),
        "no wait was promised"
    );
    assert_eq!(report.outcome, agencybot_core::UsageOutcome::Failed);
    assert_eq!(stack.model.requests().len(), 2, "not asked again");
}
