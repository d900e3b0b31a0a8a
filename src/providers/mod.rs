//! Layer 2, the providers: the four seams of the pipeline and what stands behind each.
//!
//! | seam | local (offline) | cloud / server |
//! |---|---|---|
//! | [`vad::Vad`] | Silero v5, an energy threshold | - |
//! | [`stt::SpeechToText`] | Whisper | Deepgram (streaming), OpenAI-compatible |
//! | [`llm::ChatModel`] | (the built-in receptionist lives in the domain) | OpenAI-compatible SSE |
//! | [`tts::TextToSpeech`] | Piper | ElevenLabs, OpenAI-compatible |
//!
//! [`llm::tools::ToolSet`] is the seam the agent calls tools through. [`fallback`] puts a local
//! model behind a cloud one, [`models`] finds the model files and loads ONNX Runtime, [`cloud`]
//! holds what the HTTP clients share, [`scheduler`] runs the local models' calls of every session
//! most urgent first, [`session`] bundles one caller's providers, and [`testing`] has scripted fakes of every seam.
//! Providers import only the foundation.

pub mod cloud;
pub mod fallback;
pub mod llm;
pub mod models;
pub mod scheduler;
pub mod session;
pub mod stt;
pub mod testing;
pub mod tts;
pub mod vad;
