//! Test support shared by agencybot's crates: fixtures for the databases
//! the suite runs on, and (as the suite grows) protocol-level fakes of the
//! services agencybot talks to, all on 127.0.0.1.

mod browser;
mod discord;
mod model;
mod postgres;
mod python;
mod slack;
mod stack;
mod telegram;
mod tools;

pub use browser::Browser;
pub use discord::{DISCORD_BOT_ID, DISCORD_GUILD_ID, DISCORD_MESSAGE_LIMIT, FakeDiscord, RestCall};
pub use model::{
    Reply, ScriptedModel, Step, conversation, last_system_note, last_tool_result, system_prompt,
};
pub use postgres::{PostgresSchema, SKIP_VARIABLE, postgres_url};
pub use python::python_venv;
pub use slack::{FakeSlack, SLACK_BOT_USER, SlackCall, post_signed, slack_signature};
pub use stack::{Stack, StackOptions, TestMember, run_turn, sandbox_now};
pub use telegram::{BOT_USER_ID, BotCall, FakeTelegram};
pub use tools::LargeFileTool;
