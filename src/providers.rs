//! Choosing providers. Models load once per process ([`Providers::load`]); each session gets
//! cheap per-session handles through the [`SessionFactory`] seam (which tests fake).

use crate::agent::tools::ToolSet;
use crate::llm::ChatModel;
use crate::stt::SpeechToText;
use crate::tts::TextToSpeech;
use crate::vad::Vad;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Store(String),
}

/// The providers of one session, ready to hand to the pipeline.
pub struct SessionProviders {
    pub vad: Box<dyn Vad>,
    pub stt: Box<dyn SpeechToText>,
    pub chat: Box<dyn ChatModel>,
    pub tools: Box<dyn ToolSet>,
    pub tts: Box<dyn TextToSpeech>,
    /// The agent's instructions for this session (e.g. with today's date).
    pub system_prompt: String,
}

/// Makes the providers of each new session. Implemented by [`Providers`] (real models, shared
/// across sessions) and by tests with scripted fakes.
pub trait SessionFactory: Send + Sync {
    fn session(&self) -> Result<SessionProviders, ProviderError>;

    /// One line per provider, stated at start-up.
    fn describe(&self) -> Vec<String>;
}

use std::path::PathBuf;
use std::sync::Arc;

use crate::hospital::{self, Clock, HospitalTools, Store, SystemClock};
use crate::llm::builtin::BuiltinReceptionist;
use crate::llm::openai::{OpenAiChat, OpenAiConfig};
use crate::stt::whisper::{WhisperModel, WhisperStt};
use crate::tts::piper::{PiperTts, PiperVoice};
use crate::vad::energy::EnergyVad;
use crate::vad::silero::{SileroModel, SileroVad};

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
}

/// Which text-to-speech provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TtsKind {
    /// Piper through ONNX Runtime, offline.
    Local,
}

/// Provider choices, shared by every subcommand. Unset choices follow the environment.
#[derive(Clone, Debug, clap::Args)]
pub struct ProviderOptions {
    /// Voice activity detector [default: silero when installed, else energy].
    #[arg(long, value_enum, global = true)]
    pub vad: Option<VadKind>,
    /// Speech-to-text provider [default: local].
    #[arg(long, value_enum, global = true)]
    pub stt: Option<SttKind>,
    /// Text-to-speech provider [default: local].
    #[arg(long, value_enum, global = true)]
    pub tts: Option<TtsKind>,
    /// The agent's brain: `builtin` (offline receptionist) or an OpenAI-compatible base URL such
    /// as http://127.0.0.1:8081/v1 [default: $OPENAI_BASE_URL or $OPENAI_API_KEY selects
    /// the OpenAI-compatible client, otherwise builtin].
    #[arg(long, global = true)]
    pub llm: Option<String>,
    /// Model name for the OpenAI-compatible LLM [default: $LLM_MODEL or gpt-4o-mini].
    #[arg(long, global = true)]
    pub llm_model: Option<String>,
    /// Whisper variant: tiny.en (default) or base (multilingual; `scripts/setup.sh --with-base`).
    #[arg(long, global = true, default_value = "tiny.en")]
    pub whisper: String,
    /// The hospital database [default: ~/.local/share/voice-agent/hospital.sqlite].
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            vad: None,
            stt: None,
            tts: None,
            llm: None,
            llm_model: None,
            whisper: "tiny.en".into(),
            db: None,
        }
    }
}

/// How the brain was chosen.
enum Brain {
    Builtin,
    OpenAi(OpenAiConfig),
}

/// Loaded providers: models are loaded once here and shared by every session.
pub struct Providers {
    silero: Option<Arc<SileroModel>>,
    whisper: Arc<WhisperModel>,
    piper: Arc<PiperVoice>,
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
        let whisper = WhisperModel::shared(&opts.whisper)?;
        lines.push(format!("stt:   {}", WhisperStt::with_model(whisper.clone()).name()));
        let piper = PiperVoice::load(&crate::models::models_dir())?;
        lines.push(format!("tts:   {}", PiperTts::new(piper.clone()).name()));

        let db = opts.db.clone().unwrap_or_else(hospital::default_db_path);
        let store = Store::open(&db)
            .map_err(|e| ProviderError::Store(format!("hospital database {}: {e}", db.display())))?;
        lines.push(format!("db:    {}", db.display()));

        let brain = match opts.llm.as_deref() {
            Some("builtin") => Brain::Builtin,
            Some(url) => {
                let mut c = OpenAiConfig::from_env();
                c.base_url = url.trim_end_matches('/').to_string();
                Brain::OpenAi(c)
            }
            None if std::env::var_os("OPENAI_BASE_URL").is_some()
                || std::env::var_os("OPENAI_API_KEY").is_some() =>
            {
                Brain::OpenAi(OpenAiConfig::from_env())
            }
            None => Brain::Builtin,
        };
        let brain = match brain {
            Brain::OpenAi(mut c) => {
                if let Some(m) = &opts.llm_model {
                    c.model = m.clone();
                }
                lines.push(format!("brain: {}", OpenAiChat::new(c.clone()).name()));
                Brain::OpenAi(c)
            }
            Brain::Builtin => {
                lines.push(format!(
                    "brain: {} (no LLM configured: pass --llm URL or set OPENAI_BASE_URL)",
                    BuiltinReceptionist::new().name()
                ));
                Brain::Builtin
            }
        };
        Ok(Self {
            silero,
            whisper,
            piper,
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
        Ok(SessionProviders {
            vad,
            stt: Box::new(WhisperStt::with_model(self.whisper.clone())),
            chat,
            tools: Box::new(HospitalTools::new(self.store.clone(), self.clock.clone())),
            tts: Box::new(PiperTts::new(self.piper.clone())),
            system_prompt: hospital::system_prompt(&*self.clock),
        })
    }

    fn describe(&self) -> Vec<String> {
        self.lines.clone()
    }
}
