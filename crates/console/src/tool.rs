//! `console_link`: a one-time sign-in link, sent straight to the asker in
//! a direct message. The link never passes through the model.

use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{Engine, InternalTool, Requester, ToolContext, ToolOutput};
use agencybot_ofapi::Access;
use futures::future::BoxFuture;
use serde_json::{Value, json};

pub const CONSOLE_LINK: &str = "console_link";

/// Offers `console_link` to the engine.
pub fn register(engine: &mut Engine, public_url: &str, link_ttl: Duration) {
    engine.register_tool(Arc::new(ConsoleLink {
        public_url: public_url.trim_end_matches('/').to_owned(),
        link_ttl,
    }));
}

struct ConsoleLink {
    public_url: String,
    link_ttl: Duration,
}

impl InternalTool for ConsoleLink {
    fn name(&self) -> &str {
        CONSOLE_LINK
    }

    fn description(&self) -> &str {
        "Sends the asker a one-time sign-in link to the web console (usage, tasks, skills, members) in this direct message. Use when someone asks for the console, the dashboard or /console. The link is sent by the tool itself: never repeat or invent one."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    // Signs the asker in to what their role already allows; changes made
    // in the console go through its own forms, role checks and audit log.
    fn access(&self) -> Access {
        Access::Read
    }

    fn offered<'a>(&'a self, requester: &'a Requester<'a>) -> BoxFuture<'a, bool> {
        // A scheduled run has no one to sign in.
        Box::pin(std::future::ready(requester.allowed_writes.is_none()))
    }

    fn command(&self) -> Option<&str> {
        Some("/console")
    }

    fn command_reply(&self, content: &Value) -> Option<String> {
        // Sent: the link is the answer. Not sent: why, in the tool's words.
        content
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        _arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            if context.conversation.user.is_none() {
                return Ok(ToolOutput::new(json!({
                    "sent": false,
                    "reason": "Sign-in links are only sent in a direct message. Ask the person to message the bot directly and ask for /console there.",
                })));
            }
            let member = context
                .store
                .member_by_user(
                    context.team.id,
                    context.conversation.platform,
                    context.user_id,
                )
                .await
                .map_err(|e| e.to_string())?;
            let Some(member) = member else {
                return Ok(ToolOutput::new(json!({
                    "sent": false,
                    "reason": "The console is for members of the team; this person is not one. An admin can add them.",
                })));
            };
            let link = crate::issue_link(
                context.store,
                &self.public_url,
                context.team.id,
                &member.name,
                context.now,
                self.link_ttl,
            )
            .await
            .map_err(|e| e.to_string())?;
            let minutes = self.link_ttl.as_secs().div_ceil(60);
            (context.send_text)(format!(
                "Your sign-in link to the agencybot console (works once, for {minutes} minutes):\n{link}"
            ));
            tracing::info!(team = context.team.id, "console: sign-in link sent");
            Ok(ToolOutput::new(json!({
                "sent": true,
                "note": "The link was sent in this chat already. Say it is there; do not write a link yourself.",
                "role": member.role.to_string(),
                "valid_minutes": minutes,
            })))
        })
    }
}
