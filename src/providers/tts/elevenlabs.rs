//! ElevenLabs streaming speech: `POST /v1/text-to-speech/{voice_id}/stream` with
//! `output_format=pcm_24000`, the body forwarded to the caller in pieces as it downloads.

use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};

use super::{TextToSpeech, TtsError};
use crate::foundation::cancel::CancelToken;
use crate::providers::cloud::{self, Lookup, Service};

pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// "George", one of the premade voices every ElevenLabs account has.
pub const DEFAULT_VOICE_ID: &str = "JBFqnCBsd6RMkjVDRZzb";
/// The model the paper uses: low latency, good quality.
pub const DEFAULT_MODEL: &str = "eleven_turbo_v2_5";
/// The lowest-latency model, for when speed matters more than quality.
pub const FLASH_MODEL: &str = "eleven_flash_v2_5";
/// Raw 24 kHz PCM16, the pipeline's output rate: no decoding or resampling needed.
const OUTPUT_FORMAT: &str = "pcm_24000";

/// How to reach ElevenLabs and which voice to speak with. `Debug` never prints the key.
#[derive(Clone)]
pub struct ElevenLabsConfig {
    /// Without the `/v1` path, e.g. `https://api.elevenlabs.io` or `http://127.0.0.1:9000`.
    pub base_url: String,
    pub api_key: String,
    pub voice_id: String,
    pub model_id: String,
    /// Voice settings sent with every request (ElevenLabs' defaults).
    pub stability: f32,
    pub similarity_boost: f32,
    pub connect_timeout: Duration,
    /// The longest wait for the response headers and then for each chunk.
    pub read_timeout: Duration,
}

impl std::fmt::Debug for ElevenLabsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsConfig")
            .field("base_url", &cloud::redact_url(&self.base_url))
            .field("api_key", &"<redacted>")
            .field("voice_id", &self.voice_id)
            .field("model_id", &self.model_id)
            .field("stability", &self.stability)
            .field("similarity_boost", &self.similarity_boost)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

impl ElevenLabsConfig {
    /// The default voice and model at ElevenLabs itself.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            api_key: api_key.into(),
            voice_id: DEFAULT_VOICE_ID.into(),
            model_id: DEFAULT_MODEL.into(),
            stability: 0.5,
            similarity_boost: 0.75,
            connect_timeout: cloud::CONNECT_TIMEOUT,
            read_timeout: cloud::READ_TIMEOUT,
        }
    }

    /// Another server speaking the same API (a proxy, a test server). A trailing `/v1` is
    /// accepted and dropped.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        let url = base_url.into();
        let url = url.trim().trim_end_matches('/');
        self.base_url = url.strip_suffix("/v1").unwrap_or(url).to_string();
        self
    }

    pub fn with_voice(mut self, voice_id: impl Into<String>) -> Self {
        self.voice_id = voice_id.into();
        self
    }

    pub fn with_model(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = model_id.into();
        self
    }

    /// From `ELEVENLABS_API_KEY` (required), `ELEVENLABS_BASE_URL`, `ELEVENLABS_VOICE_ID` and
    /// `ELEVENLABS_MODEL`.
    pub fn from_env() -> Result<Self, TtsError> {
        Self::from_lookup(&cloud::env_lookup)
    }

    /// [`from_env`](Self::from_env) over any variable source (tests, config files).
    pub fn from_lookup(get: Lookup<'_>) -> Result<Self, TtsError> {
        let key = cloud::first_set(get, &["ELEVENLABS_API_KEY"])
            .ok_or_else(|| TtsError::Service(service().missing_key()))?;
        let mut config = Self::new(key);
        if let Some(url) = cloud::first_set(get, &["ELEVENLABS_BASE_URL"]) {
            config = config.with_base_url(url);
        }
        if let Some(voice) = cloud::first_set(get, &["ELEVENLABS_VOICE_ID"]) {
            config.voice_id = voice;
        }
        if let Some(model) = cloud::first_set(get, &["ELEVENLABS_MODEL"]) {
            config.model_id = model;
        }
        Ok(config)
    }

    /// The streaming endpoint for the configured voice.
    pub fn stream_url(&self) -> String {
        format!(
            "{}/v1/text-to-speech/{}/stream?output_format={OUTPUT_FORMAT}",
            self.base_url,
            path_segment(&self.voice_id)
        )
    }

    /// The JSON request body for `text`.
    pub fn request_body(&self, text: &str) -> Value {
        json!({
            "text": text,
            "model_id": self.model_id,
            "voice_settings": {
                "stability": self.stability,
                "similarity_boost": self.similarity_boost,
            },
        })
    }

    pub fn host(&self) -> String {
        cloud::host_of(&self.base_url)
    }
}

fn service() -> Service {
    Service::new("ElevenLabs", "ELEVENLABS_API_KEY")
}

/// Voice ids are letters and digits; anything else is percent-encoded so it stays one path segment.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Streaming text-to-speech from ElevenLabs.
pub struct ElevenLabsTts {
    config: ElevenLabsConfig,
    agent: ureq::Agent,
}

impl ElevenLabsTts {
    pub fn new(config: ElevenLabsConfig) -> Result<Self, TtsError> {
        if config.api_key.trim().is_empty() {
            return Err(TtsError::Service(service().missing_key()));
        }
        let agent = cloud::http_agent(config.connect_timeout, config.read_timeout);
        Ok(Self { config, agent })
    }

    pub fn config(&self) -> &ElevenLabsConfig {
        &self.config
    }
}

impl TextToSpeech for ElevenLabsTts {
    fn name(&self) -> String {
        format!(
            "elevenlabs {} voice {}",
            self.config.model_id, self.config.voice_id
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
        let url = self.config.stream_url();
        let body = self.config.request_body(text).to_string();
        let key = self.config.api_key.clone();
        let host = self.config.host().to_string();
        let read_timeout = self.config.read_timeout;
        log::debug!(
            "POST {} ({} characters)",
            cloud::redact_url(&url),
            text.chars().count()
        );
        let open = move || {
            agent
                .post(&url)
                .set("xi-api-key", &key)
                .set("Content-Type", "application/json")
                .send_string(&body)
                .map(|r| Box::new(r.into_reader()) as Box<dyn Read + Send>)
                .map_err(|e| service().ureq_message(&host, e, read_timeout))
        };
        let report = cloud::stream_pcm16(
            "ElevenLabs",
            open,
            self.config.read_timeout,
            cancel,
            on_audio,
        )
        .map_err(|m| TtsError::Service(cloud::redact(&m, Some(&self.config.api_key))))?;
        match report.first_byte {
            Some(ttfb) => log::debug!(
                "ElevenLabs time to first byte: {:.0} ms ({} bytes{})",
                ttfb.as_secs_f64() * 1e3,
                report.bytes,
                if report.cancelled { ", cancelled" } else { "" }
            ),
            None if !report.cancelled => {
                // What the agent says may be a caller's details: only in debug logs.
                log::warn!(
                    "ElevenLabs sent no audio for a {}-character chunk",
                    text.len()
                );
                log::debug!("ElevenLabs sent no audio for {text:?}");
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_env_and_its_debug_hides_the_key() {
        let get = |name: &str| match name {
            "ELEVENLABS_API_KEY" => Some("xi-secret-key".to_string()),
            "ELEVENLABS_BASE_URL" => Some("http://127.0.0.1:9/v1/".to_string()),
            "ELEVENLABS_MODEL" => Some(FLASH_MODEL.to_string()),
            _ => None,
        };
        let c = ElevenLabsConfig::from_lookup(&get).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        assert_eq!(c.model_id, FLASH_MODEL);
        assert_eq!(
            c.stream_url(),
            format!("http://127.0.0.1:9/v1/text-to-speech/{DEFAULT_VOICE_ID}/stream?output_format=pcm_24000")
        );
        assert!(!format!("{c:?}").contains("xi-secret-key"));
        let body = c.request_body("Hello.");
        assert_eq!(body["text"], "Hello.");
        assert_eq!(body["model_id"], FLASH_MODEL);
        assert!(body["voice_settings"]["stability"].is_number());
    }

    #[test]
    fn missing_key_is_one_clear_error() {
        let err = ElevenLabsConfig::from_lookup(&|_: &str| None).unwrap_err();
        assert!(err.to_string().contains("set ELEVENLABS_API_KEY"), "{err}");
        assert!(ElevenLabsTts::new(ElevenLabsConfig::new(" ")).is_err());
    }

    #[test]
    fn voice_ids_stay_one_path_segment() {
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(path_segment(DEFAULT_VOICE_ID), DEFAULT_VOICE_ID);
    }
}
