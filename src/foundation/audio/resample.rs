//! Sample-rate conversion of whole buffers: the streaming windowed-sinc converter
//! ([`StreamResampler`]) run over the buffer and flushed, so files, caller audio and the
//! voice's output all share one kernel.

pub use super::stream_resample::StreamResampler;

/// Resample mono `input` from `from` Hz to `to` Hz (`round(len * to / from)` samples). The
/// cutoff follows the lower rate, so downsampling does not alias.
pub fn resample_f32(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let out_len = (input.len() as f64 * f64::from(to) / f64::from(from)).round() as usize;
    let mut r = StreamResampler::new(from, to);
    let mut out = Vec::with_capacity(out_len + 1);
    r.process(input, &mut out);
    r.finish(&mut out);
    out.resize(out_len, 0.0);
    out
}

/// Resample PCM16.
pub fn resample_i16(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to {
        return input.to_vec();
    }
    super::f32_to_i16(&resample_f32(&super::i16_to_f32(input), from, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn tone(freq: f64, rate: u32, secs: f64) -> Vec<f32> {
        (0..(rate as f64 * secs) as usize)
            .map(|i| (2.0 * PI * freq * i as f64 / rate as f64).sin() as f32 * 0.5)
            .collect()
    }

    fn energy(x: &[f32]) -> f64 {
        x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64
    }

    #[test]
    fn keeps_length_and_a_tone_in_band() {
        let x = tone(440.0, 22_050, 1.0);
        let y = resample_f32(&x, 22_050, 24_000);
        assert_eq!(y.len(), 24_000);
        // Same level (0.125 for a 0.5-amplitude sine), and still a 440 Hz tone: compare with a
        // freshly generated one at the new rate, skipping the edges.
        assert!((energy(&y) - 0.125).abs() < 0.01, "energy {}", energy(&y));
        let reference = tone(440.0, 24_000, 1.0);
        let err: f64 = y[100..23_900]
            .iter()
            .zip(&reference[100..23_900])
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / 23_800.0;
        assert!(err < 1e-4, "mse {err}");
    }

    #[test]
    fn downsampling_removes_frequencies_above_the_new_nyquist() {
        // 7 kHz is fine at 48 kHz but must vanish at 8 kHz (Nyquist 4 kHz).
        let x = tone(7_000.0, 48_000, 0.5);
        let y = resample_f32(&x, 48_000, 8_000);
        assert_eq!(y.len(), 4_000);
        assert!(
            energy(&y[200..3800]) < 0.002,
            "aliased energy {}",
            energy(&y)
        );
        let z = resample_f32(&tone(1_000.0, 48_000, 0.5), 48_000, 8_000);
        assert!(energy(&z[200..3800]) > 0.1);
    }

    #[test]
    fn identity_and_empty() {
        assert_eq!(resample_i16(&[1, 2, 3], 16_000, 16_000), vec![1, 2, 3]);
        assert!(resample_f32(&[], 16_000, 24_000).is_empty());
    }
}
