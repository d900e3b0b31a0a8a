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

pub mod backend;
pub mod capture;
#[cfg(feature = "mic")]
pub mod host;
pub mod listing;
pub mod playback;
pub mod ring;
pub mod sample;
pub mod stream;
pub mod virtual_device;

pub use backend::{capture_pair, playback_pair, AudioBackend};
pub use capture::{CaptureCallback, DeviceInput};
pub use listing::{format_listing, DeviceInfo, HostListing};
pub use playback::{DeviceOutput, PlaybackCallback};
pub use sample::{RawSample, SampleKind};
pub use stream::{match_device, DeviceError, Direction, StopHandle, StreamSpec, StreamStatus};
pub use virtual_device::VirtualDevice;
