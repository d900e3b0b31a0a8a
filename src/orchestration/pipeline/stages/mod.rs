//! The stage threads, one module each, in pipeline order. Each is a [`super::runner::Stage`]
//! but the source, which pulls from the transport.

pub mod agent;
pub mod playout;
pub mod sentences;
pub mod sink;
pub mod source;
pub mod stt;
pub mod tts;
pub mod vad;
