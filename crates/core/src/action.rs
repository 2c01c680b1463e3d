use crate::{ConversationKey, Timestamp};

/// A write the bot proposed and that waits for the asking user's yes.
///
/// States: `Pending` → `Confirmed` → `Executed` | `Failed` | `Unknown`, or
/// `Pending` → `Declined` | `Expired`. Leaving `Pending` is atomic in the
/// store, so two racing confirmations execute the action once. `Unknown`
/// means the write was sent but its effect is not known (a timeout, a lost
/// connection, a crash before the answer): it is never sent again on its own.
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
    /// The first action id of the confirmation message that showed this
    /// one: a typed yes answers one message's actions, never several.
    pub batch: i64,
    /// When the user was told of an outcome they did not see happen
    /// (expiry, unknown outcome after a restart), so they are told once.
    pub notified_at: Option<Timestamp>,
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
    Unknown,
}

named_enum!(ActionState, "action state", {
    Pending => "pending",
    Confirmed => "confirmed",
    Executed => "executed",
    Failed => "failed",
    Declined => "declined",
    Expired => "expired",
    Unknown => "unknown",
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
                | ActionState::Unknown
        )
    }
}
