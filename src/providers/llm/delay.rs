//! A stand-in for a remote LLM: wraps any [`ChatModel`] and adds a fixed time to first token and
//! a fixed latency between tokens, so cloud figures (the paper's TTFT ~340 ms, 34 ms between
//! tokens) can be reproduced offline with the built-in brain or a local server.
//!
//! Each streamed event counts as one token (the OpenAI client yields one per token, the built-in
//! receptionist one per word); a tool call costs one token per ~4 characters of its arguments,
//! because a remote model streams those too before the call is complete.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ChatEvent, ChatMessage, ChatModel, FinishReason, LlmError, ToolSpec};
use crate::foundation::cancel::CancelToken;

/// Added latency of a simulated remote LLM, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmLatency {
    /// Added before the first token of every completion.
    pub ttft_ms: f64,
    /// Added before every later token.
    pub itl_ms: f64,
}

impl LlmLatency {
    /// The paper's self-hosted vLLM figures: TTFT 337 ms P50 (~340), 34 ms between tokens.
    pub const PAPER: LlmLatency = LlmLatency {
        ttft_ms: 340.0,
        itl_ms: 34.0,
    };

    fn ttft(&self) -> Duration {
        Duration::from_secs_f64(self.ttft_ms / 1000.0)
    }

    fn itl(&self) -> Duration {
        Duration::from_secs_f64(self.itl_ms / 1000.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LatencyParseError {
    #[error("expected TTFT,ITL in milliseconds (e.g. 340,34), got {0:?}")]
    Format(String),
    #[error("latencies must be finite, non-negative milliseconds, got {0:?}")]
    Value(String),
}

impl FromStr for LlmLatency {
    type Err = LatencyParseError;

    /// `"340,34"` (TTFT, inter-token latency) or `"340"` (no inter-token latency).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.is_empty() || parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(LatencyParseError::Format(s.to_string()));
        }
        let num = |p: &str| -> Result<f64, LatencyParseError> {
            let v: f64 = p
                .parse()
                .map_err(|_| LatencyParseError::Format(s.to_string()))?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(LatencyParseError::Value(s.to_string()))
            }
        };
        Ok(Self {
            ttft_ms: num(parts[0])?,
            itl_ms: parts.get(1).map_or(Ok(0.0), |p| num(p))?,
        })
    }
}

impl fmt::Display for LlmLatency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.ttft_ms, self.itl_ms)
    }
}

/// Tokens an event stands for.
fn tokens(event: &ChatEvent) -> u32 {
    match event {
        ChatEvent::Text(_) => 1,
        // Arrives with the call's first token; the call itself is charged below.
        ChatEvent::ToolCallStarted(_) => 0,
        ChatEvent::ToolCall(call) => 1 + (call.arguments.chars().count() / 4) as u32,
    }
}

/// Any chat model, slowed down like a remote one.
pub struct DelayedChat {
    inner: Box<dyn ChatModel>,
    latency: LlmLatency,
}

impl DelayedChat {
    pub fn new(inner: Box<dyn ChatModel>, latency: LlmLatency) -> Self {
        Self { inner, latency }
    }

    pub fn latency(&self) -> LlmLatency {
        self.latency
    }
}

impl ChatModel for DelayedChat {
    fn name(&self) -> String {
        format!(
            "{} + simulated remote latency ({:.0} ms TTFT, {:.0} ms/token)",
            self.inner.name(),
            self.latency.ttft_ms,
            self.latency.itl_ms
        )
    }

    // No `judge_turn`: a remote model gives no view of the end of a turn (asking would cost
    // the round trip it stands for), even when the model inside is the built-in brain.

    /// A wrapped model can be rolled back exactly when the inner one can.
    fn snapshot(&self) -> Option<Box<dyn ChatModel>> {
        Some(Box::new(DelayedChat::new(
            self.inner.snapshot()?,
            self.latency,
        )))
    }

    fn stream(
        &mut self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
    ) -> Result<FinishReason, LlmError> {
        // The request's round trip and prefill: paid before the model starts producing.
        if cancel.sleep(self.latency.ttft()) {
            return Ok(FinishReason::Cancelled);
        }
        let itl = self.latency.itl();
        let mut first = true;
        let mut cancelled = false;
        let finish = self.inner.stream(messages, tools, cancel, &mut |event| {
            if cancelled {
                return;
            }
            // The first token is covered by the TTFT; every later one waits one ITL.
            let n = tokens(&event) - u32::from(first);
            first = false;
            if cancel.sleep(itl * n) {
                cancelled = true;
                return;
            }
            on_event(event);
        })?;
        Ok(if cancelled {
            FinishReason::Cancelled
        } else {
            finish
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::cancel::Generation;
    use crate::providers::llm::ToolCall;
    use crate::providers::testing::{ScriptStep, ScriptedChat};
    use serde_json::json;

    fn collect(chat: &mut dyn ChatModel, cancel: &CancelToken) -> (Vec<ChatEvent>, FinishReason) {
        let mut events = Vec::new();
        let finish = chat
            .stream(&[ChatMessage::user("hi")], &[], cancel, &mut |e| {
                events.push(e)
            })
            .expect("scripted chat does not fail");
        (events, finish)
    }

    #[test]
    fn parses_ttft_and_itl() {
        assert_eq!("340,34".parse::<LlmLatency>(), Ok(LlmLatency::PAPER));
        assert_eq!(
            " 120 ".parse::<LlmLatency>(),
            Ok(LlmLatency {
                ttft_ms: 120.0,
                itl_ms: 0.0
            })
        );
        assert_eq!("2.5, 0.5".parse::<LlmLatency>().map(|l| l.itl_ms), Ok(0.5));
        for bad in ["", "a,b", "1,2,3", ",3", "3,"] {
            assert!(
                matches!(bad.parse::<LlmLatency>(), Err(LatencyParseError::Format(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            "-1,3".parse::<LlmLatency>(),
            Err(LatencyParseError::Value(_))
        ));
        assert!(matches!(
            "inf".parse::<LlmLatency>(),
            Err(LatencyParseError::Value(_))
        ));
        assert_eq!(LlmLatency::PAPER.to_string(), "340,34");
    }

    #[test]
    fn forwards_every_event_in_order_after_the_delay() {
        let inner = ScriptedChat::new(vec![vec![
            ScriptStep::Text("Hello there friend.".into()),
            ScriptStep::Call {
                name: "lookup".into(),
                arguments: json!({"q": "x"}),
            },
        ]]);
        let latency = LlmLatency {
            ttft_ms: 30.0,
            itl_ms: 2.0,
        };
        let mut chat = DelayedChat::new(Box::new(inner), latency);
        assert!(chat.name().contains("30 ms TTFT"));
        let started = std::time::Instant::now();
        let (events, finish) = collect(&mut chat, &CancelToken::never());
        // A lower bound only: a sleep never ends early, however busy the machine is.
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(finish, FinishReason::ToolCalls);
        let texts: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                ChatEvent::Text(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(texts.concat(), "Hello there friend.");
        assert!(matches!(events.last(), Some(ChatEvent::ToolCall(c)) if c.name == "lookup"));
    }

    #[test]
    fn tool_calls_cost_tokens_by_argument_length() {
        let call = |args: &str| {
            ChatEvent::ToolCall(ToolCall {
                id: "1".into(),
                name: "f".into(),
                arguments: args.into(),
            })
        };
        assert_eq!(tokens(&ChatEvent::Text("word ".into())), 1);
        assert_eq!(tokens(&call("")), 1);
        assert_eq!(tokens(&call("{\"doctor\": \"Patel\"}")), 1 + 19 / 4);
    }

    #[test]
    fn a_cancelled_stream_stops_forwarding() {
        let g = Generation::new();
        let token = g.token();
        g.bump();
        let inner = ScriptedChat::replies(&["one two three"]);
        let mut chat = DelayedChat::new(Box::new(inner), LlmLatency::PAPER);
        let (events, finish) = collect(&mut chat, &token);
        assert!(events.is_empty());
        assert_eq!(finish, FinishReason::Cancelled);
    }
}
