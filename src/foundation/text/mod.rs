//! The text stage: turns the LLM's streamed reply into chunks a TTS engine can speak.
//!
//! ```text
//! LLM deltas -> SentenceBuffer -> chunks -> clean_for_speech -> is_speakable? -> TTS
//! ```
//!
//! - [`sentence`]: [`SentenceBuffer`] releases each sentence (or, for the first chunk of a reply,
//!   an early clause) the moment it is complete, so speech starts while the model still writes.
//! - [`cleanup`]: [`clean_for_speech`] strips markdown, code and emoji from a chunk;
//!   [`is_speakable`] tells whether anything is left worth synthesising.
//! - [`turn_end`]: whether the caller's words at a pause make a whole turn (the end of turn is
//!   judged, not timed).

pub mod boundary;
pub mod cleanup;
pub mod sentence;
pub mod turn_end;
pub mod words;

pub use cleanup::{clean_for_speech, is_speakable};
pub use sentence::{SentenceBuffer, SentenceConfig};
