//! The tool seam the agent loop calls into.

use serde_json::Value;

use crate::providers::llm::ToolSpec;

/// A set of tools bound to one session (it may hold per-caller state such as who was verified).
pub trait ToolSet: Send {
    /// Schemas offered to the model.
    fn specs(&self) -> Vec<ToolSpec>;

    /// Run one call. `arguments` is the model's raw JSON text. Errors are results too
    /// (`{"error": "..."}`) so the model can recover; this never panics on bad input.
    fn call(&mut self, name: &str, arguments: &str) -> Value;

    /// True when `name` changes nothing (no stored data, no session state such as who was
    /// verified): a reply started on a guess at the end of the caller's turn may run it before
    /// the turn is certain, and simply forget the result if the caller goes on. Other tools
    /// wait for the turn to be committed. No by default.
    fn is_read_only(&self, _name: &str) -> bool {
        false
    }
}

/// No tools at all (a plain chat agent).
pub struct NoTools;

impl ToolSet for NoTools {
    fn specs(&self) -> Vec<ToolSpec> {
        Vec::new()
    }
    fn call(&mut self, name: &str, _arguments: &str) -> Value {
        serde_json::json!({ "error": format!("unknown tool {name}") })
    }
}
