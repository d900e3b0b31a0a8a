//! G.711 μ-law: the telephone network's audio, 8 bits a sample at 8 kHz, and the conversions
//! between a phone call's audio and the pipeline's (16 kHz in, 24 kHz out), through the
//! project's one resampling kernel.
//!
//! μ-law keeps about 14 bits of dynamic range in 8 by spacing its steps logarithmically: a
//! sign, a 3-bit segment (exponent) and a 4-bit step within it, stored inverted.

use super::stream_resample::StreamResampler;
use super::{f32_to_i16, i16_to_f32, INPUT_RATE, OUTPUT_RATE};

/// The telephone band's sample rate.
pub const PHONE_RATE: u32 = 8_000;
/// Samples a phone frame of 20 ms carries.
pub const PHONE_FRAME: usize = 160;

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// One PCM16 sample as μ-law.
pub fn encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    // The segment: where the highest set bit lies, from bit 7 (segment 0) to bit 14 (7).
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// One μ-law byte as PCM16.
pub fn decode(byte: u8) -> i16 {
    let b = !byte;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    let s = if b & 0x80 != 0 { -magnitude } else { magnitude };
    s as i16
}

/// PCM16 samples as μ-law bytes.
pub fn encode_all(pcm: &[i16]) -> Vec<u8> {
    pcm.iter().map(|&s| encode(s)).collect()
}

/// μ-law bytes as PCM16 samples.
pub fn decode_all(mulaw: &[u8]) -> Vec<i16> {
    mulaw.iter().map(|&b| decode(b)).collect()
}

/// Caller audio from a phone: μ-law at 8 kHz in, PCM16 at the pipeline's input rate out.
pub struct PhoneIn {
    resampler: StreamResampler,
}

impl Default for PhoneIn {
    fn default() -> Self {
        Self {
            resampler: StreamResampler::new(PHONE_RATE, INPUT_RATE),
        }
    }
}

impl PhoneIn {
    /// Convert what arrived; the resampler keeps the tail it needs for the next call.
    pub fn push(&mut self, mulaw: &[u8]) -> Vec<i16> {
        let pcm = decode_all(mulaw);
        let mut out = Vec::with_capacity(pcm.len() * 2 + 16);
        self.resampler.process(&i16_to_f32(&pcm), &mut out);
        f32_to_i16(&out)
    }
}

/// Agent audio for a phone: PCM16 at the pipeline's output rate in, μ-law at 8 kHz out.
pub struct PhoneOut {
    resampler: StreamResampler,
}

impl Default for PhoneOut {
    fn default() -> Self {
        Self {
            resampler: StreamResampler::new(OUTPUT_RATE, PHONE_RATE),
        }
    }
}

impl PhoneOut {
    pub fn push(&mut self, pcm: &[i16]) -> Vec<u8> {
        let mut out = Vec::with_capacity(pcm.len() / 3 + 16);
        self.resampler.process(&i16_to_f32(pcm), &mut out);
        encode_all(&f32_to_i16(&out))
    }

    /// Drop what is held for the next call (the reply it belonged to was cut off).
    pub fn reset(&mut self) {
        self.resampler.reset();
    }
}

/// `pcm` as the telephone network carries it: band-limited to 8 kHz sampling and μ-law coded,
/// back at `rate`. What a phone caller's speech looks like to the pipeline.
pub fn through_phone_line(pcm: &[i16], rate: u32) -> Vec<i16> {
    let mut down = StreamResampler::new(rate, PHONE_RATE);
    let mut narrow = Vec::new();
    down.process(&i16_to_f32(pcm), &mut narrow);
    down.finish(&mut narrow);
    let coded = i16_to_f32(&decode_all(&encode_all(&f32_to_i16(&narrow))));
    let mut up = StreamResampler::new(PHONE_RATE, rate);
    let mut out = Vec::new();
    up.process(&coded, &mut out);
    up.finish(&mut out);
    f32_to_i16(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_code_points() {
        // Silence is 0xFF; the loudest codes decode to ±32124 (ITU-T G.711's table).
        assert_eq!(encode(0), 0xFF);
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x00), -32_124);
        assert_eq!(decode(0x80), 32_124);
        assert_eq!(encode(i16::MAX), 0x80);
        assert_eq!(encode(i16::MIN), 0x00);
        assert_eq!(encode(-1), 0x7F);
    }

    #[test]
    fn every_code_survives_a_round_trip_and_samples_keep_their_shape() {
        for b in 0..=255u8 {
            let back = encode(decode(b));
            // 0x7F (negative zero) comes back as 0xFF (zero).
            assert!(
                back == b || (b == 0x7F && back == 0xFF),
                "{b:#x} -> {back:#x}"
            );
        }
        // Quantisation error within half a step: steps grow with the level, 1/16 of the segment.
        for s in (-32_000i32..32_000).step_by(97) {
            let s = s as i16;
            let err = (i32::from(decode(encode(s))) - i32::from(s)).abs();
            let step = (i32::from(s).abs() + BIAS) / 16;
            assert!(err <= step.max(4), "{s}: error {err}");
        }
    }

    #[test]
    fn a_tone_crosses_the_phone_line_in_both_directions() {
        // 440 Hz, well inside the telephone band.
        let tone = |rate: u32, n: usize| -> Vec<i16> {
            (0..n)
                .map(|i| {
                    let t = i as f32 / rate as f32;
                    (8_000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()) as i16
                })
                .collect()
        };
        let mut out = PhoneOut::default();
        let mulaw: Vec<u8> = tone(OUTPUT_RATE, 4_800)
            .chunks(480)
            .flat_map(|c| out.push(c))
            .collect();
        // 200 ms at 24 kHz becomes about 200 ms at 8 kHz (less the resampler's delay).
        assert!((1_500..=1_600).contains(&mulaw.len()), "{}", mulaw.len());
        let mut inp = PhoneIn::default();
        let back: Vec<i16> = mulaw
            .chunks(PHONE_FRAME)
            .flat_map(|c| inp.push(c))
            .collect();
        assert!(
            (2 * 1_500..=2 * 1_600).contains(&back.len()),
            "{}",
            back.len()
        );
        // The tone's level survives (RMS of a sine of 8000 is about 5657).
        let tail = &back[800..];
        let rms =
            (tail.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
        assert!((5_000.0..6_300.0).contains(&rms), "{rms}");
        let line = through_phone_line(&tone(INPUT_RATE, 3_200), INPUT_RATE);
        assert!((3_100..=3_300).contains(&line.len()), "{}", line.len());
    }
}
