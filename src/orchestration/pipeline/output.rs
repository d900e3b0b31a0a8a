//! The session's one ordered output. The sink emits agent audio and events on it, in the order
//! they happen: a transport (WebSocket, sound card, WAV run, test) forwards each item as it comes
//! and reorders nothing.

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::events::Event;
use crate::foundation::audio::AudioOutput;

/// One item of the output.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Agent audio (24 kHz mono PCM16), released by the sink at playback pace.
    Audio(Vec<i16>),
    /// What happened: state, transcripts, text as it is spoken, tool calls, `clear` on barge-in,
    /// metrics, errors.
    Event(Event),
}

/// Where a session's output goes. The sink calls it from one thread, item by item.
pub trait SessionOutput: Send {
    /// Hand one item on. Must not block for long (the sink paces the audio).
    fn send(&mut self, item: Output);

    /// Samples of agent audio actually played so far, when the transport can tell (a browser's
    /// `played` reports, a sound card's counter); `None` lets the sink estimate it.
    fn played_samples(&self) -> Option<u64> {
        None
    }
}

/// The output as a channel, for an app or a test that reads it on its own thread.
pub struct ChannelOutput(Sender<Output>);

impl SessionOutput for ChannelOutput {
    fn send(&mut self, item: Output) {
        // Nobody reading any more (the app is shutting down): nothing to keep.
        let _ = self.0.send(item);
    }
}

/// An output channel and its receiving end.
pub fn channel() -> (ChannelOutput, Receiver<Output>) {
    let (tx, rx) = unbounded();
    (ChannelOutput(tx), rx)
}

/// A speaker and a screen: audio to an [`AudioOutput`] (cleared on barge-in), events to a
/// channel. The sound card, a WAV run, and tests that record what was played.
pub struct Speaker<A: AudioOutput> {
    audio: A,
    events: Sender<Event>,
}

impl<A: AudioOutput> Speaker<A> {
    /// A speaker over `audio` that hands the events to `events`.
    pub fn new(audio: A, events: Sender<Event>) -> Self {
        Self { audio, events }
    }
}

/// A speaker over `audio`, and the events it shows.
pub fn speaker<A: AudioOutput>(audio: A) -> (Speaker<A>, Receiver<Event>) {
    let (events, rx) = unbounded();
    (Speaker::new(audio, events), rx)
}

impl<A: AudioOutput> SessionOutput for Speaker<A> {
    fn send(&mut self, item: Output) {
        match item {
            Output::Audio(pcm) => self.audio.write(&pcm),
            Output::Event(e) => {
                if e == Event::Clear {
                    self.audio.clear();
                }
                let _ = self.events.send(e);
            }
        }
    }

    fn played_samples(&self) -> Option<u64> {
        self.audio.played_samples()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Tape(Arc<Mutex<Vec<String>>>);
    impl AudioOutput for Tape {
        fn write(&mut self, pcm: &[i16]) {
            self.0.lock().unwrap().push(format!("audio {}", pcm.len()));
        }
        fn clear(&mut self) {
            self.0.lock().unwrap().push("clear".into());
        }
    }

    #[test]
    fn a_speaker_plays_audio_clears_on_barge_in_and_passes_every_event_on() {
        let tape = Tape::default();
        let (mut out, events) = speaker(tape.clone());
        out.send(Output::Audio(vec![0; 480]));
        out.send(Output::Event(Event::Clear));
        out.send(Output::Event(Event::AgentDone {
            turn: 1,
            interrupted: true,
        }));
        assert_eq!(*tape.0.lock().unwrap(), ["audio 480", "clear"]);
        let got: Vec<Event> = events.try_iter().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Event::Clear);
    }

    #[test]
    fn a_channel_keeps_audio_and_events_in_one_order() {
        let (mut out, rx) = channel();
        out.send(Output::Event(Event::AgentSpeaking { turn: 1 }));
        out.send(Output::Audio(vec![1, 2]));
        out.send(Output::Event(Event::AgentDone {
            turn: 1,
            interrupted: false,
        }));
        let got: Vec<Output> = rx.try_iter().collect();
        assert!(matches!(got[0], Output::Event(Event::AgentSpeaking { .. })));
        assert_eq!(got[1], Output::Audio(vec![1, 2]));
        assert!(matches!(got[2], Output::Event(Event::AgentDone { .. })));
    }
}
