//! One session's providers as a bundle, and the factory seam that makes them: the server asks
//! it for each new caller, tests hand it scripted fakes.

use crate::providers::llm::tools::ToolSet;
use crate::providers::llm::ChatModel;
use crate::providers::stt::SpeechToText;
use crate::providers::tts::TextToSpeech;
use crate::providers::vad::Vad;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Model(#[from] crate::providers::models::ModelError),
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

/// Makes the providers of each new session. Implemented by `apps::compose::Providers` (real models, shared
/// across sessions) and by tests with scripted fakes.
pub trait SessionFactory: Send + Sync {
    fn session(&self) -> Result<SessionProviders, ProviderError>;

    /// One line per provider, stated at start-up.
    fn describe(&self) -> Vec<String>;
}
