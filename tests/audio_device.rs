//! Sound devices through the scripted virtual device: the test plays the sound card's part,
//! pushing capture callbacks and pulling playback callbacks, through exactly the code the cpal
//! callbacks run. Covers format conversion, resampling to and from the pipeline's rates,
//! underruns, `clear()`, the played counter, a callback side that neither allocates nor blocks,
//! and a whole `mic` session.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::f64::consts::PI;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use voice_agent::apps::console::Style;
use voice_agent::apps::device::{
    AudioBackend, DeviceInput, RawSample, SampleKind, StreamSpec, VirtualDevice,
};
use voice_agent::apps::mic::{mic_config, run_session, MicArgs};
use voice_agent::foundation::audio::resample::resample_f32;
use voice_agent::foundation::audio::OUTPUT_RATE;
use voice_agent::foundation::audio::{AudioInput, AudioOutput, FRAME_SAMPLES, INPUT_RATE};
use voice_agent::orchestration::pipeline::output;
use voice_agent::orchestration::pipeline::PipelineConfig;
use voice_agent::providers::session::{ProviderError, SessionFactory, SessionProviders};
use voice_agent::providers::testing::{
    synthetic_caller, tone_level, EchoTools, ScriptedChat, ScriptedStt, ToneTts,
};
use voice_agent::providers::vad::energy::EnergyVad;

// ---- an allocator that counts what a marked thread allocates ----

struct CountingAlloc;

thread_local! {
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}
static TRACKED_ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACKED.with(|t| t.get()) {
            TRACKED_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if TRACKED.with(|t| t.get()) {
            TRACKED_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Allocations `f` made on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = TRACKED_ALLOCS.load(Ordering::Relaxed);
    TRACKED.with(|t| t.set(true));
    f();
    TRACKED.with(|t| t.set(false));
    TRACKED_ALLOCS.load(Ordering::Relaxed) - before
}

// ---- signals ----

fn spec(rate: u32, channels: u16, format: SampleKind) -> StreamSpec {
    StreamSpec {
        rate,
        channels,
        format,
    }
}

fn tone(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| ((2.0 * PI * freq * i as f64 / rate as f64).sin() * amp) as f32)
        .collect()
}

/// Interleave mono audio into `channels`, channel c scaled by `gains[c]`, in the device format.
fn device_samples<T: RawSample>(mono: &[f32], gains: &[f32]) -> Vec<T> {
    mono.iter()
        .flat_map(|&v| {
            gains
                .iter()
                .map(move |g| T::from_word(T::KIND.encode(v * g)))
        })
        .collect()
}

/// Frequency from the rising zero crossings.
fn frequency(x: &[f32], rate: u32) -> f64 {
    let crossings: Vec<usize> = (1..x.len())
        .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
        .collect();
    assert!(crossings.len() > 2, "no tone");
    let span = (crossings[crossings.len() - 1] - crossings[0]) as f64;
    (crossings.len() - 1) as f64 * rate as f64 / span
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Push `samples` (interleaved) through capture callbacks of the given frame counts (cycled),
/// converting after each one as the source thread would; returns the frames produced.
fn capture_through<T: RawSample>(
    dev: &VirtualDevice,
    input: &mut DeviceInput,
    samples: &[T],
    sizes: &[usize],
) -> Vec<Vec<i16>> {
    let ch = dev.input_spec().channels as usize;
    let mut frames = Vec::new();
    let (mut i, mut k) = (0, 0);
    while i < samples.len() {
        let n = (sizes[k % sizes.len()] * ch).min(samples.len() - i);
        let accepted = dev.capture(&samples[i..i + n]).expect("input open");
        assert_eq!(accepted, n / ch, "ring refused audio");
        i += n;
        k += 1;
        while let Some(f) = input.try_frame() {
            frames.push(f);
        }
    }
    frames
}

fn to_f32(frames: &[Vec<i16>]) -> Vec<f32> {
    frames
        .iter()
        .flatten()
        .map(|&s| s as f32 / 32_768.0)
        .collect()
}

// ---- capture ----

#[test]
fn capture_48k_stereo_f32_in_irregular_callbacks_gives_exact_20ms_frames_of_the_tone() {
    let dev = VirtualDevice::new(
        spec(48_000, 2, SampleKind::F32),
        spec(48_000, 2, SampleKind::F32),
    );
    let mut input = dev.open_input(None).unwrap();
    // One second of 1 kHz: full level on the left, half on the right (mean 0.75 x 0.5).
    let samples: Vec<f32> = device_samples(&tone(1_000.0, 48_000, 48_000, 0.5), &[1.0, 0.5]);
    let frames = capture_through(&dev, &mut input, &samples, &[441, 480, 512, 7, 1_024, 128]);
    assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
    // 16 000 samples less the resampler's lag of a millisecond or so: 49 whole frames.
    assert_eq!(frames.len(), 49);
    let audio = to_f32(&frames);
    let steady = &audio[640..];
    let f = frequency(steady, INPUT_RATE);
    assert!((f - 1_000.0).abs() < 2.0, "frequency {f}");
    let level = rms(steady);
    let want = 0.75 * 0.5 / 2f64.sqrt();
    assert!((level - want).abs() < want * 0.02, "rms {level} vs {want}");

    // The microphone goes away: what was captured is still delivered, then the input ends.
    dev.capture(&samples[..2 * 480]).unwrap();
    dev.unplug_input();
    let mut tail = 0;
    while let Some(frame) = input.next_frame() {
        assert_eq!(frame.len(), FRAME_SAMPLES);
        tail += 1;
    }
    assert_eq!(
        tail, 1,
        "10 ms left over plus 10 ms captured make one frame"
    );
}

fn check_format<T: RawSample>(rate: u32, channels: u16) {
    let dev = VirtualDevice::new(
        spec(rate, channels, T::KIND),
        spec(48_000, 1, SampleKind::F32),
    );
    let mut input = dev.open_input(Some("MICRO")).unwrap();
    let gains = vec![1.0; channels as usize];
    let samples: Vec<T> = device_samples(&tone(440.0, rate, rate as usize / 2, 0.4), &gains);
    let per_10ms = rate as usize / 100;
    let frames = capture_through(&dev, &mut input, &samples, &[per_10ms, per_10ms / 3 + 1]);
    let audio = to_f32(&frames);
    assert!(
        audio.len() >= 7_000,
        "{} {rate} Hz x{channels}: {} samples",
        T::KIND,
        audio.len()
    );
    let steady = &audio[640..];
    let f = frequency(steady, INPUT_RATE);
    assert!(
        (f - 440.0).abs() < 2.0,
        "{} {rate} Hz: frequency {f}",
        T::KIND
    );
    let level = rms(steady);
    let want = 0.4 / 2f64.sqrt();
    assert!(
        (level - want).abs() < want * 0.03,
        "{} {rate} Hz: rms {level}",
        T::KIND
    );
}

#[test]
fn every_native_format_and_rate_becomes_the_same_16k_mono_tone() {
    check_format::<i16>(44_100, 1);
    check_format::<u16>(22_050, 2);
    check_format::<i32>(96_000, 2);
    check_format::<u8>(16_000, 1);
    check_format::<i8>(8_000, 1);
    check_format::<u32>(32_000, 4);
    check_format::<f64>(48_000, 1);
}

// ---- playback ----

/// Pull playback callbacks of `frames` frames until `n` callbacks ran; returns channel 0 as f32
/// and the agent frames each callback reported.
fn pull<T: RawSample>(dev: &VirtualDevice, frames: usize, n: usize) -> (Vec<f32>, Vec<usize>) {
    let ch = dev.output_spec().channels as usize;
    let mut buf = vec![T::SILENCE; frames * ch];
    let (mut left, mut counts) = (Vec::new(), Vec::new());
    for _ in 0..n {
        counts.push(dev.play(&mut buf).expect("output open"));
        for frame in buf.chunks(ch) {
            // Every channel carries the same mono signal.
            assert!(frame.iter().all(|s| s.to_word() == frame[0].to_word()));
            left.push(T::KIND.decode(frame[0].to_word()));
        }
    }
    (left, counts)
}

/// Write like the sink does: 20 ms slices of 24 kHz audio.
fn write_24k(out: &mut dyn AudioOutput, pcm: &[f32]) {
    let pcm: Vec<i16> = pcm.iter().map(|&v| (v * 32_767.0) as i16).collect();
    for slice in pcm.chunks(OUTPUT_RATE as usize / 50) {
        out.write(slice);
    }
}

#[test]
fn playback_is_resampled_from_24k_to_the_device_rate_on_every_channel() {
    for (rate, channels) in [(48_000u32, 2u16), (44_100, 1)] {
        let dev = VirtualDevice::new(
            spec(16_000, 1, SampleKind::F32),
            spec(rate, channels, SampleKind::I16),
        );
        let mut out = dev.open_output(None).unwrap();
        write_24k(
            &mut out,
            &tone(440.0, OUTPUT_RATE, OUTPUT_RATE as usize, 0.5),
        );
        let callback = rate as usize / 100;
        let (left, counts) = pull::<i16>(&dev, callback, 110);
        let played: usize = counts.iter().sum();
        // All of it, less the resampler's lag (under a millisecond).
        assert!(
            played <= rate as usize && played > rate as usize * 99 / 100,
            "{rate}: {played}"
        );
        let heard = &left[200..played - 200];
        let f = frequency(heard, rate);
        assert!((f - 440.0).abs() < 1.0, "{rate}: frequency {f}");
        let level = rms(heard);
        assert!(
            (level - 0.5 / 2f64.sqrt()).abs() < 0.01,
            "{rate}: rms {level}"
        );
        // Then the ring runs dry: silence.
        assert!(left[played..].iter().all(|&v| v == 0.0));
        assert_eq!(out.played_frames(), played as u64);
        let samples = out.played_samples().unwrap();
        assert_eq!(samples, played as u64 * 24_000 / rate as u64);
        assert!(samples > 23_900 && samples <= 24_000, "{rate}: {samples}");
    }
}

#[test]
fn underrun_plays_the_format_silence_and_is_not_counted_as_played() {
    let dev = VirtualDevice::new(
        spec(16_000, 1, SampleKind::F32),
        spec(48_000, 2, SampleKind::U16),
    );
    let mut out = dev.open_output(None).unwrap();
    // Nothing written yet: unsigned silence is the mid-scale value, not zero.
    let mut buf = vec![0u16; 960];
    assert_eq!(dev.play(&mut buf), Some(0));
    assert!(buf.iter().all(|&s| s == 32_768));
    write_24k(&mut out, &tone(300.0, OUTPUT_RATE, 2_400, 0.5));
    let (left, counts) = pull::<u16>(&dev, 480, 12);
    let played: usize = counts.iter().sum();
    assert!(played > 4_700 && played <= 4_800, "{played}");
    assert!(rms(&left[..played]) > 0.3);
    assert!(left[played..].iter().all(|&v| v == 0.0));
    assert_eq!(out.played_frames(), played as u64);
}

#[test]
fn clear_stops_playback_at_the_next_callback_and_later_audio_plays() {
    let dev = VirtualDevice::new(
        spec(16_000, 1, SampleKind::F32),
        spec(44_100, 2, SampleKind::F32),
    );
    let mut out = dev.open_output(None).unwrap();
    write_24k(
        &mut out,
        &tone(440.0, OUTPUT_RATE, OUTPUT_RATE as usize, 0.5),
    );
    let (first, counts) = pull::<f32>(&dev, 441, 1);
    assert_eq!(counts, vec![441]);
    assert!(rms(&first) > 0.3);
    let queued = out.queued_frames();
    assert!(queued > 40_000, "{queued}");

    // Barge-in: nothing of the old reply after the cut, from the very next callback.
    out.clear();
    let (after, counts) = pull::<f32>(&dev, 441, 3);
    assert_eq!(counts, vec![0, 0, 0]);
    assert!(after.iter().all(|&v| v == 0.0));
    assert_eq!(out.queued_frames(), 0);
    assert_eq!(out.played_frames(), 441);

    // The next reply plays normally, at its own level.
    write_24k(&mut out, &tone(440.0, OUTPUT_RATE, 2_400, 0.1));
    let (next, counts) = pull::<f32>(&dev, 441, 12);
    let played: usize = counts.iter().sum();
    assert!(played > 4_300 && played <= 4_410, "{played}");
    let peak = next.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(peak < 0.12 && peak > 0.08, "old audio leaked: peak {peak}");
    assert_eq!(out.played_frames(), 441 + played as u64);
}

// ---- the callback side ----

#[test]
fn callbacks_neither_allocate_nor_block_even_when_the_pipeline_stalls() {
    let dev = VirtualDevice::new(
        spec(48_000, 2, SampleKind::I16),
        spec(48_000, 2, SampleKind::I16),
    );
    let input = dev.open_input(None).unwrap();
    let mut out = dev.open_output(None).unwrap();
    write_24k(&mut out, &tone(440.0, OUTPUT_RATE, 4_800, 0.5));
    let capture = vec![1_000i16; 2 * 480];
    let mut playback = vec![0i16; 2 * 480];
    let mut accepted = 0;
    let mut played = 0;
    // Three seconds of callbacks while nobody reads the input: the ring (2 s) fills up and the
    // callback drops the rest instead of waiting.
    let allocs = allocations_in(|| {
        for _ in 0..300 {
            accepted += dev.capture(&capture).unwrap_or(0);
            played += dev.play(&mut playback).unwrap_or(0);
        }
    });
    assert_eq!(allocs, 0, "a callback allocated");
    assert!((96_000..144_000).contains(&accepted), "{accepted}");
    assert_eq!(input.dropped_frames(), 144_000 - accepted as u64);
    assert!(played > 9_500 && played <= 9_600, "{played}");
}

// ---- a whole session ----

struct Fakes {
    reply: String,
    spoken: Arc<Mutex<Vec<String>>>,
    heard: Arc<Mutex<Vec<usize>>>,
}

impl SessionFactory for Fakes {
    fn session(&self) -> Result<SessionProviders, ProviderError> {
        let stt = ScriptedStt::new(&["hello there"]);
        let tts = ToneTts {
            spoken: self.spoken.clone(),
            ..ToneTts::default()
        };
        let mut stt = stt;
        stt.heard = self.heard.clone();
        Ok(SessionProviders {
            vad: Box::new(EnergyVad::default()),
            stt: Box::new(stt),
            chat: Box::new(ScriptedChat::replies(&[&self.reply])),
            tools: Box::new(EchoTools::default()),
            tts: Box::new(tts),
            system_prompt: "You are a test.".into(),
        })
    }

    fn describe(&self) -> Vec<String> {
        vec!["fakes".into()]
    }
}

/// Plays the sound card in real time: 10 ms capture callbacks of uneven sizes (48 kHz stereo
/// f32) and 10 ms playback callbacks (44.1 kHz stereo i16), until the agent has answered and
/// gone quiet. Returns the speaker's left channel and the agent frames it played.
fn drive(dev: VirtualDevice, caller16k: Vec<i16>, stop: impl Fn()) -> (Vec<i16>, usize) {
    let caller = resample_f32(
        &caller16k
            .iter()
            .map(|&s| s as f32 / 32_768.0)
            .collect::<Vec<_>>(),
        INPUT_RATE,
        48_000,
    );
    let mut speaker = Vec::new();
    let mut buf = vec![0i16; 2 * 441];
    let start = Instant::now();
    let (mut pos, mut tick) = (0usize, 0u64);
    let mut quiet_since_reply = None;
    let mut agent_frames = 0;
    while start.elapsed() < Duration::from_secs(30) {
        // Uneven callbacks that average 480 frames.
        let n = if tick % 2 == 0 { 441 } else { 519 };
        let chunk: Vec<f32> = (pos..pos + n)
            .map(|i| caller.get(i).copied().unwrap_or(0.0))
            .flat_map(|v| [v, v])
            .collect();
        dev.capture(&chunk);
        pos += n;
        let played = dev.play(&mut buf).unwrap_or(0);
        agent_frames += played;
        speaker.extend(buf.chunks(2).map(|f| f[0]));
        let heard_reply = speaker.iter().any(|&s| s != 0);
        if pos >= caller.len() && heard_reply {
            if played == 0 {
                let since = *quiet_since_reply.get_or_insert(tick);
                if tick - since >= 60 {
                    break;
                }
            } else {
                quiet_since_reply = None;
            }
        }
        tick += 1;
        let due = start + Duration::from_millis(10 * tick);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    stop();
    (speaker, agent_frames)
}

#[test]
fn a_mic_session_through_the_virtual_device_answers_the_caller_at_the_speaker() {
    let reply = "Hello! How can I help you today?".to_string();
    let fakes = Fakes {
        reply: reply.clone(),
        spoken: Arc::default(),
        heard: Arc::default(),
    };
    let dev = VirtualDevice::new(
        spec(48_000, 2, SampleKind::F32),
        spec(44_100, 2, SampleKind::I16),
    );
    let input = dev.open_input(None).unwrap();
    let output = dev.open_output(Some("speaker")).unwrap();
    let stop = input.stop_handle();
    let caller = synthetic_caller(&[(300, false), (900, true), (200, false)]);
    let driver = {
        let dev = dev.clone();
        std::thread::spawn(move || drive(dev, caller, move || stop.stop()))
    };
    let args = MicArgs::default();
    let config = mic_config(PipelineConfig::default(), &args);
    let mut screen = Vec::new();
    let summary = run_session(
        &args,
        &fakes,
        input,
        output,
        config,
        &mut screen,
        Style::Plain,
    )
    .expect("session");
    let (speaker, agent_frames) = driver.join().expect("driver");
    let screen = String::from_utf8(screen).unwrap();

    assert_eq!(summary.reports.len(), 1, "{screen}");
    let r = &summary.reports[0];
    assert_eq!(r.transcript, "hello there");
    assert_eq!(r.agent_text, reply);
    assert!(!r.interrupted);
    assert!(r.latency.ttfa_ms.is_some());
    // The utterance reached STT whole after the 48 kHz stereo -> 16 kHz conversion (0.9 s +
    // the VAD's padding).
    let heard = fakes.heard.lock().unwrap().clone();
    assert!(heard[0] > 14_000 && heard[0] < 24_000, "{heard:?}");
    assert_eq!(fakes.spoken.lock().unwrap().join(" "), reply);

    // The speaker played all of the reply (10 ms per character, resampled to 44.1 kHz, less
    // the resampler's lag of under a millisecond), at the reply's level.
    let want = reply.chars().count() as f64 * 0.010 * 44_100.0;
    let got = agent_frames as f64;
    assert!(
        got <= want && got > want - 60.0,
        "played {got} frames, want {want}"
    );
    assert!(
        speaker.iter().any(|&s| s != 0),
        "no agent audio at the speaker"
    );
    let peak = speaker.iter().map(|s| s.saturating_abs()).max().unwrap() as f64;
    let level = tone_level(&reply) as f64;
    assert!(
        peak > level * 0.95 && peak < level * 1.3,
        "peak {peak} vs level {level}"
    );

    // The terminal view showed the conversation and the turn's latency line.
    assert!(
        screen.contains("microphone: virtual microphone (48000 Hz, 2 ch, f32)"),
        "{screen}"
    );
    assert!(screen.contains("you: hello there\n"), "{screen}");
    assert!(screen.contains(&format!("agent: {reply}")), "{screen}");
    assert!(screen.contains("  turn 1: TTFA "), "{screen}");
    assert!(screen.contains("1 turn(s), 0 interrupted"), "{screen}");
}

// ---- interruptions through the virtual device ----
//
// The same scenarios as tests/interruptions.rs (WAV sources), but with the sound card in the
// loop: the caller's voice enters through capture callbacks, the agent is heard only through
// playback callbacks, and the agent's own voice can come back into the microphone. The test
// plays the card in real time (10 ms callbacks, 48 kHz stereo both ways) with the live
// settings of `voice-agent mic` (`mic_config`: echo gate, 60 ms lookahead, no tail).

/// The card's rate both ways, its callback period, and one 20 ms audio frame, in device frames.
const CARD_RATE: u32 = 48_000;
const PERIOD: usize = 480;
const FRAME_AT_CARD: usize = 960;
const MS_PER_CHAR: u64 = 25;

/// About four seconds of speech at `MS_PER_CHAR`, plain words only (what TTS is given is what
/// the sink's spans hold). Its tone level differs from `NEXT`'s.
const REPLY: &str = "Let me tell you about our clinic. We open at eight every weekday and \
    close at six. Parking is free behind the building. Bring your insurance card to every visit.";
const NEXT: &str = "Sure, what else would you like to know?";

/// What the speaker did, callback by callback.
#[derive(Default)]
struct Speaker {
    /// Agent frames each playback callback played (the rest of its buffer was silence).
    played: Vec<usize>,
    /// The left channel, every frame the card played.
    left: Vec<i16>,
    /// For each move of the generation (a barge-in): the first playback callback that ran
    /// after the driver saw it move. Frames from there on were played after the cut.
    cuts: Vec<usize>,
}

impl Speaker {
    /// Runs of callbacks playing agent audio, as (first callback, one past the last), merging
    /// gaps shorter than 200 ms (an underrun on a busy machine is not a new reply).
    fn bursts(&self) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (i, &n) in self.played.iter().enumerate() {
            if n == 0 {
                continue;
            }
            match runs.last_mut() {
                Some(last) if i - last.1 < 20 => last.1 = i + 1,
                _ => runs.push((i, i + 1)),
            }
        }
        runs
    }

    fn frames(&self, callbacks: std::ops::Range<usize>) -> usize {
        self.played[callbacks].iter().sum()
    }

    /// Agent frames played from `cut` to the end of the reply playing then.
    fn after_cut(&self, cut: usize) -> usize {
        self.bursts()
            .into_iter()
            .find(|&(start, end)| start <= cut && cut < end)
            .map_or(0, |(_, end)| self.frames(cut..end))
    }
}

/// Plays the sound card in real time until the caller's script is over and the agent has been
/// quiet for 0.6 s (at most 10 s more). `echo`: the speaker's sound comes back into the
/// microphone one callback later at this gain (a laptop's speaker and microphone).
fn play_card(
    dev: &VirtualDevice,
    caller16k: &[i16],
    echo: Option<f32>,
    generation: &voice_agent::foundation::cancel::Generation,
) -> Speaker {
    let caller = resample_f32(
        &caller16k
            .iter()
            .map(|&s| s as f32 / 32_768.0)
            .collect::<Vec<_>>(),
        INPUT_RATE,
        CARD_RATE,
    );
    let mut sp = Speaker::default();
    let mut out = vec![0i16; 2 * PERIOD];
    let mut mic = vec![0f32; 2 * PERIOD];
    let mut looped = vec![0f32; PERIOD];
    let mut seen = generation.current();
    let mut quiet = 0;
    let start = Instant::now();
    for tick in 0usize.. {
        // The cut is decided when the generation moves (the VAD stage's barge-in).
        let g = generation.current();
        if g != seen {
            sp.cuts.push(tick);
            seen = g;
        }
        for i in 0..PERIOD {
            let v = caller.get(tick * PERIOD + i).copied().unwrap_or(0.0) + looped[i];
            mic[2 * i] = v;
            mic[2 * i + 1] = v;
        }
        dev.capture(&mic).expect("input open");
        let n = dev.play(&mut out).expect("output open");
        sp.played.push(n);
        for (i, frame) in out.chunks(2).enumerate() {
            sp.left.push(frame[0]);
            looped[i] = echo.map_or(0.0, |gain| frame[0] as f32 / 32_768.0 * gain);
        }
        quiet = if n == 0 { quiet + 1 } else { 0 };
        let past = tick * PERIOD >= caller.len();
        if past && (quiet >= 60 || tick * PERIOD > caller.len() + 10 * CARD_RATE as usize) {
            break;
        }
        let due = start + Duration::from_millis(10 * (tick as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    sp
}

struct CardRun {
    outcome: voice_agent::orchestration::pipeline::SessionOutcome,
    events: Vec<voice_agent::orchestration::pipeline::Event>,
    speaker: Speaker,
    /// What the STT was given (utterance lengths) and what TTS was asked to say, in order.
    heard: Vec<usize>,
    spoken: Vec<String>,
    /// The histories the model was called with.
    calls: Vec<Vec<voice_agent::providers::llm::ChatMessage>>,
}

/// One session on the virtual card with the mic settings and scripted fakes.
fn card_session(
    caller: Vec<i16>,
    transcripts: &[&str],
    replies: &[&str],
    echo: Option<f32>,
    echo_gate: bool,
) -> CardRun {
    use voice_agent::orchestration::pipeline::{Pipeline, SessionParts};

    let dev = VirtualDevice::new(
        spec(CARD_RATE, 2, SampleKind::F32),
        spec(CARD_RATE, 2, SampleKind::I16),
    );
    let input = dev.open_input(None).unwrap();
    let output = dev.open_output(None).unwrap();
    let stop = input.stop_handle();
    let stt = ScriptedStt::new(transcripts);
    let heard = stt.heard.clone();
    let chat = ScriptedChat::replies(replies);
    let calls = chat.calls.clone();
    let tts = ToneTts {
        ms_per_char: MS_PER_CHAR,
        ..ToneTts::default()
    };
    let spoken = tts.spoken.clone();
    let (events, rx) = unbounded();
    let parts = SessionParts {
        input: Box::new(input),
        output: Box::new(output::Speaker::new(output, events)),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(stt),
        chat: Box::new(chat),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(tts),
        recorder: None,
        system_prompt: None,
    };
    let args = MicArgs {
        no_echo_gate: !echo_gate,
        ..MicArgs::default()
    };
    let mut config = mic_config(PipelineConfig::default(), &args);
    if !echo_gate {
        // Ducking at the loop's onset would also hide it (and pump the volume): the control
        // keeps the voice level so the loop is as loud as it would be.
        config.vad.duck_gain = 1.0;
    }
    let pipeline = Pipeline::spawn(parts, config);
    let generation = pipeline.generation().clone();
    let speaker = play_card(&dev, &caller, echo, &generation);
    // The caller hangs up: the source ends and every stage drains.
    stop.stop();
    let (tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(pipeline.join());
    });
    let outcome = done
        .recv_timeout(Duration::from_secs(60))
        .expect("pipeline did not shut down");
    assert!(
        outcome.failed_stages.is_empty(),
        "{:?}",
        outcome.failed_stages
    );
    let run = CardRun {
        outcome,
        events: rx.try_iter().collect(),
        speaker,
        heard: heard.lock().unwrap().clone(),
        spoken: spoken.lock().unwrap().clone(),
        calls: calls.lock().unwrap().clone(),
    };
    let clears = run
        .events
        .iter()
        .filter(|e| **e == voice_agent::orchestration::pipeline::Event::Clear)
        .count();
    // Every move of the generation the driver saw was a barge-in.
    assert_eq!(clears, run.speaker.cuts.len(), "{:?}", run.speaker.cuts);
    run
}

/// Device frames of `text` as `ToneTts` speaks it, at the card's rate.
fn card_frames(text: &str) -> usize {
    text.chars().count() * MS_PER_CHAR as usize * CARD_RATE as usize / 1000
}

/// Words of a reply the caller heard after `frames` of it played, by the sink's rule: whole
/// chunks, then the played share of the chunk cut short.
fn words_heard(chunks: &[String], frames: usize) -> usize {
    let mut at = 0;
    let mut words = 0;
    for chunk in chunks {
        let len = card_frames(chunk);
        let n = chunk.split_whitespace().count();
        if frames >= at + len {
            words += n;
        } else {
            words += (n as f64 * (frames - at) as f64 / len as f64).floor() as usize;
            break;
        }
        at += len;
    }
    words
}

/// The reply was played whole, uncut, and nothing moved the generation.
fn assert_played_whole(run: &CardRun, what: &str) {
    assert!(run.speaker.cuts.is_empty(), "{what} cut the agent off");
    let r = &run.outcome.reports;
    assert_eq!(r.len(), 1, "{what} became a turn: {r:#?}");
    assert!(!r[0].interrupted);
    assert_eq!(r[0].played_text, REPLY);
    let bursts = run.speaker.bursts();
    assert_eq!(bursts.len(), 1, "{bursts:?}");
    let played = run.speaker.frames(bursts[0].0..bursts[0].1);
    // TTS speaks the reply chunk by chunk (the spaces between chunks are not spoken).
    assert_eq!(run.spoken.join(" "), REPLY);
    let want: usize = run.spoken.iter().map(|c| card_frames(c)).sum();
    // All of it, less the resampler's lag of under a millisecond.
    assert!(
        played <= want && played + 48 > want,
        "played {played} of {want} frames"
    );
}

#[test]
fn a_caller_cutting_in_mid_sentence_silences_the_speaker_within_a_frame_and_history_keeps_what_played(
) {
    // The caller asks, then talks over the answer (0.8 s, past the 0.4 s barge-in minimum).
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (2_200, false),
        (800, true),
        (3_000, false),
    ]);
    let run = card_session(
        caller,
        &["tell me about the clinic", "stop, what time do you close"],
        &[REPLY, NEXT],
        None,
        true,
    );
    let r = &run.outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(run.speaker.cuts.len(), 1, "one barge-in");
    let cut = run.speaker.cuts[0];
    let bursts = run.speaker.bursts();
    assert_eq!(
        bursts.len(),
        2,
        "the cut reply and the next one: {bursts:?}"
    );
    let (first, next) = (bursts[0], bursts[1]);
    assert!(
        first.0 < cut && cut <= first.1,
        "the cut came while the reply played: {bursts:?}, cut at {cut}"
    );

    // After the cut the card played at most one 20 ms frame of the old reply, plus the
    // callback period it was in (the sink notices within a slice; the next callback is silent).
    let after = run.speaker.after_cut(cut);
    assert!(
        after <= FRAME_AT_CARD + PERIOD,
        "{after} frames ({} ms) of agent audio after the cut",
        after * 1000 / CARD_RATE as usize
    );
    // ...and nothing of it later: the next reply plays at its own level.
    let old = tone_level(REPLY) as i32;
    let new = tone_level(NEXT) as i32;
    assert!(old > new + 3_000, "levels {old} vs {new}");
    let later = &run.speaker.left[first.1 * PERIOD..];
    let peak = later.iter().map(|&s| (s as i32).abs()).max().unwrap_or(0);
    assert!(
        peak < (old + new) / 2,
        "old audio after the cut: peak {peak}"
    );
    assert!(peak > new * 9 / 10, "the next reply played: peak {peak}");

    // The report and the history hold only what the card played before the cut.
    assert!(r[0].interrupted);
    assert_eq!(r[0].agent_text, REPLY);
    let played_frames = run.speaker.frames(first.0..first.1);
    assert!(
        played_frames < card_frames(REPLY) * 3 / 4,
        "cut mid-reply: {played_frames}"
    );
    let words: Vec<&str> = r[0].played_text.split_whitespace().collect();
    let want = words_heard(&run.spoken, played_frames);
    assert!(
        words.len().abs_diff(want) <= 1,
        "report keeps {} words, the card played {want}: {:?}",
        words.len(),
        r[0].played_text
    );
    assert!(!words.is_empty());
    let full: Vec<&str> = REPLY.split_whitespace().collect();
    assert_eq!(words[..], full[..words.len()], "a prefix of the reply");
    let history = &run.calls[1];
    let kept: Vec<&str> = history
        .iter()
        .filter(|m| m.role == voice_agent::providers::llm::Role::Assistant)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(
        kept,
        [format!(
            "{}{}",
            r[0].played_text,
            voice_agent::orchestration::agent::INTERRUPTED_MARK
        )],
        "the model's history"
    );
    assert_eq!(r[1].transcript, "stop, what time do you close");
    assert_eq!(r[1].agent_text, NEXT);
    assert!(!r[1].interrupted);
    let next_frames = run.speaker.frames(next.0..next.1);
    assert!(
        next_frames <= card_frames(NEXT) && next_frames + 48 > card_frames(NEXT),
        "{next_frames}"
    );
}

#[test]
fn a_cough_over_the_agent_at_the_microphone_does_not_interrupt_it() {
    // 150 ms of noise while the agent speaks: shorter than a word.
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (1_800, false),
        (150, true),
        (4_000, false),
    ]);
    let run = card_session(
        caller,
        &["tell me about the clinic", "cough"],
        &[REPLY, "This must not be said."],
        None,
        true,
    );
    assert_played_whole(&run, "the cough");
    assert_eq!(
        run.heard.len(),
        1,
        "the cough was transcribed: {:?}",
        run.heard
    );
}

#[test]
fn a_short_backchannel_at_the_microphone_does_not_interrupt_the_agent() {
    // "mm-hmm" (300 ms) while the agent speaks: speech, but under the 0.4 s barge-in minimum.
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (1_800, false),
        (300, true),
        (4_000, false),
    ]);
    let run = card_session(
        caller,
        &["tell me about the clinic", "mm-hmm"],
        &[REPLY, "This must not be said."],
        None,
        true,
    );
    assert_played_whole(&run, "the backchannel");
    assert_eq!(
        run.calls.len(),
        1,
        "the model was asked about the backchannel"
    );
}

#[test]
fn the_agents_own_voice_looping_from_speaker_to_microphone_does_not_interrupt_it() {
    // The caller asks once and stays silent; the speaker comes back at -20 dB.
    let caller = synthetic_caller(&[(200, false), (600, true), (5_500, false)]);
    let run = card_session(
        caller,
        &["tell me about the clinic", "", "", ""],
        &[REPLY, "second", "third"],
        Some(0.1),
        true,
    );
    assert_played_whole(&run, "the echo");
    // The loop really carried the agent's voice: the microphone heard it while it played.
    assert!(run.speaker.left.iter().any(|&s| s != 0));
}

#[test]
fn without_the_echo_gate_the_same_loop_would_interrupt_the_agent() {
    // The control for the test above: the looped voice is loud enough to matter.
    let caller = synthetic_caller(&[(200, false), (600, true), (5_500, false)]);
    let run = card_session(
        caller,
        &["tell me about the clinic", "", "", ""],
        &[REPLY, "second", "third"],
        Some(0.1),
        false,
    );
    assert!(!run.speaker.cuts.is_empty(), "the echo did not cut in");
    assert!(run.outcome.reports[0].interrupted);
}

#[test]
fn a_false_interruption_at_the_microphone_resumes_the_reply_at_the_speaker() {
    // Noise over the agent, long enough to cut in (0.7 s), that transcribes to nothing.
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (2_200, false),
        (700, true),
        (6_000, false),
    ]);
    let run = card_session(
        caller,
        &["tell me about the clinic", ""],
        &[REPLY, "This must not be said."],
        None,
        true,
    );
    let r = &run.outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(run.speaker.cuts.len(), 1);
    assert!(r[0].interrupted);
    // The second turn picks up where the card stopped, without asking the model again.
    common::assert_resumed_where_cut(&r[0], &r[1], REPLY);
    assert!(!r[1].interrupted);
    assert_eq!(r[1].played_text, r[1].agent_text);
    assert_eq!(run.calls.len(), 1, "the model was not asked again");
    // The card played the cut reply, went quiet, then played the resumed rest whole.
    let bursts = run.speaker.bursts();
    assert_eq!(bursts.len(), 2, "{bursts:?}");
    let resumed = run.speaker.frames(bursts[1].0..bursts[1].1);
    let from = run
        .spoken
        .iter()
        .position(|c| c.starts_with("As I was saying"))
        .expect("the rest was spoken");
    assert_eq!(run.spoken[from..].join(" "), r[1].agent_text);
    let want: usize = run.spoken[from..].iter().map(|c| card_frames(c)).sum();
    assert!(
        resumed <= want && resumed + 48 > want,
        "resumed reply played {resumed} frames, want {want}"
    );
}
