//! A scripted OpenAI-compatible chat-completions server.
//!
//! Each test scripts what "the model" answers, call by call: text, tool
//! calls (several at once for parallel calls), token usage, an HTTP error
//! or a delay. Every request body is recorded so tests can check what the
//! engine sent (prompt size, tool results, history).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One answer of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub content: Option<String>,
    /// (tool name, arguments)
    pub tool_calls: Vec<(String, Value)>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl Reply {
    #[must_use]
    pub fn text(content: &str) -> Reply {
        Reply {
            content: Some(content.to_owned()),
            tool_calls: Vec::new(),
            prompt_tokens: 100,
            completion_tokens: 20,
        }
    }

    /// A call of one tool.
    #[must_use]
    pub fn tool(name: &str, arguments: Value) -> Reply {
        Reply {
            content: None,
            tool_calls: vec![(name.to_owned(), arguments)],
            prompt_tokens: 100,
            completion_tokens: 20,
        }
    }

    /// Several tool calls in one answer (run in parallel by the engine).
    #[must_use]
    pub fn tools(calls: Vec<(&str, Value)>) -> Reply {
        Reply {
            content: None,
            tool_calls: calls.into_iter().map(|(n, a)| (n.to_owned(), a)).collect(),
            prompt_tokens: 100,
            completion_tokens: 20,
        }
    }

    #[must_use]
    pub fn usage(mut self, prompt_tokens: i64, completion_tokens: i64) -> Reply {
        self.prompt_tokens = prompt_tokens;
        self.completion_tokens = completion_tokens;
        self
    }
}

/// The newest tool result in a chat-completions request, parsed.
#[must_use]
pub fn last_tool_result(request: &Value) -> Value {
    request["messages"]
        .as_array()
        .and_then(|messages| messages.iter().rev().find(|m| m["role"] == "tool"))
        .and_then(|m| m["content"].as_str())
        .and_then(|content| serde_json::from_str(content).ok())
        .unwrap_or(Value::Null)
}

/// The system prompt a chat-completions request opens with.
#[must_use]
pub fn system_prompt(request: &Value) -> String {
    request["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The conversation a chat-completions request carries: its messages
/// without the context note (time, waiting writes) the engine sends last.
#[must_use]
pub fn conversation(request: &Value) -> Vec<Value> {
    let mut messages = request["messages"].as_array().cloned().unwrap_or_default();
    if messages.last().is_some_and(is_context_note) {
        messages.pop();
    }
    messages
}

/// The newest system message of the conversation (an outcome of a
/// confirmed write, a notice), as text.
#[must_use]
pub fn last_system_note(request: &Value) -> String {
    conversation(request)
        .iter()
        .rev()
        .find(|m| m["role"] == "system")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn is_context_note(message: &Value) -> bool {
    message["role"] == "system"
        && message["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("[agencybot] Now:"))
}

/// What the server does for one request.
pub enum Step {
    Reply(Reply),
    /// Decides the reply from the request (e.g. quoting a tool result).
    Dynamic(Box<dyn Fn(&Value) -> Reply + Send>),
    /// Answers this HTTP status with an error body.
    Status(u16),
    /// Answers 429 with this `Retry-After`, in seconds.
    RateLimited(u64),
    /// Waits, then does the inner step (for timeouts).
    Delay(Duration, Box<Step>),
}

impl From<Reply> for Step {
    fn from(reply: Reply) -> Step {
        Step::Reply(reply)
    }
}

struct Shared {
    script: VecDeque<Step>,
    requests: Vec<Value>,
    /// Each request's headers, in order, names lower-case.
    headers: Vec<Vec<(String, String)>>,
    calls: u64,
}

/// A running scripted model on 127.0.0.1. Unscripted requests get a 500
/// saying the script ran out, so a test never passes by accident.
#[derive(Clone)]
pub struct ScriptedModel {
    url: String,
    shared: Arc<Mutex<Shared>>,
}

impl ScriptedModel {
    pub async fn start() -> ScriptedModel {
        let shared = Arc::new(Mutex::new(Shared {
            script: VecDeque::new(),
            requests: Vec::new(),
            headers: Vec::new(),
            calls: 0,
        }));
        let state = shared.clone();
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, Json(body): Json<Value>| {
                    let state = state.clone();
                    async move { answer(&state, &headers, body).await }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the scripted model");
        let url = format!(
            "http://{}/v1",
            listener.local_addr().expect("local address")
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ScriptedModel { url, shared }
    }

    /// Base URL including `/v1`, as an OpenAI client wants it.
    #[must_use]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Adds steps to the end of the script.
    pub fn push(&self, step: impl Into<Step>) {
        self.lock().script.push_back(step.into());
    }

    /// Every request received so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.clone()
    }

    /// A header of every request so far (`None` where it was missing).
    #[must_use]
    pub fn header_values(&self, name: &str) -> Vec<Option<String>> {
        let name = name.to_ascii_lowercase();
        self.lock()
            .headers
            .iter()
            .map(|headers| {
                headers
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.clone())
            })
            .collect()
    }

    /// Steps not consumed yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.lock().script.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn answer(
    shared: &Arc<Mutex<Shared>>,
    headers: &axum::http::HeaderMap,
    body: Value,
) -> Response {
    let (step, call) = {
        let mut shared = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shared.requests.push(body.clone());
        shared.headers.push(
            headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        value.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        );
        shared.calls += 1;
        (shared.script.pop_front(), shared.calls)
    };
    let mut step = match step {
        Some(step) => step,
        None => {
            return error(500, "the scripted model has no step left for this request");
        }
    };
    loop {
        match step {
            Step::Delay(wait, inner) => {
                tokio::time::sleep(wait).await;
                step = *inner;
            }
            Step::Status(status) => return error(status, "scripted failure"),
            Step::RateLimited(seconds) => {
                let mut response = error(429, "Rate limit reached for requests");
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(seconds),
                );
                return response;
            }
            Step::Reply(reply) => return completion(&body, call, reply),
            Step::Dynamic(decide) => return completion(&body, call, decide(&body)),
        }
    }
}

fn error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}})),
    )
        .into_response()
}

fn completion(request: &Value, call: u64, reply: Reply) -> Response {
    let tool_calls: Vec<Value> = reply
        .tool_calls
        .iter()
        .enumerate()
        .map(|(index, (name, arguments))| {
            json!({
                "id": format!("call_{call}_{index}"),
                "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()},
            })
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": reply.content});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    Json(json!({
        "id": format!("chatcmpl-{call}"),
        "object": "chat.completion",
        "created": 1_700_000_000 + call,
        "model": request.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": if reply.tool_calls.is_empty() { "stop" } else { "tool_calls" },
        }],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }))
    .into_response()
}
