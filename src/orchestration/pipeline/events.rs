//! Events a session emits for its transport and user interface (terminal, browser, logs).
//! They serialise to the JSON messages of the wire protocol.

use serde::Serialize;
use serde_json::Value;

use super::state::AgentState;
use super::turn::TurnReport;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The session's conversational state changed.
    State { state: AgentState },
    /// A transcript of the caller: partial (`final: false`) or final.
    Transcript {
        turn: u64,
        text: String,
        #[serde(rename = "final")]
        is_final: bool,
    },
    /// A chunk of agent text, as it starts being spoken.
    AgentText { turn: u64, text: String },
    /// A tool call the agent made, with its result.
    ToolCall {
        turn: u64,
        name: String,
        arguments: Value,
        result: Value,
    },
    /// The agent's first audio of a reply is playing.
    AgentSpeaking { turn: u64 },
    /// The agent finished (or was cut off).
    AgentDone { turn: u64, interrupted: bool },
    /// Drop all queued agent audio now (barge-in).
    Clear,
    /// The report of a finished turn (boxed: it is far larger than any other event).
    Metrics(Box<TurnReport>),
    /// Something failed; the session goes on.
    Error { stage: String, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_to_wire_messages() {
        let e = Event::Transcript {
            turn: 1,
            text: "hi".into(),
            is_final: true,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "transcript", "turn": 1, "text": "hi", "final": true})
        );
        assert_eq!(
            serde_json::to_value(Event::Clear).unwrap(),
            serde_json::json!({"type": "clear"})
        );
        assert_eq!(
            serde_json::to_value(Event::State {
                state: AgentState::Speaking
            })
            .unwrap(),
            serde_json::json!({"type": "state", "state": "speaking"})
        );
    }
}
