//! The plain HTTP side, on tiny_http: the page and its files, `/healthz`, and `/config.json`
//! (where the page finds the WebSocket). One thread answers every request; each is small.

use std::io::Cursor;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tiny_http::{Header, Method, Request, Response};

use super::guard::repeated_guard_header;
use super::shared::Shared;
use super::telephony;

type Reply = Response<Cursor<Vec<u8>>>;

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    let mut r = Response::from_data(body).with_status_code(status);
    // Both are plain ASCII constants: a header cannot fail to build from them.
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
        r.add_header(h);
    }
    r
}

fn text(status: u16, body: impl Into<String>) -> Reply {
    let mut body = body.into();
    body.push('\n');
    reply(status, "text/plain; charset=utf-8", body.into_bytes())
}

fn json(value: serde_json::Value) -> Reply {
    reply(200, "application/json", value.to_string().into_bytes())
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The answer to one request.
fn answer(req: &Request, shared: &Shared) -> Reply {
    let names = req.headers().iter().map(|h| h.field.as_str().as_str());
    if let Some(name) = repeated_guard_header(names) {
        return text(400, format!("more than one {name} header"));
    }
    if !shared.host_allowed(header(req, "Host")) {
        log::warn!("Host {:?} refused", header(req, "Host"));
        return text(403, "host not allowed");
    }
    let path = req.url().split(['?', '#']).next().unwrap_or("/");
    // The telephony platform's incoming-call webhook is a POST (its form is not needed).
    let webhook = path == "/twiml" && matches!(req.method(), Method::Post);
    if !matches!(req.method(), Method::Get | Method::Head) && !webhook {
        return text(405, "only GET and HEAD are served");
    }
    match path {
        "/twiml" => reply(
            200,
            "text/xml; charset=utf-8",
            telephony::twiml(&stream_url(header(req, "Host"), shared)).into_bytes(),
        ),
        "/healthz" => json(serde_json::json!({
            "status": "ok",
            "sessions": shared.sessions.load(Ordering::Acquire),
            "max_sessions": shared.config.max_sessions,
        })),
        "/config.json" => json(serde_json::json!({
            "websocket": {"port": shared.ws_port, "path": "/ws"},
        })),
        "/ws" => text(
            426,
            format!(
                "WebSocket sessions are answered on port {}, path /ws",
                shared.ws_port
            ),
        ),
        _ => match shared.files.get(path) {
            Some((body, ct)) => reply(200, ct, body.into_owned()),
            None => text(404, "not found"),
        },
    }
}

/// Where the platform is to open the media stream: the configured URL, else the WebSocket port
/// of the host the webhook reached (with the token, if one is set).
fn stream_url(host: Option<&str>, shared: &Shared) -> String {
    let token = shared.config.telephony_token.as_deref();
    let path = token.map_or(telephony::PATH.to_string(), |t| {
        format!("{}/{t}", telephony::PATH)
    });
    if let Some(url) = &shared.config.telephony_url {
        let url = url.trim_end_matches('/');
        return token.map_or(url.to_string(), |t| format!("{url}/{t}"));
    }
    let host = host.unwrap_or("localhost");
    let name = match url::Url::parse(&format!("http://{host}/")) {
        Ok(u) => u.host_str().unwrap_or("localhost").to_string(),
        Err(_) => "localhost".to_string(),
    };
    format!("wss://{name}:{}{path}", shared.ws_port)
}

/// Answer requests until the server is unblocked (shutdown).
pub fn run(server: Arc<tiny_http::Server>, shared: Arc<Shared>) {
    for req in server.incoming_requests() {
        log::debug!("{} {}", req.method(), req.url());
        let response = answer(&req, &shared);
        if let Err(e) = req.respond(response) {
            log::debug!("http: {e}");
        }
    }
}
