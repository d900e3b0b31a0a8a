//! Summary statistics for latency samples.

use serde::{Deserialize, Serialize};

/// P50, mean, min, max, P95 and P99 of a set of samples (milliseconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub p95: f64,
    pub p99: f64,
}

/// The `q` quantile (0..=1) of sorted samples, by linear interpolation between ranks.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Summary {
    /// `None` when there are no samples.
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        if s.is_empty() {
            return None;
        }
        s.sort_by(|a, b| a.total_cmp(b));
        Some(Self {
            n: s.len(),
            p50: quantile(&s, 0.5),
            mean: s.iter().sum::<f64>() / s.len() as f64,
            min: s[0],
            max: s[s.len() - 1],
            p95: quantile(&s, 0.95),
            p99: quantile(&s, 0.99),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0, f64::NAN]).unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 4.0);
        assert_eq!(s.p50, 2.5);
        assert_eq!(s.mean, 2.5);
        assert!((s.p95 - 3.85).abs() < 1e-9);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
    }
}
