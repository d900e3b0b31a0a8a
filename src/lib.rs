//! voice-agent: a realtime streaming voice agent built from blocking threads and channels.
//!
//! ```text
//! capture -> VAD -> STT -> LLM agent (tools) -> sentence buffer -> TTS -> playback
//! ```
//!
//! Each stage is one OS thread joined to the next by a `crossbeam_channel`; see [`pipeline`].
//! Providers sit behind the seams [`vad::Vad`], [`stt::SpeechToText`], [`llm::ChatModel`] and
//! [`tts::TextToSpeech`], so tests run the real pipeline with scripted fakes ([`testing`]).

pub mod agent;
pub mod audio;
pub mod bench;
pub mod cloud;
pub mod console;
pub mod fallback;
pub mod hospital;
pub mod llm;
pub mod mic;
pub mod models;
pub mod pipeline;
pub mod providers;
pub mod server;
pub mod stt;
pub mod testing;
pub mod text;
pub mod tts;
pub mod vad;

pub use pipeline::generation::{CancelToken, Generation};
