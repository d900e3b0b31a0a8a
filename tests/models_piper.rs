//! Piper TTS on the real voice: audio that is there, of plausible length and level; cancel;
//! nothing-to-say inputs; the espeak owner thread under concurrency; normalisation through
//! espeak; and the round trip through Whisper. Model tests skip (with a message) when
//! `make setup` has not been run; the espeak tests need only libespeak-ng.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::thread;

use voice_agent::foundation::audio::resample::resample_f32 as resample;
use voice_agent::foundation::audio::OUTPUT_RATE;
use voice_agent::foundation::cancel::{CancelToken, Generation};
use voice_agent::providers::models::{self, models_dir, ModelError};
use voice_agent::providers::stt::whisper::{RunOptions, WhisperModel};
use voice_agent::providers::tts::espeak::Phonemizer;
use voice_agent::providers::tts::normalize::normalize;
use voice_agent::providers::tts::piper::{PiperTts, PiperVoice, VOICE};
use voice_agent::providers::tts::TextToSpeech;

const SENTENCE: &str = "Your appointment with the cardiologist is confirmed for Tuesday morning.";

fn voice() -> Option<Arc<PiperVoice>> {
    static VOICE_ONCE: OnceLock<Option<Arc<PiperVoice>>> = OnceLock::new();
    VOICE_ONCE
        .get_or_init(|| {
            let dir = models_dir();
            let model = dir.join("piper").join(format!("{VOICE}.onnx"));
            if !model.exists() || models::onnxruntime_path().is_err() {
                eprintln!(
                    "SKIPPED: Piper voice or ONNX Runtime missing under {} ({})",
                    dir.display(),
                    models::SETUP_HINT
                );
                return None;
            }
            Some(PiperVoice::load(&dir).expect("Piper voice present but failed to load"))
        })
        .clone()
}

/// Every piece `synthesize` delivers, in order.
fn speak(voice: &Arc<PiperVoice>, text: &str, cancel: &CancelToken) -> Vec<Vec<i16>> {
    let mut tts = PiperTts::new(voice.clone());
    let mut pieces = Vec::new();
    tts.synthesize(text, cancel, &mut |pcm| pieces.push(pcm.to_vec()))
        .expect("synthesis succeeds");
    pieces
}

fn rms(pcm: &[i16]) -> f64 {
    (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
}

#[test]
fn a_sentence_becomes_plausible_24k_speech() {
    let Some(voice) = voice() else { return };
    let tts = PiperTts::new(voice.clone());
    assert_eq!(tts.name(), "piper en_US-joe-medium");

    let audio: Vec<i16> = speak(&voice, SENTENCE, &CancelToken::never()).concat();
    let seconds = audio.len() as f64 / f64::from(OUTPUT_RATE);
    let words = SENTENCE.split_whitespace().count() as f64;
    assert!(
        (0.2 * words..=1.0 * words).contains(&seconds),
        "{seconds:.2} s for {words} words"
    );
    assert!(rms(&audio) > 500.0, "too quiet: rms {:.0}", rms(&audio));
    let clipped = audio.iter().filter(|s| s.unsigned_abs() >= 32_767).count();
    assert!(
        clipped * 1000 < audio.len(),
        "{clipped} clipped samples of {}",
        audio.len()
    );
    // Speech has pauses and loud parts: the level must vary across 50 ms windows.
    let windows: Vec<f64> = audio.chunks(1200).map(rms).collect();
    let loud = windows.iter().filter(|&&r| r > 1000.0).count();
    let quiet = windows.iter().filter(|&&r| r < 300.0).count();
    assert!(loud > 5 && quiet > 0, "loud {loud}, quiet {quiet}");
}

#[test]
fn long_text_streams_in_several_pieces() {
    let Some(voice) = voice() else { return };
    let pieces = speak(
        &voice,
        "Thank you for calling. The clinic opens at 9:00 tomorrow, and the pharmacy \
         opens an hour later.",
        &CancelToken::never(),
    );
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    assert!(pieces.iter().all(|p| !p.is_empty()));
}

/// The split voice streams a clause window by window and sounds exactly like the whole graph.
#[test]
fn the_split_vocoder_streams_the_same_audio_as_the_whole_voice() {
    let Some(_) = voice() else { return };
    let dir = models_dir();
    if !dir
        .join("piper")
        .join(format!("{VOICE}.vocoder.onnx"))
        .exists()
    {
        eprintln!(
            "SKIPPED: the split Piper voice is missing ({})",
            models::SETUP_HINT
        );
        return;
    }
    let split = PiperVoice::load_with(&dir, 1, true, true).unwrap();
    let whole = PiperVoice::load_with(&dir, 1, true, false).unwrap();
    assert!(split.streams() && !whole.streams());
    let chunks = split
        .phoneme_chunks("Your appointment with the cardiologist is confirmed for Tuesday morning")
        .unwrap();
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    let mut pieces: Vec<Vec<i16>> = Vec::new();
    split
        .speak_phonemes_streaming(&chunks[0], &CancelToken::never(), &mut |p| {
            pieces.push(p.to_vec())
        })
        .unwrap();
    let streamed = pieces.concat();
    let reference = whole.speak_phonemes(&chunks[0]).unwrap();
    assert_eq!(streamed.len(), reference.len());
    let worst = streamed
        .iter()
        .zip(&reference)
        .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
        .max()
        .unwrap_or(0);
    assert!(worst <= 2, "streamed audio differs by {worst} LSB");
    // Windows of 24, 48, 96 ... frames: the first piece is about a quarter second.
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    let first_s = pieces[0].len() as f64 / f64::from(OUTPUT_RATE);
    assert!((0.15..0.4).contains(&first_s), "first piece {first_s:.2} s");

    // A cancel between windows stops the clause there.
    let generation = Generation::new();
    let cancel = generation.token();
    let mut got = 0;
    split
        .speak_phonemes_streaming(&chunks[0], &cancel, &mut |_| {
            got += 1;
            generation.bump();
        })
        .unwrap();
    assert_eq!(got, 1);
}

#[test]
fn cancel_before_start_gives_no_audio() {
    let Some(voice) = voice() else { return };
    let generation = Generation::new();
    let cancel = generation.token();
    generation.bump();
    assert!(speak(&voice, SENTENCE, &cancel).is_empty());
}

#[test]
fn cancel_between_clauses_stops_the_rest() {
    let Some(voice) = voice() else { return };
    let generation = Generation::new();
    let cancel = generation.token();
    let mut tts = PiperTts::new(voice);
    let mut pieces = 0;
    tts.synthesize(
        "First sentence here. Second sentence here. Third sentence here.",
        &cancel,
        &mut |_| {
            pieces += 1;
            generation.bump();
        },
    )
    .expect("cancel is not an error");
    assert_eq!(pieces, 1);
}

#[test]
fn nothing_speakable_gives_no_audio_and_no_error() {
    let Some(voice) = voice() else { return };
    for text in [
        "",
        "   ",
        "...",
        "?!",
        "🙂🎉👍🏽",
        "☃ ★ →",
        "你好",
        "\u{200b}",
        "-- * --",
    ] {
        assert!(
            speak(&voice, text, &CancelToken::never()).is_empty(),
            "audio for {text:?}"
        );
    }
}

#[test]
fn missing_voice_names_the_setup_command() {
    match PiperVoice::load(Path::new("/definitely/not/models")) {
        Err(e @ ModelError::Missing { .. }) => assert!(e.to_string().contains("make setup"), "{e}"),
        Err(e) => panic!("expected Missing, got {e}"),
        Ok(_) => panic!("loaded a voice from nowhere"),
    }
}

#[test]
fn espeak_owner_thread_is_consistent_under_concurrency() {
    let phonemizer = Phonemizer::global().expect("libespeak-ng");
    let texts = [
        "Hello, how are you today?",
        "The doctor will see you at three thirty P M.",
        "Please hold while I transfer your call.",
        "Is it raining outside? I hope not!",
    ];
    let sequential: Vec<_> = texts
        .iter()
        .map(|t| phonemizer.phonemize("en-us", t).expect("phonemize"))
        .collect();
    let handles: Vec<_> = (0..4)
        .map(|worker| {
            let phonemizer = phonemizer.clone();
            thread::spawn(move || {
                (0..25)
                    .map(|round| {
                        let index = (worker + round) % texts.len();
                        let clauses = phonemizer
                            .phonemize("en-us", texts[index])
                            .expect("phonemize");
                        (index, clauses)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for handle in handles {
        for (index, clauses) in handle.join().expect("worker finished") {
            assert_eq!(clauses, sequential[index], "text {index}");
        }
    }
}

/// The phonemes espeak gives for `text` after normalisation.
fn phonemes(text: &str) -> Vec<String> {
    Phonemizer::global()
        .expect("libespeak-ng")
        .phonemize("en-us", &normalize(text))
        .expect("phonemize")
        .into_iter()
        .map(|c| {
            format!(
                "{}{}",
                c.phonemes,
                c.terminator.map(String::from).unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn normalised_text_reads_as_written_out() {
    for (written, spoken) in [
        (
            "It costs $29.95.",
            "It costs twenty-nine dollars and ninety-five cents.",
        ),
        (
            "Dr. Smith sees you at 3:30 PM.",
            "Doctor Smith sees you at three thirty P M.",
        ),
        ("Call 555-0199.", "Call five five five, zero one nine nine."),
        ("On 2026-12-03.", "On December third, twenty twenty-six."),
        ("St. Mary's & St. John's", "Saint Mary's and Saint John's"),
    ] {
        assert_eq!(phonemes(written), phonemes(spoken), "{written:?}");
    }
    // "Dr." no longer ends a clause (espeak alone splits "Dr. Smith" in two).
    assert_eq!(phonemes("Dr. Smith is here.").len(), 1);
}

#[test]
fn whisper_transcribes_piper_back_to_the_text() {
    let Some(voice) = voice() else { return };
    if !WhisperModel::dir_in(&models_dir(), "tiny.en")
        .join("decoder.onnx")
        .exists()
    {
        eprintln!("SKIPPED: Whisper tiny.en missing ({})", models::SETUP_HINT);
        return;
    }
    // The steady voice (no random variation): the same audio every run, so the check is
    // reproducible; the varied voice is what `say --vary` and the demo use.
    let _ = voice;
    let voice = PiperVoice::load_steady(&models_dir()).expect("steady voice loads");
    let whisper = WhisperModel::shared("tiny.en").expect("Whisper present but failed to load");
    // The full 30 s window: Whisper's reference behaviour, so that this measures Piper.
    let options = RunOptions {
        full_window: true,
        ..RunOptions::default()
    };
    let texts = [
        SENTENCE,
        "Please bring your insurance card and a list of your medications.",
    ];
    let mut heard = Vec::new();
    for text in texts {
        let audio: Vec<i16> = speak(&voice, text, &CancelToken::never()).concat();
        let float: Vec<f32> = audio.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let pcm16k: Vec<i16> = resample(&float, OUTPUT_RATE, 16_000)
            .iter()
            .map(|s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16)
            .collect();
        let transcript = whisper
            .run(&pcm16k, &options, &CancelToken::never())
            .expect("transcribe")
            .expect("not cancelled");
        heard.push(transcript.text);
    }
    let wer = voice_agent::apps::bench::wer::wer(&texts.join(" "), &heard.join(" "));
    assert!(wer < 0.1, "WER {wer:.2}: said {texts:?}, heard {heard:?}");
}

#[test]
fn word_error_rate_counts_edits() {
    assert_eq!(
        voice_agent::apps::bench::wer::wer("a b c d", "a b c d"),
        0.0
    );
    assert_eq!(voice_agent::apps::bench::wer::wer("a b c d", "a x c"), 0.5);
    assert_eq!(
        voice_agent::apps::bench::wer::wer("Hello, world.", "hello world"),
        0.0
    );
}

/// The shared scheduler changes where the models run, not what they say: the steady voice gives
/// the same samples, and Whisper the same words, as direct calls. A session that hangs up while
/// its calls wait behind another session's gets its answer at once, and nothing of it runs.
#[test]
fn the_shared_scheduler_gives_the_same_results_and_drops_a_hung_up_sessions_calls() {
    use voice_agent::foundation::urgency::Urgency;
    use voice_agent::providers::scheduler::{Compute, Scheduler, Sizing};
    use voice_agent::providers::stt::whisper::WhisperStt;
    use voice_agent::providers::stt::SpeechToText;

    if voice().is_none()
        || !WhisperModel::dir_in(&models_dir(), "tiny.en")
            .join("decoder.onnx")
            .exists()
    {
        eprintln!("SKIPPED: Piper or Whisper missing ({})", models::SETUP_HINT);
        return;
    }
    let steady = PiperVoice::load_steady(&models_dir()).expect("steady voice loads");
    let whisper = WhisperModel::shared("tiny.en").expect("Whisper loads");
    let scheduler = Scheduler::start(Sizing::for_cores(2, None));
    let shared = Compute::Scheduled(scheduler.clone());

    let say = |compute: Compute| {
        let mut tts = PiperTts::on(steady.clone(), compute);
        let mut pcm = Vec::new();
        tts.synthesize(SENTENCE, &CancelToken::never(), &mut |p| {
            pcm.extend_from_slice(p)
        })
        .expect("synthesis");
        pcm
    };
    let direct_audio = say(Compute::Direct);
    assert!(!direct_audio.is_empty());
    assert_eq!(say(shared.clone()), direct_audio, "same samples either way");

    let float: Vec<f32> = direct_audio
        .iter()
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    let pcm16k: Vec<i16> = resample(&float, OUTPUT_RATE, 16_000)
        .iter()
        .map(|s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16)
        .collect();
    let direct_text = WhisperStt::with_model(whisper.clone())
        .transcribe(&pcm16k)
        .expect("direct transcript");
    let mut stt = WhisperStt::on(whisper.clone(), shared.clone());
    assert_eq!(stt.transcribe(&pcm16k).expect("scheduled"), direct_text);
    assert!(!direct_text.trim().is_empty());

    // Another session's calls hold both models' lanes...
    let (open, gate) = crossbeam_channel::bounded::<()>(0);
    let held: Vec<_> = ["whisper", "piper"]
        .into_iter()
        .map(|model| {
            let gate = gate.clone();
            scheduler.submit(
                model,
                Urgency::default(),
                &CancelToken::never(),
                move || {
                    let _ = gate.recv();
                },
            )
        })
        .collect();
    // ...while this session asks for a guess at a pause and a sentence, then hangs up.
    let session = Generation::new();
    let (stt_token, tts_token) = (session.token(), session.token());
    let audio = pcm16k.clone();
    let guess = thread::spawn(move || stt.transcribe_speculative(&audio, &stt_token));
    let mut tts = PiperTts::on(steady.clone(), shared.clone());
    let speech = thread::spawn(move || {
        let mut pieces = 0;
        let r = tts.synthesize(SENTENCE, &tts_token, &mut |_| pieces += 1);
        (r.is_ok(), pieces)
    });
    // Both calls wait in the queue (each stats request is a round trip to the scheduler).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while scheduler.stats(false).queued < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the calls never queued"
        );
        thread::yield_now();
    }
    session.bump();
    assert!(
        matches!(guess.join().unwrap(), Ok(None)),
        "no guess after hanging up"
    );
    assert_eq!(
        speech.join().unwrap(),
        (true, 0),
        "no audio after hanging up"
    );
    drop(open);
    for h in held {
        h.wait().expect("the other session's calls finish");
    }
    let stats = scheduler.stats(false);
    let dropped: u64 = stats.classes.iter().map(|c| c.stale).sum();
    assert_eq!(dropped, 2, "both calls dropped unrun: {stats:?}");
}
