//! What the cloud speech providers share: settings from the environment, one clear message per
//! HTTP failure, keys kept out of every message, and streaming a PCM16 response body to the
//! caller while it downloads.
//!
//! Used by [`crate::providers::stt::deepgram`], [`crate::providers::stt::openai`], [`crate::providers::tts::elevenlabs`] and
//! [`crate::providers::tts::openai`].

use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use serde_json::Value;
use url::Url;

use crate::foundation::cancel::CancelToken;

/// How long a TCP connection to a provider may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait for any single read from a provider (response headers, then each chunk).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error body is read and quoted.
const ERROR_BODY_LIMIT: u64 = 4096;
/// The longest server explanation quoted in a message.
const DETAIL_LIMIT: usize = 200;
/// How often a streaming download looks at the cancel token while waiting for the next chunk.
const CANCEL_TICK: Duration = Duration::from_millis(5);
/// The largest piece read from a response body at once (about 85 ms of 24 kHz PCM16).
const READ_CHUNK: usize = 4096;

/// A function that returns the value of a setting (an environment variable) by name.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as a [`Lookup`].
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The first of `names` that is set to something other than blanks, trimmed.
pub fn first_set(get: Lookup<'_>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// Who is being called, for messages: the service's name and the variable holding its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// "Deepgram", "ElevenLabs", "the speech-to-text server at 127.0.0.1:8000", ...
    pub name: String,
    /// The setting a user fixes when the key is wrong, e.g. `DEEPGRAM_API_KEY`.
    pub key_var: String,
}

impl Service {
    pub fn new(name: impl Into<String>, key_var: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            key_var: key_var.into(),
        }
    }

    /// The message for a missing key.
    pub fn missing_key(&self) -> String {
        format!(
            "{} needs an API key: set {} (or choose another provider)",
            self.name, self.key_var
        )
    }

    /// One clear message for an HTTP error status with its (already read) body.
    pub fn status_message(&self, status: u16, body: &str) -> String {
        let detail = error_detail(body);
        let said = if detail.is_empty() {
            String::new()
        } else {
            format!(" (server said: {detail})")
        };
        match status {
            401 | 403 => format!(
                "{} rejected the API key (HTTP {status}): check {}{said}",
                self.name, self.key_var
            ),
            429 => format!(
                "{} is rate-limiting this key or its quota is used up (HTTP 429): wait and try again, or check the plan{said}",
                self.name
            ),
            404 => format!(
                "{} has no such endpoint, model or voice (HTTP 404): check the base URL and names{said}",
                self.name
            ),
            400 | 422 => format!("{} refused the request (HTTP {status}){said}", self.name),
            500..=599 => format!(
                "{} failed on its side (HTTP {status}): try again later{said}",
                self.name
            ),
            _ => format!("{} answered HTTP {status}{said}", self.name),
        }
    }

    /// One clear message for a connection that could not be made or broke.
    pub fn transport_message(&self, host: &str, error: &str) -> String {
        if self.name.contains(host) {
            format!("cannot reach {}: {error}", self.name)
        } else {
            format!("cannot reach {} at {host}: {error}", self.name)
        }
    }

    /// The message for a server that took the request but said nothing for `read_timeout`.
    pub fn timeout_message(&self, read_timeout: Duration) -> String {
        format!(
            "{} did not answer within {}: it may be overloaded or stuck; try again later",
            self.name,
            human_duration(read_timeout)
        )
    }

    /// The message for any `ureq` failure of a request to `host` (reads an error body);
    /// `read_timeout` is the limit the request ran with, named when it fired.
    pub fn ureq_message(&self, host: &str, error: ureq::Error, read_timeout: Duration) -> String {
        match error {
            ureq::Error::Status(status, response) => {
                let mut body = String::new();
                let _ = response
                    .into_reader()
                    .take(ERROR_BODY_LIMIT)
                    .read_to_string(&mut body);
                self.status_message(status, &body)
            }
            // Connected, then silence: not a host that cannot be reached.
            ureq::Error::Transport(t)
                if t.kind() == ureq::ErrorKind::Io && caused_by_timeout(&t) =>
            {
                self.timeout_message(read_timeout)
            }
            ureq::Error::Transport(t) => {
                let text = match t.kind() {
                    ureq::ErrorKind::Dns => format!("the host name does not resolve ({t})"),
                    _ => t.to_string(),
                };
                // ureq's message starts with the URL, credentials and all.
                let text = match t.url() {
                    Some(url) => text.replace(url.as_str(), &redact_url(url.as_str())),
                    None => text,
                };
                self.transport_message(host, &text)
            }
        }
    }
}

/// True when `error`, or anything that caused it, is a socket read or write that timed out.
fn caused_by_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>().is_some_and(is_timeout) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A read or write that gave up waiting (`SO_RCVTIMEO` shows as `WouldBlock` on Unix).
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// "300 ms", "30 s", for messages about limits.
pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The human-readable part of a provider's JSON error body: OpenAI's `{"error":{"message"}}`,
/// ElevenLabs' `{"detail":{"status","message"}}` or `{"detail":"..."}`, Deepgram's
/// `{"err_code","err_msg"}`; otherwise the start of the text itself.
pub fn error_detail(body: &str) -> String {
    let body = body.trim();
    let text = match serde_json::from_str::<Value>(body) {
        Ok(v) => json_detail(&v).unwrap_or_else(|| body.to_string()),
        Err(_) => body.to_string(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(DETAIL_LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn json_detail(v: &Value) -> Option<String> {
    let str_of = |v: &Value| v.as_str().map(str::to_string);
    if let Some(e) = v.get("error") {
        return str_of(e).or_else(|| e.get("message").and_then(str_of));
    }
    if let Some(d) = v.get("detail") {
        if let Some(s) = str_of(d) {
            return Some(s);
        }
        let status = d.get("status").and_then(str_of);
        let message = d.get("message").and_then(str_of);
        return match (status, message) {
            (Some(s), Some(m)) => Some(format!("{s}: {m}")),
            (s, m) => s.or(m),
        };
    }
    if let Some(m) = v.get("err_msg").and_then(str_of) {
        return Some(match v.get("err_code").and_then(str_of) {
            Some(code) => format!("{code}: {m}"),
            None => m,
        });
    }
    v.get("message").and_then(str_of)
}

/// `text` with every occurrence of `secret` replaced; keys must never reach a log or an error,
/// even when a server echoes them back.
pub fn redact(text: &str, secret: Option<&str>) -> String {
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => text.replace(s, "<redacted>"),
        None => text.to_string(),
    }
}

/// Query parameters whose values are secrets (some servers take the key in the URL).
const SECRET_PARAMS: &[&str] = &[
    "key",
    "api_key",
    "api-key",
    "apikey",
    "token",
    "access_token",
    "password",
];

/// `url` fit for a log or a message: `user:password@` and secret query values become
/// `<redacted>`. Everything else (scheme, host, path, other parameters) stays readable; a URL
/// with nothing secret (or that does not parse) comes back as it was.
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = Url::parse(text) else {
        return text.to_string();
    };
    let credentials = !url.username().is_empty() || url.password().is_some();
    let secret = |k: &str| SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k));
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let secret_query = pairs.iter().any(|(k, _)| secret(k));
    if !credentials && !secret_query {
        return text.to_string();
    }
    // Placeholders the URL serialiser leaves alone, swapped for the readable mark afterwards.
    const MARK: &str = "REDACTED-7f3a";
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if secret_query {
        let kept = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), if secret(k) { MARK } else { v.as_str() }));
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let shown = if credentials {
        let host_at = &url[..url::Position::BeforeHost];
        format!("{host_at}{MARK}@{}", &url[url::Position::BeforeHost..])
    } else {
        url.to_string()
    };
    shown.replace(MARK, "<redacted>")
}

/// The parts of `url` that are secrets, as they are written in it (`user:password@`, the values
/// of key-like query parameters), so any text quoting the URL can be cleaned of them.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Ok(u) = Url::parse(url) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !u.username().is_empty() || u.password().is_some() {
        let user = u.username();
        out.push(match u.password() {
            Some(p) => format!("{user}:{p}@"),
            None => format!("{user}@"),
        });
    }
    if let Some(q) = u.query() {
        for pair in q.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k)) && !v.is_empty() {
                    out.push(v.to_string());
                }
            }
        }
    }
    out
}

/// `text` with every secret of `url` (see [`url_secrets`]) and `key` replaced.
pub fn redact_with(text: &str, url: &str, key: Option<&str>) -> String {
    let mut out = redact(text, key);
    for s in url_secrets(url) {
        let mark = if s.ends_with('@') {
            "<redacted>@"
        } else {
            "<redacted>"
        };
        out = out.replace(&s, mark);
    }
    out
}

/// `get`, except that the settings in `overrides` that hold a value (command-line flags)
/// win over it: `("DEEPGRAM_BASE_URL", Some(url))` replaces that variable.
pub fn overlay<'a>(
    overrides: &'a [(&'a str, Option<&'a str>)],
    get: Lookup<'a>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name: &str| {
        overrides
            .iter()
            .filter(|(n, _)| *n == name)
            .find_map(|(_, v)| v.map(str::trim).filter(|v| !v.is_empty()))
            .map(str::to_string)
            .or_else(|| get(name))
    }
}

/// The host (and port) of a URL, for names and messages; credentials in the URL are never shown.
pub fn host_of(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => "(a URL without a host)".into(),
        },
        Err(_) => "(an invalid URL)".into(),
    }
}

/// The OpenAI API, the default for every OpenAI-compatible provider.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Where an OpenAI-compatible speech endpoint is and which key it takes.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiEndpoint {
    pub base_url: String,
    pub api_key: Option<String>,
    /// The setting the key came from (or should come from), named in messages.
    pub key_var: String,
}

/// The endpoint from `{base_var}`/`{key_var}`, with `OPENAI_BASE_URL` (else OpenAI) and
/// `OPENAI_API_KEY` as fallbacks. `OPENAI_API_KEY` is only used when the endpoint is on the
/// host that key was given for, so it never travels to another server.
pub fn openai_endpoint(get: Lookup<'_>, base_var: &str, key_var: &str) -> OpenAiEndpoint {
    let openai_base =
        first_set(get, &["OPENAI_BASE_URL"]).unwrap_or_else(|| OPENAI_BASE_URL.into());
    let base_url = first_set(get, &[base_var]).unwrap_or_else(|| openai_base.clone());
    let (api_key, key_var) = match first_set(get, &[key_var]) {
        Some(key) => (Some(key), key_var.to_string()),
        None if host_of(&base_url) == host_of(&openai_base) => {
            match first_set(get, &["OPENAI_API_KEY"]) {
                Some(key) => (Some(key), "OPENAI_API_KEY".to_string()),
                None => (None, key_var.to_string()),
            }
        }
        None => (None, key_var.to_string()),
    };
    OpenAiEndpoint {
        base_url,
        api_key,
        key_var,
    }
}

/// True for OpenAI itself, which always needs a key.
pub fn is_openai(base_url: &str) -> bool {
    host_of(base_url).eq_ignore_ascii_case("api.openai.com")
}

/// `{base}/{path}`, with any query string of the base (Azure's `?api-version=...`) kept at the end.
/// A base that does not parse is joined as text, and the request will say what is wrong with it.
pub fn endpoint(base: &str, path: &str) -> String {
    let Ok(mut url) = Url::parse(base) else {
        return format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(path.split('/').filter(|s| !s.is_empty()));
    }
    url.to_string()
}

/// A blocking HTTP client with the providers' timeouts.
pub fn http_agent(connect_timeout: Duration, read_timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(connect_timeout)
        // A per-read limit: it bounds the wait for the headers and for every chunk.
        .timeout_read(read_timeout)
        .timeout_write(read_timeout)
        .user_agent(concat!("voice-agent/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What a [`stream_pcm16`] download did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcmStream {
    /// Body bytes received.
    pub bytes: usize,
    /// From the start of the request to the first body byte.
    pub first_byte: Option<Duration>,
    /// The cancel token fired and the download was abandoned.
    pub cancelled: bool,
}

type Piece = Result<Vec<u8>, String>;

/// Run `open` (an HTTP request that returns the response body) on a reader thread and hand the
/// body to `on_audio` as little-endian PCM16 pieces while it arrives.
///
/// An odd byte at the end of a network chunk is kept for the next one, so no sample is ever
/// split. Returns as soon as `cancel` fires (`cancelled: true`): the reader thread then stops at
/// its next read and drops the response, which closes the connection. `open` errors and a body
/// that breaks off or stalls (nothing for `read_timeout`, the limit `open`'s client reads with)
/// come back as `Err(message)`; then every whole sample received before has already gone to
/// `on_audio`. `what` names the stream in messages.
pub fn stream_pcm16<F>(
    what: &str,
    open: F,
    read_timeout: Duration,
    cancel: &CancelToken,
    on_audio: &mut dyn FnMut(&[i16]),
) -> Result<PcmStream, String>
where
    F: FnOnce() -> Result<Box<dyn Read + Send>, String> + Send + 'static,
{
    let started = Instant::now();
    let mut report = PcmStream::default();
    if cancel.is_cancelled() {
        report.cancelled = true;
        return Ok(report);
    }
    let (tx, rx) = crossbeam_channel::bounded::<Piece>(64);
    let reader_cancel = cancel.clone();
    thread::Builder::new()
        .name("tts-http".into())
        .spawn({
            let what = what.to_string();
            move || read_body(&what, open, read_timeout, &reader_cancel, &tx)
        })
        .map_err(|e| format!("cannot start the {what} reader thread: {e}"))?;

    let mut carry: Option<u8> = None;
    let mut samples: Vec<i16> = Vec::with_capacity(READ_CHUNK / 2 + 1);
    loop {
        if cancel.is_cancelled() {
            report.cancelled = true;
            log::debug!("{what}: cancelled after {} bytes", report.bytes);
            return Ok(report);
        }
        match rx.recv_timeout(CANCEL_TICK) {
            Ok(Ok(bytes)) => {
                if report.first_byte.is_none() {
                    report.first_byte = Some(started.elapsed());
                }
                report.bytes += bytes.len();
                decode_pcm16(&bytes, &mut carry, &mut samples);
                if !samples.is_empty() {
                    on_audio(&samples);
                }
            }
            Ok(Err(message)) => return Err(message),
            Err(RecvTimeoutError::Timeout) => {}
            // The reader thread finished the body and dropped its sender.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if carry.is_some() {
        log::warn!(
            "{what}: the body ended with half a sample ({} bytes); the last byte was dropped",
            report.bytes
        );
    }
    Ok(report)
}

/// The reader thread: open the response, then forward its body piece by piece.
fn read_body<F>(
    what: &str,
    open: F,
    read_timeout: Duration,
    cancel: &CancelToken,
    tx: &crossbeam_channel::Sender<Piece>,
) where
    F: FnOnce() -> Result<Box<dyn Read + Send>, String>,
{
    let mut body = match open() {
        Ok(b) => b,
        Err(message) => {
            let _ = tx.send(Err(message));
            return;
        }
    };
    let mut received = 0usize;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        if cancel.is_cancelled() {
            return;
        }
        match body.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                received += n;
                // A failed send means the caller is gone (cancelled): drop the connection.
                if tx.send(Ok(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => {
                let _ = tx.send(Err(format!(
                    "the {what} audio stream stalled after {received} bytes: nothing arrived for {}",
                    human_duration(read_timeout)
                )));
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(format!(
                    "the {what} audio stream broke off after {received} bytes: {e}"
                )));
                return;
            }
        }
    }
}

/// Append the little-endian samples of `carry` + `bytes` to a cleared `out`, keeping a trailing
/// odd byte in `carry` for the next call.
pub fn decode_pcm16(bytes: &[u8], carry: &mut Option<u8>, out: &mut Vec<i16>) {
    out.clear();
    let mut rest = bytes;
    if let Some(low) = carry.take() {
        match rest.split_first() {
            Some((&high, tail)) => {
                out.push(i16::from_le_bytes([low, high]));
                rest = tail;
            }
            None => {
                *carry = Some(low);
                return;
            }
        }
    }
    let mut pairs = rest.chunks_exact(2);
    out.extend(pairs.by_ref().map(|p| i16::from_le_bytes([p[0], p[1]])));
    if let [odd] = pairs.remainder() {
        *carry = Some(*odd);
    }
}

/// Little-endian bytes of PCM16 samples (the wire format of every provider here).
pub fn pcm16_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_keeps_odd_bytes_across_chunks() {
        let samples: Vec<i16> = vec![1, -2, 300, -32768, 32767, 12345];
        let bytes = pcm16_bytes(&samples);
        // Split at every odd offset pattern: 1, 2, 3 bytes ...
        let mut carry = None;
        let mut out = Vec::new();
        let mut all = Vec::new();
        let mut pos = 0;
        let mut size = 1;
        while pos < bytes.len() {
            let end = (pos + size).min(bytes.len());
            decode_pcm16(&bytes[pos..end], &mut carry, &mut out);
            all.extend_from_slice(&out);
            pos = end;
            size += 1;
        }
        assert_eq!(all, samples);
        assert_eq!(carry, None);
        // A lone byte stays in the carry.
        decode_pcm16(&[7], &mut carry, &mut out);
        assert!(out.is_empty());
        decode_pcm16(&[], &mut carry, &mut out);
        assert_eq!(carry, Some(7));
    }

    #[test]
    fn status_messages_name_the_key_variable_and_quote_the_server() {
        let s = Service::new("ElevenLabs", "ELEVENLABS_API_KEY");
        let m = s.status_message(
            401,
            r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
        );
        assert!(
            m.starts_with("ElevenLabs rejected the API key (HTTP 401): check ELEVENLABS_API_KEY")
        );
        assert!(m.contains("invalid_api_key: Invalid API key"), "{m}");
        let m = s.status_message(429, "");
        assert!(m.contains("HTTP 429") && !m.contains("server said"), "{m}");
        assert!(s
            .status_message(503, "down")
            .contains("on its side (HTTP 503)"));
    }

    #[test]
    fn error_detail_reads_each_providers_shape() {
        assert_eq!(
            error_detail(r#"{"error":{"message":"bad model","type":"x"}}"#),
            "bad model"
        );
        assert_eq!(error_detail(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            error_detail(r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}"#),
            "INVALID_AUTH: Invalid credentials."
        );
        assert_eq!(error_detail("  plain\n text "), "plain text");
        let long = "x".repeat(500);
        assert_eq!(error_detail(&long).len(), DETAIL_LIMIT + 3);
    }

    #[test]
    fn redact_and_host_hide_secrets() {
        assert_eq!(
            redact("key sk-123 echoed sk-123", Some("sk-123")),
            "key <redacted> echoed <redacted>"
        );
        assert_eq!(redact("nothing", Some("")), "nothing");
        assert_eq!(
            host_of("https://user:pw@api.x.com:8443/v1?a=b"),
            "api.x.com:8443"
        );
        assert_eq!(host_of("ws://127.0.0.1:9/v1/listen"), "127.0.0.1:9");
        assert_eq!(host_of("https://api.openai.com/v1"), "api.openai.com");
        assert_eq!(host_of("not a url"), "(an invalid URL)");
        assert_eq!(
            endpoint("http://h/v1/", "/audio/speech"),
            "http://h/v1/audio/speech"
        );
        assert_eq!(
            endpoint("http://h/v1?x=1", "audio/speech"),
            "http://h/v1/audio/speech?x=1"
        );
    }

    #[test]
    fn every_secret_written_in_a_url_is_found_and_cleaned() {
        let url = "https://alice:hunter2@llm.example/v1?api-version=1&key=k-123";
        assert_eq!(url_secrets(url), ["alice:hunter2@", "k-123"]);
        let message = format!("cannot reach {url}/chat/completions: refused (key sk-9)");
        let clean = redact_with(&message, url, Some("sk-9"));
        for secret in ["alice", "hunter2", "k-123", "sk-9"] {
            assert!(!clean.contains(secret), "{clean}");
        }
        assert!(
            clean.contains("https://<redacted>@llm.example/v1"),
            "{clean}"
        );
        assert!(url_secrets("http://127.0.0.1:8081/v1").is_empty());
    }

    #[test]
    fn redact_url_hides_credentials_and_secret_parameters() {
        assert_eq!(
            redact_url("https://user:pw@api.x.com:8443/v1/audio/speech"),
            "https://<redacted>@api.x.com:8443/v1/audio/speech"
        );
        assert_eq!(
            redact_url("http://h/v1/audio/speech?api-version=2024-06-01&api-key=s3cret#top"),
            "http://h/v1/audio/speech?api-version=2024-06-01&api-key=<redacted>#top"
        );
        assert_eq!(
            redact_url("wss://tok@x.example?Token=abc"),
            "wss://<redacted>@x.example/?Token=<redacted>"
        );
        // Nothing secret: unchanged.
        for plain in [
            "https://api.elevenlabs.io/v1/text-to-speech/v/stream?output_format=pcm_24000",
            "http://127.0.0.1:9/v1",
            "no-scheme/at@path",
        ] {
            assert_eq!(redact_url(plain), plain);
        }
        let shown = redact_url("https://alice:hunter2@h/v1?key=k-123");
        assert!(!shown.contains("hunter2") && !shown.contains("alice") && !shown.contains("k-123"));
    }

    #[test]
    fn durations_read_naturally_in_messages() {
        assert_eq!(human_duration(Duration::from_millis(300)), "300 ms");
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_millis(2500)), "2.5 s");
    }

    #[test]
    fn overlay_prefers_the_overrides_then_the_lookup() {
        let env = |name: &str| match name {
            "A" => Some("env-a".to_string()),
            "B" => Some("env-b".to_string()),
            _ => None,
        };
        let overrides = [("A", Some("flag-a")), ("B", None), ("C", Some("  "))];
        let get = overlay(&overrides, &env);
        assert_eq!(get("A").as_deref(), Some("flag-a"));
        assert_eq!(get("B").as_deref(), Some("env-b"));
        // A blank flag does not hide the variable (here: unset).
        assert_eq!(get("C"), None);
        assert_eq!(get("D"), None);
    }

    #[test]
    fn first_set_skips_blank_values() {
        let get = |name: &str| match name {
            "A" => Some("  ".to_string()),
            "B" => Some(" b ".to_string()),
            _ => None,
        };
        assert_eq!(first_set(&get, &["A", "B"]), Some("b".into()));
        assert_eq!(first_set(&get, &["A", "C"]), None);
    }

    #[test]
    fn stream_pcm16_delivers_pieces_and_reports_a_break() {
        struct Broken(Vec<u8>);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::other("connection reset"));
                }
                let n = buf.len().min(self.0.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let samples: Vec<i16> = (0..50).collect();
        let bytes = pcm16_bytes(&samples);
        let mut got = Vec::new();
        let err = stream_pcm16(
            "test",
            move || Ok(Box::new(Broken(bytes)) as Box<dyn Read + Send>),
            READ_TIMEOUT,
            &CancelToken::never(),
            &mut |pcm| got.extend_from_slice(pcm),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "the test audio stream broke off after 100 bytes: connection reset"
        );
        assert_eq!(got, samples);
    }
}
