//! Playback: [`DeviceOutput`], on the pipeline's sink thread, resamples agent audio (24 kHz mono)
//! to the device's rate and format and pushes it into a ring; the callback copies it out, plays
//! silence when the ring runs dry, and honours `clear()` at its next call.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::ring::{Consumer, Producer};
use super::sample::{RawSample, SampleKind};
use super::stream::{StreamSpec, StreamStatus};
use crate::foundation::audio::stream_resample::StreamResampler;
use crate::foundation::audio::AudioOutput;
use crate::foundation::audio::OUTPUT_RATE;

/// The body of a playback callback: copies whole frames out of the ring, no conversion.
pub struct PlaybackCallback {
    consumer: Consumer,
    channels: usize,
    kind: SampleKind,
    status: Arc<StreamStatus>,
}

impl PlaybackCallback {
    pub(crate) fn new(consumer: Consumer, spec: StreamSpec, status: Arc<StreamStatus>) -> Self {
        Self {
            consumer,
            channels: spec.channels.max(1) as usize,
            kind: spec.format,
            status,
        }
    }

    /// The stream's shared status, for the device's error callback.
    pub fn status(&self) -> Arc<StreamStatus> {
        self.status.clone()
    }

    /// Called with each interleaved buffer the device wants filled. Returns the frames of agent
    /// audio played; the rest of the buffer is silence.
    pub fn on_data<T: RawSample>(&mut self, out: &mut [T]) -> usize {
        self.status.callbacks.fetch_add(1, Ordering::Relaxed);
        // A `clear()` since the last call: skip what it covers before playing anything.
        self.consumer.honour_flush();
        if T::KIND != self.kind {
            out.fill(T::SILENCE);
            self.status.fail();
            return 0;
        }
        let ch = self.channels;
        let want = out.len() / ch * ch;
        let n = want.min(self.consumer.available() / ch * ch);
        let mut i = 0;
        self.consumer.pop_with(n, |word| {
            out[i] = T::from_word(word);
            i += 1;
        });
        out[n..].fill(T::SILENCE);
        self.status
            .played_frames
            .fetch_add((n / ch) as u64, Ordering::Relaxed);
        n / ch
    }
}

/// Agent audio to a playback device.
pub struct DeviceOutput {
    name: String,
    spec: StreamSpec,
    producer: Producer,
    status: Arc<StreamStatus>,
    resampler: StreamResampler,
    /// Scratch buffers of `write`, kept between calls.
    input: Vec<f32>,
    resampled: Vec<f32>,
    words: Vec<u32>,
    _guard: Option<Box<dyn Send>>,
}

impl DeviceOutput {
    pub(crate) fn new(
        name: String,
        spec: StreamSpec,
        producer: Producer,
        status: Arc<StreamStatus>,
    ) -> Self {
        Self {
            name,
            spec,
            producer,
            status,
            resampler: StreamResampler::new(OUTPUT_RATE, spec.rate),
            input: Vec::new(),
            resampled: Vec::new(),
            words: Vec::new(),
            _guard: None,
        }
    }

    /// Hand over what keeps the device stream alive (it closes when the output is dropped).
    pub fn attach(&mut self, guard: Box<dyn Send>) {
        self._guard = Some(guard);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn spec(&self) -> StreamSpec {
        self.spec
    }

    /// Device frames the callback has played (agent audio only, not the silence in between).
    pub fn played_frames(&self) -> u64 {
        self.status.played_frames.load(Ordering::Relaxed)
    }

    /// Device frames waiting in the ring.
    pub fn queued_frames(&self) -> usize {
        (self.producer.capacity() - self.producer.free()) / self.spec.channels.max(1) as usize
    }

    /// The stream's shared status (counters that outlive handing the output to a pipeline).
    pub fn status(&self) -> Arc<StreamStatus> {
        self.status.clone()
    }
}

impl AudioOutput for DeviceOutput {
    fn write(&mut self, pcm: &[i16]) {
        if self.status.has_failed() {
            return;
        }
        let ch = self.spec.channels.max(1) as usize;
        let kind = self.spec.format;
        self.resampled.clear();
        self.input.clear();
        self.input.extend(pcm.iter().map(|&s| s as f32 / 32_768.0));
        self.resampler.process(&self.input, &mut self.resampled);
        // Encode and interleave here, so the callback only copies words.
        self.words.clear();
        for &v in &self.resampled {
            let w = kind.encode(v);
            self.words.extend(std::iter::repeat_n(w, ch));
        }
        let fit = self.words.len().min(self.producer.free() / ch * ch);
        self.producer.push_with(&self.words[..fit], |w| w);
        let lost = (self.words.len() - fit) / ch;
        if lost > 0 {
            let before = self
                .status
                .dropped_frames
                .fetch_add(lost as u64, Ordering::Relaxed);
            if before == 0 {
                log::warn!(
                    "output device {}: the device is not taking audio, dropping it",
                    self.name
                );
            }
        }
    }

    fn clear(&mut self) {
        self.producer.request_flush();
        // Audio held inside the resampler belongs to the cut-off reply too.
        self.resampler.reset();
    }

    fn played_samples(&self) -> Option<u64> {
        // A broken stream plays nothing: let the sink estimate from its own pacing instead.
        if self.status.has_failed() {
            return None;
        }
        // In the pipeline's 24 kHz units.
        Some(self.played_frames() * OUTPUT_RATE as u64 / self.spec.rate.max(1) as u64)
    }
}
