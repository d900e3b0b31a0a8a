//! Streaming sample-rate conversion: the same windowed-sinc kernel as
//! [`crate::foundation::audio::resample`], but fed in pieces of any size with no seams between them, as a
//! device delivers audio. The rate ratio is kept as an exact fraction, so the output never
//! drifts, and for the usual rates the kernel is precomputed once per phase.

use std::f64::consts::PI;

/// Half-width of the kernel, in samples at the lower rate (as in `audio::resample`).
const TAPS: usize = 16;
/// Precompute the kernel when the ratio has at most this many phases (44.1 kHz -> 16 kHz has 160).
const MAX_TABLE_PHASES: usize = 4_096;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-9 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// Converts a mono stream from one rate to another, piece by piece.
pub struct StreamResampler {
    from: u32,
    to: u32,
    /// Output positions advance by `down / up` input samples.
    up: usize,
    down: usize,
    half: usize,
    cutoff: f64,
    /// `up` rows of `2 * half` normalised taps, or empty when computed on the fly.
    table: Vec<f32>,
    scratch: Vec<f32>,
    /// Input not yet fully used; the next output sits at `center + phase / up`.
    buf: Vec<f32>,
    center: usize,
    phase: usize,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Self {
        let (from, to) = (from.max(1), to.max(1));
        let g = gcd(from as u64, to as u64);
        let (up, down) = ((to as u64 / g) as usize, (from as u64 / g) as usize);
        let cutoff = (to as f64 / from as f64).min(1.0) * 0.95;
        let half = (TAPS as f64 / cutoff).ceil() as usize;
        let mut r = Self {
            from,
            to,
            up,
            down,
            half,
            cutoff,
            table: Vec::new(),
            scratch: vec![0.0; 2 * half],
            buf: Vec::new(),
            center: 0,
            phase: 0,
        };
        if from != to && up <= MAX_TABLE_PHASES {
            let mut row = vec![0.0; 2 * half];
            for p in 0..up {
                r.taps(p, &mut row);
                r.table.extend_from_slice(&row);
            }
        }
        r.reset();
        r
    }

    pub fn from_rate(&self) -> u32 {
        self.from
    }

    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// How far the output lags the input, in input samples.
    pub fn delay(&self) -> usize {
        if self.from == self.to {
            0
        } else {
            self.half
        }
    }

    /// Forget the stream so far (a flush): the next input starts a new stream.
    pub fn reset(&mut self) {
        self.buf.clear();
        // Silence before the first sample, so the first outputs have a full kernel.
        self.buf.resize(self.half, 0.0);
        self.center = self.half;
        self.phase = 0;
    }

    /// The normalised taps for output phase `p` (of `up`), over inputs `center-half+1 ..= center+half`.
    fn taps(&self, p: usize, out: &mut [f32]) {
        let frac = p as f64 / self.up as f64;
        let half = self.half as f64;
        let mut h = vec![0.0f64; out.len()];
        for (j, hj) in h.iter_mut().enumerate() {
            let x = (self.half as f64 - 1.0 - j as f64) + frac;
            let w = 0.42 + 0.5 * (PI * x / half).cos() + 0.08 * (2.0 * PI * x / half).cos();
            *hj = if w > 0.0 {
                self.cutoff * sinc(self.cutoff * x) * w
            } else {
                0.0
            };
        }
        // Unit gain at DC.
        let norm: f64 = h.iter().sum();
        for (o, v) in out.iter_mut().zip(&h) {
            *o = (v / norm) as f32;
        }
    }

    /// End the stream: silence after the last input lets the kernel's look-ahead out, so `out`
    /// gets the outputs up to the last input sample. Call [`reset`](Self::reset) before reuse.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        let tail = vec![0.0; self.delay()];
        self.process(&tail, out);
    }

    /// Convert `input`, appending what can be computed so far to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.from == self.to {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend_from_slice(input);
        let width = 2 * self.half;
        while self.center + self.half < self.buf.len() {
            let start = self.center + 1 - self.half;
            let window = &self.buf[start..start + width];
            let acc: f32 = if self.table.is_empty() {
                let mut taps = std::mem::take(&mut self.scratch);
                self.taps(self.phase, &mut taps);
                let acc = window.iter().zip(&taps).map(|(a, b)| a * b).sum();
                self.scratch = taps;
                acc
            } else {
                let row = &self.table[self.phase * width..(self.phase + 1) * width];
                window.iter().zip(row).map(|(a, b)| a * b).sum()
            };
            out.push(acc);
            self.phase += self.down;
            self.center += self.phase / self.up;
            self.phase %= self.up;
        }
        // Keep only the inputs the next outputs still need.
        let used = (self.center + 1)
            .saturating_sub(self.half)
            .min(self.buf.len());
        if used > 0 {
            self.buf.drain(..used);
            self.center -= used;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * PI * freq * i as f64 / rate as f64).sin() as f32 * 0.5)
            .collect()
    }

    /// Feed `x` in pieces of the given sizes (cycled).
    fn run(r: &mut StreamResampler, x: &[f32], sizes: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        let (mut i, mut k) = (0, 0);
        while i < x.len() {
            let n = sizes[k % sizes.len()].min(x.len() - i);
            r.process(&x[i..i + n], &mut out);
            i += n;
            k += 1;
        }
        out
    }

    #[test]
    fn pieces_of_any_size_give_the_same_stream() {
        let x = tone(1_000.0, 44_100, 44_100);
        let whole = run(&mut StreamResampler::new(44_100, 16_000), &x, &[x.len()]);
        let pieces = run(
            &mut StreamResampler::new(44_100, 16_000),
            &x,
            &[441, 1, 1_000, 37],
        );
        assert_eq!(whole, pieces);
        // Exact ratio: every output whose kernel is complete has been produced.
        let delay = StreamResampler::new(44_100, 16_000).delay();
        let expect = ((44_100 - delay) as f64 * 16_000.0 / 44_100.0).ceil() as usize;
        assert!(
            whole.len().abs_diff(expect) <= 1,
            "{} vs {expect}",
            whole.len()
        );
    }

    #[test]
    fn matches_a_fresh_tone_at_the_new_rate_after_the_delay() {
        for (from, to) in [
            (48_000, 16_000),
            (24_000, 44_100),
            (24_000, 48_000),
            (22_050, 16_000),
        ] {
            let mut r = StreamResampler::new(from, to);
            let y = run(&mut r, &tone(440.0, from, from as usize), &[480, 333]);
            // Output n sits at input n*from/to: the same tone, started at the same instant.
            let reference = tone(440.0, to, y.len());
            let skip = (2 * r.delay()) * to as usize / from as usize + 10;
            let err: f64 = y[skip..]
                .iter()
                .zip(&reference[skip..])
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / (y.len() - skip) as f64;
            assert!(err < 1e-4, "{from}->{to}: mse {err}");
        }
    }

    #[test]
    fn downsampling_filters_above_the_new_nyquist_and_reset_restarts() {
        let mut r = StreamResampler::new(48_000, 16_000);
        let y = run(&mut r, &tone(10_000.0, 48_000, 24_000), &[480]);
        let e: f32 = y[100..].iter().map(|v| v * v).sum::<f32>() / (y.len() - 100) as f32;
        assert!(e < 0.002, "aliased energy {e}");
        // After a reset, the old stream leaves no trace: same output as a fresh resampler.
        run(&mut r, &tone(1_000.0, 48_000, 4_800), &[480]);
        r.reset();
        let mut fresh = StreamResampler::new(48_000, 16_000);
        let step = vec![0.5f32; 960];
        assert_eq!(run(&mut r, &step, &[480]), run(&mut fresh, &step, &[480]));
    }

    #[test]
    fn same_rate_passes_through() {
        let mut r = StreamResampler::new(16_000, 16_000);
        let mut out = Vec::new();
        r.process(&[0.1, 0.2], &mut out);
        assert_eq!(out, vec![0.1, 0.2]);
        assert_eq!(r.delay(), 0);
    }

    #[test]
    fn odd_ratios_without_a_table_still_work() {
        // 16 kHz -> 44 101 Hz has 44 101 phases: computed on the fly.
        let mut r = StreamResampler::new(16_000, 44_101);
        assert!(r.table.is_empty());
        let y = run(&mut r, &tone(300.0, 16_000, 1_600), &[160]);
        let reference = tone(300.0, 44_101, y.len());
        let err: f64 = y[200..]
            .iter()
            .zip(&reference[200..])
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / (y.len() - 200) as f64;
        assert!(err < 1e-4, "mse {err}");
    }
}
