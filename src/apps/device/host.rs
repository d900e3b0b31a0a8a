//! The sound card through cpal: device lookup, the native stream format, and the callbacks wired
//! to [`CaptureCallback`] and [`PlaybackCallback`]. Everything testable lives elsewhere.
//!
//! cpal streams may not move between threads, so each stream is opened, played and finally
//! dropped on a small keeper thread of its own; the pipeline only holds the ring's other end.

use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, SampleFormat, SupportedBufferSize, SupportedStreamConfig};

use super::backend::{capture_pair, playback_pair, AudioBackend};
use super::capture::{CaptureCallback, DeviceInput};
use super::listing::{DeviceInfo, HostListing};
use super::playback::{DeviceOutput, PlaybackCallback};
use super::sample::{RawSample, SampleKind};
use super::stream::{match_device, DeviceError, Direction, StreamSpec, StreamStatus};

/// The device buffer asked for first: short, so a `clear()` is heard quickly.
const BUFFER_MS: u32 = 40;
/// A capture device silent this long is treated as gone.
const STALL: Duration = Duration::from_secs(5);

impl RawSample for cpal::I24 {
    const KIND: SampleKind = SampleKind::I24;
    const SILENCE: Self = <cpal::I24 as cpal::Sample>::EQUILIBRIUM;
    fn to_word(self) -> u32 {
        self.inner() as u32
    }
    fn from_word(bits: u32) -> Self {
        // `SampleKind::I24.encode` only produces values within the 24-bit range.
        cpal::I24::new_unchecked(bits as i32)
    }
}

fn kind_of(format: SampleFormat) -> Option<SampleKind> {
    Some(match format {
        SampleFormat::I8 => SampleKind::I8,
        SampleFormat::U8 => SampleKind::U8,
        SampleFormat::I16 => SampleKind::I16,
        SampleFormat::U16 => SampleKind::U16,
        SampleFormat::I24 => SampleKind::I24,
        SampleFormat::I32 => SampleKind::I32,
        SampleFormat::U32 => SampleKind::U32,
        SampleFormat::F32 => SampleKind::F32,
        SampleFormat::F64 => SampleKind::F64,
        _ => return None,
    })
}

fn spec_of(config: &SupportedStreamConfig) -> Result<StreamSpec, String> {
    let format = kind_of(config.sample_format())
        .ok_or_else(|| format!("sample format {} is not supported", config.sample_format()))?;
    Ok(StreamSpec {
        rate: config.sample_rate().0,
        channels: config.channels(),
        format,
    })
}

/// The sound card of the platform's default audio host (ALSA on Linux).
pub struct CpalBackend {
    host: cpal::HostId,
}

impl Default for CpalBackend {
    fn default() -> Self {
        Self {
            host: cpal::default_host().id(),
        }
    }
}

impl CpalBackend {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn host_name(&self) -> &'static str {
        self.host.name()
    }
}

/// Every available host with its devices and their default formats.
pub fn list_devices() -> Vec<HostListing> {
    quiet::stderr_silenced(|| {
        let default = cpal::default_host().id();
        cpal::available_hosts()
            .into_iter()
            .map(|id| list_host(id, id == default))
            .collect()
    })
}

fn list_host(id: cpal::HostId, is_default: bool) -> HostListing {
    let mut listing = HostListing {
        host: id.name().to_string(),
        is_default,
        inputs: Vec::new(),
        outputs: Vec::new(),
        error: None,
    };
    let host = match cpal::host_from_id(id) {
        Ok(h) => h,
        Err(e) => {
            listing.error = Some(e.to_string());
            return listing;
        }
    };
    let default_in = host.default_input_device().and_then(|d| d.name().ok());
    let default_out = host.default_output_device().and_then(|d| d.name().ok());
    let info = |d: &cpal::Device, default: &Option<String>, direction: Direction| {
        let name = d.name().unwrap_or_else(|e| format!("(unnamed: {e})"));
        let config = match direction {
            Direction::Input => d.default_input_config(),
            Direction::Output => d.default_output_config(),
        };
        DeviceInfo {
            is_default: default.as_deref() == Some(name.as_str()),
            config: config.map_err(|e| e.to_string()).and_then(|c| spec_of(&c)),
            name,
        }
    };
    match host.input_devices() {
        Ok(devs) => {
            listing.inputs = devs
                .map(|d| info(&d, &default_in, Direction::Input))
                .collect();
        }
        Err(e) => listing.error = Some(e.to_string()),
    }
    match host.output_devices() {
        Ok(devs) => {
            listing.outputs = devs
                .map(|d| info(&d, &default_out, Direction::Output))
                .collect();
        }
        Err(e) => listing.error = Some(e.to_string()),
    }
    listing
}

/// Find the device to open: by name, or the host's default. Also says how many the host listed.
fn pick(
    host: &cpal::Host,
    direction: Direction,
    wanted: Option<&str>,
) -> Result<(cpal::Device, usize), DeviceError> {
    let listed: Vec<cpal::Device> = match direction {
        Direction::Input => host.input_devices().map(|d| d.collect()),
        Direction::Output => host.output_devices().map(|d| d.collect()),
    }
    .unwrap_or_default();
    let names: Vec<String> = listed
        .iter()
        .map(|d| d.name().unwrap_or_default())
        .collect();
    if let Some(w) = wanted {
        let found = match_device(&names, w).and_then(|n| names.iter().position(|x| x == n));
        return match found {
            Some(i) => Ok((listed[i].clone(), listed.len())),
            None if names.is_empty() => Err(DeviceError::NoDevice {
                direction,
                detail: format!("{} lists no {direction} device", host.id().name()),
            }),
            None => Err(DeviceError::NotFound {
                direction,
                wanted: w.to_string(),
                available: names.join(", "),
            }),
        };
    }
    let default = match direction {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    };
    match default {
        Some(d) => Ok((d, listed.len())),
        None if !listed.is_empty() => Ok((listed[0].clone(), listed.len())),
        None => Err(DeviceError::NoDevice {
            direction,
            detail: format!("{} has no default {direction} device", host.id().name()),
        }),
    }
}

/// Buffer sizes to try: a short fixed one when the device allows it, then its default.
fn buffer_sizes(supported: &SupportedStreamConfig) -> Vec<BufferSize> {
    let want = supported.sample_rate().0 * BUFFER_MS / 1000;
    match supported.buffer_size() {
        SupportedBufferSize::Range { min, max } if *min <= *max => {
            vec![
                BufferSize::Fixed(want.clamp(*min, *max)),
                BufferSize::Default,
            ]
        }
        _ => vec![BufferSize::Default],
    }
}

/// Logs stream errors without flooding; a device that disappeared ends the stream.
fn error_handler(
    status: Arc<StreamStatus>,
    direction: Direction,
    name: String,
) -> impl FnMut(cpal::StreamError) + Send + 'static {
    let mut count = 0u64;
    move |e| {
        if matches!(e, cpal::StreamError::DeviceNotAvailable) {
            log::error!("{direction} device {name}: {e}");
            status.fail();
            return;
        }
        count += 1;
        if count <= 5 || count.is_power_of_two() {
            log::warn!("{direction} device {name}: {e} ({count} so far)");
        }
    }
}

fn build_input<T: RawSample + cpal::SizedSample>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut callback: CaptureCallback,
    name: &str,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    let on_error = error_handler(callback.status(), Direction::Input, name.to_string());
    device.build_input_stream(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            callback.on_data(data);
        },
        on_error,
        None,
    )
}

fn build_output<T: RawSample + cpal::SizedSample>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut callback: PlaybackCallback,
    name: &str,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    let on_error = error_handler(callback.status(), Direction::Output, name.to_string());
    device.build_output_stream(
        config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            callback.on_data(data);
        },
        on_error,
        None,
    )
}

/// Dispatch on the device's sample format to a typed builder.
macro_rules! build_typed {
    ($build:ident, $format:expr, $($args:expr),*) => {
        match $format {
            SampleKind::I8 => $build::<i8>($($args),*),
            SampleKind::U8 => $build::<u8>($($args),*),
            SampleKind::I16 => $build::<i16>($($args),*),
            SampleKind::U16 => $build::<u16>($($args),*),
            SampleKind::I24 => $build::<cpal::I24>($($args),*),
            SampleKind::I32 => $build::<i32>($($args),*),
            SampleKind::U32 => $build::<u32>($($args),*),
            SampleKind::F32 => $build::<f32>($($args),*),
            SampleKind::F64 => $build::<f64>($($args),*),
        }
    };
}

fn open_error(direction: Direction, name: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Open {
        direction,
        name: name.to_string(),
        message: e.to_string(),
    }
}

/// The device and its native format; a default device that cannot be opened while the host
/// lists none is reported as "no device".
fn device_and_format(
    host: cpal::HostId,
    direction: Direction,
    wanted: Option<&str>,
) -> Result<(cpal::Device, String, SupportedStreamConfig, StreamSpec), DeviceError> {
    let host = cpal::host_from_id(host).map_err(|e| DeviceError::NoDevice {
        direction,
        detail: e.to_string(),
    })?;
    let (device, listed) = pick(&host, direction, wanted)?;
    let name = device.name().unwrap_or_else(|_| "unnamed".into());
    let supported = match direction {
        Direction::Input => device.default_input_config(),
        Direction::Output => device.default_output_config(),
    }
    .map_err(|e| {
        if listed == 0 {
            log::debug!("default {direction} device {name}: {e}");
            DeviceError::NoDevice {
                direction,
                detail: format!(
                    "{} lists none, and its default device {name:?} cannot be opened: no sound card?",
                    host.id().name()
                ),
            }
        } else {
            open_error(direction, &name, e)
        }
    })?;
    let spec = spec_of(&supported).map_err(|_| DeviceError::UnsupportedFormat {
        direction,
        name: name.clone(),
        format: supported.sample_format().to_string(),
    })?;
    Ok((device, name, supported, spec))
}

fn open_input_stream(
    host: cpal::HostId,
    wanted: Option<String>,
) -> Result<(DeviceInput, cpal::Stream), DeviceError> {
    let (device, name, supported, spec) =
        device_and_format(host, Direction::Input, wanted.as_deref())?;
    let mut last = String::new();
    for buffer_size in buffer_sizes(&supported) {
        let config = cpal::StreamConfig {
            channels: spec.channels,
            sample_rate: supported.sample_rate(),
            buffer_size,
        };
        // A fresh ring per attempt: a failed build consumed the callback.
        let (input, callback) = capture_pair(&name, spec);
        match build_typed!(build_input, spec.format, &device, &config, callback, &name) {
            Ok(stream) => {
                stream
                    .play()
                    .map_err(|e| open_error(Direction::Input, &name, e))?;
                return Ok((input, stream));
            }
            Err(e) => {
                log::debug!("input device {name}: {buffer_size:?} refused: {e}");
                last = e.to_string();
            }
        }
    }
    Err(open_error(Direction::Input, &name, last))
}

fn open_output_stream(
    host: cpal::HostId,
    wanted: Option<String>,
) -> Result<(DeviceOutput, cpal::Stream), DeviceError> {
    let (device, name, supported, spec) =
        device_and_format(host, Direction::Output, wanted.as_deref())?;
    let mut last = String::new();
    for buffer_size in buffer_sizes(&supported) {
        let config = cpal::StreamConfig {
            channels: spec.channels,
            sample_rate: supported.sample_rate(),
            buffer_size,
        };
        let (output, callback) = playback_pair(&name, spec);
        match build_typed!(build_output, spec.format, &device, &config, callback, &name) {
            Ok(stream) => {
                stream
                    .play()
                    .map_err(|e| open_error(Direction::Output, &name, e))?;
                return Ok((output, stream));
            }
            Err(e) => {
                log::debug!("output device {name}: {buffer_size:?} refused: {e}");
                last = e.to_string();
            }
        }
    }
    Err(open_error(Direction::Output, &name, last))
}

/// Holds a stream open on its keeper thread; dropping it closes the stream.
pub struct StreamKeeper {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for StreamKeeper {
    fn drop(&mut self) {
        // The keeper thread wakes when the sender goes, drops the stream and ends.
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Run `open` on a new keeper thread that then holds the stream until the keeper is dropped.
fn keep<E: Send + 'static>(
    direction: Direction,
    open: impl FnOnce() -> Result<(E, cpal::Stream), DeviceError> + Send + 'static,
) -> Result<(E, StreamKeeper), DeviceError> {
    let (result_tx, result_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("va-audio-{direction}"))
        .spawn(move || match open() {
            Ok((end, stream)) => {
                if result_tx.send(Ok(end)).is_ok() {
                    // Blocks until the keeper is dropped (no message is ever sent).
                    let _ = stop_rx.recv();
                }
                drop(stream);
            }
            Err(e) => {
                let _ = result_tx.send(Err(e));
            }
        })
        .map_err(|e| open_error(direction, "(keeper thread)", e))?;
    match result_rx.recv() {
        Ok(Ok(end)) => Ok((
            end,
            StreamKeeper {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
        )),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(open_error(
                direction,
                "(keeper thread)",
                "the audio thread panicked",
            ))
        }
    }
}

impl AudioBackend for CpalBackend {
    fn open_input(&self, name: Option<&str>) -> Result<DeviceInput, DeviceError> {
        let (host, wanted) = (self.host, name.map(str::to_string));
        let (mut input, keeper) = quiet::stderr_silenced(|| {
            keep(Direction::Input, move || open_input_stream(host, wanted))
        })?;
        input.attach(Box::new(keeper));
        input.set_stall_timeout(Some(STALL));
        log::info!("input device {}: {}", input.name(), input.spec());
        Ok(input)
    }

    fn open_output(&self, name: Option<&str>) -> Result<DeviceOutput, DeviceError> {
        let (host, wanted) = (self.host, name.map(str::to_string));
        let (mut output, keeper) = quiet::stderr_silenced(|| {
            keep(Direction::Output, move || open_output_stream(host, wanted))
        })?;
        output.attach(Box::new(keeper));
        log::info!("output device {}: {}", output.name(), output.spec());
        Ok(output)
    }
}

/// ALSA reports every configuration it probes and cannot find straight to stderr (dozens of
/// lines on a machine without a sound card). Silence stderr while devices are probed, unless
/// debug logging asks for everything.
mod quiet {
    #[cfg(target_os = "linux")]
    pub fn stderr_silenced<R>(f: impl FnOnce() -> R) -> R {
        use std::os::fd::{AsFd, AsRawFd, OwnedFd};
        use std::os::raw::c_int;

        extern "C" {
            fn dup2(from: c_int, to: c_int) -> c_int;
        }

        /// Puts the saved stderr back, even if `f` panics.
        struct Restore(OwnedFd);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: both descriptors are open for the duration of the call.
                unsafe { dup2(self.0.as_raw_fd(), 2) };
            }
        }

        if log::log_enabled!(log::Level::Debug) {
            return f();
        }
        let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
            return f();
        };
        let Ok(saved) = std::io::stderr().as_fd().try_clone_to_owned() else {
            return f();
        };
        // SAFETY: both descriptors are open; dup2 only replaces what fd 2 refers to.
        if unsafe { dup2(null.as_raw_fd(), 2) } < 0 {
            return f();
        }
        let _restore = Restore(saved);
        f()
    }

    #[cfg(not(target_os = "linux"))]
    pub fn stderr_silenced<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}
