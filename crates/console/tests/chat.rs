//! `console_link` in chat: the link goes straight into a direct message,
//! never through the model, and never into a group or to a stranger.
//! `/console` gets it without a model call; plain words go through the model.

use agencybot_agent::{Mode, TurnRequest};
use agencybot_core::{
    ConversationKey, InboundContent, OutboundMessage, Platform, RequestKind, Role,
};
use agencybot_testkit::{Reply, Stack, TestMember, last_tool_result, run_turn};
use serde_json::json;

async fn stack() -> Stack {
    let members = [TestMember {
        name: "Ann",
        role: Role::Viewer,
        user_id: "111",
    }];
    Stack::start_with("tg", Platform::Telegram, &members, true, |engine| {
        agencybot_console::register(
            engine,
            "https://bot.example.com/",
            std::time::Duration::from_secs(300),
        );
    })
    .await
}

fn request(stack: &Stack, user: &str, conversation: ConversationKey) -> TurnRequest {
    asking(stack, user, conversation, "/console")
}

fn asking(stack: &Stack, user: &str, conversation: ConversationKey, text: &str) -> TurnRequest {
    TurnRequest {
        team: stack.team.clone(),
        conversation,
        user_id: user.into(),
        role: Role::Viewer,
        content: InboundContent::Text(text.into()),
        kind: RequestKind::Chat,
        model: None,
        mode: Mode::Interactive,
        instructions: None,
    }
}

fn texts(events: &[OutboundMessage]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            OutboundMessage::Text(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_member_asking_in_words_gets_the_link_in_a_direct_message_and_the_model_does_not() {
    let stack = stack().await;
    stack.model.push(Reply::tool("console_link", json!({})));
    stack
        .model
        .push(Reply::text("Sent: the link is just above."));
    let dm = ConversationKey::direct("tg", Platform::Telegram, "111", "111");
    let words = asking(&stack, "111", dm, "can I open the dashboard?");
    let (_, events) = run_turn(&stack.engine, words).await;
    let texts = texts(&events);
    let link = texts
        .iter()
        .find(|t| t.contains("https://bot.example.com/console/sign-in?token="))
        .unwrap_or_else(|| panic!("{texts:?}"));
    assert!(link.contains("works once, for 5 minutes"), "{link}");
    let token = link.split("token=").nth(1).unwrap().trim();
    let requests = stack.model.requests();
    let result = last_tool_result(requests.last().unwrap());
    assert_eq!(result["sent"], true, "{result}");
    assert!(!serde_json::to_string(&requests).unwrap().contains(token));
}

#[tokio::test]
async fn the_console_command_sends_the_link_without_the_model() {
    let stack = stack().await;
    let dm = ConversationKey::direct("tg", Platform::Telegram, "111", "111");
    let mut command = request(&stack, "111", dm.clone());
    command.content = InboundContent::Text("/console@agency_bot".into());
    let (report, events) = run_turn(&stack.engine, command).await;
    let sent = texts(&events);
    assert_eq!(sent.len(), 1, "only the link: {sent:?}");
    assert!(
        sent[0].contains("https://bot.example.com/console/sign-in?token="),
        "{sent:?}"
    );
    assert!(stack.model.requests().is_empty(), "no model call");
    assert_eq!(
        (report.usage.prompt_tokens, report.usage.cost_usd),
        (0, 0.0)
    );
    assert!(report.usage_id.is_some(), "the request is recorded");

    // In a group, or for someone outside the team: why not, and no link.
    let group = ConversationKey {
        channel: "tg".into(),
        platform: Platform::Telegram,
        chat: "-100".into(),
        thread: None,
        user: None,
    };
    let (_, events) = run_turn(&stack.engine, request(&stack, "111", group)).await;
    let texts_in_group = texts(&events);
    assert!(
        texts_in_group.len() == 1 && texts_in_group[0].contains("only sent in a direct message"),
        "{texts_in_group:?}"
    );
    let stranger = ConversationKey::direct("tg", Platform::Telegram, "999", "999");
    let (_, events) = run_turn(&stack.engine, request(&stack, "999", stranger)).await;
    let texts_for_stranger = texts(&events);
    assert!(
        texts_for_stranger.len() == 1 && texts_for_stranger[0].contains("for members of the team"),
        "{texts_for_stranger:?}"
    );
    assert!(stack.model.requests().is_empty());
}

#[tokio::test]
async fn no_link_in_a_group_or_for_someone_outside_the_team() {
    let stack = stack().await;
    let group = ConversationKey {
        channel: "tg".into(),
        platform: Platform::Telegram,
        chat: "-100".into(),
        thread: None,
        user: None,
    };
    stack.model.push(Reply::tool("console_link", json!({})));
    stack.model.push(Reply::text("Ask me in a direct message."));
    let words = asking(&stack, "111", group, "send me the console link");
    let (_, events) = run_turn(&stack.engine, words).await;
    assert!(texts(&events).iter().all(|t| !t.contains("sign-in?token=")));
    let result = last_tool_result(stack.model.requests().last().unwrap());
    assert_eq!(result["sent"], false, "{result}");

    // The channel is open to everyone, but the console is for members.
    stack.model.push(Reply::tool("console_link", json!({})));
    stack
        .model
        .push(Reply::text("Only members can use the console."));
    let dm = ConversationKey::direct("tg", Platform::Telegram, "999", "999");
    let words = asking(&stack, "999", dm, "send me the console link");
    let (_, events) = run_turn(&stack.engine, words).await;
    assert!(texts(&events).iter().all(|t| !t.contains("sign-in?token=")));
    let result = last_tool_result(stack.model.requests().last().unwrap());
    assert_eq!(result["sent"], false, "{result}");
    assert_eq!(stack.model.remaining(), 0);
}
