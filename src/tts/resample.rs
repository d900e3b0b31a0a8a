//! Band-limited sample-rate conversion (Kaiser-windowed sinc, polyphase).
//!
//! Used to bring Piper's 22,050 Hz output to the pipeline's 24 kHz; works for any pair of
//! rates (16k <-> 24k, 44.1k -> 24k). Each call converts one self-contained buffer: the signal
//! is taken as silent outside it, which suits utterance-sized chunks.

use std::f64::consts::PI;

/// Filter half-length in input samples at the passband edge (more taps: sharper cut-off).
const HALF_TAPS: usize = 16;
/// Passband edge as a fraction of the lower Nyquist frequency; the rest is the transition band.
const ROLL_OFF: f64 = 0.92;
/// Kaiser window shape: about 80 dB stop-band attenuation.
const KAISER_BETA: f64 = 8.0;
/// Above this many phases the filter is computed per sample instead of tabulated.
const MAX_TABLE_PHASES: usize = 1024;

/// A converter between two fixed rates; build once, reuse for every buffer.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Output samples per `down` input samples, after dividing both rates by their gcd.
    up: usize,
    down: usize,
    /// Cut-off in cycles per input sample (0.5 = input Nyquist), already rolled off.
    cutoff: f64,
    /// Taps on each side of the output instant, in input samples.
    half: usize,
    /// `up` phases x `2 * half` taps, or empty when computed on the fly.
    table: Vec<f32>,
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz. Rates of zero are treated as 1 Hz.
    pub fn new(from: u32, to: u32) -> Resampler {
        let (from, to) = (from.max(1) as usize, to.max(1) as usize);
        let g = gcd(from, to);
        let (up, down) = (to / g, from / g);
        // Downsampling must also remove what the lower rate cannot hold.
        let ratio = (to as f64 / from as f64).min(1.0);
        let cutoff = 0.5 * ratio * ROLL_OFF;
        let half = (HALF_TAPS as f64 / ratio).ceil() as usize;
        let mut resampler = Resampler {
            up,
            down,
            cutoff,
            half,
            table: Vec::new(),
        };
        if up <= MAX_TABLE_PHASES {
            let taps = 2 * half;
            let mut table = Vec::with_capacity(up * taps);
            for phase in 0..up {
                table.extend(resampler.kernel(phase));
            }
            debug_assert_eq!(table.len(), up * taps);
            resampler.table = table;
        }
        resampler
    }

    /// Output length for `input_len` input samples.
    pub fn output_len(&self, input_len: usize) -> usize {
        (input_len * self.up).div_ceil(self.down)
    }

    /// Converts one buffer.
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        if self.up == self.down {
            return input.to_vec();
        }
        let taps = 2 * self.half;
        let mut out = Vec::with_capacity(self.output_len(input.len()));
        for n in 0..self.output_len(input.len()) {
            let position = n * self.down;
            let (base, phase) = (position / self.up, position % self.up);
            let computed;
            let weights: &[f32] = if self.table.is_empty() {
                computed = self.kernel(phase);
                &computed
            } else {
                &self.table[phase * taps..(phase + 1) * taps]
            };
            // Tap j sits at input index base + 1 - half + j.
            let first = base as isize + 1 - self.half as isize;
            let mut acc = 0.0f32;
            for (j, w) in weights.iter().enumerate() {
                let k = first + j as isize;
                if k >= 0 && (k as usize) < input.len() {
                    acc += w * input[k as usize];
                }
            }
            out.push(acc);
        }
        out
    }

    /// Weights of the `2 * half` taps for one output phase, normalised to unit DC gain.
    fn kernel(&self, phase: usize) -> Vec<f32> {
        let frac = phase as f64 / self.up as f64;
        let weights: Vec<f64> = (0..2 * self.half)
            .map(|j| {
                // Distance from the output instant to tap j, in input samples.
                let d = frac + self.half as f64 - 1.0 - j as f64;
                let window = kaiser(d / self.half as f64);
                2.0 * self.cutoff * sinc(2.0 * self.cutoff * d) * window
            })
            .collect();
        let sum: f64 = weights.iter().sum();
        weights.iter().map(|w| (w / sum) as f32).collect()
    }
}

/// Resamples `input` from `from` Hz to `to` Hz (builds a fresh [`Resampler`]; keep one for
/// repeated use).
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    Resampler::new(from, to).process(input)
}

/// Float samples (nominally -1..1) to PCM16, clamped.
pub fn to_pcm16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// Kaiser window at `x` in -1..1 (zero outside).
fn kaiser(x: f64) -> f64 {
    if x.abs() > 1.0 {
        return 0.0;
    }
    bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / bessel_i0(KAISER_BETA)
}

/// Modified Bessel function of the first kind, order zero (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-16 {
            break;
        }
    }
    sum
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| (2.0 * PI * freq * n as f64 / rate as f64).sin() as f32 * 0.5)
            .collect()
    }

    /// Largest error against the ideal sine, away from the buffer edges.
    fn max_error_against_sine(out: &[f32], freq: f64, rate: u32) -> f32 {
        let ideal = sine(freq, rate, out.len());
        let margin = 100;
        out[margin..out.len() - margin]
            .iter()
            .zip(&ideal[margin..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn piper_rate_to_output_rate_keeps_a_tone() {
        let input = sine(1000.0, 22_050, 22_050);
        let out = resample(&input, 22_050, 24_000);
        assert_eq!(out.len(), 24_000);
        assert!(max_error_against_sine(&out, 1000.0, 24_000) < 1e-3);
    }

    #[test]
    fn up_and_down_between_16k_and_24k() {
        let input = sine(440.0, 16_000, 16_000);
        let up = resample(&input, 16_000, 24_000);
        assert_eq!(up.len(), 24_000);
        assert!(max_error_against_sine(&up, 440.0, 24_000) < 1e-3);
        let down = resample(&up, 24_000, 16_000);
        assert_eq!(down.len(), 16_000);
        assert!(max_error_against_sine(&down, 440.0, 16_000) < 1e-3);
    }

    #[test]
    fn downsampling_removes_what_the_lower_rate_cannot_hold() {
        // 10 kHz is above 16 kHz's Nyquist: it must not fold back as a 6 kHz alias.
        let input = sine(10_000.0, 24_000, 24_000);
        let out = resample(&input, 24_000, 16_000);
        let rms = (out[200..out.len() - 200].iter().map(|s| s * s).sum::<f32>()
            / (out.len() - 400) as f32)
            .sqrt();
        assert!(rms < 0.005, "alias rms {rms}");
    }

    #[test]
    fn untabulated_rates_match_tabulated_quality() {
        // 22,051 -> 24,000 has 24,000 phases: the per-sample path.
        let r = Resampler::new(22_051, 24_000);
        assert!(r.table.is_empty());
        let out = r.process(&sine(500.0, 22_051, 8_000));
        assert!(max_error_against_sine(&out, 500.0, 24_000) < 1e-3);
    }

    #[test]
    fn same_rate_is_identity_and_pcm_is_clamped() {
        assert_eq!(resample(&[0.1, -0.2], 8_000, 8_000), vec![0.1, -0.2]);
        assert_eq!(
            to_pcm16(&[0.0, 1.0, -1.0, 2.0, -2.0]),
            vec![0, 32767, -32767, 32767, -32768]
        );
    }
}
