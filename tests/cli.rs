//! The `voice-agent` binary on WAV files: a spoken request in, a stereo conversation and one
//! JSON report per turn out; a file that is not a WAV exits with code 2. Also `mic
//! --list-devices` (which must answer on a machine without a sound card) and the help text.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voice-agent"))
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("va-cli-{}-{name}", std::process::id()))
}

fn models_ready() -> bool {
    let dir = voice_agent::providers::models::models_dir();
    let ok = dir.join("whisper-tiny.en/encoder.onnx").exists()
        && dir.join("piper/en_US-joe-medium.onnx").exists();
    if !ok {
        eprintln!(
            "SKIPPED: models missing in {} (run `make setup`)",
            dir.display()
        );
    }
    ok
}

#[test]
fn a_file_that_is_not_a_wav_exits_with_code_2() {
    let path = tmp("not.wav");
    std::fs::write(&path, "definitely not audio").unwrap();
    let out = bin().args(["run", "--input"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a usable WAV"), "{err}");
    let missing = bin()
        .args(["run", "--input", "/nonexistent/caller.wav"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    std::fs::remove_file(&path).ok();

    // A WAV whose header claims 1 Hz: refused at once, with why, instead of resampled.
    let slow = tmp("1hz.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 1,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&slow, spec).unwrap();
    for _ in 0..64 {
        w.write_sample(100i16).unwrap();
    }
    w.finalize().unwrap();
    let out = bin().args(["run", "--input"]).arg(&slow).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sample rate of 1 Hz is not supported"),
        "{err}"
    );
    std::fs::remove_file(&slow).ok();
}

#[test]
fn run_writes_a_stereo_conversation_and_one_report_per_turn() {
    if !models_ready() {
        return;
    }
    // The caller's request, spoken by the local voice at 48 kHz (any rate is converted).
    let caller = tmp("caller.wav");
    let said = bin()
        .args(["say", "--rate", "48000", "-o"])
        .arg(&caller)
        .arg("What are doctor Chen's hours?")
        .status()
        .unwrap();
    assert!(said.success());
    let (conv, report, db) = (tmp("conv.wav"), tmp("report.jsonl"), tmp("db.sqlite"));
    // A report left by an earlier run: `--report` replaces it (one file per run).
    std::fs::write(&report, "{\"stale\": \"an earlier run\"}\n").unwrap();
    let out = bin()
        .args(["--llm", "builtin", "--db"])
        .arg(&db)
        .args(["run", "--fast", "--input"])
        .arg(&caller)
        .arg("--output")
        .arg(&conv)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[turn 1] caller:"), "{stdout}");
    assert!(stdout.contains("TTFA"), "{stdout}");

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let r = &lines[0];
    // Whisper may hear "Chin" on another CPU's kernels; the agent still has to find Dr. Chen.
    let heard = r["transcript"].as_str().unwrap().to_lowercase();
    assert!(heard.contains("hours") && heard.contains("ch"), "{r}");
    assert_eq!(r["tool_calls"][0]["name"], "get_doctor_info");
    assert_eq!(r["tool_calls"][0]["arguments"]["doctor"], "chen", "{r}");
    assert!(r["agent_text"].as_str().unwrap().contains("Chen"));
    assert!(r["latency"]["ttfa_ms"].as_f64().is_some());

    let wav = hound::WavReader::open(&conv).unwrap();
    assert_eq!(wav.spec().channels, 2);
    assert_eq!(wav.spec().sample_rate, 24_000);
    let samples: Vec<i16> = wav.into_samples::<i16>().map(|s| s.unwrap()).collect();
    let first_voiced = |ch: usize| {
        samples
            .iter()
            .skip(ch)
            .step_by(2)
            .position(|s| s.unsigned_abs() > 500)
    };
    let (caller_at, agent_at) = (first_voiced(0).unwrap(), first_voiced(1).unwrap());
    // The agent answers after the caller started speaking, on its own channel.
    assert!(
        agent_at > caller_at + 24_000,
        "caller at {caller_at}, agent at {agent_at}"
    );
    for p in [caller, conv, report, db] {
        std::fs::remove_file(p).ok();
    }
}

/// Output of the binary, with a backtrace asked for should anything panic.
fn output(args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin()
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_panic(stderr: &str) {
    for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(bad), "{bad}: {stderr}");
    }
}

#[cfg(feature = "mic")]
#[test]
fn mic_list_devices_answers_even_without_a_sound_card() {
    let (code, stdout, stderr) = output(&["mic", "--list-devices"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_no_panic(&stderr);
    // ALSA's own complaints about a missing card are kept off the terminal.
    assert!(!stderr.contains("ALSA lib"), "{stderr}");
    assert!(
        stdout.starts_with("host ") || stdout.starts_with("no audio hosts available"),
        "{stdout}"
    );
    let mut hosts = 0;
    for section in stdout.split("\nhost ").filter(|s| !s.is_empty()) {
        hosts += 1;
        if section.contains("cannot list devices:") {
            continue;
        }
        // Each direction lists its devices or says there are none.
        for what in ["input", "output"] {
            let head = format!("  {what} devices:\n");
            let at = section
                .find(&head)
                .unwrap_or_else(|| panic!("{head}: {stdout}"));
            let first = section[at + head.len()..].lines().next().unwrap_or("");
            assert!(
                first.starts_with("    ") && !first.trim().is_empty(),
                "no device line under {head:?}: {stdout}"
            );
        }
    }
    assert!(hosts > 0 || stdout.contains("no audio hosts"), "{stdout}");
    // With nothing usable it says what that means for `mic` and `run`.
    let no_input =
        !stdout.contains("input devices:\n    ") || stdout.contains("no input devices found");
    if no_input {
        assert!(
            stdout.contains("is usable: `voice-agent mic` needs a microphone and a speaker"),
            "{stdout}"
        );
        assert!(
            stdout.contains("`voice-agent run` works without"),
            "{stdout}"
        );
    }
}

#[cfg(feature = "mic")]
#[test]
fn mic_without_a_usable_microphone_fails_fast_with_one_clear_line() {
    let (_, listing, _) = output(&["mic", "--list-devices"]);
    if !listing.contains("no input device is usable")
        && !listing.contains("no input and no output device is usable")
    {
        eprintln!("SKIPPED: this machine has a microphone");
        return;
    }
    let (code, stdout, stderr) = output(&["mic"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_no_panic(&stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: no input device found"),
        "{stderr}"
    );
    assert!(
        lines[0].contains("voice-agent mic --list-devices"),
        "{stderr}"
    );
}

#[cfg(not(feature = "mic"))]
#[test]
fn mic_list_devices_says_this_build_has_no_sound_support() {
    let (code, _, stderr) = output(&["mic", "--list-devices"]);
    assert_eq!(code, Some(1));
    assert_no_panic(&stderr);
    assert!(stderr.contains("no sound device support"), "{stderr}");
}

#[test]
fn report_help_says_the_file_is_replaced_as_the_code_does() {
    for cmd in ["run", "mic"] {
        let (code, help, _) = output(&[cmd, "--help"]);
        assert_eq!(code, Some(0));
        // The flag's line and its description, up to the next flag.
        let mut lines = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("--report"));
        let flag = lines.next().expect("a --report flag");
        let text: String = std::iter::once(flag)
            .chain(lines.take_while(|l| !l.trim_start().starts_with('-')))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.contains("replacing its contents"), "{cmd}: {text}");
        assert!(!text.to_lowercase().contains("append"), "{cmd}: {text}");
    }
}
