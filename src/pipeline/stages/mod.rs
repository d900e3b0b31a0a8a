//! The stage threads, one module each, in pipeline order.

pub mod agent;
pub mod sentences;
pub mod sink;
pub mod source;
pub mod stt;
pub mod tts;
pub mod vad;
