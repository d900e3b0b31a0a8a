//! Choosing providers. Models load once per process ([`Providers::load`]); each session gets
//! cheap per-session handles through the [`SessionFactory`] seam (which tests fake). This is the
//! composition root: the one place that knows every concrete provider.

use crate::providers::llm::ChatModel;
use crate::providers::session::{ProviderError, SessionFactory, SessionProviders};
use crate::providers::stt::SpeechToText;
use crate::providers::tts::TextToSpeech;
use crate::providers::vad::Vad;
use std::path::PathBuf;
use std::sync::Arc;

use crate::domain::brain::BuiltinReceptionist;
use crate::domain::{self, Clock, HospitalTools, Store, SystemClock};
use crate::providers::cloud::{self, Lookup};
use crate::providers::fallback::{FallbackStt, FallbackTts};
use crate::providers::llm::openai::{OpenAiChat, OpenAiConfig};
use crate::providers::models;
use crate::providers::scheduler::{Compute, Scheduler, Sizing};
use crate::providers::stt::deepgram::{DeepgramConfig, DeepgramStt};
use crate::providers::stt::openai::{OpenAiStt, OpenAiSttConfig};
use crate::providers::stt::whisper::{WhisperModel, WhisperStt};
use crate::providers::tts::elevenlabs::{ElevenLabsConfig, ElevenLabsTts};
use crate::providers::tts::openai::{OpenAiTts, OpenAiTtsConfig};
use crate::providers::tts::phrases::{CachedTts, PhraseCache};
use crate::providers::tts::piper::{PiperTts, PiperVoice};
use crate::providers::vad::energy::EnergyVad;
use crate::providers::vad::silero::{SileroModel, SileroVad};

/// Which voice activity detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VadKind {
    /// Silero v5 through ONNX Runtime (the default once `make setup` has run).
    Silero,
    /// A level threshold: no model needed, fooled by noise.
    Energy,
}

/// Which speech-to-text provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SttKind {
    /// Whisper through ONNX Runtime, offline.
    Local,
    /// Deepgram streaming WebSocket (DEEPGRAM_API_KEY).
    Deepgram,
    /// An OpenAI-compatible /audio/transcriptions endpoint (STT_BASE_URL, STT_API_KEY).
    Openai,
}

/// Which text-to-speech provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TtsKind {
    /// Piper through ONNX Runtime, offline.
    Local,
    /// ElevenLabs streaming (ELEVENLABS_API_KEY).
    Elevenlabs,
    /// An OpenAI-compatible /audio/speech endpoint (TTS_BASE_URL, TTS_API_KEY).
    Openai,
}

/// A remote speech-to-text, configured.
#[derive(Clone)]
enum RemoteStt {
    Deepgram(DeepgramConfig),
    OpenAi(OpenAiSttConfig),
}

/// A remote voice, configured.
#[derive(Clone)]
enum RemoteTts {
    ElevenLabs(ElevenLabsConfig),
    OpenAi(OpenAiTtsConfig),
}

/// Provider choices, shared by every subcommand. Unset choices follow the environment.
#[derive(Clone, Debug, clap::Args)]
pub struct ProviderOptions {
    /// Voice activity detector [default: silero when installed, else energy].
    #[arg(long, value_enum, global = true)]
    pub vad: Option<VadKind>,
    /// Speech-to-text provider [default: deepgram when DEEPGRAM_API_KEY is set, else local].
    #[arg(long, value_enum, global = true)]
    pub stt: Option<SttKind>,
    /// Text-to-speech provider [default: elevenlabs when ELEVENLABS_API_KEY is set, else local].
    #[arg(long, value_enum, global = true)]
    pub tts: Option<TtsKind>,
    /// Voice of the cloud TTS (an ElevenLabs voice id, an OpenAI voice name).
    #[arg(long, global = true)]
    pub voice: Option<String>,
    /// The agent's brain: `builtin` (offline receptionist) or an OpenAI-compatible base URL such
    /// as http://127.0.0.1:8081/v1 [default: $OPENAI_BASE_URL or $OPENAI_API_KEY selects
    /// the OpenAI-compatible client, otherwise builtin].
    #[arg(long, global = true)]
    pub llm: Option<String>,
    /// Model name for the OpenAI-compatible LLM [default: $LLM_MODEL or gpt-4o-mini].
    #[arg(long, global = true)]
    pub llm_model: Option<String>,
    /// Most tokens one LLM reply may take [default: $LLM_MAX_TOKENS or 400].
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub llm_max_tokens: Option<u32>,
    /// Whisper variant: tiny.en (default) or base (multilingual; `scripts/setup.sh --with-base`).
    #[arg(long, global = true, default_value = "tiny.en")]
    pub whisper: String,
    /// The hospital database [default: ~/.local/share/voice-agent/hospital.sqlite].
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    /// ONNX Runtime threads per Whisper or Piper call [default: the machine's cores, at most
    /// 4]. The shared model scheduler runs as many calls at once as cores / threads.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub model_threads: Option<u16>,
    /// Each session calls the local models on its own threads, instead of through the shared
    /// scheduler that runs every session's calls most urgent first (for comparison).
    #[arg(long, global = true)]
    pub private_models: bool,
    /// Deepgram (or a server speaking its protocol), e.g. ws://127.0.0.1:9000
    /// [default: $DEEPGRAM_BASE_URL or wss://api.deepgram.com].
    #[arg(long, global = true, value_name = "URL")]
    pub deepgram_url: Option<String>,
    /// ElevenLabs (or a server speaking its API) [default: $ELEVENLABS_BASE_URL or
    /// https://api.elevenlabs.io].
    #[arg(long, global = true, value_name = "URL")]
    pub elevenlabs_url: Option<String>,
    /// The OpenAI-compatible speech-to-text server, up to the version, e.g.
    /// http://127.0.0.1:8000/v1 [default: $STT_BASE_URL, else $OPENAI_BASE_URL, else OpenAI].
    #[arg(long, global = true, value_name = "URL")]
    pub stt_url: Option<String>,
    /// The OpenAI-compatible text-to-speech server, up to the version [default: $TTS_BASE_URL,
    /// else $OPENAI_BASE_URL, else OpenAI].
    #[arg(long, global = true, value_name = "URL")]
    pub tts_url: Option<String>,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            vad: None,
            stt: None,
            tts: None,
            voice: None,
            llm: None,
            llm_model: None,
            llm_max_tokens: None,
            whisper: "tiny.en".into(),
            db: None,
            model_threads: None,
            private_models: false,
            deepgram_url: None,
            elevenlabs_url: None,
            stt_url: None,
            tts_url: None,
        }
    }
}

impl ProviderOptions {
    /// The OpenAI-compatible model these options pick, or `None` for the built-in
    /// receptionist: `--llm builtin|URL`, else `OPENAI_BASE_URL` or `OPENAI_API_KEY` in the
    /// environment; `--llm-model` and `--llm-max-tokens` over the environment's.
    pub fn llm_config(&self) -> Option<OpenAiConfig> {
        let mut config = match self.llm.as_deref() {
            Some("builtin") => return None,
            Some(url) => {
                let mut c = OpenAiConfig::from_env();
                c.base_url = url.trim_end_matches('/').to_string();
                c
            }
            None if std::env::var_os("OPENAI_BASE_URL").is_some()
                || std::env::var_os("OPENAI_API_KEY").is_some() =>
            {
                OpenAiConfig::from_env()
            }
            None => return None,
        };
        if let Some(m) = &self.llm_model {
            config.model = m.clone();
        }
        if let Some(n) = self.llm_max_tokens {
            config.max_tokens = Some(n);
        }
        Some(config)
    }

    /// The base URL flags and the variables they stand for (a flag wins over its variable).
    pub fn url_overrides(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("DEEPGRAM_BASE_URL", self.deepgram_url.as_deref()),
            ("ELEVENLABS_BASE_URL", self.elevenlabs_url.as_deref()),
            ("STT_BASE_URL", self.stt_url.as_deref()),
            ("TTS_BASE_URL", self.tts_url.as_deref()),
        ]
    }

    /// The remote speech providers these options select, configured from the flags and `get`
    /// (the environment). `None` for a local provider.
    fn remote_speech(
        &self,
        stt: SttKind,
        tts: TtsKind,
        get: Lookup<'_>,
    ) -> Result<(Option<RemoteStt>, Option<RemoteTts>), ProviderError> {
        let overrides = self.url_overrides();
        let get = cloud::overlay(&overrides, get);
        let cfg_err = |e: &dyn std::fmt::Display| ProviderError::Config(e.to_string());
        let remote_stt = match stt {
            SttKind::Local => None,
            SttKind::Deepgram => Some(RemoteStt::Deepgram(
                DeepgramConfig::from_lookup(&get).map_err(|e| cfg_err(&e))?,
            )),
            SttKind::Openai => Some(RemoteStt::OpenAi(
                OpenAiSttConfig::from_lookup(&get).map_err(|e| cfg_err(&e))?,
            )),
        };
        let remote_tts = match tts {
            TtsKind::Local => None,
            TtsKind::Elevenlabs => {
                let mut c = ElevenLabsConfig::from_lookup(&get).map_err(|e| cfg_err(&e))?;
                if let Some(v) = &self.voice {
                    c = c.with_voice(v.clone());
                }
                Some(RemoteTts::ElevenLabs(c))
            }
            TtsKind::Openai => {
                let mut c = OpenAiTtsConfig::from_lookup(&get).map_err(|e| cfg_err(&e))?;
                if let Some(v) = &self.voice {
                    c = c.with_voice(v.clone());
                }
                Some(RemoteTts::OpenAi(c))
            }
        };
        Ok((remote_stt, remote_tts))
    }
}

/// How the brain was chosen.
#[derive(Clone)]
enum Brain {
    Builtin,
    OpenAi(OpenAiConfig),
}

/// Loaded providers: models are loaded once here and shared by every session.
#[derive(Clone)]
pub struct Providers {
    silero: Option<Arc<SileroModel>>,
    speech: Speech,
    brain: Brain,
    store: Store,
    clock: Arc<dyn Clock>,
    lines: Vec<String>,
}

impl Providers {
    /// Load what the options select. A missing model names the command that installs it.
    pub fn load(opts: &ProviderOptions) -> Result<Self, ProviderError> {
        Self::load_with_clock(opts, Arc::new(SystemClock))
    }

    /// As `load`, with the clock the hospital tools resolve dates against.
    pub fn load_with_clock(
        opts: &ProviderOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        let mut lines = Vec::new();
        if let Some(n) = opts.model_threads {
            models::set_model_threads(usize::from(n));
        }
        let silero = match opts.vad {
            Some(VadKind::Energy) => None,
            Some(VadKind::Silero) => Some(SileroModel::shared()?),
            None => match SileroModel::shared() {
                Ok(m) => Some(m),
                Err(e) => {
                    lines.push(format!("vad:   energy (Silero unavailable: {e})"));
                    None
                }
            },
        };
        if silero.is_some() {
            lines.push("vad:   silero v5 (onnxruntime)".into());
        } else if opts.vad == Some(VadKind::Energy) {
            lines.push(format!("vad:   {}", EnergyVad::default().name()));
        }
        let env_set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
        let stt_kind = opts.stt.unwrap_or(if env_set("DEEPGRAM_API_KEY") {
            SttKind::Deepgram
        } else {
            SttKind::Local
        });
        let tts_kind = opts.tts.unwrap_or(if env_set("ELEVENLABS_API_KEY") {
            TtsKind::Elevenlabs
        } else {
            TtsKind::Local
        });
        let (remote_stt, remote_tts) =
            opts.remote_speech(stt_kind, tts_kind, &cloud::env_lookup)?;
        // Shared, the scheduler splits the cores between its lanes; private, each session's
        // calls get the threads a single caller would.
        let sizing = (!opts.private_models).then(Sizing::for_machine);
        let threads = sizing.map_or_else(models::model_threads, |s| s.threads);
        let (whisper, piper) = local_models(
            remote_stt.is_some(),
            remote_tts.is_some(),
            &opts.whisper,
            threads,
            true,
        )?;
        let compute = match sizing {
            Some(s) if whisper.is_some() || piper.is_some() => {
                Compute::Scheduled(Scheduler::start(s))
            }
            _ => Compute::Direct,
        };
        let speech = Speech {
            whisper,
            piper,
            variant: opts.whisper.clone(),
            compute,
            remote_stt,
            remote_tts,
            local_phrases: PhraseCache::new(&crate::domain::brain::PREAMBLES),
            remote_phrases: PhraseCache::new(&crate::domain::brain::PREAMBLES),
        };
        if let (Some(v), None) = (&speech.piper, &speech.remote_tts) {
            speech
                .local_phrases
                .warm(&mut PiperTts::on(v.clone(), speech.compute.clone()));
        }
        // Build one of each now: a bad key or an unreachable host shows at start-up.
        let (stt, tts) = speech.session()?;
        lines.push(format!("stt:   {}", stt.name()));
        lines.push(format!("tts:   {}", tts.name()));
        if speech.whisper.is_some() || speech.piper.is_some() {
            lines.push(speech.describe_compute());
        }
        drop((stt, tts));

        let db = opts.db.clone().unwrap_or_else(domain::default_db_path);
        let store = Store::open(&db).map_err(|e| {
            ProviderError::Store(format!("hospital database {}: {e}", db.display()))
        })?;
        lines.push(format!("db:    {}", db.display()));

        let brain = match opts.llm_config() {
            Some(c) => {
                lines.push(format!("brain: {}", OpenAiChat::new(c.clone()).name()));
                Brain::OpenAi(c)
            }
            None => {
                lines.push(format!(
                    "brain: {} (no LLM configured: pass --llm URL or set OPENAI_BASE_URL)",
                    BuiltinReceptionist::new().name()
                ));
                Brain::Builtin
            }
        };
        Ok(Self {
            silero,
            speech,
            brain,
            store,
            clock,
            lines,
        })
    }

    /// The shared hospital store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The shared model scheduler, unless each session calls the models itself.
    pub fn scheduler(&self) -> Option<&Scheduler> {
        self.speech.compute.scheduler()
    }

    /// The same providers (store, brain, services) with each session calling the local models
    /// on its own threads, as `--private-models` would make them: the bench's comparison. The
    /// models are loaded again with the threads a session of their own gets, and freed with it.
    pub fn with_private_models(&self) -> Result<Providers, ProviderError> {
        let mut twin = self.clone();
        let speech = &mut twin.speech;
        (speech.whisper, speech.piper) = local_models(
            speech.remote_stt.is_some(),
            speech.remote_tts.is_some(),
            &speech.variant,
            models::model_threads(),
            false,
        )?;
        speech.compute = Compute::Direct;
        let line = speech.describe_compute();
        if let Some(l) = twin
            .lines
            .iter_mut()
            .find(|l| l.starts_with("local models:"))
        {
            *l = line;
        }
        Ok(twin)
    }
}

/// Whisper and Piper, each when loaded.
type LocalModels = (Option<Arc<WhisperModel>>, Option<Arc<PiperVoice>>);

/// The local models, with `threads` intra-op threads each: required where no remote service
/// stands in front of them, else the remote one's fallback when installed.
fn local_models(
    remote_stt: bool,
    remote_tts: bool,
    variant: &str,
    threads: usize,
    share: bool,
) -> Result<LocalModels, ProviderError> {
    // The process-wide copy, unless it is a second one that should go when its user does.
    let loaded = if share {
        WhisperModel::shared_with(variant, threads)
    } else {
        WhisperModel::load(&models::models_dir(), variant, threads).map(Arc::new)
    };
    let whisper = match loaded {
        Ok(m) => Some(m),
        Err(e) if !remote_stt => return Err(e.into()),
        Err(e) => {
            log::warn!("no local speech-to-text fallback: {e}");
            None
        }
    };
    let piper = match PiperVoice::load_with_threads(&models::models_dir(), threads) {
        Ok(v) => Some(v),
        Err(e) if !remote_tts => return Err(e.into()),
        Err(e) => {
            log::warn!("no local voice fallback: {e}");
            None
        }
    };
    Ok((whisper, piper))
}

/// Speech providers: the local models (the provider, or the fallback of a remote one when
/// installed) and the remote services' configurations.
#[derive(Clone)]
struct Speech {
    whisper: Option<Arc<WhisperModel>>,
    piper: Option<Arc<PiperVoice>>,
    variant: String,
    /// Where the local models' calls run: the shared scheduler, or each session's threads.
    compute: Compute,
    remote_stt: Option<RemoteStt>,
    remote_tts: Option<RemoteTts>,
    /// The receptionist's preambles as audio, one cache per voice (the local one is warmed at
    /// start-up when it speaks; a remote one fills on first use).
    local_phrases: PhraseCache,
    remote_phrases: PhraseCache,
}

/// A session's ears and voice.
type SpeechPair = (Box<dyn SpeechToText>, Box<dyn TextToSpeech>);

impl Speech {
    fn describe_compute(&self) -> String {
        let threads = models::model_threads();
        match &self.compute {
            Compute::Direct => format!(
                "local models: called by each session, {threads} ONNX Runtime thread(s) a call"
            ),
            Compute::Scheduled(s) => format!(
                "local models: shared scheduler, {} lane(s) × {} ONNX Runtime thread(s)",
                s.sizing().lanes,
                s.sizing().threads
            ),
        }
    }

    /// One session's speech-to-text and voice, each remote one backed by the local model.
    fn session(&self) -> Result<SpeechPair, ProviderError> {
        let svc = |e: &dyn std::fmt::Display| ProviderError::Config(e.to_string());
        let local_stt = self.whisper.as_ref().map(|m| {
            Box::new(WhisperStt::on(m.clone(), self.compute.clone())) as Box<dyn SpeechToText>
        });
        let stt: Box<dyn SpeechToText> = match (&self.remote_stt, local_stt) {
            (None, Some(local)) => local,
            (None, None) => return Err(ProviderError::Config("no speech-to-text".into())),
            (Some(remote), local) => {
                let remote: Box<dyn SpeechToText> = match remote {
                    RemoteStt::Deepgram(c) => {
                        Box::new(DeepgramStt::connect(c.clone()).map_err(|e| svc(&e))?)
                    }
                    RemoteStt::OpenAi(c) => {
                        Box::new(OpenAiStt::new(c.clone()).map_err(|e| svc(&e))?)
                    }
                };
                match local {
                    Some(l) => Box::new(FallbackStt::new(remote, l)),
                    None => remote,
                }
            }
        };
        let local_tts = self.piper.as_ref().map(|v| {
            Box::new(CachedTts::new(
                Box::new(PiperTts::on(v.clone(), self.compute.clone())),
                self.local_phrases.clone(),
            )) as Box<dyn TextToSpeech>
        });
        let tts: Box<dyn TextToSpeech> = match (&self.remote_tts, local_tts) {
            (None, Some(local)) => local,
            (None, None) => return Err(ProviderError::Config("no voice".into())),
            (Some(remote), local) => {
                let remote: Box<dyn TextToSpeech> = match remote {
                    RemoteTts::ElevenLabs(c) => {
                        Box::new(ElevenLabsTts::new(c.clone()).map_err(|e| svc(&e))?)
                    }
                    RemoteTts::OpenAi(c) => {
                        Box::new(OpenAiTts::new(c.clone()).map_err(|e| svc(&e))?)
                    }
                };
                let remote = Box::new(CachedTts::new(remote, self.remote_phrases.clone()));
                match local {
                    Some(l) => Box::new(FallbackTts::new(remote, l)),
                    None => remote,
                }
            }
        };
        Ok((stt, tts))
    }
}

impl SessionFactory for Providers {
    fn session(&self) -> Result<SessionProviders, ProviderError> {
        let vad: Box<dyn Vad> = match &self.silero {
            Some(m) => Box::new(SileroVad::with_model(m.clone())),
            None => Box::new(EnergyVad::default()),
        };
        let chat: Box<dyn ChatModel> = match &self.brain {
            Brain::Builtin => Box::new(BuiltinReceptionist::for_store(
                &self.store,
                self.clock.clone(),
            )),
            Brain::OpenAi(c) => Box::new(OpenAiChat::new(c.clone())),
        };
        let (stt, tts) = self.speech.session()?;
        Ok(SessionProviders {
            vad,
            stt,
            chat,
            tools: Box::new(HospitalTools::new(self.store.clone(), self.clock.clone())),
            tts,
            system_prompt: domain::system_prompt(&*self.clock),
        })
    }

    fn describe(&self) -> Vec<String> {
        self.lines.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        providers: ProviderOptions,
    }

    fn env(name: &str) -> Option<String> {
        let value = match name {
            "DEEPGRAM_API_KEY" => "dg-key",
            "DEEPGRAM_BASE_URL" => "ws://env-deepgram:1",
            "ELEVENLABS_API_KEY" => "xi-key",
            "ELEVENLABS_BASE_URL" => "http://env-elevenlabs:2",
            "STT_BASE_URL" => "http://env-stt:3/v1",
            "TTS_BASE_URL" => "http://env-tts:4/v1",
            _ => return None,
        };
        Some(value.to_string())
    }

    fn base_urls(opts: &ProviderOptions, stt: SttKind, tts: TtsKind) -> (String, String) {
        let (s, t) = opts.remote_speech(stt, tts, &env).expect("configured");
        let s = match s.expect("a remote STT") {
            RemoteStt::Deepgram(c) => c.base_url,
            RemoteStt::OpenAi(c) => c.base_url,
        };
        let t = match t.expect("a remote TTS") {
            RemoteTts::ElevenLabs(c) => c.base_url,
            RemoteTts::OpenAi(c) => c.base_url,
        };
        (s, t)
    }

    #[test]
    fn url_flags_parse_and_win_over_the_environment() {
        let cli = Cli::try_parse_from([
            "voice-agent",
            "--deepgram-url",
            "http://flag-deepgram:5",
            "--tts-url",
            "http://flag-tts:6/v1",
        ])
        .unwrap();
        let opts = cli.providers;
        assert_eq!(opts.deepgram_url.as_deref(), Some("http://flag-deepgram:5"));
        // Flags win; unset flags leave the variables in charge.
        assert_eq!(
            base_urls(&opts, SttKind::Deepgram, TtsKind::Openai),
            (
                "ws://flag-deepgram:5".to_string(),
                "http://flag-tts:6/v1".to_string()
            )
        );
        assert_eq!(
            base_urls(&opts, SttKind::Openai, TtsKind::Elevenlabs),
            (
                "http://env-stt:3/v1".to_string(),
                "http://env-elevenlabs:2".to_string()
            )
        );
        let cli = Cli::try_parse_from([
            "voice-agent",
            "--stt-url",
            "http://flag-stt:7/v1",
            "--elevenlabs-url",
            "http://flag-elevenlabs:8/v1",
        ])
        .unwrap();
        assert_eq!(
            base_urls(&cli.providers, SttKind::Openai, TtsKind::Elevenlabs),
            (
                "http://flag-stt:7/v1".to_string(),
                "http://flag-elevenlabs:8".to_string()
            )
        );
        // No flags: the environment.
        assert_eq!(
            base_urls(
                &ProviderOptions::default(),
                SttKind::Deepgram,
                TtsKind::Elevenlabs
            ),
            (
                "ws://env-deepgram:1".to_string(),
                "http://env-elevenlabs:2".to_string()
            )
        );
    }

    #[test]
    fn local_providers_need_no_remote_settings() {
        let (s, t) = ProviderOptions::default()
            .remote_speech(SttKind::Local, TtsKind::Local, &|_: &str| None)
            .unwrap();
        assert!(s.is_none() && t.is_none());
        // A cloud provider without its key is one clear configuration error.
        let err = ProviderOptions::default()
            .remote_speech(SttKind::Deepgram, TtsKind::Local, &|_: &str| None)
            .err()
            .expect("no key");
        assert!(err.to_string().contains("set DEEPGRAM_API_KEY"), "{err}");
    }
}
