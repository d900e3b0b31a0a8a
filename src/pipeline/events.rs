//! Events a session emits for its transport and user interface (terminal, browser, logs).
//! They serialise to the JSON messages of the wire protocol.

use crossbeam_channel::{Receiver, Sender, TrySendError};
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
    /// The report of a finished turn.
    Metrics(TurnReport),
    /// Something failed; the session goes on.
    Error { stage: String, message: String },
}

/// The sending half used by the stages. Never blocks: when nobody drains the events fast enough,
/// they are dropped (and logged), so a slow UI cannot stall the audio path.
#[derive(Clone)]
pub struct Events {
    tx: Option<Sender<Event>>,
}

impl Events {
    /// A bounded event channel.
    pub fn channel(capacity: usize) -> (Self, Receiver<Event>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        (Self { tx: Some(tx) }, rx)
    }

    /// Events that go nowhere.
    pub fn none() -> Self {
        Self { tx: None }
    }

    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.tx {
            match tx.try_send(event) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(e)) => log::warn!("event queue full, dropped {e:?}"),
            }
        }
    }

    pub fn error(&self, stage: &str, message: impl Into<String>) {
        let message = message.into();
        log::error!("[{stage}] {message}");
        self.emit(Event::Error {
            stage: stage.to_string(),
            message,
        });
    }
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

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        let (ev, rx) = Events::channel(1);
        ev.emit(Event::Clear);
        ev.emit(Event::Clear);
        assert_eq!(rx.len(), 1);
        Events::none().emit(Event::Clear);
    }
}
