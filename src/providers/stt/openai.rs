//! Any OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, faster-whisper servers,
//! vLLM): the utterance goes up as a WAV file in a multipart form, the text comes back as JSON.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{SpeechToText, SttError};
use crate::foundation::audio::INPUT_RATE;
use crate::providers::cloud::{self, Lookup, Service};

pub use crate::providers::cloud::OPENAI_BASE_URL as DEFAULT_BASE_URL;
pub const DEFAULT_MODEL: &str = "whisper-1";

/// Where and how to reach the server. `Debug` never prints the key.
#[derive(Clone)]
pub struct OpenAiSttConfig {
    /// Up to and including the version prefix, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// The setting the key came from, named in messages about it.
    pub key_var: String,
    pub model: String,
    /// An ISO-639-1 hint such as `en`; `None` lets the server detect the language.
    pub language: Option<String>,
    pub connect_timeout: Duration,
    /// The longest wait for the response.
    pub read_timeout: Duration,
}

impl std::fmt::Debug for OpenAiSttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSttConfig")
            .field("base_url", &cloud::redact_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("key_var", &self.key_var)
            .field("model", &self.model)
            .field("language", &self.language)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

impl OpenAiSttConfig {
    /// A config for `base_url` and `model`, no key, default timeouts.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim().trim_end_matches('/').to_string(),
            api_key: None,
            key_var: "STT_API_KEY".into(),
            model: model.into(),
            language: None,
            connect_timeout: cloud::CONNECT_TIMEOUT,
            read_timeout: cloud::READ_TIMEOUT,
        }
    }

    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// From `STT_BASE_URL` (else `OPENAI_BASE_URL`, else [`DEFAULT_BASE_URL`]), `STT_API_KEY`,
    /// `STT_MODEL` (default [`DEFAULT_MODEL`]) and `STT_LANGUAGE`. `OPENAI_API_KEY` stands in
    /// for `STT_API_KEY` only when the server is the one that key is for (`OPENAI_BASE_URL` or
    /// OpenAI), so a key is never sent to another host. OpenAI itself without a key is an error.
    pub fn from_env() -> Result<Self, SttError> {
        Self::from_lookup(&cloud::env_lookup)
    }

    /// [`from_env`](Self::from_env) over any variable source (tests, config files).
    pub fn from_lookup(get: Lookup<'_>) -> Result<Self, SttError> {
        let endpoint = cloud::openai_endpoint(get, "STT_BASE_URL", "STT_API_KEY");
        let model = cloud::first_set(get, &["STT_MODEL"]).unwrap_or_else(|| DEFAULT_MODEL.into());
        let mut config = Self::new(endpoint.base_url, model);
        config.api_key = endpoint.api_key;
        config.key_var = endpoint.key_var;
        config.language = cloud::first_set(get, &["STT_LANGUAGE"]);
        config.check()?;
        Ok(config)
    }

    /// Refuse what cannot work: OpenAI itself without a key.
    pub fn check(&self) -> Result<(), SttError> {
        if self.api_key.is_none() && cloud::is_openai(&self.base_url) {
            return Err(SttError::Service(self.service().missing_key()));
        }
        Ok(())
    }

    pub fn host(&self) -> String {
        cloud::host_of(&self.base_url)
    }

    fn service(&self) -> Service {
        let name = if cloud::is_openai(&self.base_url) {
            "OpenAI speech-to-text".to_string()
        } else {
            format!("the speech-to-text server at {}", self.host())
        };
        Service::new(name, self.key_var.clone())
    }
}

/// Speech-to-text over an OpenAI-compatible HTTP API.
pub struct OpenAiStt {
    config: OpenAiSttConfig,
    agent: ureq::Agent,
}

impl OpenAiStt {
    pub fn new(config: OpenAiSttConfig) -> Result<Self, SttError> {
        config.check()?;
        let agent = cloud::http_agent(config.connect_timeout, config.read_timeout);
        Ok(Self { config, agent })
    }

    pub fn config(&self) -> &OpenAiSttConfig {
        &self.config
    }

    fn error(&self, message: String) -> SttError {
        SttError::Service(cloud::redact(&message, self.config.api_key.as_deref()))
    }
}

impl SpeechToText for OpenAiStt {
    fn name(&self) -> String {
        format!(
            "openai-compatible {} at {}",
            self.config.model,
            self.config.host()
        )
    }

    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError> {
        if audio.is_empty() {
            return Ok(String::new());
        }
        let started = Instant::now();
        let wav =
            wav_bytes(audio).map_err(|e| SttError::Inference(format!("WAV encoding: {e}")))?;
        let mut fields = vec![
            ("model", self.config.model.as_str()),
            ("response_format", "json"),
        ];
        if let Some(lang) = &self.config.language {
            fields.push(("language", lang.as_str()));
        }
        let form = Multipart::new(&fields, "utterance.wav", "audio/wav", &wav);
        let url = cloud::endpoint(&self.config.base_url, "audio/transcriptions");
        let mut request = self
            .agent
            .post(&url)
            .set("Content-Type", &form.content_type());
        if let Some(key) = &self.config.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        log::debug!(
            "POST {} ({} ms of audio, {} bytes)",
            cloud::redact_url(&url),
            audio.len() as u64 * 1000 / u64::from(INPUT_RATE),
            form.body.len()
        );
        let service = self.config.service();
        let response = request.send_bytes(&form.body).map_err(|e| {
            self.error(service.ureq_message(&self.config.host(), e, self.config.read_timeout))
        })?;
        let body = response.into_string().map_err(|e| {
            self.error(if cloud::is_timeout(&e) {
                service.timeout_message(self.config.read_timeout)
            } else {
                service.transport_message(&self.config.host(), &e.to_string())
            })
        })?;
        let text = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("text").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| {
                self.error(format!(
                    "{} answered without a transcript: {}",
                    service.name,
                    cloud::error_detail(&body)
                ))
            })?;
        log::debug!(
            "{}: transcribed in {:.0} ms",
            self.name(),
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(text.trim().to_string())
    }
}

/// A 16 kHz mono PCM16 WAV file in memory.
pub fn wav_bytes(audio: &[i16]) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: INPUT_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + audio.len() * 2));
    let mut writer = hound::WavWriter::new(&mut cursor, spec)?;
    let mut samples = writer.get_i16_writer(audio.len() as u32);
    for &s in audio {
        samples.write_sample(s);
    }
    samples.flush()?;
    writer.finalize()?;
    Ok(cursor.into_inner())
}

/// A `multipart/form-data` body: text fields, then one file.
struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    fn new(fields: &[(&str, &str)], file_name: &str, file_type: &str, file: &[u8]) -> Self {
        let boundary = unique_boundary(file);
        let mut body = Vec::with_capacity(file.len() + 512);
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {file_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Self { boundary, body }
    }

    fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }
}

/// A boundary that does not occur in `payload` (binary audio could contain any byte string).
fn unique_boundary(payload: &[u8]) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let boundary = format!("voice-agent-{nanos:016x}{n:08x}");
        if !payload
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
        {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn env_prefers_stt_settings_and_keeps_the_openai_key_on_its_host() {
        let get = vars(&[
            ("STT_BASE_URL", "http://127.0.0.1:8000/v1/"),
            ("OPENAI_API_KEY", "sk-llm-secret"),
            ("STT_MODEL", "Systran/faster-whisper-small"),
        ]);
        let c = OpenAiSttConfig::from_lookup(&get).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8000/v1");
        assert_eq!(
            c.api_key, None,
            "the OpenAI key must not go to another host"
        );
        assert_eq!(c.model, "Systran/faster-whisper-small");

        let get = vars(&[("OPENAI_API_KEY", "sk-llm-secret")]);
        let c = OpenAiSttConfig::from_lookup(&get).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.api_key.as_deref(), Some("sk-llm-secret"));
        assert_eq!(c.key_var, "OPENAI_API_KEY");
        assert_eq!(c.model, DEFAULT_MODEL);
        assert!(!format!("{c:?}").contains("sk-llm-secret"));

        let get = vars(&[("STT_API_KEY", "k2"), ("OPENAI_API_KEY", "k1")]);
        assert_eq!(
            OpenAiSttConfig::from_lookup(&get)
                .unwrap()
                .api_key
                .as_deref(),
            Some("k2")
        );
    }

    #[test]
    fn openai_without_a_key_is_one_clear_error() {
        let err = OpenAiSttConfig::from_lookup(&vars(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "speech-to-text service error: OpenAI speech-to-text needs an API key: set STT_API_KEY (or choose another provider)"
        );
    }

    #[test]
    fn multipart_body_has_fields_and_the_file() {
        let wav = wav_bytes(&[1, 2, 3]).unwrap();
        let form = Multipart::new(&[("model", "m")], "u.wav", "audio/wav", &wav);
        let text = String::from_utf8_lossy(&form.body);
        let b = &form.boundary;
        assert!(text.starts_with(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n"
        )));
        assert!(text.ends_with(&format!("\r\n--{b}--\r\n")));
        assert!(form.content_type().ends_with(b.as_str()));
        let reader = hound::WavReader::new(Cursor::new(wav)).unwrap();
        assert_eq!(reader.spec().sample_rate, INPUT_RATE);
        assert_eq!(reader.len(), 3);
    }
}
