//! Benchmarks: the pipeline's own overhead, per-stage latency tables, streaming vs turn-based,
//! and server capacity. Numbers are reported, never asserted (machines here are noisy).

pub mod overhead;
pub mod wer;
pub mod stats;

pub use stats::Summary;
