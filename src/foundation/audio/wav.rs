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

/// Read a WAV file of any sample rate, channel count and sample format as mono PCM16 at `rate`.
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
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(WavError::Format {
            path: p,
            message: "zero channels or sample rate".into(),
        });
    }
    let fmt = |e: hound::Error| WavError::Format {
        path: p.clone(),
        message: e.to_string(),
    };
    // Everything to f32 first, whatever the sample format.
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(fmt)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(fmt)?
        }
    };
    let ch = spec.channels as usize;
    let mono: Vec<f32> = interleaved
        .chunks(ch)
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
