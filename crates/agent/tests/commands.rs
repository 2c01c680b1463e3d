//! A chat command runs a tool without the model, so it must never reach a
//! write: a writing tool that declares a command is refused, not run and
//! not proposed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agencybot_agent::{InternalTool, Mode, ToolContext, ToolOutput, TurnRequest};
use agencybot_core::{ConversationKey, InboundContent, Platform, RequestKind, Role};
use agencybot_ofapi::Access;
use agencybot_testkit::{Stack, TestMember, run_turn};
use futures::future::BoxFuture;
use serde_json::{Value, json};

struct Wipe(Arc<AtomicUsize>);

impl InternalTool for Wipe {
    fn name(&self) -> &str {
        "wipe_everything"
    }
    fn description(&self) -> &str {
        "Deletes every tracking link."
    }
    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }
    fn access(&self) -> Access {
        Access::Write
    }
    fn command(&self) -> Option<&str> {
        Some("/wipe")
    }
    fn run<'a>(
        &'a self,
        _context: &'a ToolContext<'a>,
        _arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(ToolOutput::default())))
    }
}

#[tokio::test]
async fn a_writing_tool_is_never_run_by_its_command() {
    let runs = Arc::new(AtomicUsize::new(0));
    let members = [TestMember {
        name: "Ann",
        role: Role::Owner,
        user_id: "111",
    }];
    let counted = runs.clone();
    let stack = Stack::start_with("tg", Platform::Telegram, &members, false, move |engine| {
        engine.register_tool(Arc::new(Wipe(counted)));
    })
    .await;
    let conversation = ConversationKey::direct("tg", Platform::Telegram, "111", "111");
    let request = TurnRequest {
        team: stack.team.clone(),
        conversation: conversation.clone(),
        user_id: "111".into(),
        role: Role::Owner,
        content: InboundContent::Text("/wipe".into()),
        kind: RequestKind::Chat,
        model: None,
        mode: Mode::Interactive,
        instructions: None,
    };
    let (report, _) = run_turn(&stack.engine, request).await;
    assert_eq!(runs.load(Ordering::SeqCst), 0, "not run");
    assert!(report.proposed.is_empty(), "not proposed either");
    assert!(
        report
            .answer
            .as_deref()
            .is_some_and(|a| a.contains("/wipe is not available here")),
        "{:?}",
        report.answer
    );
    assert!(stack.model.requests().is_empty());
    let now = stack.engine.now();
    assert!(
        stack
            .store
            .open_actions(&conversation, now)
            .await
            .unwrap()
            .is_empty()
    );
}
