//! Text for speech: the streaming sentence buffer and the clean-up applied before synthesis.

pub mod cleanup;
pub mod sentence;

pub use cleanup::{clean_for_speech, is_speakable};
pub use sentence::{SentenceBuffer, SentenceConfig};
