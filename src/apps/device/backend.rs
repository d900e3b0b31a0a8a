//! Opening devices: the [`AudioBackend`] seam, and the two ends of a capture or playback stream
//! joined by a ring.

use std::sync::Arc;

use super::capture::{CaptureCallback, DeviceInput};
use super::playback::{DeviceOutput, PlaybackCallback};
use super::ring;
use super::stream::{DeviceError, StreamSpec, StreamStatus};

/// Seconds of audio each ring holds: far more than a callback period, so only a stalled
/// consumer ever fills one.
const RING_SECONDS: usize = 2;

/// Opens devices: the sound card through cpal, or a scripted virtual device in tests.
pub trait AudioBackend {
    /// The capture device whose name contains `name` (case-insensitive), or the default one.
    fn open_input(&self, name: Option<&str>) -> Result<DeviceInput, DeviceError>;
    /// The playback device whose name contains `name` (case-insensitive), or the default one.
    fn open_output(&self, name: Option<&str>) -> Result<DeviceOutput, DeviceError>;
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
