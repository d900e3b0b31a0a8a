//! WAV files in and out: caller input at any format, a stereo conversation recording, and a paced
//! file source for the pipeline.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::resample::resample_i16;
use super::{AudioInput, FRAME_SAMPLES, INPUT_RATE};
use crate::foundation::audio::OUTPUT_RATE;

#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("{path} is not a usable WAV file: {message}")]
    Format { path: String, message: String },
}

/// Sample rates accepted: from a narrow telephone band to studio rates. Anything outside is a
/// broken or hostile header (a file claiming 1 Hz would make resampling ask for gigabytes).
pub const RATES: std::ops::RangeInclusive<u32> = 4_000..=384_000;
/// The most channels accepted.
pub const MAX_CHANNELS: u16 = 16;
/// The longest input accepted, in seconds of audio.
pub const MAX_SECONDS: u64 = 2 * 60 * 60;

/// Read a WAV file of any sample rate (within [`RATES`]), channel count (up to
/// [`MAX_CHANNELS`]) and sample format as mono PCM16 at `rate`, at most [`MAX_SECONDS`] long.
/// A file cut short plays up to its cut, with a warning.
pub fn read_wav_mono(path: &Path, rate: u32) -> Result<Vec<i16>, WavError> {
    let p = path.display().to_string();
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(io) => WavError::Read {
            path: p.clone(),
            message: io.to_string(),
        },
        other => WavError::Format {
            path: p.clone(),
            message: other.to_string(),
        },
    })?;
    let spec = reader.spec();
    let refuse = |message: String| WavError::Format {
        path: p.clone(),
        message,
    };
    if !RATES.contains(&spec.sample_rate) {
        return Err(refuse(format!(
            "a sample rate of {} Hz is not supported ({} to {} Hz)",
            spec.sample_rate,
            RATES.start(),
            RATES.end()
        )));
    }
    if spec.channels == 0 || spec.channels > MAX_CHANNELS {
        return Err(refuse(format!(
            "{} channels are not supported (1 to {MAX_CHANNELS})",
            spec.channels
        )));
    }
    let seconds = u64::from(reader.duration()) / u64::from(spec.sample_rate);
    if seconds > MAX_SECONDS {
        return Err(refuse(format!(
            "{seconds} s of audio is longer than the {MAX_SECONDS} s accepted"
        )));
    }
    // Everything to f32 first, whatever the sample format; a cut stops the reading there.
    let mut cut: Option<hound::Error> = None;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .map_while(|s| s.map_err(|e| cut = Some(e)).ok())
            .collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map_while(|s| s.map_err(|e| cut = Some(e)).ok())
                .map(|v| v as f32 * scale)
                .collect()
        }
    };
    // PCM samples are any bytes at all: what stops the reading early is the data ending before
    // the header said it would (hound: "not enough bytes"), or the file failing under us.
    if let Some(e) = cut {
        log::warn!(
            "{p} is cut short ({e}): playing the {:.1} s it holds",
            interleaved.len() as f64 / f64::from(spec.channels) / f64::from(spec.sample_rate)
        );
    }
    let ch = spec.channels as usize;
    let mono: Vec<f32> = interleaved
        .chunks_exact(ch)
        .map(|frame| frame.iter().sum::<f32>() / ch as f32)
        .collect();
    let pcm = super::f32_to_i16(&mono);
    Ok(resample_i16(&pcm, spec.sample_rate, rate))
}

/// Write mono PCM16 to a WAV file.
pub fn write_wav_mono(path: &Path, pcm: &[i16], rate: u32) -> Result<(), WavError> {
    write_wav(path, &[pcm], rate)
}

fn write_wav(path: &Path, channels: &[&[i16]], rate: u32) -> Result<(), WavError> {
    let p = path.display().to_string();
    let err = |e: hound::Error| WavError::Write {
        path: p.clone(),
        message: e.to_string(),
    };
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    let len = channels.iter().map(|c| c.len()).max().unwrap_or(0);
    for i in 0..len {
        for c in channels {
            w.write_sample(c.get(i).copied().unwrap_or(0))
                .map_err(err)?;
        }
    }
    w.finalize().map_err(err)
}

/// Records a conversation as a stereo timeline at 24 kHz: caller on the left, agent on the right,
/// each placed at the media time it was heard or played.
#[derive(Clone, Default)]
pub struct ConversationRecorder {
    inner: Arc<Mutex<Tracks>>,
}

#[derive(Default)]
struct Tracks {
    caller: Vec<i16>,
    agent: Vec<i16>,
}

fn place(track: &mut Vec<i16>, at_ms: u64, pcm: &[i16]) {
    let start = (at_ms * OUTPUT_RATE as u64 / 1000) as usize;
    if track.len() < start + pcm.len() {
        track.resize(start + pcm.len(), 0);
    }
    for (dst, &s) in track[start..start + pcm.len()].iter_mut().zip(pcm) {
        *dst = dst.saturating_add(s);
    }
}

impl ConversationRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Caller audio (16 kHz) heard at `at_ms` of media time.
    pub fn caller(&self, at_ms: u64, pcm16k: &[i16]) {
        let up = resample_i16(pcm16k, INPUT_RATE, OUTPUT_RATE);
        if let Ok(mut t) = self.inner.lock() {
            place(&mut t.caller, at_ms, &up);
        }
    }

    /// Agent audio (24 kHz) played at `at_ms` of media time.
    pub fn agent(&self, at_ms: u64, pcm24k: &[i16]) {
        if let Ok(mut t) = self.inner.lock() {
            place(&mut t.agent, at_ms, pcm24k);
        }
    }

    /// Seconds of agent audio recorded (non-silent span length, for reports and tests).
    pub fn agent_samples(&self) -> Vec<i16> {
        self.inner
            .lock()
            .map(|t| t.agent.clone())
            .unwrap_or_default()
    }

    /// Write the stereo WAV (24 kHz, left caller, right agent).
    pub fn write(&self, path: &Path) -> Result<(), WavError> {
        let t = self.inner.lock().map_err(|_| WavError::Write {
            path: path.display().to_string(),
            message: "recorder lock poisoned".into(),
        })?;
        write_wav(path, &[&t.caller, &t.agent], OUTPUT_RATE)
    }
}

/// A caller WAV played into the pipeline in 20 ms frames, at real-time pace or as fast as possible.
pub struct WavInput {
    samples: Vec<i16>,
    pos: usize,
    realtime: bool,
    started: Option<Instant>,
    frames_sent: u32,
}

impl WavInput {
    pub fn open(path: &Path, realtime: bool) -> Result<Self, WavError> {
        Ok(Self::from_samples(
            read_wav_mono(path, INPUT_RATE)?,
            realtime,
        ))
    }

    /// 16 kHz mono samples.
    pub fn from_samples(samples: Vec<i16>, realtime: bool) -> Self {
        Self {
            samples,
            pos: 0,
            realtime,
            started: None,
            frames_sent: 0,
        }
    }
}

impl AudioInput for WavInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        if self.pos >= self.samples.len() {
            return None;
        }
        if self.realtime {
            let start = *self.started.get_or_insert_with(Instant::now);
            // Frames are due on a fixed schedule from the start, so sleep jitter never accumulates.
            let due = start + Duration::from_millis(20) * self.frames_sent;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let end = (self.pos + FRAME_SAMPLES).min(self.samples.len());
        let mut frame = self.samples[self.pos..end].to_vec();
        frame.resize(FRAME_SAMPLES, 0);
        self.pos = end;
        self.frames_sent += 1;
        Some(frame)
    }

    fn is_realtime(&self) -> bool {
        self.realtime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("va-wav-{}-{name}", std::process::id()))
    }

    #[test]
    fn reads_stereo_float_at_any_rate_as_mono_16k() {
        let path = tmp("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..48_000 {
            w.write_sample(0.5f32).unwrap();
            w.write_sample(0.0f32).unwrap();
        }
        w.finalize().unwrap();
        let mono = read_wav_mono(&path, 16_000).unwrap();
        assert_eq!(mono.len(), 16_000);
        // Mixed down: (0.5 + 0) / 2 = 0.25 of full scale.
        assert!((mono[8000] as i32 - 8192).abs() < 100, "{}", mono[8000]);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn not_a_wav_is_a_format_error() {
        let path = tmp("bad.wav");
        std::fs::write(&path, b"this is not a wav file at all").unwrap();
        match read_wav_mono(&path, 16_000) {
            Err(WavError::Format { .. }) => {}
            other => panic!("expected a format error, got {other:?}"),
        }
        assert!(matches!(
            read_wav_mono(&tmp("missing.wav"), 16_000),
            Err(WavError::Read { .. })
        ));
        std::fs::remove_file(&path).ok();
    }

    /// A 16-bit mono WAV of `samples` at `rate`, with its header as given (patched below).
    fn wav_bytes(rate: u32, channels: u16, samples: usize) -> Vec<u8> {
        let mut b = Vec::new();
        let data = (samples * 2) as u32;
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        b.extend_from_slice(&(2 * channels).to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&data.to_le_bytes());
        b.extend(std::iter::repeat_n([0x10u8, 0x00], samples).flatten());
        b
    }

    #[test]
    fn hostile_headers_are_refused_before_any_work() {
        // A tiny file claiming 1 Hz would have asked the resampler for gigabytes.
        for (name, rate, channels, why) in [
            ("1hz", 1, 1, "sample rate of 1 Hz"),
            ("fast", 10_000_000, 1, "sample rate of 10000000 Hz"),
            ("channels", 16_000, 64, "64 channels"),
        ] {
            let path = tmp(name);
            std::fs::write(&path, wav_bytes(rate, channels, 64)).unwrap();
            match read_wav_mono(&path, 16_000) {
                Err(WavError::Format { message, .. }) => {
                    assert!(message.contains(why), "{message}")
                }
                other => panic!("{name}: expected a format error, got {other:?}"),
            }
            std::fs::remove_file(&path).ok();
        }
        // A header claiming three hours (its data is not there: refused on the header alone).
        let mut long = wav_bytes(16_000, 1, 16);
        let claimed = (3 * 3600 * 16_000 * 2u32).to_le_bytes();
        long[40..44].copy_from_slice(&claimed);
        let path = tmp("long");
        std::fs::write(&path, long).unwrap();
        match read_wav_mono(&path, 16_000) {
            Err(WavError::Format { message, .. }) => {
                assert!(message.contains("longer"), "{message}")
            }
            other => panic!("expected a format error, got {other:?}"),
        }
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn a_file_cut_short_plays_up_to_its_cut() {
        let mut bytes = wav_bytes(16_000, 1, 16_000);
        bytes.truncate(44 + 8_000 * 2 + 1);
        let path = tmp("cut");
        std::fs::write(&path, bytes).unwrap();
        let pcm = read_wav_mono(&path, 16_000).expect("what is there plays");
        assert_eq!(pcm.len(), 8_000);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn wav_input_yields_padded_20ms_frames() {
        let mut input = WavInput::from_samples(vec![1; 700], false);
        let frames: Vec<_> = std::iter::from_fn(|| input.next_frame()).collect();
        assert_eq!(frames.len(), 3);
        assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
        assert_eq!(frames[2][59], 1);
        assert_eq!(frames[2][60], 0);
    }

    #[test]
    fn recorder_places_tracks_in_time() {
        let rec = ConversationRecorder::new();
        rec.caller(0, &[1000; 1600]);
        rec.agent(1000, &[2000; 2400]);
        let path = tmp("conv.wav");
        rec.write(&path).unwrap();
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().channels, 2);
        assert_eq!(r.spec().sample_rate, 24_000);
        let s: Vec<i16> = r.into_samples::<i16>().map(|x| x.unwrap()).collect();
        // Frame 24_000 (1.0 s) right channel holds agent audio; left is silent there.
        assert_eq!(s[2 * 24_000 + 1], 2000);
        assert_eq!(s[2 * 24_000], 0);
        assert!(s[2 * 1000] != 0);
        std::fs::remove_file(&path).ok();
    }
}
