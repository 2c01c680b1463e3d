//! The confirmation gate: a write becomes a pending action that the person
//! who asked must confirm (or, unattended, runs only when the task was
//! approved for exactly that write); who may propose and confirm it is
//! decided per endpoint and checked again when the yes arrives.

use agencybot_core::{ActionState, NewPendingAction, PendingAction, ProposedAction, Role};
use agencybot_ofapi::{Access, Catalog, Endpoint};
use agencybot_store::{ActionOutcome, ConfirmRefusal};
use serde_json::{Value, json};

use super::meter::Meter;
use super::{CallResult, Ending, Engine, EngineError, Mode, Turn};
use crate::confirm::{Decision, Selection};

/// Begins the answer that asks which of several waiting requests is meant;
/// numbers typed after it refer to its list.
const WHICH_LIST: &str = "requests are waiting, from different messages";

/// What became of a confirmed or pre-approved write.
pub(super) enum Performed {
    Done(Value),
    /// Refused: nothing happened.
    Failed(String),
    /// Sent, effect unknown; `check` is the read that shows whether it happened.
    Unknown {
        error: String,
        check: String,
    },
}

impl Performed {
    /// What the model reads about it.
    fn for_model(&self) -> Value {
        match self {
            Performed::Done(result) => json!({"status": "done", "result": result}),
            Performed::Failed(error) => json!({"status": "failed", "error": error}),
            Performed::Unknown { error, check } => json!({
                "status": "outcome_unknown",
                "error": error,
                "check_with": check,
                "note": "It may have happened. Do not offer to send it again; tell the user to check first, with the read named in check_with.",
            }),
        }
    }
}

impl Engine {
    /// The least role that may propose and confirm `tool`, or why the bot
    /// never makes that change.
    pub(super) fn authority(&self, tool: &str) -> Result<Role, String> {
        if let Some(endpoint) = Catalog::onlyfans().get(tool) {
            if endpoint.denied_by_default
                && !self.config.allowed_endpoints.iter().any(|id| id == tool)
            {
                return Err(format!(
                    "“{}” is turned off for agencybot; an owner can allow it by adding `{}` to `[ofapi] allow_endpoints` in the config",
                    endpoint.title, endpoint.id
                ));
            }
            return Ok(endpoint.confirm_role.max(Role::Member));
        }
        match self.tools.get(tool) {
            Some(internal) => Ok(internal.required_role().max(Role::Member)),
            None => Err(format!("`{tool}` is no longer available")),
        }
    }

    pub(super) async fn gate(
        &self,
        turn: &Turn<'_>,
        tool: &str,
        arguments: Value,
        summary: String,
    ) -> CallResult {
        let request = turn.request;
        let needed = match self.authority(tool) {
            Ok(needed) => needed,
            Err(reason) => return CallResult::error(format!("not proposed: {reason}")),
        };
        if let Mode::Unattended { allowed_writes } = &request.mode {
            if !allowed_writes.iter().any(|w| w.permits(tool, &arguments)) {
                return CallResult::skipped(summary, "not approved for this task".into());
            }
            if request.role < needed {
                return CallResult::skipped(
                    summary,
                    format!(
                        "the task's creator is now {} and this change needs {needed}",
                        request.role
                    ),
                );
            }
            // Recorded as confirmed before it is sent, so an instance that
            // takes over an interrupted run knows a write may have gone out.
            let now = self.clock.now();
            let record = NewPendingAction {
                team_id: request.team.id,
                conversation: request.conversation.clone(),
                requested_by: request.user_id.clone(),
                tool: tool.to_owned(),
                arguments: arguments.clone(),
                summary: summary.clone(),
                expires_at: now + self.config.confirmation_ttl,
            };
            let recorded = match self.store.create_pending_action(&record, now).await {
                Ok(action) => self
                    .store
                    .confirm_action(action.id, &request.conversation, &request.user_id, now)
                    .await
                    .ok()
                    .and_then(Result::ok),
                Err(_) => None,
            };
            let Some(recorded) = recorded else {
                return CallResult::skipped(
                    summary,
                    "it could not be recorded before sending, so it was not sent".into(),
                );
            };
            let (performed, credits, integration_calls) =
                self.perform(turn, tool, &arguments).await;
            let outcome = match &performed {
                Performed::Done(result) => ActionOutcome::Executed(result),
                Performed::Failed(error) => ActionOutcome::Failed(error),
                Performed::Unknown { error, .. } => ActionOutcome::Unknown(error),
            };
            let _ = self
                .store
                .finish_action(recorded.id, outcome, self.clock.now())
                .await;
            let done = match &performed {
                Performed::Done(_) => Some(summary.clone()),
                Performed::Failed(_) => None,
                Performed::Unknown { check, .. } => Some(format!(
                    "{summary} (sent, but no answer came back: check with {check})"
                )),
            };
            return CallResult {
                credits,
                integration_calls,
                executed: done,
                ..CallResult::content(performed.for_model())
            };
        }
        if request.role < needed {
            return CallResult::error(format!(
                "not proposed: this change needs the {needed} role and this user is {}; tell them an {needed} or owner has to ask for it",
                request.role
            ));
        }
        let summary = if turn.read_outside_text() {
            format!(
                "{summary} ⚠️ Proposed after reading text from outside the team (OnlyFans messages or captions, web pages): make sure this is what you asked for."
            )
        } else {
            summary
        };
        let now = self.clock.now();
        let action = NewPendingAction {
            team_id: request.team.id,
            conversation: request.conversation.clone(),
            requested_by: request.user_id.clone(),
            tool: tool.to_owned(),
            arguments,
            summary: summary.clone(),
            expires_at: now + self.config.confirmation_ttl,
        };
        match self.store.create_pending_action(&action, now).await {
            Ok(action) => CallResult {
                proposal: Some(ProposedAction {
                    id: action.id,
                    summary: summary.clone(),
                }),
                ..CallResult::content(json!({
                    "status": "awaiting_confirmation",
                    "action_id": action.id,
                    "summary": summary,
                    "note": "Not done yet: the user is being asked to confirm.",
                }))
            },
            Err(err) => CallResult::error(format!("could not record the proposed change: {err}")),
        }
    }

    /// Runs a confirmed (or pre-approved) write once. Never retried. Gives
    /// what became of it, the credits it used and the integrations it called.
    pub(super) async fn perform(
        &self,
        turn: &Turn<'_>,
        tool: &str,
        arguments: &Value,
    ) -> (Performed, i64, Vec<String>) {
        // Whatever it changes, later reads must see.
        turn.reads.forget();
        self.recent_reads.forget_team(turn.request.team.id);
        if let Some(endpoint) = Catalog::onlyfans().get(tool) {
            let args = arguments.as_object().cloned().unwrap_or_default();
            let (performed, credits) = match self.ofapi.call(&endpoint.id, &args).await {
                Ok(response) => (
                    Performed::Done(crate::compact::for_model(response.data, false)),
                    response.cost.credits_used,
                ),
                Err(err) if err.effect_unknown() => (
                    Performed::Unknown {
                        error: err.message,
                        check: check_read(endpoint),
                    },
                    err.credits_used,
                ),
                Err(err) => (Performed::Failed(err.message), err.credits_used),
            };
            return (performed, credits, Vec::new());
        }
        match self.tools.get(tool) {
            Some(internal) => {
                let credits_left = self.credits_left(&turn.request.team).await;
                let result = self
                    .run_tool(
                        turn,
                        internal.as_ref(),
                        arguments.clone(),
                        credits_left,
                        true,
                    )
                    .await;
                let error = result.content.get("error").and_then(Value::as_str);
                let performed = match (result.effect_unknown, error) {
                    (Some(check), error) => Performed::Unknown {
                        error: error.unwrap_or("no answer came back").to_owned(),
                        check,
                    },
                    (None, Some(error)) => Performed::Failed(error.to_owned()),
                    (None, None) => Performed::Done(result.content),
                };
                (performed, result.credits, result.integration_calls)
            }
            None => (
                Performed::Failed(format!("`{tool}` is no longer available")),
                0,
                Vec::new(),
            ),
        }
    }

    /// Applies a yes or no: to exactly the actions a button showed
    /// (`chosen`), or, typed, to the actions of the one message it answers.
    pub(super) async fn decide(
        &self,
        turn: &Turn<'_>,
        chosen: Option<Vec<i64>>,
        decision: Decision,
        model: &str,
        meter: &mut Meter,
    ) -> Result<Ending, EngineError> {
        let request = turn.request;
        let (approve, selection) = match decision {
            Decision::Approve(selection) => (true, selection),
            Decision::Decline(selection) => (false, selection),
        };
        if approve && !request.role.can_confirm_writes() {
            return Ok(Ending::refused(format!(
                "Your role ({}) can't approve changes, so nothing was done. Ask a member, admin or owner of {}.",
                request.role, request.team.name
            )));
        }
        let now = self.clock.now();
        let conversation = self
            .store
            .conversation(request.team.id, &request.conversation, now)
            .await?;
        let targets = match chosen {
            Some(ids) => ids,
            None => {
                let open: Vec<PendingAction> = self
                    .store
                    .open_actions(&request.conversation, now)
                    .await?
                    .into_iter()
                    .filter(|a| a.requested_by == request.user_id)
                    .collect();
                match self.select(conversation.id, &open, selection).await? {
                    Ok(ids) => ids,
                    Err(question) => {
                        self.remember(
                            conversation.id,
                            &[json!({"role": "assistant", "content": question})],
                        )
                        .await?;
                        return Ok(Ending::refused(question));
                    }
                }
            }
        };
        let mut lines = Vec::new();
        let mut notes = Vec::new();
        let mut executed = Vec::new();
        let mut performed_count = 0;
        for id in targets {
            if approve && let Some(refusal) = self.unauthorized(turn, id).await? {
                lines.push(refusal);
                continue;
            }
            let decided = if approve {
                self.store
                    .confirm_action(id, &request.conversation, &request.user_id, now)
                    .await?
            } else {
                self.store
                    .decline_action(id, &request.conversation, &request.user_id, now)
                    .await?
            };
            match decided {
                Ok(action) if approve => {
                    if let Some(refusal) = self.budget_refusal(&request.team, 0).await? {
                        self.store
                            .finish_action(action.id, ActionOutcome::Failed(&refusal), now)
                            .await?;
                        lines.push(format!("Not done: {refusal} — {}", action.summary));
                        continue;
                    }
                    let (performed, credits, integration_calls) =
                        self.perform(turn, &action.tool, &action.arguments).await;
                    performed_count += 1;
                    self.charge_credits(&request.team, meter, credits);
                    meter.count_integration_calls(integration_calls);
                    let finished = self.clock.now();
                    let outcome = match &performed {
                        Performed::Done(result) => ActionOutcome::Executed(result),
                        Performed::Failed(error) => ActionOutcome::Failed(error),
                        Performed::Unknown { error, .. } => ActionOutcome::Unknown(error),
                    };
                    self.store
                        .finish_action(action.id, outcome, finished)
                        .await?;
                    match &performed {
                        Performed::Done(_) => executed.push(action.summary.clone()),
                        Performed::Unknown { check, .. } => {
                            executed.push(format!("{} (outcome unknown)", action.summary));
                            lines.push(unknown_text(&action.summary, check));
                        }
                        Performed::Failed(_) => {}
                    }
                    notes.push(format!(
                        "The user confirmed #{}: {}. Outcome: {}",
                        action.id,
                        action.summary,
                        performed.for_model()
                    ));
                }
                Ok(action) => {
                    lines.push(format!("Cancelled — nothing was done: {}", action.summary));
                    notes.push(format!(
                        "The user declined #{}: {}. Nothing was done.",
                        action.id, action.summary
                    ));
                }
                Err(refusal) => {
                    if refusal == ConfirmRefusal::Expired {
                        self.store.mark_notified(id, now).await?;
                    }
                    lines.push(refusal_text(&refusal, self.config.confirmation_ttl));
                }
            }
        }
        if notes.is_empty() && lines.is_empty() {
            return Ok(Ending::refused(
                "There's nothing waiting for your confirmation.".into(),
            ));
        }
        if !notes.is_empty() {
            // A note from agencybot, not the user's words: API answers never
            // gain the user's authority.
            self.remember(
                conversation.id,
                &[json!({"role": "system", "content": format!("[agencybot] {}", notes.join("\n"))})],
            )
            .await?;
        }
        if performed_count == 0 {
            // Nothing ran: no need to ask the model to report.
            let text = lines.join("\n");
            self.remember(
                conversation.id,
                &[json!({"role": "assistant", "content": text})],
            )
            .await?;
            return Ok(if notes.is_empty() {
                Ending::refused(text)
            } else {
                Ending::answered(text)
            });
        }
        // Something ran: the model reports the outcome in its own words.
        let messages = self
            .conversation_messages(turn, &conversation, meter)
            .await?;
        let first_new = messages.len();
        let mut ending = self
            .run_and_remember(turn, conversation.id, messages, first_new, model, meter)
            .await?;
        if !lines.is_empty() {
            match &mut ending.answer {
                Some(answer) => {
                    answer.push_str("\n\n");
                    answer.push_str(&lines.join("\n"));
                }
                None => ending.answer = Some(lines.join("\n")),
            }
        }
        ending.executed.extend(executed);
        Ok(ending)
    }

    /// Which actions a typed answer means, or the question to ask when it
    /// could mean actions from more than one message.
    async fn select(
        &self,
        conversation_id: i64,
        open: &[PendingAction],
        selection: Selection,
    ) -> Result<Result<Vec<i64>, String>, EngineError> {
        let one_message = open.windows(2).all(|pair| pair[0].batch == pair[1].batch);
        let listed = one_message || self.asked_which(conversation_id).await?;
        match selection {
            Selection::All if one_message => Ok(Ok(open.iter().map(|a| a.id).collect())),
            Selection::Numbers(numbers) if listed => {
                let mut ids = Vec::new();
                for number in numbers {
                    match open.get(number - 1) {
                        Some(action) => ids.push(action.id),
                        None => {
                            return Ok(Err(format!(
                                "There is no request number {number}; {} waiting. Nothing was done.",
                                open.len()
                            )));
                        }
                    }
                }
                Ok(Ok(ids))
            }
            _ => Ok(Err(which_text(open, self.config.confirmation_ttl))),
        }
    }

    /// Whether the latest thing the bot said is the list of waiting requests.
    async fn asked_which(&self, conversation_id: i64) -> Result<bool, EngineError> {
        let history = self.store.history(conversation_id).await?;
        Ok(history
            .iter()
            .rev()
            .find(|m| m.role == "assistant")
            .and_then(|m| m.body.get("content").and_then(Value::as_str))
            .is_some_and(|text| text.contains(WHICH_LIST)))
    }

    /// Why the asking user may no longer approve action `id` (its endpoint
    /// needs a higher role than theirs now, or is turned off), having
    /// cancelled it; `None` when they may, or when the store will refuse
    /// the confirmation anyway.
    async fn unauthorized(&self, turn: &Turn<'_>, id: i64) -> Result<Option<String>, EngineError> {
        let request = turn.request;
        let Some(action) = self.store.pending_action(id).await? else {
            return Ok(None);
        };
        if action.state != ActionState::Pending
            || action.conversation != request.conversation
            || action.requested_by != request.user_id
        {
            return Ok(None);
        }
        let reason = match self.authority(&action.tool) {
            Ok(needed) if request.role >= needed => return Ok(None),
            Ok(needed) => format!(
                "this change needs the {needed} role and you are {}",
                request.role
            ),
            Err(reason) => reason,
        };
        let now = self.clock.now();
        let _ = self
            .store
            .decline_action(id, &request.conversation, &request.user_id, now)
            .await?;
        Ok(Some(format!(
            "Not done, and cancelled: {reason} — {}",
            action.summary
        )))
    }

    /// What the user has not been told yet: requests that expired, writes
    /// whose outcome became unknown when agencybot stopped. Each once.
    pub(super) async fn notices(&self, turn: &Turn<'_>) -> Result<Vec<String>, EngineError> {
        let request = turn.request;
        let now = self.clock.now();
        let unnoticed = self
            .store
            .take_unnoticed(&request.conversation, &request.user_id, now)
            .await?;
        Ok(unnoticed
            .iter()
            .map(|action| match action.state {
                ActionState::Unknown => {
                    let check = Catalog::onlyfans()
                        .get(&action.tool)
                        .map_or_else(|| "its list".to_owned(), check_read);
                    format!(
                        "⚠️ I stopped after you approved this and before OnlyFansAPI answered, so I don't know whether it happened: {}. Please check with {check} before asking again; I won't send it again on my own.",
                        action.summary
                    )
                }
                _ => format!(
                    "⏰ This request expired before it was confirmed, so nothing was done: {}. Ask again if you still want it.",
                    action.summary
                ),
            })
            .collect())
    }
}

/// The read that shows whether a write to `endpoint` happened: a list of
/// the same category.
fn check_read(endpoint: &Endpoint) -> String {
    let reads: Vec<&Endpoint> = Catalog::onlyfans()
        .endpoints()
        .iter()
        .filter(|e| e.category == endpoint.category && e.access == Access::Read)
        .collect();
    reads
        .iter()
        .find(|e| e.id.contains(".list-"))
        .or_else(|| reads.first())
        .map_or_else(
            || "the account on OnlyFans".to_owned(),
            |e| format!("“{}” ({})", e.title, e.id),
        )
}

fn unknown_text(summary: &str, check: &str) -> String {
    format!(
        "⚠️ I sent this but didn't hear back, so I don't know whether it happened: {summary}. Please check with {check} before asking again — I won't send it again on my own."
    )
}

/// "30 seconds", "1 minute", "10 minutes".
pub fn duration_text(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds();
    if seconds < 60 {
        format!("{seconds} second{}", if seconds == 1 { "" } else { "s" })
    } else {
        let minutes = duration.num_minutes();
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }
}

fn which_text(open: &[PendingAction], ttl: chrono::Duration) -> String {
    let mut text = format!(
        "{} {WHICH_LIST}, so tell me which you mean — nothing was done yet:\n",
        open.len()
    );
    for (index, action) in open.iter().enumerate() {
        text.push_str(&format!("{}. {}\n", index + 1, action.summary));
    }
    text.push_str(&format!(
        "Reply \"yes 1\", \"yes 1,2\" or \"no 2\". (Requests wait {}.)",
        duration_text(ttl)
    ));
    text
}

pub(super) fn confirmation_text(
    preface: Option<&str>,
    proposals: &[ProposedAction],
    ttl: chrono::Duration,
) -> String {
    let mut text = String::new();
    if let Some(preface) = preface.filter(|p| !p.trim().is_empty()) {
        text.push_str(preface.trim());
        text.push_str("\n\n");
    }
    text.push_str(crate::hub::PROPOSAL_HEADING);
    text.push('\n');
    if let [proposal] = proposals {
        text.push_str(&format!("• {}\n", proposal.summary));
        text.push_str(&format!(
            "Should I go ahead? Reply yes or no. (This expires in {}.)",
            duration_text(ttl)
        ));
    } else {
        for (index, proposal) in proposals.iter().enumerate() {
            text.push_str(&format!("{}. {}\n", index + 1, proposal.summary));
        }
        text.push_str(&format!(
            "Should I go ahead? Reply yes for all, \"yes 2\" for one, or no. (These expire in {}.)",
            duration_text(ttl)
        ));
    }
    text
}

fn refusal_text(refusal: &ConfirmRefusal, ttl: chrono::Duration) -> String {
    match refusal {
        ConfirmRefusal::Expired => format!(
            "That request expired (requests wait {}), so nothing was done. Ask again if you still want it.",
            duration_text(ttl)
        ),
        ConfirmRefusal::AlreadyDecided(ActionState::Executed | ActionState::Confirmed) => {
            "That was already done — I won't do it twice.".into()
        }
        ConfirmRefusal::AlreadyDecided(ActionState::Unknown) => {
            "That was already sent (its outcome is unknown) — I won't send it twice. Check it on the account first.".into()
        }
        ConfirmRefusal::AlreadyDecided(ActionState::Failed) => {
            "That was already tried and failed; I won't repeat it on its own. Ask again if you want another try.".into()
        }
        ConfirmRefusal::AlreadyDecided(ActionState::Declined) => {
            "That request was cancelled earlier; nothing was done.".into()
        }
        ConfirmRefusal::AlreadyDecided(state) => {
            format!("That request was already {state}; nothing more was done.")
        }
        ConfirmRefusal::OtherUser => {
            "Only the person who asked for this can confirm it; nothing was done.".into()
        }
        ConfirmRefusal::OtherConversation => {
            "That request belongs to another conversation; nothing was done.".into()
        }
        ConfirmRefusal::NotFound => "I can't find that request; nothing was done.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_under_a_minute_are_said_in_seconds() {
        assert_eq!(duration_text(chrono::Duration::seconds(30)), "30 seconds");
        assert_eq!(duration_text(chrono::Duration::seconds(60)), "1 minute");
        assert_eq!(duration_text(chrono::Duration::minutes(10)), "10 minutes");
        let proposal = ProposedAction {
            id: 1,
            summary: "Create Tracking Link".into(),
        };
        let text = confirmation_text(None, &[proposal], chrono::Duration::seconds(45));
        assert!(text.ends_with("(This expires in 45 seconds.)"), "{text}");
    }
}
