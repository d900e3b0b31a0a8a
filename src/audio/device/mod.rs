//! Sound devices: the microphone and the speaker, behind the [`AudioBackend`] seam.
//!
//! ```text
//! capture callback --ring--> DeviceInput::next_frame  (decode, downmix, resample to 16 kHz, 20 ms frames)
//! DeviceOutput::write --ring--> playback callback      (resample from 24 kHz, encode, interleave before the ring)
//! ```
//!
//! A callback ([`CaptureCallback::on_data`], [`PlaybackCallback::on_data`]) only copies sample
//! words through a lock-free ring ([`ring`]) and bumps atomic counters: no lock, no allocation,
//! no blocking, no conversion. Everything else runs on the pipeline's threads. The backends only
//! wire callbacks to a device: [`host::CpalBackend`] (feature `mic`) to the sound card through
//! cpal, [`VirtualDevice`] to a test that pushes capture buffers and pulls playback buffers.

pub mod capture;
#[cfg(feature = "mic")]
pub mod host;
pub mod listing;
pub mod playback;
pub mod ring;
pub mod sample;
pub mod stream_resample;
pub mod virtual_device;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use capture::{CaptureCallback, DeviceInput};
pub use listing::{format_listing, DeviceInfo, HostListing};
pub use playback::{DeviceOutput, PlaybackCallback};
pub use sample::{RawSample, SampleKind};
pub use virtual_device::VirtualDevice;

/// Seconds of audio each ring holds: far more than a callback period, so only a stalled
/// consumer ever fills one.
const RING_SECONDS: usize = 2;

/// Which way audio flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Input => "input",
            Self::Output => "output",
        })
    }
}

/// A device stream's native format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSpec {
    pub rate: u32,
    pub channels: u16,
    pub format: SampleKind,
}

impl fmt::Display for StreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz, {} ch, {}", self.rate, self.channels, self.format)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no {direction} device found ({detail}); see `voice-agent mic --list-devices`")]
    NoDevice {
        direction: Direction,
        detail: String,
    },
    #[error("no {direction} device matches {wanted:?} (available: {available})")]
    NotFound {
        direction: Direction,
        wanted: String,
        available: String,
    },
    #[error("cannot open {direction} device {name:?}: {message}")]
    Open {
        direction: Direction,
        name: String,
        message: String,
    },
    #[error("{direction} device {name:?} uses sample format {format}, which is not supported")]
    UnsupportedFormat {
        direction: Direction,
        name: String,
        format: String,
    },
    #[error("the virtual {0} device is already open")]
    InUse(Direction),
}

/// Opens devices: the sound card through cpal, or a scripted virtual device in tests.
pub trait AudioBackend {
    /// The capture device whose name contains `name` (case-insensitive), or the default one.
    fn open_input(&self, name: Option<&str>) -> Result<DeviceInput, DeviceError>;
    /// The playback device whose name contains `name` (case-insensitive), or the default one.
    fn open_output(&self, name: Option<&str>) -> Result<DeviceOutput, DeviceError>;
}

/// What a stream's two sides share: flags and counters, all atomics.
#[derive(Debug, Default)]
pub struct StreamStatus {
    stopped: AtomicBool,
    failed: AtomicBool,
    callbacks: AtomicU64,
    dropped_frames: AtomicU64,
    played_frames: AtomicU64,
}

impl StreamStatus {
    /// The stream broke (device gone, format mismatch): its input ends.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }

    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Callbacks run so far.
    pub fn callbacks(&self) -> u64 {
        self.callbacks.load(Ordering::Relaxed)
    }

    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames.load(Ordering::Relaxed)
    }
}

/// Ends a [`DeviceInput`] from any thread (Ctrl-C): its `next_frame` returns `None`, the
/// pipeline's source ends and the session drains.
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<StreamStatus>);

impl StopHandle {
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::Release);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }
}

fn ring_words(spec: StreamSpec) -> usize {
    spec.rate as usize * spec.channels.max(1) as usize * RING_SECONDS
}

/// A capture stream's two ends: the input for the pipeline and the callback for the device.
pub fn capture_pair(name: &str, spec: StreamSpec) -> (DeviceInput, CaptureCallback) {
    let status = Arc::new(StreamStatus::default());
    let (producer, consumer) = ring::ring(ring_words(spec));
    (
        DeviceInput::new(name.to_string(), spec, consumer, status.clone()),
        CaptureCallback::new(producer, spec, status),
    )
}

/// A playback stream's two ends: the output for the pipeline and the callback for the device.
pub fn playback_pair(name: &str, spec: StreamSpec) -> (DeviceOutput, PlaybackCallback) {
    let status = Arc::new(StreamStatus::default());
    let (producer, consumer) = ring::ring(ring_words(spec));
    (
        DeviceOutput::new(name.to_string(), spec, producer, status.clone()),
        PlaybackCallback::new(consumer, spec, status),
    )
}

/// Pick a device by case-insensitive substring: an exact name wins, then the first match.
pub fn match_device<'a>(names: &'a [String], wanted: &str) -> Option<&'a str> {
    let w = wanted.to_lowercase();
    names
        .iter()
        .find(|n| n.to_lowercase() == w)
        .or_else(|| names.iter().find(|n| n.to_lowercase().contains(&w)))
        .map(|s| s.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_match_by_substring_preferring_exact_names() {
        let names: Vec<String> = ["HDA Intel PCH: ALC3246 Analog", "USB Headset", "usb"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            match_device(&names, "alc"),
            Some("HDA Intel PCH: ALC3246 Analog")
        );
        assert_eq!(match_device(&names, "USB"), Some("usb"));
        assert_eq!(match_device(&names, "head"), Some("USB Headset"));
        assert_eq!(match_device(&names, "bluetooth"), None);
    }

    #[test]
    fn specs_and_errors_read_well() {
        let spec = StreamSpec {
            rate: 48_000,
            channels: 2,
            format: SampleKind::F32,
        };
        assert_eq!(spec.to_string(), "48000 Hz, 2 ch, f32");
        let e = DeviceError::NoDevice {
            direction: Direction::Input,
            detail: "ALSA lists no capture device".into(),
        };
        assert!(e
            .to_string()
            .starts_with("no input device found (ALSA lists no capture device)"));
    }
}
