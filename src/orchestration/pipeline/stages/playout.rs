//! The reply the sink is playing: its audio queue, where each spoken chunk starts in it, what
//! has been handed to the output and when, and from that, what the caller heard.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::super::turn::Turn;
use crate::foundation::audio::OUTPUT_RATE;

/// One spoken chunk's place in the reply's audio.
pub struct Span {
    pub text: String,
    pub start: u64,
    pub announced: bool,
}

/// The reply being played.
pub struct Reply {
    pub turn: Arc<Turn>,
    pub generation: u64,
    pub spans: Vec<Span>,
    pub queued: VecDeque<i16>,
    /// Samples of this reply received from TTS.
    pub received: u64,
    /// Samples handed to the output.
    pub released: u64,
    /// (instant playback of a slice starts, first sample, length) for each released slice.
    pub schedule: Vec<(Instant, u64, u64)>,
    pub ended: bool,
    /// The output's own played counter when this reply began (outputs that report it).
    pub output_base: Option<u64>,
}

impl Reply {
    pub fn new(turn: Arc<Turn>, generation: u64, output_base: Option<u64>) -> Self {
        Self {
            turn,
            generation,
            spans: Vec::new(),
            queued: VecDeque::new(),
            received: 0,
            released: 0,
            schedule: Vec::new(),
            ended: false,
            output_base,
        }
    }

    /// Samples the caller has heard by `now`: the output's own count when it keeps one (a
    /// browser's reports, a sound card), else the sink's playout schedule.
    pub fn heard_samples(&self, now: Instant, played: Option<u64>) -> u64 {
        if let (Some(base), Some(played)) = (self.output_base, played) {
            return played.saturating_sub(base).min(self.released);
        }
        self.schedule
            .iter()
            .map(|&(at, _, len)| {
                if now <= at {
                    0
                } else {
                    let el = now.duration_since(at).as_secs_f64() * OUTPUT_RATE as f64;
                    (el as u64).min(len)
                }
            })
            .sum()
    }

    /// The text the caller heard: whole chunks, and of a chunk cut short, the share of its
    /// words matching the share of its audio that played.
    pub fn heard_text(&self, heard: u64) -> String {
        let mut parts = Vec::new();
        for (i, span) in self.spans.iter().enumerate() {
            let end = self.spans.get(i + 1).map_or(self.received, |n| n.start);
            if heard >= end {
                parts.push(span.text.clone());
            } else if heard > span.start {
                let frac = (heard - span.start) as f64 / (end - span.start).max(1) as f64;
                let words: Vec<&str> = span.text.split_whitespace().collect();
                let n = (words.len() as f64 * frac).floor() as usize;
                if n > 0 {
                    parts.push(words[..n].join(" "));
                }
                break;
            } else {
                break;
            }
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn reply() -> Reply {
        let mut r = Reply::new(Arc::new(Turn::new(1)), 0, None);
        for (text, len) in [("One two three four.", 2_400), ("Five six.", 2_400)] {
            r.spans.push(Span {
                text: text.into(),
                start: r.received,
                announced: false,
            });
            r.received += len;
        }
        r
    }

    #[test]
    fn heard_text_counts_whole_chunks_and_a_share_of_the_cut_one() {
        let r = reply();
        assert_eq!(r.heard_text(0), "");
        assert_eq!(r.heard_text(1_200), "One two");
        assert_eq!(r.heard_text(2_400), "One two three four.");
        assert_eq!(r.heard_text(4_800), "One two three four. Five six.");
    }

    #[test]
    fn heard_samples_follow_the_output_count_or_else_the_schedule() {
        let mut r = reply();
        let t0 = Instant::now();
        r.schedule.push((t0, 0, 480));
        r.schedule.push((t0 + Duration::from_millis(20), 480, 480));
        r.released = 960;
        let at = t0 + Duration::from_millis(30);
        assert_eq!(r.heard_samples(at, None), 480 + 240);
        r.output_base = Some(1_000);
        assert_eq!(r.heard_samples(at, Some(1_100)), 100);
        assert_eq!(
            r.heard_samples(at, Some(9_000)),
            960,
            "never more than was sent"
        );
    }
}
