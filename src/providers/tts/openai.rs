//! Any OpenAI-compatible `/audio/speech` endpoint (OpenAI, Kokoro-FastAPI, vLLM-served voices):
//! `response_format: "pcm"` (24 kHz mono PCM16) streamed back and forwarded as it downloads.

use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};

use super::{TextToSpeech, TtsError};
use crate::foundation::cancel::CancelToken;
use crate::providers::cloud::{self, Lookup, Service};

pub use crate::providers::cloud::OPENAI_BASE_URL as DEFAULT_BASE_URL;
pub const DEFAULT_MODEL: &str = "tts-1";
pub const DEFAULT_VOICE: &str = "alloy";

/// Where and how to reach the server. `Debug` never prints the key.
#[derive(Clone)]
pub struct OpenAiTtsConfig {
    /// Up to and including the version prefix, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// The setting the key came from, named in messages about it.
    pub key_var: String,
    pub model: String,
    pub voice: String,
    /// Speaking rate (OpenAI: 0.25 to 4.0); `None` leaves the server's default.
    pub speed: Option<f32>,
    pub connect_timeout: Duration,
    /// The longest wait for the response headers and then for each chunk.
    pub read_timeout: Duration,
}

impl std::fmt::Debug for OpenAiTtsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiTtsConfig")
            .field("base_url", &cloud::redact_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("key_var", &self.key_var)
            .field("model", &self.model)
            .field("voice", &self.voice)
            .field("speed", &self.speed)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

impl OpenAiTtsConfig {
    /// A config for `base_url` with the default model and voice, no key, default timeouts.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim().trim_end_matches('/').to_string(),
            api_key: None,
            key_var: "TTS_API_KEY".into(),
            model: DEFAULT_MODEL.into(),
            voice: DEFAULT_VOICE.into(),
            speed: None,
            connect_timeout: cloud::CONNECT_TIMEOUT,
            read_timeout: cloud::READ_TIMEOUT,
        }
    }

    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    pub fn with_voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = voice.into();
        self
    }

    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// From `TTS_BASE_URL` (else `OPENAI_BASE_URL`, else [`DEFAULT_BASE_URL`]), `TTS_API_KEY`,
    /// `TTS_MODEL` (default [`DEFAULT_MODEL`]) and `TTS_VOICE` (default [`DEFAULT_VOICE`]).
    /// `OPENAI_API_KEY` stands in for `TTS_API_KEY` only on the host that key is for. OpenAI
    /// itself without a key is an error.
    pub fn from_env() -> Result<Self, TtsError> {
        Self::from_lookup(&cloud::env_lookup)
    }

    /// [`from_env`](Self::from_env) over any variable source (tests, config files).
    pub fn from_lookup(get: Lookup<'_>) -> Result<Self, TtsError> {
        let endpoint = cloud::openai_endpoint(get, "TTS_BASE_URL", "TTS_API_KEY");
        let mut config = Self::new(endpoint.base_url);
        config.api_key = endpoint.api_key;
        config.key_var = endpoint.key_var;
        if let Some(model) = cloud::first_set(get, &["TTS_MODEL"]) {
            config.model = model;
        }
        if let Some(voice) = cloud::first_set(get, &["TTS_VOICE"]) {
            config.voice = voice;
        }
        config.check()?;
        Ok(config)
    }

    /// Refuse what cannot work: OpenAI itself without a key.
    pub fn check(&self) -> Result<(), TtsError> {
        if self.api_key.is_none() && cloud::is_openai(&self.base_url) {
            return Err(TtsError::Service(self.service().missing_key()));
        }
        Ok(())
    }

    /// The JSON request body for `text`.
    pub fn request_body(&self, text: &str) -> Value {
        let mut body = json!({
            "model": self.model,
            "voice": self.voice,
            "input": text,
            "response_format": "pcm",
        });
        if let Some(speed) = self.speed {
            body["speed"] = json!(speed);
        }
        body
    }

    pub fn host(&self) -> String {
        cloud::host_of(&self.base_url)
    }

    fn service(&self) -> Service {
        let name = if cloud::is_openai(&self.base_url) {
            "OpenAI text-to-speech".to_string()
        } else {
            format!("the text-to-speech server at {}", self.host())
        };
        Service::new(name, self.key_var.clone())
    }
}

/// Streaming text-to-speech over an OpenAI-compatible HTTP API.
pub struct OpenAiTts {
    config: OpenAiTtsConfig,
    agent: ureq::Agent,
}

impl OpenAiTts {
    pub fn new(config: OpenAiTtsConfig) -> Result<Self, TtsError> {
        config.check()?;
        let agent = cloud::http_agent(config.connect_timeout, config.read_timeout);
        Ok(Self { config, agent })
    }

    pub fn config(&self) -> &OpenAiTtsConfig {
        &self.config
    }
}

impl TextToSpeech for OpenAiTts {
    fn name(&self) -> String {
        format!(
            "openai-compatible {} voice {} at {}",
            self.config.model,
            self.config.voice,
            self.config.host()
        )
    }

    fn synthesize(
        &mut self,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        if !text.chars().any(char::is_alphanumeric) {
            return Ok(());
        }
        let agent = self.agent.clone();
        let url = cloud::endpoint(&self.config.base_url, "audio/speech");
        let body = self.config.request_body(text).to_string();
        let key = self.config.api_key.clone();
        let host = self.config.host().to_string();
        let read_timeout = self.config.read_timeout;
        let service = self.config.service();
        log::debug!(
            "POST {} ({} characters)",
            cloud::redact_url(&url),
            text.chars().count()
        );
        let open = move || {
            let mut request = agent.post(&url).set("Content-Type", "application/json");
            if let Some(key) = &key {
                request = request.set("Authorization", &format!("Bearer {key}"));
            }
            request
                .send_string(&body)
                .map(|r| Box::new(r.into_reader()) as Box<dyn Read + Send>)
                .map_err(|e| service.ureq_message(&host, e, read_timeout))
        };
        let report = cloud::stream_pcm16(
            "text-to-speech",
            open,
            self.config.read_timeout,
            cancel,
            on_audio,
        )
        .map_err(|m| TtsError::Service(cloud::redact(&m, self.config.api_key.as_deref())))?;
        match report.first_byte {
            Some(ttfb) => log::debug!(
                "{} time to first byte: {:.0} ms ({} bytes{})",
                self.name(),
                ttfb.as_secs_f64() * 1e3,
                report.bytes,
                if report.cancelled { ", cancelled" } else { "" }
            ),
            None if !report.cancelled => log::warn!("{} sent no audio", self.name()),
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_env_falls_back_to_the_llm_server_and_hides_the_key() {
        let get = |name: &str| match name {
            "OPENAI_BASE_URL" => Some("http://10.0.0.5:8000/v1".to_string()),
            "OPENAI_API_KEY" => Some("sk-shared".to_string()),
            "TTS_VOICE" => Some("af_heart".to_string()),
            _ => None,
        };
        let c = OpenAiTtsConfig::from_lookup(&get).unwrap();
        assert_eq!(c.base_url, "http://10.0.0.5:8000/v1");
        assert_eq!(c.api_key.as_deref(), Some("sk-shared"));
        assert_eq!(c.voice, "af_heart");
        assert_eq!(c.model, DEFAULT_MODEL);
        assert!(!format!("{c:?}").contains("sk-shared"));
        let body = c.request_body("Hi.");
        assert_eq!(body["response_format"], "pcm");
        assert_eq!(body["input"], "Hi.");
        assert!(body.get("speed").is_none());
    }

    #[test]
    fn openai_without_a_key_is_one_clear_error() {
        let err = OpenAiTtsConfig::from_lookup(&|_: &str| None).unwrap_err();
        assert!(err.to_string().contains("set TTS_API_KEY"), "{err}");
        assert!(OpenAiTtsConfig::new("http://127.0.0.1:1/v1")
            .check()
            .is_ok());
    }
}
