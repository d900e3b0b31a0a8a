//! A scripted sound card for tests: the test plays the device's role, pushing capture buffers
//! and pulling playback buffers of any size and format, through exactly the callback code a real
//! device runs.

use std::sync::{Arc, Mutex, MutexGuard};

use super::backend::{capture_pair, playback_pair, AudioBackend};
use super::capture::{CaptureCallback, DeviceInput};
use super::playback::{DeviceOutput, PlaybackCallback};
use super::sample::RawSample;
use super::stream::{DeviceError, Direction, StreamSpec};

/// The names the virtual device answers to.
pub const VIRTUAL_INPUT: &str = "virtual microphone";
pub const VIRTUAL_OUTPUT: &str = "virtual speaker";

#[derive(Default)]
struct Slots {
    capture: Option<CaptureCallback>,
    playback: Option<PlaybackCallback>,
}

/// A microphone and a speaker driven by the test. Cloning shares the device.
#[derive(Clone)]
pub struct VirtualDevice {
    input: StreamSpec,
    output: StreamSpec,
    // The lock stands in for the device's callback thread; the callback code itself takes none.
    slots: Arc<Mutex<Slots>>,
}

impl VirtualDevice {
    pub fn new(input: StreamSpec, output: StreamSpec) -> Self {
        Self {
            input,
            output,
            slots: Arc::default(),
        }
    }

    pub fn input_spec(&self) -> StreamSpec {
        self.input
    }

    pub fn output_spec(&self) -> StreamSpec {
        self.output
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // A test thread that panicked while holding the lock leaves the slots usable.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One capture callback with `data` (interleaved, the input's channel count). Returns the
    /// frames the ring accepted, or `None` when no input is open.
    pub fn capture<T: RawSample>(&self, data: &[T]) -> Option<usize> {
        self.slots().capture.as_mut().map(|c| c.on_data(data))
    }

    /// One playback callback filling `out` (interleaved). Returns the frames of agent audio it
    /// played (the rest is silence), or `None` when no output is open.
    pub fn play<T: RawSample>(&self, out: &mut [T]) -> Option<usize> {
        self.slots().playback.as_mut().map(|p| p.on_data(out))
    }

    /// The microphone goes away, as a real device's error callback reports: once what it
    /// captured is converted, the input ends.
    pub fn unplug_input(&self) {
        if let Some(c) = self.slots().capture.take() {
            c.status().fail();
        }
    }
}

fn check_name(direction: Direction, wanted: Option<&str>, name: &str) -> Result<(), DeviceError> {
    match wanted {
        Some(w) if super::stream::match_device(&[name.to_string()], w).is_none() => {
            Err(DeviceError::NotFound {
                direction,
                wanted: w.to_string(),
                available: name.to_string(),
            })
        }
        _ => Ok(()),
    }
}

impl AudioBackend for VirtualDevice {
    fn open_input(&self, name: Option<&str>) -> Result<DeviceInput, DeviceError> {
        check_name(Direction::Input, name, VIRTUAL_INPUT)?;
        let mut slots = self.slots();
        if slots.capture.is_some() {
            return Err(DeviceError::InUse(Direction::Input));
        }
        let (input, callback) = capture_pair(VIRTUAL_INPUT, self.input);
        slots.capture = Some(callback);
        Ok(input)
    }

    fn open_output(&self, name: Option<&str>) -> Result<DeviceOutput, DeviceError> {
        check_name(Direction::Output, name, VIRTUAL_OUTPUT)?;
        let mut slots = self.slots();
        if slots.playback.is_some() {
            return Err(DeviceError::InUse(Direction::Output));
        }
        let (output, callback) = playback_pair(VIRTUAL_OUTPUT, self.output);
        slots.playback = Some(callback);
        Ok(output)
    }
}
