//! One configuration run: the utterances, one per turn, through a whole session of the real
//! pipeline with the chosen providers, streaming or turn-based; the turn reports become a
//! per-stage table.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::caller::CallerScript;
use super::error::BenchError;
use super::report::{Mode, PipelineRun, TurnSample};
use super::utterances::Utterance;
use crate::foundation::audio::FRAME_MS;
use crate::orchestration::pipeline::{
    output, Event, Output, Pipeline, PipelineConfig, SessionParts,
};
use crate::providers::llm::delay::LlmLatency;
use crate::providers::session::SessionFactory;
use crate::providers::vad::VadConfig;

/// Silence before the first utterance of a session.
const LEAD_MS: u64 = 600;

impl Mode {
    /// The pipeline configuration of this mode.
    pub fn config(self) -> PipelineConfig {
        let mut c = PipelineConfig {
            // The caller script waits for the last reply itself.
            drain_tail: false,
            ..PipelineConfig::default()
        };
        if self == Mode::Sequential {
            c.sequential = true;
            c.speculative_stt = false;
            c.speculative_reply = false;
        }
        c
    }
}

/// The utterance a report answers: the one being spoken when it came (`current`), unless the
/// words say it is the one before (a reply can arrive after the caller has moved on).
fn best_match(transcript: &str, utterances: &[Utterance], current: usize) -> usize {
    let wer = |i: usize| {
        utterances
            .get(i)
            .and_then(|u| u.text.as_deref())
            .map(|t| super::wer::wer(t, transcript))
    };
    match (current.checked_sub(1).and_then(wer), wer(current)) {
        (Some(prev), Some(cur)) if prev < cur => current - 1,
        _ => current,
    }
}

/// Compare each turn's anchor with the real end of the utterance it answers (`ended`, in
/// order); returns (premature ends, late ends).
fn anchor_turns(turns: &mut [TurnSample], ended: &[Instant]) -> (usize, usize) {
    let frame = FRAME_MS as f64;
    let fixed_wait = f64::from(VadConfig::default().min_silence_ms);
    let (mut premature, mut late) = (0, 0);
    for t in turns.iter_mut() {
        let real = t.utterance.and_then(|i| ended.get(i));
        if let (Some(anchor), Some(&real)) = (t.speech_end_at, real) {
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            let error = if anchor >= real {
                ms(anchor - real)
            } else {
                -ms(real - anchor)
            };
            t.anchor_error_ms = Some(error);
            // Ended at a pause, more than a frame before the caller's last word.
            premature += usize::from(error < -frame);
        }
        late += usize::from(
            t.latency
                .endpoint_ms
                .is_some_and(|w| w > fixed_wait + frame),
        );
    }
    (premature, late)
}

/// Run `utterances` through one session made by `factory`; `on_turn` hears each turn's line.
pub fn run(
    factory: &dyn SessionFactory,
    brain: &str,
    mode: Mode,
    llm_latency: Option<LlmLatency>,
    utterances: &[Utterance],
    gap_ms: u64,
    on_turn: &mut dyn FnMut(&str),
) -> Result<PipelineRun, BenchError> {
    let providers = factory.session()?;
    let caller = CallerScript::new(
        utterances.iter().map(|u| u.pcm.clone()).collect(),
        LEAD_MS,
        gap_ms,
    );
    let progress = caller.progress();
    let (output, rx) = output::channel();
    let parts = SessionParts::new(providers, Box::new(caller), Box::new(output));
    let started = Instant::now();
    let pipeline = Pipeline::spawn(parts, mode.config());
    let mut turns = Vec::new();
    let mut silent = 0;
    let mut answered = HashSet::new();
    // The channel closes when the sink has ended.
    for item in rx.iter() {
        let Output::Event(event) = item else { continue };
        match event {
            Event::Metrics(report) => {
                // Each turn counts once, even if the pipeline reports it again.
                let played = report.is_answer() && answered.insert(report.turn);
                let index = progress
                    .reply(played)
                    .map(|i| best_match(&report.transcript, utterances, i));
                let expected = index.and_then(|i| utterances.get(i)?.text.as_deref());
                on_turn(&format!(
                    "    [{}] {:?} -> {}{}",
                    index.map_or("?".into(), |i| (i + 1).to_string()),
                    report.transcript,
                    report.latency_line(),
                    if played {
                        ""
                    } else {
                        " (no audio: not counted)"
                    }
                ));
                if played {
                    turns.push(TurnSample::new(&report, index, expected));
                } else {
                    silent += 1;
                }
            }
            Event::Error { stage, message } => {
                log::warn!("bench session: {stage}: {message}");
                on_turn(&format!("    ! {stage}: {message}"));
            }
            _ => {}
        }
    }
    let outcome = pipeline.join();
    if !outcome.failed_stages.is_empty() {
        return Err(BenchError::Pipeline(outcome.failed_stages.join(", ")));
    }
    let ends = anchor_turns(
        &mut turns,
        &progress.ended.lock().map(|e| e.clone()).unwrap_or_default(),
    );
    let mut run = PipelineRun::new(brain, mode, llm_latency, turns);
    run.premature_ends = ends.0;
    run.late_ends = ends.1;
    run.paused_utterances = utterances.iter().filter(|u| u.paused).count();
    run.speculative_used = outcome.speculative_used;
    run.speculative_wasted = outcome.speculative_wasted;
    run.unanswered = progress.unanswered.load(Ordering::Acquire);
    run.uncounted_reports = silent;
    run.wall_s = started.elapsed().as_secs_f64();
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_of_turn_are_judged_against_the_real_end_of_speech() {
        use crate::orchestration::pipeline::turn::Latencies;
        let t0 = Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let turn = |utterance: usize, anchor: u64, wait: f64| TurnSample {
            utterance: Some(utterance),
            expected: None,
            transcript: "x".into(),
            agent_text: "y".into(),
            latency: Latencies {
                endpoint_ms: Some(wait),
                ..Latencies::default()
            },
            speculative_stt: true,
            wer: None,
            anchor_error_ms: None,
            speech_end_at: Some(at(anchor)),
        };
        // Utterance 0 ends at 1000 ms, utterance 1 at 5000 ms.
        let ended = [at(1_000), at(5_000)];
        let mut turns = [
            turn(0, 1_000, 280.0),
            // Taken at a pause 900 ms before the last word, then the rest as its own turn.
            turn(1, 4_100, 280.0),
            turn(1, 5_010, 1_200.0),
        ];
        assert_eq!(anchor_turns(&mut turns, &ended), (1, 1));
        let errors: Vec<f64> = turns.iter().filter_map(|t| t.anchor_error_ms).collect();
        assert_eq!(errors.len(), 3);
        assert!(errors[0].abs() < 1e-6 && (errors[1] + 900.0).abs() < 1e-6);
        assert!((errors[2] - 10.0).abs() < 1e-6);
    }

    #[test]
    fn a_late_reply_is_paired_with_the_words_it_answers() {
        let u = |t: &str| Utterance {
            name: String::new(),
            text: Some(t.into()),
            pcm: Vec::new(),
            paused: false,
        };
        let set = [u("book with doctor patel"), u("what are the hours")];
        assert_eq!(best_match("book with doctor patel", &set, 1), 0);
        assert_eq!(best_match("what are your hours", &set, 1), 1);
        assert_eq!(best_match("", &set, 1), 1);
        assert_eq!(best_match("book with doctor patel", &set, 0), 0);
        let unknown = [
            Utterance {
                text: None,
                ..u("")
            },
            u("x"),
        ];
        assert_eq!(best_match("anything", &unknown, 1), 1);
    }
}
