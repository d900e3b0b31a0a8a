//! `voice-agent mic`: talk to the agent through this machine's microphone and speaker.
//!
//! Opens the devices, runs one pipeline session with the terminal view until Ctrl-C, then
//! prints a summary. The echo gate (on by default) raises the speech threshold while the agent
//! speaks, so its own voice coming back through the microphone does not cut it off; the price
//! is that the caller must speak up to interrupt. With headphones there is no echo:
//! `--no-echo-gate` keeps the normal threshold (and still the minimum barge-in length).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::apps::console::{summary_lines, ConsoleView, Style};
use crate::apps::device::{DeviceError, DeviceInput, DeviceOutput};
use crate::foundation::audio::wav::{ConversationRecorder, WavError};
use crate::orchestration::pipeline::{
    output, Event, Pipeline, PipelineConfig, SessionParts, TurnReport,
};
use crate::providers::session::{ProviderError, SessionFactory};

/// How far ahead of the playback clock audio goes to the device: absorbs callback jitter.
pub const MIC_LOOKAHEAD_MS: u64 = 60;

#[derive(Clone, Debug, Default, clap::Args)]
pub struct MicArgs {
    /// List audio hosts and devices with their default formats, then exit.
    #[arg(long)]
    pub list_devices: bool,
    /// Capture from the device whose name contains NAME (case-insensitive) [default: the system's].
    #[arg(long, value_name = "NAME")]
    pub input_device: Option<String>,
    /// Play through the device whose name contains NAME (case-insensitive) [default: the system's].
    #[arg(long, value_name = "NAME")]
    pub output_device: Option<String>,
    /// Headphone mode: no echo gate while the agent speaks, so a normal voice interrupts it
    /// (with speakers the agent would then interrupt itself).
    #[arg(long)]
    pub no_echo_gate: bool,
    /// Write one JSON line per turn (the TurnReport) to this file, replacing its contents.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write the conversation as a stereo WAV (caller left, agent right) at the end.
    #[arg(long, value_name = "PATH")]
    pub record: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MicError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Wav(#[from] WavError),
    #[error("{path}: {source}")]
    File { path: String, source: io::Error },
    #[error("writing to the terminal: {0}")]
    Terminal(io::Error),
    #[error("this build has no sound device support (build with the `mic` cargo feature)")]
    NotBuilt,
    #[error("stages failed: {0}")]
    StagesFailed(String),
}

/// What a session left behind.
#[derive(Debug, Default)]
pub struct MicSummary {
    pub reports: Vec<TurnReport>,
    /// Capture frames dropped because the pipeline fell behind the microphone.
    pub dropped_input_frames: u64,
    /// Playback frames dropped because the speaker stopped taking audio.
    pub dropped_output_frames: u64,
}

/// The session settings of a live conversation: no tail to drain, a little playout lookahead,
/// and the echo gate unless the caller wears headphones.
pub fn mic_config(mut config: PipelineConfig, args: &MicArgs) -> PipelineConfig {
    config.drain_tail = false;
    config.lookahead_ms = MIC_LOOKAHEAD_MS;
    if args.no_echo_gate {
        config.vad.echo_gate_threshold = None;
    }
    config
}

/// Print the audio hosts and devices (exit status 0 even when there are none: that is an answer).
pub fn list_devices(out: &mut dyn Write) -> Result<(), MicError> {
    #[cfg(feature = "mic")]
    {
        let text = crate::apps::device::format_listing(&crate::apps::device::host::list_devices());
        out.write_all(text.as_bytes()).map_err(MicError::Terminal)
    }
    #[cfg(not(feature = "mic"))]
    {
        let _ = out;
        Err(MicError::NotBuilt)
    }
}

/// Open the microphone and the speaker the arguments name (or the system's defaults).
pub fn open_devices(args: &MicArgs) -> Result<(DeviceInput, DeviceOutput), MicError> {
    #[cfg(feature = "mic")]
    {
        use crate::apps::device::host::CpalBackend;
        use crate::apps::device::AudioBackend;

        let backend = CpalBackend::new();
        let input = backend.open_input(args.input_device.as_deref())?;
        let output = backend.open_output(args.output_device.as_deref())?;
        Ok((input, output))
    }
    #[cfg(not(feature = "mic"))]
    {
        let _ = args;
        Err(MicError::NotBuilt)
    }
}

/// The `mic` subcommand: list the devices, or talk until Ctrl-C.
pub fn run_mic(
    args: &MicArgs,
    factory: std::sync::Arc<dyn SessionFactory>,
    config: PipelineConfig,
) -> Result<MicSummary, MicError> {
    if args.list_devices {
        list_devices(&mut io::stdout().lock())?;
        return Ok(MicSummary::default());
    }
    let (input, output) = open_devices(args)?;
    run_opened(args, &*factory, input, output, config)
}

/// Talk through opened devices until Ctrl-C, with the terminal view on stdout. `config` gets
/// the live-conversation settings of [`mic_config`].
pub fn run_opened(
    args: &MicArgs,
    factory: &dyn SessionFactory,
    input: DeviceInput,
    output: DeviceOutput,
    config: PipelineConfig,
) -> Result<MicSummary, MicError> {
    let stop = input.stop_handle();
    // First Ctrl-C: stop listening and let the session drain; a second one: leave now.
    #[cfg(feature = "mic")]
    {
        let installed = ctrlc::set_handler(move || {
            if stop.is_stopped() {
                std::process::exit(130);
            }
            stop.stop();
        });
        if let Err(e) = installed {
            log::warn!("cannot catch Ctrl-C ({e}); the session ends when the input does");
        }
    }
    #[cfg(not(feature = "mic"))]
    drop(stop);
    let config = mic_config(config, args);
    let mut stdout = io::stdout().lock();
    run_session(
        args,
        factory,
        input,
        output,
        config,
        &mut stdout,
        Style::detect(),
    )
}

fn create(path: &Path) -> Result<BufWriter<File>, MicError> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|source| MicError::File {
            path: path.display().to_string(),
            source,
        })
}

fn append_report(f: &mut BufWriter<File>, report: &TurnReport) -> io::Result<()> {
    serde_json::to_writer(&mut *f, report)?;
    writeln!(f)?;
    f.flush()
}

/// One session on opened devices, with the terminal view on `out`, until the input ends (its
/// stop handle, Ctrl-C, or the device going away). `config` is used as given.
pub fn run_session(
    args: &MicArgs,
    factory: &dyn SessionFactory,
    mut input: DeviceInput,
    output: DeviceOutput,
    config: PipelineConfig,
    out: &mut dyn Write,
    style: Style,
) -> Result<MicSummary, MicError> {
    let providers = factory.session()?;
    let mut report_file = args.report.as_deref().map(create).transpose()?;
    let term = MicError::Terminal;
    writeln!(out, "microphone: {} ({})", input.name(), input.spec()).map_err(term)?;
    writeln!(out, "speaker:    {} ({})", output.name(), output.spec()).map_err(term)?;
    let gate = match config.vad.echo_gate_threshold {
        Some(t) => format!("echo gate on (speech threshold {t} while the agent speaks)"),
        None => "echo gate off (headphones)".to_string(),
    };
    writeln!(out, "{gate}; speak when ready, Ctrl-C to stop").map_err(term)?;

    // Audio captured while the models loaded is stale: start from now.
    input.discard_buffered();
    let dropped_input = input.status();
    let dropped_output = output.status();
    // The sound card plays the audio (and drops it on barge-in); the events come here.
    let (speaker, rx) = output::speaker(output);
    let mut parts = SessionParts::new(providers, Box::new(input), Box::new(speaker));
    let recorder = args.record.as_ref().map(|_| ConversationRecorder::new());
    parts.recorder = recorder.clone();
    let pipeline = Pipeline::spawn(parts, config);

    let mut view = ConsoleView::new(style);
    let mut view_ok = true;
    for event in rx.iter() {
        // A closed terminal must not stop the session: keep draining the events.
        if view_ok {
            let shown = view.render(&event, out).and_then(|_| out.flush());
            if let Err(e) = shown {
                log::warn!("terminal view stopped: {e}");
                view_ok = false;
            }
        }
        if let (Event::Metrics(report), Some(f)) = (&event, report_file.as_mut()) {
            if let Err(e) = append_report(f, report) {
                log::warn!("cannot append the turn report: {e}");
            }
        }
    }
    let _ = view.finish(out);
    let outcome = pipeline.join();
    let summary = MicSummary {
        reports: outcome.reports,
        dropped_input_frames: dropped_input.dropped_frames(),
        dropped_output_frames: dropped_output.dropped_frames(),
    };
    if let (Some(rec), Some(path)) = (recorder, &args.record) {
        rec.write(path)?;
        writeln!(out, "conversation written to {}", path.display()).map_err(term)?;
    }
    for line in summary_lines(&summary.reports) {
        writeln!(out, "{line}").map_err(term)?;
    }
    if summary.dropped_input_frames > 0 {
        writeln!(
            out,
            "{} microphone frames were dropped (the machine fell behind)",
            summary.dropped_input_frames
        )
        .map_err(term)?;
    }
    if summary.dropped_output_frames > 0 {
        writeln!(
            out,
            "{} speaker frames were dropped (the device stopped taking audio)",
            summary.dropped_output_frames
        )
        .map_err(term)?;
    }
    if !outcome.failed_stages.is_empty() {
        return Err(MicError::StagesFailed(outcome.failed_stages.join(", ")));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mic_settings_follow_the_flags() {
        let base = PipelineConfig::default();
        let gated = mic_config(base.clone(), &MicArgs::default());
        assert!(!gated.drain_tail);
        assert_eq!(gated.lookahead_ms, MIC_LOOKAHEAD_MS);
        assert_eq!(gated.vad.echo_gate_threshold, base.vad.echo_gate_threshold);
        assert!(gated.vad.echo_gate_threshold.is_some());
        let headphones = mic_config(
            base.clone(),
            &MicArgs {
                no_echo_gate: true,
                ..MicArgs::default()
            },
        );
        assert_eq!(headphones.vad.echo_gate_threshold, None);
        assert_eq!(headphones.vad.barge_in_min_ms, base.vad.barge_in_min_ms);
    }
}
