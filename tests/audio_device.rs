//! Sound devices through the scripted virtual device: the test plays the sound card's part,
//! pushing capture callbacks and pulling playback callbacks, through exactly the code the cpal
//! callbacks run. Covers format conversion, resampling to and from the pipeline's rates,
//! underruns, `clear()`, the played counter, a callback side that neither allocates nor blocks,
//! and a whole `mic` session.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::f64::consts::PI;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use voice_agent::audio::device::{
    AudioBackend, DeviceInput, RawSample, SampleKind, StreamSpec, VirtualDevice,
};
use voice_agent::audio::resample::resample_f32;
use voice_agent::audio::{AudioInput, AudioOutput, FRAME_SAMPLES, INPUT_RATE};
use voice_agent::console::Style;
use voice_agent::mic::{mic_config, run_session, MicArgs};
use voice_agent::pipeline::PipelineConfig;
use voice_agent::providers::{ProviderError, SessionFactory, SessionProviders};
use voice_agent::testing::{
    synthetic_caller, tone_level, EchoTools, ScriptedChat, ScriptedStt, ToneTts,
};
use voice_agent::tts::OUTPUT_RATE;
use voice_agent::vad::energy::EnergyVad;

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
