//! Audio basics: frame sizes, PCM conversions, resampling, WAV files and the input/output seams.

pub mod io;
pub mod mulaw;
pub mod resample;
pub mod stream_resample;
pub mod wav;

pub use io::{AudioInput, AudioOutput, CallerInput};

/// Caller audio flows through the pipeline at this rate (mono PCM16).
pub const INPUT_RATE: u32 = 16_000;
/// Agent audio flows at this rate (mono PCM16): every TTS provider delivers it.
pub const OUTPUT_RATE: u32 = 24_000;
/// One capture frame: 20 ms at 16 kHz.
pub const FRAME_SAMPLES: usize = 320;
/// Duration of one capture frame.
pub const FRAME_MS: u64 = 20;

/// The level a caller's speech stands above (-40 dBFS): where it falls below for good, the
/// caller has really stopped, whatever a voice detector decides a little later.
pub const AUDIBLE_FLOOR: i16 = 328;

/// Whether any sample of `pcm` is audible speech level (at or above [`AUDIBLE_FLOOR`]).
pub fn is_audible(pcm: &[i16]) -> bool {
    pcm.iter().any(|s| s.unsigned_abs() >= AUDIBLE_FLOOR as u16)
}

/// PCM16 to f32 in [-1, 1).
pub fn i16_to_f32(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| s as f32 / 32768.0).collect()
}

/// f32 to PCM16 with clipping (NaN becomes silence).
pub fn f32_to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| {
            if s.is_nan() {
                0
            } else {
                (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16
            }
        })
        .collect()
}

/// Milliseconds of audio in `samples` at `rate`.
pub fn duration_ms(samples: usize, rate: u32) -> u64 {
    samples as u64 * 1000 / rate as u64
}

/// Root-mean-square level of PCM16 audio, in [0, 1].
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_and_clip() {
        let x = [0i16, 16384, -16384, 32767, -32768];
        let back = f32_to_i16(&i16_to_f32(&x));
        for (a, b) in x.iter().zip(back.iter()) {
            assert!((*a as i32 - *b as i32).abs() <= 1);
        }
        assert_eq!(f32_to_i16(&[2.0, -2.0, f32::NAN]), vec![32767, -32768, 0]);
        assert_eq!(duration_ms(16_000, 16_000), 1000);
        assert_eq!(rms(&[]), 0.0);
        assert!(rms(&[16384; 100]) > 0.49);
    }
}
