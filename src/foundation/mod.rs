//! Layer 1, the foundation: what every other layer speaks. Imports nothing from the crate.
//!
//! - [`audio`]: frames and rates, PCM conversions, the one resampling kernel, WAV files, and the
//!   transport seams ([`audio::AudioInput`], [`audio::AudioOutput`]);
//! - [`text`]: the sentence buffer that turns streamed reply text into speakable chunks;
//! - [`cancel`]: the generation counter behind barge-in, and the token that aborts work in flight;
//! - [`dialogue`]: tool-call records and what the caller heard of a reply;
//! - [`panic`]: the message of a caught panic;
//! - [`urgency`]: how much a model call matters now, for the shared model scheduler.

pub mod audio;
pub mod cancel;
pub mod dialogue;
pub mod panic;
pub mod text;
pub mod urgency;
