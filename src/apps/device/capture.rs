//! Capture: the callback copies the device's samples into a ring; [`DeviceInput`], on the
//! pipeline's source thread, turns them into 20 ms frames of 16 kHz mono PCM16.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ring::{Consumer, Producer};
use super::sample::{RawSample, SampleKind};
use super::stream::{StopHandle, StreamSpec, StreamStatus};
use crate::foundation::audio::stream_resample::StreamResampler;
use crate::foundation::audio::{AudioInput, FRAME_SAMPLES, INPUT_RATE};

/// The longest `next_frame` waits without a callback before it checks for a stall (a callback
/// wakes it at once; a device callback period is 5-20 ms).
const POLL: Duration = Duration::from_millis(250);
/// Words popped per step while converting.
const POP_STEP: usize = 4_096;

/// The body of a capture callback. Holds only the ring's producer and the shared status: it
/// copies sample words, counts what did not fit, and does nothing else.
pub struct CaptureCallback {
    producer: Producer,
    channels: usize,
    kind: SampleKind,
    status: Arc<StreamStatus>,
}

impl CaptureCallback {
    pub(crate) fn new(producer: Producer, spec: StreamSpec, status: Arc<StreamStatus>) -> Self {
        Self {
            producer,
            channels: spec.channels.max(1) as usize,
            kind: spec.format,
            status,
        }
    }

    /// The stream's shared status, for the device's error callback.
    pub fn status(&self) -> Arc<StreamStatus> {
        self.status.clone()
    }

    /// Called with each buffer of interleaved samples the device captured. Returns the frames
    /// accepted (the rest is dropped when the pipeline has fallen 2 s behind).
    pub fn on_data<T: RawSample>(&mut self, data: &[T]) -> usize {
        self.status.callbacks.fetch_add(1, Ordering::Relaxed);
        if T::KIND != self.kind {
            // The stream's format is fixed when it is opened; a mismatch is a backend bug.
            self.status.fail();
            return 0;
        }
        let ch = self.channels;
        // Whole frames only, so the consumer never sees a frame split by a full ring.
        let n = (data.len() / ch).min(self.producer.free() / ch) * ch;
        self.producer.push_with(&data[..n], T::to_word);
        self.status.wake_reader();
        let dropped = data.len() / ch - n / ch;
        if dropped > 0 {
            self.status
                .dropped_frames
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        n / ch
    }
}

/// Caller audio from a capture device, as the pipeline wants it.
pub struct DeviceInput {
    name: String,
    spec: StreamSpec,
    consumer: Consumer,
    status: Arc<StreamStatus>,
    resampler: StreamResampler,
    /// Downmixed device-rate audio of the current step, and the channel sum of a frame in progress.
    mono: Vec<f32>,
    partial_sum: f32,
    partial_channels: usize,
    /// 16 kHz audio not yet handed out as a frame.
    pending: Vec<f32>,
    /// Give up when the device delivers nothing for this long (`None`: wait for ever).
    stall_timeout: Option<Duration>,
    last_data: Instant,
    /// Keeps the device stream alive; dropped with the input.
    _guard: Option<Box<dyn Send>>,
}

impl DeviceInput {
    pub(crate) fn new(
        name: String,
        spec: StreamSpec,
        consumer: Consumer,
        status: Arc<StreamStatus>,
    ) -> Self {
        Self {
            name,
            spec,
            consumer,
            status,
            resampler: StreamResampler::new(spec.rate, INPUT_RATE),
            mono: Vec::new(),
            partial_sum: 0.0,
            partial_channels: 0,
            pending: Vec::new(),
            stall_timeout: None,
            last_data: Instant::now(),
            _guard: None,
        }
    }

    /// Hand over what keeps the device stream alive (it closes when the input is dropped).
    pub fn attach(&mut self, guard: Box<dyn Send>) {
        self._guard = Some(guard);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn spec(&self) -> StreamSpec {
        self.spec
    }

    /// Stops the input from another thread (Ctrl-C): `next_frame` then returns `None`.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.status.clone())
    }

    /// The stream's shared status (counters that outlive handing the input to a pipeline).
    pub fn status(&self) -> Arc<StreamStatus> {
        self.status.clone()
    }

    /// Frames the callback dropped because the pipeline did not keep up.
    pub fn dropped_frames(&self) -> u64 {
        self.status.dropped_frames()
    }

    /// End the stream when the device delivers nothing for `timeout` (a vanished device).
    pub fn set_stall_timeout(&mut self, timeout: Option<Duration>) {
        self.stall_timeout = timeout;
    }

    /// Throw away what was captured so far (e.g. while models loaded), and its drop count.
    pub fn discard_buffered(&mut self) {
        let n = self.consumer.available();
        self.consumer.pop_with(n, |_| {});
        self.status.dropped_frames.store(0, Ordering::Relaxed);
        self.partial_sum = 0.0;
        self.partial_channels = 0;
        self.pending.clear();
        self.resampler.reset();
        self.last_data = Instant::now();
    }

    /// Convert what the callbacks delivered; a frame once 20 ms of 16 kHz audio is ready.
    pub fn try_frame(&mut self) -> Option<Vec<i16>> {
        while self.pending.len() < FRAME_SAMPLES {
            let ch = self.spec.channels.max(1) as usize;
            let kind = self.spec.format;
            let (mono, sum, seen) = (
                &mut self.mono,
                &mut self.partial_sum,
                &mut self.partial_channels,
            );
            mono.clear();
            let n = self.consumer.pop_with(POP_STEP, |word| {
                *sum += kind.decode(word);
                *seen += 1;
                if *seen == ch {
                    // Downmix: the mean of the channels.
                    mono.push(*sum / ch as f32);
                    *sum = 0.0;
                    *seen = 0;
                }
            });
            if n == 0 {
                break;
            }
            self.last_data = Instant::now();
            self.resampler.process(&self.mono, &mut self.pending);
        }
        if self.pending.len() < FRAME_SAMPLES {
            return None;
        }
        let frame = crate::foundation::audio::f32_to_i16(&self.pending[..FRAME_SAMPLES]);
        self.pending.drain(..FRAME_SAMPLES);
        Some(frame)
    }
}

impl AudioInput for DeviceInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        // The callback unparks this thread when it delivers.
        let me = std::thread::current();
        let _ = self.status.reader.get_or_init(|| me.clone());
        loop {
            if self.status.is_stopped() {
                return None;
            }
            if let Some(frame) = self.try_frame() {
                return Some(frame);
            }
            if self.status.has_failed() {
                log::warn!("input device {}: the stream ended", self.name);
                return None;
            }
            if let Some(limit) = self.stall_timeout {
                if self.last_data.elapsed() > limit {
                    log::error!(
                        "input device {}: no audio for {:.1} s, giving up",
                        self.name,
                        limit.as_secs_f64()
                    );
                    self.status.fail();
                    return None;
                }
            }
            // Until the callback delivers; the timeout only bounds the stall check.
            std::thread::park_timeout(POLL);
        }
    }
}
