//! Just enough HTTP/1.1 for the demo: read a request head, serve the page's static files and
//! `/healthz`, check a WebSocket upgrade (Origin included) and answer it. Every response closes
//! its connection, so there is no keep-alive state to get wrong.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// The largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 8_192;
const MAX_HEADERS: usize = 64;
/// Files served from a directory are read whole; nothing in `static/` comes near this.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The page, built into the binary so it works from any working directory.
const EMBEDDED: &[(&str, &str)] = &[
    ("index.html", include_str!("../../static/index.html")),
    ("app.js", include_str!("../../static/app.js")),
    ("style.css", include_str!("../../static/style.css")),
    (
        "capture-worklet.js",
        include_str!("../../static/capture-worklet.js"),
    ),
    (
        "player-worklet.js",
        include_str!("../../static/player-worklet.js"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("request head larger than {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error("connection closed before the request was complete")]
    Closed,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A parsed request line and its headers.
#[derive(Clone, Debug)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first header of that name (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("")
    }

    /// True when a comma-separated header holds `token` (case-insensitive).
    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// Read a request head. Returns it with any bytes read past its end.
pub fn read_head(stream: &mut impl Read) -> Result<(RequestHead, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        let scan_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf[scan_from..].windows(4).position(|w| w == b"\r\n\r\n") {
            let end = scan_from + pos + 4;
            if end > MAX_HEAD_BYTES {
                return Err(HeadError::TooLarge);
            }
            let head = parse_head(&buf[..end])?;
            return Ok((head, buf[end..].to_vec()));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
}

fn parse_head(bytes: &[u8]) -> Result<RequestHead, HeadError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().ok_or(HeadError::Malformed("empty"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(HeadError::Malformed("bad request line"));
    }
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("bad header"))?;
        if name.is_empty() || name.contains(|c: char| c.is_whitespace()) {
            return Err(HeadError::Malformed("bad header name"));
        }
        if headers.len() == MAX_HEADERS {
            return Err(HeadError::Malformed("too many headers"));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        headers,
    })
}

/// A complete response; always sent with `Connection: close`.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Cow<'static, [u8]>,
}

impl Response {
    pub fn new(
        status: u16,
        content_type: &'static str,
        body: impl Into<Cow<'static, [u8]>>,
    ) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
        }
    }

    /// A short plain-text answer, e.g. an error.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        let mut body = text.into();
        body.push('\n');
        Self::new(status, "text/plain; charset=utf-8", body.into_bytes())
    }

    /// Write the response; with `head_only` (a HEAD request) the body is left out.
    pub fn write_to(&self, w: &mut impl Write, head_only: bool) -> io::Result<()> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
             Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if self.content_type.starts_with("text/html") {
            // The page talks only to its own server; the WebSocket URL is built from its host.
            out.push_str(
                "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; \
                 img-src 'self' data:; frame-ancestors 'none'\r\n",
            );
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        w.write_all(&bytes)?;
        w.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// Decode `%XX` escapes; `None` for a broken escape or a result that is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The page's files: built in, or read from a directory (to work on the page without rebuilding).
#[derive(Clone, Debug, Default)]
pub struct StaticFiles {
    dir: Option<PathBuf>,
}

impl StaticFiles {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// The file for a request path, or `None` (404). Only plain names below the root are
    /// served: `..`, `.`, empty segments, backslashes and NUL are refused before any lookup.
    pub fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, &'static str)> {
        let decoded = percent_decode(path)?;
        let rel = decoded.strip_prefix('/')?;
        let rel = if rel.is_empty() { "index.html" } else { rel };
        let segments: Vec<&str> = rel.split('/').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains(['\\', '\0', ':']))
        {
            return None;
        }
        match &self.dir {
            None => EMBEDDED
                .iter()
                .find(|(name, _)| *name == rel)
                .map(|(name, body)| (Cow::Borrowed(body.as_bytes()), content_type(name))),
            Some(dir) => read_below(dir, &segments).map(|b| (Cow::Owned(b), content_type(rel))),
        }
    }
}

/// Read `root/segments...` only if it resolves (links followed) to a file inside `root`.
fn read_below(root: &Path, segments: &[&str]) -> Option<Vec<u8>> {
    let mut p = root.to_path_buf();
    for s in segments {
        let mut c = Path::new(s).components();
        // Each segment must be exactly one normal path component.
        match (c.next(), c.next()) {
            (Some(Component::Normal(_)), None) => p.push(s),
            _ => return None,
        }
    }
    let root = root.canonicalize().ok()?;
    let full = p.canonicalize().ok()?;
    if !full.starts_with(&root) {
        return None;
    }
    let meta = std::fs::metadata(&full).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    std::fs::read(&full).ok()
}

/// `scheme://host[:port]` of an Origin, lower-cased, default port removed.
fn origin_authority(origin: &str) -> Option<(String, String)> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let host = rest.trim_end_matches('/').to_ascii_lowercase();
    if host.is_empty() || host.contains('/') {
        return None;
    }
    let default = match scheme.as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return None,
    };
    let host = host.strip_suffix(default).unwrap_or(&host).to_string();
    Some((scheme, host))
}

/// May a page from `origin` open a session? Yes when it is served by this host (the `Host` the
/// browser connected to) or listed in `allowed` (exact origins, or `*` for any). A request
/// without an Origin is not from a browser page (a CLI client, a test) and is let through:
/// the check exists to stop other web sites from using a visitor's browser.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    if allowed.iter().any(|a| a == "*") {
        return true;
    }
    let Some((scheme, authority)) = origin_authority(origin) else {
        // "null" (sandboxed frames, file://) and anything unparsable.
        return false;
    };
    if allowed
        .iter()
        .filter_map(|a| origin_authority(a))
        .any(|(s, a)| s == scheme && a == authority)
    {
        return true;
    }
    let Some(host) = host else { return false };
    let host = host.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default).unwrap_or(&host);
    authority == host
}

/// Is `host` (a `Host` header) a name of this machine's loopback interface? A server listening
/// on loopback answers only to those, so a web page whose domain an attacker re-points at
/// 127.0.0.1 (DNS rebinding) cannot use it. No `Host` at all is not a browser: let through.
pub fn is_loopback_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return true };
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host.as_str(), |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host.as_str()
            }
        })
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why an upgrade request is refused (answered with 400 / 426).
#[derive(Debug, PartialEq, Eq)]
pub enum UpgradeError {
    NotGet,
    NotWebSocket,
    Version,
    NoKey,
}

impl std::fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotGet => "a WebSocket upgrade must be a GET",
            Self::NotWebSocket => "this endpoint speaks WebSocket only (Upgrade: websocket)",
            Self::Version => "unsupported Sec-WebSocket-Version (13 required)",
            Self::NoKey => "missing Sec-WebSocket-Key",
        })
    }
}

/// Check a WebSocket upgrade request; returns the `Sec-WebSocket-Accept` value.
pub fn websocket_accept(head: &RequestHead) -> Result<String, UpgradeError> {
    if head.method != "GET" {
        return Err(UpgradeError::NotGet);
    }
    if !head.header_has_token("Upgrade", "websocket")
        || !head.header_has_token("Connection", "upgrade")
    {
        return Err(UpgradeError::NotWebSocket);
    }
    if head.header("Sec-WebSocket-Version") != Some("13") {
        return Err(UpgradeError::Version);
    }
    let key = head
        .header("Sec-WebSocket-Key")
        .filter(|k| !k.is_empty())
        .ok_or(UpgradeError::NoKey)?;
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// The `101 Switching Protocols` answer to a valid upgrade.
pub fn switching_protocols(accept: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> RequestHead {
        let (h, rest) = read_head(&mut text.as_bytes()).unwrap();
        assert!(rest.is_empty());
        h
    }

    #[test]
    fn request_heads_parse_and_garbage_is_refused() {
        let raw = "GET /app.js?v=2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Empty:\r\n\r\nEXTRA";
        let (h, rest) = read_head(&mut raw.as_bytes()).unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.path(), "/app.js");
        assert_eq!(h.header("host"), Some("127.0.0.1:8080"));
        assert_eq!(h.header("x-empty"), Some(""));
        assert_eq!(rest, b"EXTRA");
        for bad in [
            "GARBAGE\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "GET nopath HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        ] {
            assert!(
                matches!(read_head(&mut bad.as_bytes()), Err(HeadError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            read_head(&mut &b"GET / HTTP/1.1\r\n"[..]),
            Err(HeadError::Closed)
        ));
        let huge = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert!(matches!(
            read_head(&mut huge.as_bytes()),
            Err(HeadError::TooLarge)
        ));
    }

    #[test]
    fn embedded_files_are_served_and_traversal_is_not() {
        let s = StaticFiles::default();
        let (body, ct) = s.get("/").unwrap();
        assert!(ct.starts_with("text/html"));
        assert!(String::from_utf8_lossy(&body).contains("<html"));
        assert_eq!(
            s.get("/app.js").unwrap().1,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            s.get("/%61pp.js").unwrap().1,
            "text/javascript; charset=utf-8"
        );
        for bad in [
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/%2E%2E%2fCargo.toml",
            "/./app.js",
            "//etc/passwd",
            "/..%5cCargo.toml",
            "/app.js%00",
            "/%zz",
            "/nope.js",
        ] {
            assert!(s.get(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_static_dir_serves_only_what_is_inside_it() {
        let base = std::env::temp_dir().join(format!("va-static-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "<html>dir</html>").unwrap();
        std::fs::write(root.join("sub/a.css"), "a{}").unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("link.txt")).unwrap();
        let s = StaticFiles::new(Some(root.clone()));
        assert_eq!(&*s.get("/").unwrap().0, b"<html>dir</html>");
        assert_eq!(s.get("/sub/a.css").unwrap().1, "text/css; charset=utf-8");
        for bad in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/sub/../../secret.txt",
            "/sub",
            "/link.txt",
        ] {
            assert!(s.get(bad).is_none(), "{bad}");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn origins_must_match_the_host_or_the_allow_list() {
        let host = Some("127.0.0.1:8080");
        assert!(origin_allowed(None, host, &[]));
        assert!(origin_allowed(Some("http://127.0.0.1:8080"), host, &[]));
        assert!(origin_allowed(
            Some("HTTP://LOCALHOST"),
            Some("localhost:80"),
            &[]
        ));
        assert!(origin_allowed(
            Some("https://example.com"),
            Some("example.com"),
            &[]
        ));
        assert!(!origin_allowed(Some("http://evil.example"), host, &[]));
        assert!(!origin_allowed(Some("http://127.0.0.1:9999"), host, &[]));
        assert!(!origin_allowed(Some("null"), host, &[]));
        assert!(!origin_allowed(Some("http://127.0.0.1:8080"), None, &[]));
        let allow = vec!["https://app.example:8443".to_string()];
        assert!(origin_allowed(
            Some("https://app.example:8443"),
            host,
            &allow
        ));
        assert!(!origin_allowed(
            Some("http://app.example:8443"),
            host,
            &allow
        ));
        assert!(origin_allowed(
            Some("http://anything"),
            host,
            &["*".to_string()]
        ));
    }

    #[test]
    fn only_loopback_names_pass_the_host_check() {
        for ok in [
            None,
            Some("localhost"),
            Some("localhost:8080"),
            Some("127.0.0.1:8080"),
            Some("127.0.0.2"),
            Some("[::1]:8080"),
            Some("LOCALHOST"),
        ] {
            assert!(is_loopback_host(ok), "{ok:?}");
        }
        for bad in [
            Some("evil.example"),
            Some("evil.example:8080"),
            Some("10.0.0.1:8080"),
            Some("localhost.evil.example"),
            Some("[::2]:80"),
            Some(""),
        ] {
            assert!(!is_loopback_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn upgrades_are_checked_and_answered_per_rfc6455() {
        let ok = head(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
        // The example from RFC 6455 section 1.3.
        assert_eq!(
            websocket_accept(&ok).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let plain = head("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(websocket_accept(&plain), Err(UpgradeError::NotWebSocket));
        let old = head(
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n",
        );
        assert_eq!(websocket_accept(&old), Err(UpgradeError::Version));
        let post = head("POST /ws HTTP/1.1\r\n\r\n");
        assert_eq!(websocket_accept(&post), Err(UpgradeError::NotGet));
    }

    #[test]
    fn responses_carry_length_type_and_close() {
        let mut out = Vec::new();
        Response::text(404, "not found")
            .write_to(&mut out, false)
            .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(s.contains("Content-Length: 10\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        assert!(s.ends_with("\r\n\r\nnot found\n"));
        let mut out = Vec::new();
        Response::text(200, "ok").write_to(&mut out, true).unwrap();
        assert!(String::from_utf8(out).unwrap().ends_with("\r\n\r\n"));
    }
}
