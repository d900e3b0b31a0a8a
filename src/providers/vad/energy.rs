//! A simple energy-based VAD: the fallback when the Silero model is not installed, and a
//! deterministic detector for tests on synthetic audio.

use super::{Vad, VadError};

/// Maps a chunk's RMS level (in dBFS) onto a speech probability with a soft ramp.
pub struct EnergyVad {
    /// Level (dBFS) at which the probability reaches 0.5.
    pub threshold_db: f32,
}

impl Default for EnergyVad {
    fn default() -> Self {
        Self {
            threshold_db: -35.0,
        }
    }
}

impl Vad for EnergyVad {
    fn name(&self) -> String {
        format!("energy (threshold {} dBFS)", self.threshold_db)
    }

    fn probability(&mut self, chunk: &[f32]) -> Result<f32, VadError> {
        if chunk.is_empty() {
            return Ok(0.0);
        }
        let ms = chunk.iter().map(|&x| x * x).sum::<f32>() / chunk.len() as f32;
        let db = 10.0 * ms.max(1e-12).log10();
        // A logistic ramp 12 dB wide around the threshold.
        Ok(1.0 / (1.0 + (-(db - self.threshold_db) / 3.0).exp()))
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_low_and_loud_audio_high() {
        let mut v = EnergyVad::default();
        assert!(v.probability(&[0.0; 512]).unwrap() < 0.01);
        let loud: Vec<f32> = (0..512).map(|i| ((i as f32) * 0.3).sin() * 0.3).collect();
        assert!(v.probability(&loud).unwrap() > 0.99);
        assert_eq!(v.probability(&[]).unwrap(), 0.0);
    }
}
