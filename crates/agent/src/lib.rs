//! The turn engine: every message from every channel, and every scheduled
//! task run, goes through [`Engine::handle`].
//!
//! A request (team, conversation, user and role, text or a yes/no) becomes
//! a stream of [`OutboundMessage`](agencybot_core::OutboundMessage) events
//! (typing, "On it…", the answer, a confirmation request, files) and one
//! usage record. The model reaches the whole OnlyFansAPI catalog through
//! two tools (`find_api_endpoints`, `call_api`) plus a cheat sheet of common
//! endpoints in the system prompt, which keeps every call under a 3,000-token
//! budget of prompt and tool schemas.
//!
//! Key design choice: the model never performs a write. A write call becomes
//! a pending action in the store with a plain summary; it runs only when the
//! same user, in the same conversation, says yes before it expires, and the
//! store's atomic confirmation makes it run once however often yes is said.
//! Nothing in a tool result can confirm: confirmations arrive only as the
//! user's own input.

mod builtin;
mod compact;
mod confirm;
mod discovery;
mod engine;
mod hub;
mod lease;
pub mod markup;
mod memory;
pub mod metrics;
mod model;
mod prompt;
pub mod reply;
mod status;
pub mod tokens;
mod tools;
mod validate;

pub use builtin::{csv_field, period_start, to_csv};
pub use confirm::{Decision, Selection, parse_reply, summarize_call};
pub use discovery::find_endpoints;
pub use engine::{
    Engine, EngineConfig, EngineError, EventSink, MIN_CONFIRMATION_TTL, Mode, PromptSection,
    TurnReport, TurnRequest, duration_text,
};
pub use hub::{
    Admission, ConfirmButton, Hub, HubError, Incoming, MAX_QUEUED_PER_CONVERSATION, Outbox,
    PROPOSAL_HEADING, Responder, Seen, ShownConfirmations, answered_text, refusal, too_large,
    utf16_len,
};
pub use lease::{LEASE_TTL, Lease, instance_id};
pub use model::{
    Completion, MODEL_MAX_WAIT, ModelClient, ModelConfig, ModelError, Models, Price, Prices,
    Provider, UnknownModel, reporting_model_waits,
};
pub use prompt::{AccountSummary, PromptInput, system_prompt};
pub use status::{ChannelHealth, ChannelStatus};
pub use tools::{
    CALL_INTEGRATION, ConnectedApps, InternalTool, NoApps, Requester, ToolContext, ToolOutput,
    ToolRegistry, TurnUses, WebSearches, definitions as tool_definitions,
};
pub use validate::problems as schema_problems;
