//! The spoken subset: each case said by the local Piper voice and played, in real time, into a
//! whole session of the pipeline (Silero, Whisper, the brain and its tools, Piper), as a
//! caller on the phone would. What the agent did on that turn is scored as in the text run, so
//! the difference between the two is what speech recognition costs the caller.

use std::sync::Arc;

use crossbeam_channel::unbounded;

use super::corpus::{self, Case, Outcome, World};
use super::{clock, hospital, BrainChoice, CaseResult, EvalError, Score};
use crate::apps::bench::caller::CallerScript;
use crate::apps::bench::utterances;
use crate::apps::bench::Mode;
use crate::domain::{system_prompt, HospitalTools};
use crate::orchestration::pipeline::{output, Event, Output, Pipeline, SessionParts, TurnReport};
use crate::providers::models::models_dir;
use crate::providers::scheduler::{Compute, Scheduler, Sizing};
use crate::providers::session::SessionProviders;
use crate::providers::stt::whisper::{WhisperModel, WhisperStt, DEFAULT_VARIANT};
use crate::providers::tts::piper::{PiperTts, PiperVoice};
use crate::providers::vad::silero::{SileroModel, SileroVad};

/// Calls played at once: the models are shared through one scheduler, as on a server.
const AT_ONCE: usize = 2;

/// Silence before the caller speaks, and after an answer before the next line.
const LEAD_MS: u64 = 600;
const GAP_MS: u64 = 400;

/// What every spoken call shares: the local models, and the hospital the checks read.
struct Models {
    voice: Arc<PiperVoice>,
    whisper: Arc<WhisperModel>,
    silero: Arc<SileroModel>,
    compute: Compute,
    /// What the checks resolve against (the same seeded hospital every call starts from).
    world: World,
}

/// Play `cases` (their `say` lines; context is not spoken) and score what the agent did.
pub fn run(
    brain: &BrainChoice,
    cases: &[Case],
    progress: &mut dyn FnMut(&str),
) -> Result<Score, EvalError> {
    let err = |e: &dyn std::fmt::Display| EvalError::Spoken(e.to_string());
    // The steady voice: the same audio every run, so the score is reproducible.
    let models = Models {
        voice: PiperVoice::load_steady(&models_dir()).map_err(|e| err(&e))?,
        whisper: WhisperModel::shared(DEFAULT_VARIANT).map_err(|e| err(&e))?,
        silero: SileroModel::shared().map_err(|e| err(&e))?,
        compute: Compute::Scheduled(Scheduler::start(Sizing::for_machine())),
        world: hospital(clock().as_ref())?.1,
    };
    let mut speaker = PiperTts::new(models.voice.clone());
    let yes = utterances::speak(&mut speaker, YES).map_err(|e| err(&e))?;
    let mut speech = Vec::with_capacity(cases.len());
    for case in cases {
        speech.push(utterances::speak(&mut speaker, &case.say).map_err(|e| err(&e))?);
    }
    let (jobs_tx, jobs) = unbounded();
    for job in cases.iter().cloned().zip(speech).enumerate() {
        let _ = jobs_tx.send(job);
    }
    drop(jobs_tx);
    let (done_tx, done) = unbounded();
    let mut results: Vec<Option<CaseResult>> = vec![None; cases.len()];
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            let (jobs, done_tx, models, yes) = (jobs.clone(), done_tx.clone(), &models, &yes);
            scope.spawn(move || {
                for (i, (case, pcm)) in jobs {
                    let r = play(brain, models, &case, pcm, yes);
                    if done_tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        for (n, (i, r)) in done.iter().enumerate() {
            let r = r?;
            progress(&format!(
                "    [{}/{}] {} {:?} -> {}",
                n + 1,
                cases.len(),
                r.id,
                r.heard,
                r.miss.as_deref().unwrap_or("done")
            ));
            results[i] = Some(r);
        }
        Ok::<(), EvalError>(())
    })?;
    Ok(Score::of(
        brain.name(),
        results.into_iter().flatten().collect(),
    ))
}

/// What a caller says when the agent asks "Did you mean Doctor Patel?" and it did.
const YES: &str = "Yes, that's right.";

/// One spoken call, scored on the turn that answers the line. When the agent asks to confirm
/// a name it half heard, the caller says yes (as the caller the case stands for would) and
/// the task is scored on the turn after.
fn play(
    brain: &BrainChoice,
    models: &Models,
    case: &Case,
    pcm: Vec<i16>,
    yes: &[i16],
) -> Result<CaseResult, EvalError> {
    let reports = session(brain, models, case, vec![pcm.clone()])?;
    let Some(first) = reports.first() else {
        return Ok(CaseResult {
            id: case.id.clone(),
            category: case.category.clone(),
            say: case.say.clone(),
            heard: String::new(),
            outcome: Outcome::default(),
            miss: Some("nothing was heard".into()),
        });
    };
    let scored = |report: &TurnReport, heard: String| {
        let outcome = Outcome {
            calls: report.tool_calls.clone(),
            reply: report.agent_text.clone(),
        };
        let miss = corpus::check(case, &outcome, &models.world);
        CaseResult {
            id: case.id.clone(),
            category: case.category.clone(),
            say: case.say.clone(),
            heard,
            outcome,
            miss,
        }
    };
    let result = scored(first, first.transcript.clone());
    let asked_to_confirm = first.agent_text.to_lowercase().contains("did you mean");
    if result.miss.is_none() || !asked_to_confirm {
        return Ok(result);
    }
    let again = session(brain, models, case, vec![pcm, yes.to_vec()])?;
    Ok(match again.get(1) {
        Some(second) => scored(
            second,
            format!("{} / {}", first.transcript, second.transcript),
        ),
        None => result,
    })
}

/// One call saying `utterances`, one per turn: the answered turns' reports, in order.
fn session(
    brain: &BrainChoice,
    models: &Models,
    case: &Case,
    utterances: Vec<Vec<i16>>,
) -> Result<Vec<TurnReport>, EvalError> {
    let clock = clock();
    let (store, _) = hospital(clock.as_ref())?;
    let providers = SessionProviders {
        vad: Box::new(SileroVad::with_model(models.silero.clone())),
        stt: Box::new(WhisperStt::on(
            models.whisper.clone(),
            models.compute.clone(),
        )),
        chat: brain.make(&store, clock.clone()),
        tools: Box::new(HospitalTools::new(store.clone(), clock.clone())),
        tts: Box::new(PiperTts::on(models.voice.clone(), models.compute.clone())),
        system_prompt: system_prompt(clock.as_ref()),
    };
    let caller = CallerScript::new(utterances, LEAD_MS, GAP_MS);
    // The caller goes on (or hangs up) once it has heard each answer.
    let progress = caller.progress();
    let (out, rx) = output::channel();
    let pipeline = Pipeline::spawn(
        SessionParts::new(providers, Box::new(caller), Box::new(out)),
        Mode::Streaming.config(),
    );
    let mut answers = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // The channel closes when the session has ended (the caller script ends the call).
    for item in rx.iter() {
        if let Output::Event(Event::Metrics(report)) = item {
            progress.reply(report.is_answer());
            if !report.transcript.trim().is_empty() && seen.insert(report.turn) {
                answers.push(*report);
            }
        }
    }
    let outcome = pipeline.join();
    if !outcome.failed_stages.is_empty() {
        return Err(EvalError::Spoken(format!(
            "{}: stages failed: {}",
            case.id,
            outcome.failed_stages.join(", ")
        )));
    }
    Ok(answers)
}
