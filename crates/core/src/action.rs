use crate::{ConversationKey, Timestamp};

/// A write the bot proposed and that waits for the asking user's yes.
///
/// States: `Pending` → `Confirmed` → `Executed` | `Failed`, or
/// `Pending` → `Declined` | `Expired`. Leaving `Pending` is atomic in the
/// store, so two racing confirmations execute the action once.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAction {
    pub id: i64,
    pub team_id: i64,
    pub conversation: ConversationKey,
    /// Platform user ID of the person who asked; only they may confirm.
    pub requested_by: String,
    /// What runs on confirmation: an API endpoint ID or an internal tool name.
    pub tool: String,
    /// Arguments, already validated, exactly as they will be executed.
    pub arguments: serde_json::Value,
    /// Plain-language description of exactly what will happen.
    pub summary: String,
    pub state: ActionState,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    /// API response or tool output once executed.
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// Everything needed to propose a write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPendingAction {
    pub team_id: i64,
    pub conversation: ConversationKey,
    pub requested_by: String,
    pub tool: String,
    pub arguments: serde_json::Value,
    pub summary: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionState {
    Pending,
    Confirmed,
    Executed,
    Failed,
    Declined,
    Expired,
}

named_enum!(ActionState, "action state", {
    Pending => "pending",
    Confirmed => "confirmed",
    Executed => "executed",
    Failed => "failed",
    Declined => "declined",
    Expired => "expired",
});

impl ActionState {
    /// No further transition is possible.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ActionState::Executed
                | ActionState::Failed
                | ActionState::Declined
                | ActionState::Expired
        )
    }
}
