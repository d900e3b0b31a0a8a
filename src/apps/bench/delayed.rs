//! Sessions whose language model answers like a remote one ([`DelayedChat`]), for the bench's
//! simulated cloud columns.

use std::sync::Arc;

use crate::providers::llm::delay::{DelayedChat, LlmLatency};
use crate::providers::session::{ProviderError, SessionFactory, SessionProviders};

/// A session factory whose chat models are wrapped in [`DelayedChat`].
pub struct DelayedSessions {
    inner: Arc<dyn SessionFactory>,
    latency: LlmLatency,
}

impl DelayedSessions {
    pub fn new(inner: Arc<dyn SessionFactory>, latency: LlmLatency) -> Self {
        Self { inner, latency }
    }
}

impl SessionFactory for DelayedSessions {
    fn session(&self) -> Result<SessionProviders, ProviderError> {
        let mut p = self.inner.session()?;
        p.chat = Box::new(DelayedChat::new(p.chat, self.latency));
        Ok(p)
    }

    fn describe(&self) -> Vec<String> {
        let mut lines = self.inner.describe();
        lines.push(format!(
            "llm latency: +{:.0} ms to first token, {:.0} ms between tokens (simulated remote LLM)",
            self.latency.ttft_ms, self.latency.itl_ms
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::ScriptedChat;

    #[test]
    fn the_factory_wraps_each_sessions_chat() {
        struct One;
        impl SessionFactory for One {
            fn session(&self) -> Result<SessionProviders, ProviderError> {
                Ok(SessionProviders {
                    vad: Box::new(crate::providers::vad::energy::EnergyVad::default()),
                    stt: Box::new(crate::providers::testing::ScriptedStt::new(&[])),
                    chat: Box::new(ScriptedChat::replies(&["hi"])),
                    tools: Box::new(crate::providers::testing::EchoTools::default()),
                    tts: Box::new(crate::providers::testing::ToneTts::default()),
                    system_prompt: String::new(),
                })
            }
            fn describe(&self) -> Vec<String> {
                vec!["one".into()]
            }
        }
        let f = DelayedSessions::new(Arc::new(One), LlmLatency::PAPER);
        let s = f.session().expect("session");
        // Speculative replies stay possible: the wrapper snapshots with its inner model.
        let copy = s
            .chat
            .snapshot()
            .expect("a scripted chat can be rolled back");
        assert_eq!(copy.name(), s.chat.name());
        assert!(s
            .chat
            .name()
            .starts_with("scripted + simulated remote latency"));
        let d = f.describe();
        assert_eq!(d.len(), 2);
        assert!(d[1].contains("+340 ms"));
    }
}
