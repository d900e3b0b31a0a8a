//! The end of a caller's turn is judged by the words heard at the first pause, not timed: a
//! whole request is answered after a short silence, a sentence trailing off ("my name is...")
//! is waited for, and a caller who goes on inside that wait continues the same turn.
//!
//! The gaps here sit between the two waits and the fixed one (300 ms < gap < 480 ms, and
//! 480 ms < pause < 1.2 s), so each test would split or join the turns the other way round
//! with the fixed silence of before (the last test shows it).

use std::sync::mpsc;
use std::time::Duration;

use voice_agent::foundation::audio::wav::WavInput;
use voice_agent::foundation::text::turn_end::TurnVerdict;
use voice_agent::orchestration::pipeline::output::Speaker;
use voice_agent::orchestration::pipeline::{
    Pipeline, PipelineConfig, SessionOutcome, SessionParts,
};
use voice_agent::providers::testing::{
    synthetic_caller, EchoTools, RecordingOutput, ScriptedChat, ScriptedStt, ToneTts,
};
use voice_agent::providers::vad::energy::EnergyVad;

/// A caller (ms, speech) heard as `lines` (one per transcript made: each pause's, and each
/// turn's final unless the pause's stands), answered by short replies.
fn run(caller: &[(u64, bool)], lines: &[&str], config: PipelineConfig) -> SessionOutcome {
    run_with(caller, lines, config, None)
}

/// As `run`, with a brain whose view of every pause is `brain`.
fn run_with(
    caller: &[(u64, bool)],
    lines: &[&str],
    config: PipelineConfig,
    brain: Option<TurnVerdict>,
) -> SessionOutcome {
    run_on(caller, ScriptedStt::new(lines), config, brain)
}

fn run_on(
    caller: &[(u64, bool)],
    stt: ScriptedStt,
    config: PipelineConfig,
    brain: Option<TurnVerdict>,
) -> SessionOutcome {
    let mut chat = ScriptedChat::replies(&["Okay.", "Sure.", "Right."]);
    chat.turn_verdict = brain;
    let parts = SessionParts {
        input: Box::new(WavInput::from_samples(synthetic_caller(caller), true)),
        output: Box::new(Speaker::new(
            Box::new(RecordingOutput::default()),
            crossbeam_channel::unbounded().0,
        )),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(stt),
        chat: Box::new(chat),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(ToneTts {
            ms_per_char: 20,
            ..ToneTts::default()
        }),
        recorder: None,
        system_prompt: None,
    };
    let p = Pipeline::spawn(parts, config);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(p.join());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("pipeline did not shut down")
}

/// The pipeline with the end of turn judged.
fn judged() -> PipelineConfig {
    let mut c = PipelineConfig::default();
    c.vad.judge_end = true;
    c
}

fn transcripts(o: &SessionOutcome) -> Vec<String> {
    o.reports.iter().map(|r| r.transcript.clone()).collect()
}

/// "my name is" ... 800 ms ... "John Smith".
const NAME_AFTER_A_PAUSE: [(u64, bool); 5] = [
    (200, false),
    (700, true),
    (800, false),
    (600, true),
    (2_500, false),
];

#[test]
fn a_caller_trailing_off_is_waited_for_and_goes_on_in_the_same_turn() {
    let o = run(
        &NAME_AFTER_A_PAUSE,
        &["my name is", "my name is John Smith"],
        judged(),
    );
    assert_eq!(transcripts(&o), ["my name is John Smith"]);
}

/// "is doctor patel free on monday" ... 380 ms ... "thanks".
const TWO_TURNS_CLOSE_TOGETHER: [(u64, bool); 5] = [
    (200, false),
    (700, true),
    (380, false),
    (500, true),
    (2_500, false),
];

#[test]
fn a_whole_request_is_answered_after_a_short_silence() {
    let o = run(
        &TWO_TURNS_CLOSE_TOGETHER,
        &["Is Doctor Patel free on Monday?", "Thanks."],
        judged(),
    );
    assert_eq!(
        transcripts(&o),
        ["Is Doctor Patel free on Monday?", "Thanks."]
    );
    // (Two lines only: the first turn's final was the transcript made at its pause.)
}

#[test]
fn with_a_fixed_silence_the_same_callers_are_cut_and_joined_the_other_way() {
    let mut fixed = judged();
    fixed.vad.judge_end = false;
    // The pause after "my name is" ends the turn...
    let o = run(
        &NAME_AFTER_A_PAUSE,
        &["my name is", "John Smith"],
        fixed.clone(),
    );
    assert_eq!(transcripts(&o), ["my name is", "John Smith"]);
    // ... and the question and the thanks run together into one turn.
    let o = run(
        &TWO_TURNS_CLOSE_TOGETHER,
        &[
            "Is Doctor Patel free on Monday?",
            "Is Doctor Patel free on Monday? Thanks.",
        ],
        fixed,
    );
    assert_eq!(transcripts(&o), ["Is Doctor Patel free on Monday? Thanks."]);
}

/// "My name is John Smith." ... 380 ms ... "and my date of birth is March 4th, 1985".
const NAME_THEN_BIRTH_DATE: [(u64, bool); 5] = [
    (200, false),
    (900, true),
    (380, false),
    (1_200, true),
    (2_500, false),
];

#[test]
fn a_brain_that_asked_for_more_holds_a_whole_sentence_open() {
    let lines = [
        "My name is John Smith.",
        "My name is John Smith and my date of birth is March 4th, 1985.",
    ];
    // The brain asked for a name and a birth date, and has heard only the name.
    let o = run_with(
        &NAME_THEN_BIRTH_DATE,
        &lines,
        judged(),
        Some(TurnVerdict::Incomplete),
    );
    assert_eq!(transcripts(&o), [lines[1]]);
    // The words alone say the sentence is whole: the turn ends in the breath.
    let o = run(
        &NAME_THEN_BIRTH_DATE,
        &[
            "My name is John Smith.",
            "and my date of birth is March 4th, 1985.",
        ],
        judged(),
    );
    assert_eq!(
        transcripts(&o),
        [
            "My name is John Smith.",
            "and my date of birth is March 4th, 1985."
        ]
    );
}

/// "is doctor patel free" ... 100 ms (a breath the voice detector does not count as a pause)
/// ... "on monday".
const A_BREATH: [(u64, bool); 5] = [
    (200, false),
    (700, true),
    (100, false),
    (600, true),
    (2_500, false),
];

#[test]
fn the_sound_stopping_is_a_pause_before_the_voice_detector_sees_one() {
    // Each pause transcribes the words so far: the breath's does too, and the caller going
    // on voids it, so the turn's words are those of the real pause.
    let lines = ["Is Doctor Patel free", "Is Doctor Patel free on Monday?"];
    let o = run(&A_BREATH, &lines, judged());
    assert_eq!(transcripts(&o), [lines[1]]);
    // Waiting for the detector's own pause, the breath is not one: the first line is what
    // the only pause hears.
    let mut detector_only = judged();
    detector_only.vad.quiet_pause_ms = None;
    let o = run(&A_BREATH, &lines, detector_only);
    assert_eq!(transcripts(&o), [lines[0]]);
}

#[test]
fn a_model_too_busy_at_the_sounds_pause_transcribes_at_the_detectors() {
    let line = "Is Doctor Patel free on Monday?";
    let caller = [(200, false), (900, true), (2_500, false)];
    let mut stt = ScriptedStt::new(&[line]);
    stt.busy_early = true;
    let o = run_on(&caller, stt, judged(), None);
    assert_eq!(transcripts(&o), [line]);
    // The reply still started at the pause (the detector's), and was the one played.
    assert_eq!((o.speculative_used, o.speculative_wasted), (1, 0));
}
