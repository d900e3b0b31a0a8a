//! Whisper's log-mel spectrogram: 16 kHz, n_fft 400 (periodic Hann), hop 160, 80 slaney mel
//! bins, log10 clamped to (max - 8), then (x + 4) / 4. Matches the reference graph
//! (`models/reference/whisper80.onnx`, checked in tests/models_whisper.rs).

use super::fft::RealPower;

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Frames in Whisper's 30 s window.
pub const MAX_FRAMES: usize = 3000;
const N_BINS: usize = N_FFT / 2 + 1;

/// One triangular mel filter: weights over FFT bins `start..start + weights.len()`.
struct Filter {
    start: usize,
    weights: Vec<f64>,
}

/// A reusable log-mel extractor (window, filterbank and FFT plan built once).
pub struct LogMel {
    n_mels: usize,
    window: Vec<f64>,
    filters: Vec<Filter>,
}

/// A log-mel spectrogram, row-major [n_mels, frames].
pub struct Mel {
    pub n_mels: usize,
    pub frames: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    pub fn new(n_mels: usize) -> Self {
        let window = (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos())
            .collect();
        Self {
            n_mels,
            window,
            filters: slaney_filterbank(n_mels),
        }
    }

    /// The first `frames` frames of the log-mel of `audio` (16 kHz, [-1, 1]) zero-padded to 30 s,
    /// as Whisper computes it; `frames` may exceed the audio (the rest is padding).
    pub fn compute(&self, audio: &[f32], frames: usize) -> Mel {
        let half = N_FFT / 2;
        // Whisper pads to 30 s, so the signal is at least that long; reflect-pad 200 each side.
        let len = audio.len().max(MAX_FRAMES * HOP).max(frames * HOP);
        let sample = |i: usize| -> f64 { audio.get(i).copied().unwrap_or(0.0) as f64 };
        let padded = |j: usize| -> f64 {
            // j indexes the reflect-padded signal; reflection excludes the edge sample.
            if j < half {
                sample(half - j)
            } else if j - half < len {
                sample(j - half)
            } else {
                sample(2 * len - 2 - (j - half))
            }
        };

        // The plan holds scratch buffers; building one costs microseconds.
        let mut fft = RealPower::new(N_FFT);
        let mut frame = vec![0.0f64; N_FFT];
        let mut power = vec![0.0f64; N_BINS];
        let mut log_mel = vec![0.0f64; self.n_mels * frames];
        for t in 0..frames {
            let start = t * HOP;
            if start >= half && start + N_FFT - half <= audio.len() {
                // Inside the audio: no padding logic per sample.
                let src = &audio[start - half..start - half + N_FFT];
                for ((f, &x), w) in frame.iter_mut().zip(src).zip(&self.window) {
                    *f = x as f64 * w;
                }
            } else {
                for (i, f) in frame.iter_mut().enumerate() {
                    *f = padded(start + i) * self.window[i];
                }
            }
            fft.compute(&frame, &mut power);
            for (m, filter) in self.filters.iter().enumerate() {
                let bins = &power[filter.start..filter.start + filter.weights.len()];
                let energy: f64 = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
                log_mel[m * frames + t] = energy.max(1e-10).log10();
            }
        }
        // The global maximum: padding frames are silent (-10), so trimming does not change it.
        let max = log_mel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let floor = max - 8.0;
        let data = log_mel
            .iter()
            .map(|&x| ((x.max(floor) + 4.0) / 4.0) as f32)
            .collect();
        Mel {
            n_mels: self.n_mels,
            frames,
            data,
        }
    }
}

/// Slaney-scale mel filters with slaney area normalisation (librosa's default, Whisper's).
fn slaney_filterbank(n_mels: usize) -> Vec<Filter> {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    let hz_to_mel = |f: f64| {
        if f >= min_log_hz {
            min_log_mel + (f / min_log_hz).ln() / log_step
        } else {
            f / f_sp
        }
    };
    let mel_to_hz = |m: f64| {
        if m >= min_log_mel {
            min_log_hz * (log_step * (m - min_log_mel)).exp()
        } else {
            f_sp * m
        }
    };
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let top = hz_to_mel(nyquist);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
        .collect();
    let bin_hz = |k: usize| nyquist * k as f64 / (N_BINS - 1) as f64;
    (0..n_mels)
        .map(|i| {
            let (lo, mid, hi) = (edges[i], edges[i + 1], edges[i + 2]);
            let norm = 2.0 / (hi - lo);
            let all: Vec<f64> = (0..N_BINS)
                .map(|k| {
                    let f = bin_hz(k);
                    let rise = (f - lo) / (mid - lo);
                    let fall = (hi - f) / (hi - mid);
                    rise.min(fall).max(0.0) * norm
                })
                .collect();
            let start = all.iter().position(|&w| w > 0.0).unwrap_or(0);
            let end = all.iter().rposition(|&w| w > 0.0).map_or(start, |e| e + 1);
            Filter {
                start,
                weights: all[start..end].to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_covers_some_bins_and_filters_ascend() {
        let filters = slaney_filterbank(80);
        assert_eq!(filters.len(), 80);
        assert!(filters.iter().all(|f| !f.weights.is_empty()));
        assert!(filters.windows(2).all(|w| w[0].start <= w[1].start));
        // Values from the reference graph's `melscale_fbanks80` (librosa/torchaudio slaney).
        let peak = |f: &Filter| f.weights.iter().copied().fold(0.0, f64::max);
        assert_eq!((filters[0].start, filters[0].weights.len()), (1, 1));
        assert!(
            (peak(&filters[0]) - 0.024862593).abs() < 1e-8,
            "{}",
            peak(&filters[0])
        );
        assert_eq!((filters[79].start, filters[79].weights.len()), (186, 14));
        assert!(
            (peak(&filters[79]) - 0.003164716).abs() < 1e-8,
            "{}",
            peak(&filters[79])
        );
    }

    #[test]
    fn a_tone_lights_the_matching_mel_band() {
        let audio: Vec<f32> = (0..SAMPLE_RATE)
            .map(|i| {
                (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / SAMPLE_RATE as f32).sin() * 0.5
            })
            .collect();
        let mel = LogMel::new(80).compute(&audio, 100);
        assert_eq!(mel.data.len(), 80 * 100);
        let frame = 50;
        let column: Vec<f32> = (0..80).map(|m| mel.data[m * 100 + frame]).collect();
        let loudest = (0..80)
            .max_by(|&a, &b| column[a].total_cmp(&column[b]))
            .unwrap();
        // 1 kHz is mel 15 on the slaney scale; band centres are 45.245/81 ≈ 0.56 mel apart.
        let centre_mel: f64 = 15.0;
        let expected = (centre_mel / (45.245 / 81.0)).round() as usize - 1;
        assert!(
            loudest.abs_diff(expected) <= 1,
            "loudest band {loudest}, expected about {expected}"
        );
        // Normalised values lie in [max - 2, max] with max = (log10 max + 4) / 4.
        let hi = mel.data.iter().copied().fold(f32::MIN, f32::max);
        assert!(mel.data.iter().all(|&x| x >= hi - 2.0 - 1e-6));
    }

    #[test]
    fn silence_is_flat() {
        let mel = LogMel::new(80).compute(&[0.0; 1600], 20);
        assert!(mel
            .data
            .iter()
            .all(|&x| (x - (-10.0 + 4.0) / 4.0).abs() < 1e-6));
    }
}
