//! What a conversation leaves behind, in the words every layer uses: the tool calls the agent
//! made, and what the caller really heard of each reply.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool call made during a turn, with its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    pub name: String,
    pub arguments: Value,
    pub result: Value,
}

/// What the caller heard of a finished or interrupted reply (the sink's account to the agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub turn_id: u64,
    /// What the caller heard.
    pub text: String,
    /// Everything the agent meant to say.
    pub full_text: String,
    pub interrupted: bool,
}
