//! What the stages of a session share besides their data channels: the generation counter
//! (whose bump cancels work in flight), the lines to the sink and to the source, the media
//! clock and the recorder.

use std::sync::Arc;

use crossbeam_channel::Sender;

use super::clock::MediaClock;
use super::messages::{Events, SourceControl};
use crate::foundation::audio::wav::ConversationRecorder;
use crate::foundation::cancel::Generation;

#[derive(Clone)]
pub struct Shared {
    pub generation: Generation,
    pub events: Events,
    /// The line to the source: how long to wait, and when to stop.
    pub source: Sender<SourceControl>,
    /// Each stage thread says its name here as it ends (so a session can stop waiting).
    pub done: Sender<&'static str>,
    pub clock: Arc<MediaClock>,
    pub recorder: Option<ConversationRecorder>,
}
