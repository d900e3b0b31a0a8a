//! The turn detector: speech probabilities per 32 ms chunk in, turn events out.
//!
//! Speech starts after `min_speech_ms` above the threshold (so clicks do not count), pauses at
//! the first `pause_ms` of silence (a hint the caller may be done: speculative work may start),
//! and ends after `min_silence_ms` of silence or at `max_utterance_ms`.

use serde::{Deserialize, Serialize};

/// Thresholds of the turn detector. Defaults follow common practice (Silero's 0.5 / 0.35).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VadConfig {
    /// Probability at or above which a chunk is speech.
    pub threshold: f32,
    /// Probability below which a chunk is silence (hysteresis between the two).
    pub neg_threshold: f32,
    /// Speech needed before a turn starts.
    pub min_speech_ms: u32,
    /// Silence that ends a turn when its words say nothing either way (or are not judged).
    pub min_silence_ms: u32,
    /// Judge the end of a turn by the words heard at the first pause (and the brain's view of
    /// them): a whole request ends `early_end_ms` after the caller's last audible sound, one
    /// trailing off waits up to `hold_ms` of silence; off, every turn ends after
    /// `min_silence_ms`.
    pub judge_end: bool,
    pub early_end_ms: u32,
    pub hold_ms: u32,
    /// Silence after which the caller is considered paused (speculative transcription starts).
    pub pause_ms: u32,
    /// Quiet (no audible frame) this long after speech is a pause too, before the voice
    /// detector, which lags the sound, sees one: the reply can start on the words so far. `None`
    /// waits for the detector's pause.
    pub quiet_pause_ms: Option<u32>,
    /// Audio kept from before the detected start, so no first syllable is cut.
    pub pre_padding_ms: u32,
    /// A turn is cut here even if the caller keeps talking.
    pub max_utterance_ms: u32,
    /// While the agent speaks, the caller must talk this long to interrupt it.
    pub barge_in_min_ms: u32,
    /// Speech this long is an onset: the agent's voice is ducked at once, before the turn
    /// (or the barge-in) is confirmed.
    pub duck_onset_ms: u32,
    /// The agent's volume while ducked (linear gain; 0.178 is -15 dB).
    pub duck_gain: f32,
    /// While the agent speaks, the speech threshold is raised to this (echo gate); `None` turns
    /// the echo gate off (headphones).
    pub echo_gate_threshold: Option<f32>,
    /// While the agent speaks (echo gate on), the microphone is also attenuated by this gain
    /// before the VAD hears it: the agent's own voice leaking back is quieter than a caller
    /// talking into the microphone.
    pub echo_gate_gain: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: 0.35,
            min_speech_ms: 192,
            min_silence_ms: 480,
            judge_end: true,
            // From the caller's last audible sound: longer than most breaths at a comma
            // (Piper's run 180-420 ms; the recogniser often writes a full stop there).
            early_end_ms: 300,
            hold_ms: 1_200,
            // Four 32 ms chunks: early enough that a guessed reply is often ready by the end of
            // turn; a guess the caller talks over costs only compute (and held audio is dropped).
            pause_ms: 128,
            // Three frames. A stop consonant's closure ("book it") is often as long: such a
            // pause costs a transcript (and a reply start) that the next sound voids, about
            // two a sentence; at 80 ms half as many, and the reply starts 20 ms later.
            quiet_pause_ms: Some(60),
            pre_padding_ms: 320,
            max_utterance_ms: 30_000,
            barge_in_min_ms: 400,
            // Two chunks: one loud chunk (a click) is no onset.
            duck_onset_ms: 64,
            duck_gain: 0.178,
            echo_gate_threshold: Some(0.85),
            echo_gate_gain: 0.25,
        }
    }
}

/// What one chunk changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnEvent {
    /// Speech may be starting: `duck_onset_ms` above the threshold, not yet `min_speech_ms`.
    Onset,
    /// The onset died away before it became speech.
    OnsetLost,
    /// Speech confirmed; it began `lead_ms` before the end of this chunk.
    SpeechStart { lead_ms: u32 },
    /// Still speech (the turn has lasted `speech_ms` so far).
    Speaking { speech_ms: u32 },
    /// The caller fell silent for `pause_ms`; silence began `silence_ms` ago.
    Pause { silence_ms: u32 },
    /// Speech came back after a pause.
    Resume,
    /// The turn ended; the last `silence_ms` were silence. `forced` when cut at max length.
    SpeechEnd { silence_ms: u32, forced: bool },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Silence {
        speech_run_ms: u32,
    },
    Speech {
        utterance_ms: u32,
        silence_run_ms: u32,
        paused: bool,
    },
}

/// Chunk-by-chunk state machine over speech probabilities.
pub struct TurnDetector {
    config: VadConfig,
    chunk_ms: u32,
    state: State,
    gated: bool,
    /// Silence that ends the current turn: `min_silence_ms` unless the end-of-turn decision
    /// said otherwise at this pause.
    end_silence_ms: u32,
}

impl TurnDetector {
    /// `chunk_ms`: duration of one probability chunk (32 ms for Silero at 16 kHz).
    pub fn new(config: VadConfig, chunk_ms: u32) -> Self {
        Self {
            chunk_ms: chunk_ms.max(1),
            state: State::Silence { speech_run_ms: 0 },
            gated: false,
            end_silence_ms: config.min_silence_ms,
            config,
        }
    }

    /// End the current pause after `ms` of silence in all (sooner or later than configured);
    /// speech again brings back the configured wait. Already that silent: the next chunk ends it.
    pub fn set_end_silence(&mut self, ms: u32) {
        self.end_silence_ms = ms;
    }

    /// Whether the caller is in a pause (silent `pause_ms` or more, the turn not yet ended).
    pub fn paused(&self) -> bool {
        matches!(self.state, State::Speech { paused: true, .. })
    }

    /// Silence so far in the current turn's pause (0 while speaking or between turns).
    pub fn silence_ms(&self) -> u32 {
        match self.state {
            State::Speech { silence_run_ms, .. } => silence_run_ms,
            State::Silence { .. } => 0,
        }
    }

    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Raise the threshold while the agent is speaking (echo gate).
    pub fn set_echo_gate(&mut self, on: bool) {
        self.gated = on;
    }

    /// Whether the echo gate is active now.
    pub fn echo_gated(&self) -> bool {
        self.gated && self.config.echo_gate_threshold.is_some()
    }

    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    fn threshold(&self) -> f32 {
        match (self.gated, self.config.echo_gate_threshold) {
            (true, Some(t)) => t.max(self.config.threshold),
            _ => self.config.threshold,
        }
    }

    /// Feed one chunk's probability.
    pub fn push(&mut self, p: f32) -> Option<TurnEvent> {
        let c = self.chunk_ms;
        let threshold = self.threshold();
        let cfg = &self.config;
        match self.state {
            State::Silence { speech_run_ms } => {
                let run = if p >= threshold {
                    speech_run_ms + c
                } else if p < cfg.neg_threshold {
                    0
                } else {
                    speech_run_ms
                };
                if run >= cfg.min_speech_ms.max(c) {
                    self.end_silence_ms = cfg.min_silence_ms;
                    self.state = State::Speech {
                        utterance_ms: run,
                        silence_run_ms: 0,
                        paused: false,
                    };
                    Some(TurnEvent::SpeechStart { lead_ms: run })
                } else {
                    self.state = State::Silence { speech_run_ms: run };
                    let onset = cfg.duck_onset_ms.max(c);
                    if run >= onset && speech_run_ms < onset {
                        Some(TurnEvent::Onset)
                    } else if run == 0 && speech_run_ms >= onset {
                        Some(TurnEvent::OnsetLost)
                    } else {
                        None
                    }
                }
            }
            State::Speech {
                utterance_ms,
                silence_run_ms,
                paused,
            } => {
                let utterance_ms = utterance_ms + c;
                if utterance_ms >= cfg.max_utterance_ms {
                    self.state = State::Silence { speech_run_ms: 0 };
                    return Some(TurnEvent::SpeechEnd {
                        silence_ms: silence_run_ms,
                        forced: true,
                    });
                }
                if p < cfg.neg_threshold || (silence_run_ms > 0 && p < threshold) {
                    let silence = silence_run_ms + c;
                    if silence >= self.end_silence_ms {
                        self.end_silence_ms = cfg.min_silence_ms;
                        self.state = State::Silence { speech_run_ms: 0 };
                        return Some(TurnEvent::SpeechEnd {
                            silence_ms: silence,
                            forced: false,
                        });
                    }
                    let pause_now = !paused && silence >= cfg.pause_ms;
                    self.state = State::Speech {
                        utterance_ms,
                        silence_run_ms: silence,
                        paused: paused || pause_now,
                    };
                    pause_now.then_some(TurnEvent::Pause {
                        silence_ms: silence,
                    })
                } else {
                    self.state = State::Speech {
                        utterance_ms,
                        silence_run_ms: 0,
                        paused: false,
                    };
                    self.end_silence_ms = cfg.min_silence_ms;
                    if paused {
                        Some(TurnEvent::Resume)
                    } else {
                        Some(TurnEvent::Speaking {
                            speech_ms: utterance_ms - silence_run_ms,
                        })
                    }
                }
            }
        }
    }

    /// Forget the current turn (e.g. after the stream ended).
    pub fn reset(&mut self) {
        self.state = State::Silence { speech_run_ms: 0 };
        self.end_silence_ms = self.config.min_silence_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(det: &mut TurnDetector, probs: &[f32]) -> Vec<(usize, TurnEvent)> {
        probs
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| det.push(p).map(|e| (i, e)))
            .filter(|(_, e)| {
                !matches!(
                    e,
                    TurnEvent::Speaking { .. } | TurnEvent::Onset | TurnEvent::OnsetLost
                )
            })
            .collect()
    }

    fn cfg() -> VadConfig {
        VadConfig {
            min_speech_ms: 96,
            min_silence_ms: 320,
            pause_ms: 128,
            ..VadConfig::default()
        }
    }

    #[test]
    fn start_pause_and_end_at_configured_durations() {
        let mut d = TurnDetector::new(cfg(), 32);
        let mut probs = vec![0.0; 5];
        probs.extend(vec![0.9; 20]);
        probs.extend(vec![0.05; 15]);
        let ev = run(&mut d, &probs);
        // Third speech chunk (index 7) reaches 96 ms.
        assert_eq!(ev[0], (7, TurnEvent::SpeechStart { lead_ms: 96 }));
        // Fourth silent chunk (index 28) reaches 128 ms of silence.
        assert_eq!(ev[1], (28, TurnEvent::Pause { silence_ms: 128 }));
        // Tenth silent chunk (index 34) reaches 320 ms.
        assert_eq!(
            ev[2],
            (
                34,
                TurnEvent::SpeechEnd {
                    silence_ms: 320,
                    forced: false
                }
            )
        );
        assert_eq!(ev.len(), 3);
        assert!(!d.in_speech());
    }

    #[test]
    fn a_click_shorter_than_min_speech_starts_nothing() {
        let mut d = TurnDetector::new(cfg(), 32);
        let ev = run(&mut d, &[0.0, 0.9, 0.9, 0.0, 0.0, 0.9, 0.0]);
        assert!(ev.is_empty(), "{ev:?}");
    }

    #[test]
    fn hysteresis_keeps_a_run_alive_between_thresholds() {
        let mut d = TurnDetector::new(cfg(), 32);
        // 0.4 is between neg (0.35) and threshold (0.5): neither counts nor resets.
        let ev = run(&mut d, &[0.9, 0.4, 0.9, 0.4, 0.9]);
        assert_eq!(ev, vec![(4, TurnEvent::SpeechStart { lead_ms: 96 })]);
    }

    #[test]
    fn a_short_gap_resumes_instead_of_ending() {
        let mut d = TurnDetector::new(cfg(), 32);
        let mut probs = vec![0.9; 5];
        probs.extend(vec![0.0; 5]); // 160 ms: a pause, not an end
        probs.extend(vec![0.9; 3]);
        probs.extend(vec![0.0; 10]);
        let ev: Vec<TurnEvent> = run(&mut d, &probs).into_iter().map(|(_, e)| e).collect();
        assert_eq!(
            ev,
            vec![
                TurnEvent::SpeechStart { lead_ms: 96 },
                TurnEvent::Pause { silence_ms: 128 },
                TurnEvent::Resume,
                TurnEvent::Pause { silence_ms: 128 },
                TurnEvent::SpeechEnd {
                    silence_ms: 320,
                    forced: false
                },
            ]
        );
    }

    #[test]
    fn max_utterance_forces_an_end() {
        let c = VadConfig {
            max_utterance_ms: 320,
            ..cfg()
        };
        let mut d = TurnDetector::new(c, 32);
        let ev = run(&mut d, &[0.9; 12]);
        assert_eq!(ev[0].1, TurnEvent::SpeechStart { lead_ms: 96 });
        assert!(matches!(ev[1].1, TurnEvent::SpeechEnd { forced: true, .. }));
    }

    #[test]
    fn echo_gate_raises_the_threshold() {
        let mut d = TurnDetector::new(cfg(), 32);
        d.set_echo_gate(true);
        // 0.7 is speech normally but not above the gated threshold 0.85.
        assert!(run(&mut d, &[0.7; 10]).is_empty());
        d.set_echo_gate(false);
        assert!(!run(&mut d, &[0.7; 10]).is_empty());
    }

    #[test]
    fn an_onset_comes_before_the_start_and_is_lost_when_it_dies_away() {
        let mut d = TurnDetector::new(VadConfig::default(), 32);
        let all = |d: &mut TurnDetector, probs: &[f32]| -> Vec<(usize, TurnEvent)> {
            probs
                .iter()
                .enumerate()
                .filter_map(|(i, &p)| d.push(p).map(|e| (i, e)))
                .collect()
        };
        // A click (one chunk) is no onset; a cough (three chunks) is one, then lost.
        assert!(all(&mut d, &[0.9, 0.0, 0.0]).is_empty());
        assert_eq!(
            all(&mut d, &[0.9, 0.9, 0.9, 0.0]),
            vec![(1, TurnEvent::Onset), (3, TurnEvent::OnsetLost)]
        );
        // Speech: the onset at 64 ms, the start at 192 ms.
        let ev = all(&mut d, &[0.9; 6]);
        assert_eq!(ev[0], (1, TurnEvent::Onset));
        assert_eq!(ev[1], (5, TurnEvent::SpeechStart { lead_ms: 192 }));
    }

    #[test]
    fn the_end_of_a_turn_waits_as_long_as_it_is_told() {
        let speech_then_silence = |d: &mut TurnDetector, silent: usize| {
            let mut probs = vec![0.9; 6];
            probs.extend(vec![0.0; silent]);
            run(d, &probs)
        };
        // Told to end early at the pause: the end comes at 192 ms instead of 320.
        let mut d = TurnDetector::new(cfg(), 32);
        let ev = speech_then_silence(&mut d, 4);
        assert_eq!(ev[1].1, TurnEvent::Pause { silence_ms: 128 });
        d.set_end_silence(192);
        assert_eq!(d.silence_ms(), 128);
        let ev = run(&mut d, &[0.0; 2]);
        assert_eq!(
            ev,
            vec![(
                1,
                TurnEvent::SpeechEnd {
                    silence_ms: 192,
                    forced: false
                }
            )]
        );
        // Told to hold: 320 ms of silence is still a pause; speech again resumes the turn,
        // and the next pause waits the configured time again.
        let mut d = TurnDetector::new(cfg(), 32);
        speech_then_silence(&mut d, 4);
        d.set_end_silence(960);
        assert!(run(&mut d, &[0.0; 20]).is_empty());
        let ev = run(
            &mut d,
            &[0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        );
        assert_eq!(ev[0].1, TurnEvent::Resume);
        assert!(matches!(
            ev.last(),
            Some((
                _,
                TurnEvent::SpeechEnd {
                    silence_ms: 320,
                    ..
                }
            ))
        ));
    }
}
