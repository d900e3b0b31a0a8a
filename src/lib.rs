//! voice-agent: a realtime streaming voice agent built from blocking threads and channels.
//!
//! ```text
//! capture -> VAD -> STT -> LLM agent (tools) -> sentence buffer -> TTS -> playback
//! ```
//!
//! The crate is five layers, each a folder, each importing only the ones below it
//! (`tests/layers.rs` keeps it so):
//!
//! ```text
//! apps           CLI, console, mic, server, bench, and the composition root
//! orchestration  the agent loop and the pipeline stages
//! domain         the hospital: store, tools, prompt, built-in receptionist
//! providers      the seams (Vad, SpeechToText, ChatModel, TextToSpeech) and their providers
//! foundation     audio, text, cancellation, the dialogue's records
//! ```
//!
//! Each pipeline stage is one OS thread joined to the next by a `crossbeam_channel`; see
//! [`orchestration::pipeline`]. Providers sit behind the seams, so tests run the real pipeline
//! with scripted fakes ([`providers::testing`]).

pub mod apps;
pub mod domain;
pub mod foundation;
pub mod orchestration;
pub mod providers;
