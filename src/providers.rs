//! Choosing providers. Models load once per process ([`Providers::load`]); each session gets
//! cheap per-session handles through the [`SessionFactory`] seam (which tests fake).

use crate::agent::tools::ToolSet;
use crate::llm::ChatModel;
use crate::stt::SpeechToText;
use crate::tts::TextToSpeech;
use crate::vad::Vad;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Store(String),
}

/// The providers of one session, ready to hand to the pipeline.
pub struct SessionProviders {
    pub vad: Box<dyn Vad>,
    pub stt: Box<dyn SpeechToText>,
    pub chat: Box<dyn ChatModel>,
    pub tools: Box<dyn ToolSet>,
    pub tts: Box<dyn TextToSpeech>,
    /// The agent's instructions for this session (e.g. with today's date).
    pub system_prompt: String,
}

/// Makes the providers of each new session. Implemented by [`Providers`] (real models, shared
/// across sessions) and by tests with scripted fakes.
pub trait SessionFactory: Send + Sync {
    fn session(&self) -> Result<SessionProviders, ProviderError>;

    /// One line per provider, stated at start-up.
    fn describe(&self) -> Vec<String>;
}
