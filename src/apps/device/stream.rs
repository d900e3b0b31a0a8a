//! A device stream's description and the state its two sides share: format, direction, errors,
//! and the atomic flags and counters between an audio callback and a pipeline thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

use super::sample::SampleKind;

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

/// What a stream's two sides share: flags and counters, all atomics.
#[derive(Debug, Default)]
pub struct StreamStatus {
    pub(super) stopped: AtomicBool,
    pub(super) failed: AtomicBool,
    pub(super) callbacks: AtomicU64,
    pub(super) dropped_frames: AtomicU64,
    pub(super) played_frames: AtomicU64,
    /// The thread that reads the capture ring, woken when the callback delivers.
    pub(super) reader: OnceLock<Thread>,
}

impl StreamStatus {
    /// The stream broke (device gone, format mismatch): its input ends.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
        self.wake_reader();
    }

    /// Wake the thread waiting for captured audio (lock-free: safe in an audio callback).
    pub fn wake_reader(&self) {
        if let Some(t) = self.reader.get() {
            t.unpark();
        }
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

/// Ends a `DeviceInput` from any thread (Ctrl-C): its `next_frame` returns `None`, the
/// pipeline's source ends and the session drains.
#[derive(Clone, Debug)]
pub struct StopHandle(pub(super) Arc<StreamStatus>);

impl StopHandle {
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::Release);
        self.0.wake_reader();
    }

    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }
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
