//! The `ChatModel` seam: chat messages, tool schemas and streamed completions.
//!
//! Providers: [`openai`] (any OpenAI-compatible `/chat/completions` server) and [`builtin`]
//! (the offline rule-based receptionist).

pub mod delay;
pub mod openai;
pub mod sse;
pub mod tools;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::foundation::cancel::CancelToken;
use crate::foundation::text::turn_end::TurnVerdict;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One function call requested by the model. `arguments` is the raw JSON text the model wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One entry of the conversation history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn plain(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::plain(Role::Assistant, content)
    }
    pub fn assistant_tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::plain(Role::Assistant, content)
        }
    }
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            ..Self::plain(Role::Tool, content)
        }
    }

    /// The message in the OpenAI chat-completions request format.
    pub fn to_openai(&self) -> Value {
        let role = match self.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let mut m = json!({ "role": role, "content": self.content });
        if !self.tool_calls.is_empty() {
            if self.content.is_empty() {
                m["content"] = Value::Null;
            }
            m["tool_calls"] = self
                .tool_calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments },
                    })
                })
                .collect();
        }
        if let Some(id) = &self.tool_call_id {
            m["tool_call_id"] = json!(id);
        }
        m
    }
}

/// A tool the model may call: name, description and JSON-schema parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

impl ToolSpec {
    /// The tool in the OpenAI `tools` request format.
    pub fn to_openai(&self) -> Value {
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
    }
}

/// What a streaming completion yields, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatEvent {
    /// A piece of the reply text, as soon as it arrives.
    Text(String),
    /// The model has begun a tool call (its name): the text before it is complete and can be
    /// spoken now, while the call's arguments are still streaming.
    ToolCallStarted(String),
    /// A tool call, once all its fragments have arrived.
    ToolCall(ToolCall),
}

/// Why a completion ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    /// The cancel token fired (barge-in); the stream was closed.
    Cancelled,
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("cannot reach the LLM server at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("LLM server answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("LLM stream timed out: {0}")]
    Timeout(String),
    #[error("LLM stream broke the protocol: {0}")]
    Protocol(String),
    #[error("LLM stream I/O error: {0}")]
    Io(String),
}

/// The chat-model seam. One instance per session (it may keep per-conversation state).
pub trait ChatModel: Send {
    /// A short human-readable name, stated at start-up ("built-in receptionist", "openai:gpt-4o-mini").
    fn name(&self) -> String;

    /// Stream one completion of `messages`, offering `tools`. Text deltas and completed tool
    /// calls go to `on_event` as they arrive. Returns when the model finishes, or promptly with
    /// `FinishReason::Cancelled` once `cancel` fires.
    fn stream(
        &mut self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
    ) -> Result<FinishReason, LlmError>;

    /// A copy of the model as it is now, restored if a reply started speculatively (during the
    /// caller's pause) is thrown away. Models whose whole state is the history copy cheaply;
    /// `None` means the model cannot be rolled back, so replies never start speculatively.
    fn snapshot(&self) -> Option<Box<dyn ChatModel>> {
        None
    }

    /// What the model makes of `heard`, the caller's words at a pause, after `history`: has
    /// the caller said all of what was just asked? `Some(Incomplete)` holds the turn open
    /// (a name given when a name and a birth date were asked), `Some(Complete)` lets it end
    /// at once, `None` (the default, and a remote model's answer: it would cost a round
    /// trip) leaves it to the words alone ([`crate::foundation::text::turn_end::judge`]).
    fn judge_turn(&self, _history: &[ChatMessage], _heard: &str) -> Option<TurnVerdict> {
        None
    }
}
