//! The transport seams: where caller audio comes from and where agent audio goes.

/// What a caller sends: audio, or an entry keyed on a phone's keypad (DTMF digits, `*`, `#`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerInput {
    Audio(Vec<i16>),
    Keys(String),
}

/// A source of caller audio: 20 ms frames of 16 kHz mono PCM16 (`FRAME_SAMPLES` long).
pub trait AudioInput: Send {
    /// Blocks until the next frame is available; `None` at the end of the stream.
    fn next_frame(&mut self) -> Option<Vec<i16>>;

    /// The next frame, or keys a phone caller pressed. Only a phone line has keys.
    fn next_input(&mut self) -> Option<CallerInput> {
        self.next_frame().map(CallerInput::Audio)
    }

    /// True when frames come at real-time pace (a device, a socket, a paced file).
    fn is_realtime(&self) -> bool {
        true
    }
}

/// Where agent audio (24 kHz mono PCM16) is played. The sink stage paces the writes.
pub trait AudioOutput: Send {
    /// Hand audio to the player. Must not block for long.
    fn write(&mut self, pcm: &[i16]);

    /// Drop anything buffered downstream (barge-in), e.g. tell a browser to `clear`.
    fn clear(&mut self) {}

    /// Samples actually played so far, when the player can tell (a browser's `played`
    /// reports); `None` lets the sink estimate it from its own pacing.
    fn played_samples(&self) -> Option<u64> {
        None
    }
}

impl<T: AudioOutput + ?Sized> AudioOutput for Box<T> {
    fn write(&mut self, pcm: &[i16]) {
        (**self).write(pcm)
    }
    fn clear(&mut self) {
        (**self).clear()
    }
    fn played_samples(&self) -> Option<u64> {
        (**self).played_samples()
    }
}

/// An output that discards audio (benchmarks, headless runs).
pub struct NullOutput;

impl AudioOutput for NullOutput {
    fn write(&mut self, _pcm: &[i16]) {}
}
