//! The spoken subset: each case said by the local Piper voice and played, in real time, into a
//! whole session of the pipeline (Silero, Whisper, the brain and its tools, Piper), as a
//! caller on the phone would. What the agent did on that turn is scored as in the text run, so
//! the difference between the two is what speech recognition costs the caller.

use std::sync::Arc;

use crossbeam_channel::unbounded;

use super::corpus::{self, Case, Outcome};
use super::{clock, hospital, BrainChoice, CaseResult, EvalError, Score};
use crate::apps::bench::caller::CallerScript;
use crate::apps::bench::utterances;
use crate::apps::bench::Mode;
use crate::domain::{system_prompt, HospitalTools};
use crate::orchestration::pipeline::{output, Event, Output, Pipeline, SessionParts};
use crate::providers::models::models_dir;
use crate::providers::scheduler::{Compute, Scheduler, Sizing};
use crate::providers::session::SessionProviders;
use crate::providers::stt::whisper::{WhisperModel, WhisperStt, DEFAULT_VARIANT};
use crate::providers::tts::piper::{PiperTts, PiperVoice};
use crate::providers::vad::silero::{SileroModel, SileroVad};

/// Calls played at once: the models are shared through one scheduler, as on a server.
const AT_ONCE: usize = 2;

/// Silence before the caller speaks.
const LEAD_MS: u64 = 600;

/// The local models every spoken call shares.
struct Models {
    voice: Arc<PiperVoice>,
    whisper: Arc<WhisperModel>,
    silero: Arc<SileroModel>,
    compute: Compute,
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
    };
    let mut speaker = PiperTts::new(models.voice.clone());
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
            let (jobs, done_tx, models) = (jobs.clone(), done_tx.clone(), &models);
            scope.spawn(move || {
                for (i, (case, pcm)) in jobs {
                    let r = play(brain, models, &case, pcm);
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

/// One spoken call: the line in, the first answered turn's tool calls and reply out.
fn play(
    brain: &BrainChoice,
    models: &Models,
    case: &Case,
    pcm: Vec<i16>,
) -> Result<CaseResult, EvalError> {
    let clock = clock();
    let (store, world) = hospital(clock.as_ref())?;
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
    let caller = CallerScript::new(vec![pcm], LEAD_MS, 0);
    let (out, rx) = output::channel();
    let pipeline = Pipeline::spawn(
        SessionParts::new(providers, Box::new(caller), Box::new(out)),
        Mode::Streaming.config(),
    );
    let mut answer = None;
    // The channel closes when the session has ended (the caller script ends the call).
    for item in rx.iter() {
        if let Output::Event(Event::Metrics(report)) = item {
            if answer.is_none() && !report.transcript.trim().is_empty() {
                answer = Some(report);
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
    let Some(report) = answer else {
        return Ok(CaseResult {
            id: case.id.clone(),
            category: case.category.clone(),
            say: case.say.clone(),
            heard: String::new(),
            outcome: Outcome::default(),
            miss: Some("nothing was heard".into()),
        });
    };
    let outcome = Outcome {
        calls: report.tool_calls.clone(),
        reply: report.agent_text.clone(),
    };
    let miss = corpus::check(case, &outcome, &world);
    Ok(CaseResult {
        id: case.id.clone(),
        category: case.category.clone(),
        say: case.say.clone(),
        heard: report.transcript,
        outcome,
        miss,
    })
}
