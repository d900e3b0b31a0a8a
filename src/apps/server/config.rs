//! How the server runs: addresses, limits, who may connect, and each session's pipeline.

use std::path::PathBuf;
use std::time::Duration;

use crate::orchestration::pipeline::PipelineConfig;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where the page is served (tiny_http), e.g. `127.0.0.1:8080` (port 0 picks a free one).
    pub bind: String,
    /// Where the WebSocket sessions are answered (tungstenite). `None`: the same host, the page's
    /// port + 1 (a free one when the page's port is 0). The page learns it from `/config.json`.
    pub ws_bind: Option<String>,
    /// Sessions at once; the next is refused with close code 1013.
    pub max_sessions: usize,
    /// Origins besides the server's own that may open sessions (`*` for any).
    pub allowed_origins: Vec<String>,
    /// Names this server answers to besides IP addresses and `localhost` (a server bound to a
    /// public address is reached by name; any other name is a DNS-rebinding attempt).
    pub allowed_hosts: Vec<String>,
    /// The longest a call may last; it is then closed (1001).
    pub max_call: Option<Duration>,
    /// A secret the telephony stream's path must carry (`/telephony/TOKEN`).
    pub telephony_token: Option<String>,
    /// The media stream's public URL that `/twiml` gives the platform, e.g.
    /// `wss://voice.example/telephony`; `None`: `wss://` the request's host, the WebSocket port.
    pub telephony_url: Option<String>,
    /// Timeouts: the whole WebSocket handshake; a WebSocket client that sends nothing, not
    /// even a pong to the server's pings.
    pub handshake_limit: Duration,
    pub idle_timeout: Duration,
    /// Serve the page from this directory instead of the copy built into the binary.
    pub static_dir: Option<PathBuf>,
    /// The pipeline of each session.
    pub pipeline: PipelineConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            ws_bind: None,
            max_sessions: 8,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_call: None,
            telephony_token: None,
            telephony_url: None,
            handshake_limit: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            static_dir: None,
            pipeline: socket_pipeline(PipelineConfig::default()),
        }
    }
}

/// A pipeline configuration made fit for a socket: the session ends as soon as the caller hangs
/// up, and the sink runs a little ahead of playback to absorb network jitter.
pub fn socket_pipeline(mut config: PipelineConfig) -> PipelineConfig {
    config.drain_tail = false;
    config.lookahead_ms = 150;
    config
}

/// The `serve` command's options.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address the page is served on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Address the WebSocket sessions are answered on [default: the page's host, its port + 1].
    #[arg(long)]
    pub ws_bind: Option<String>,
    /// Simultaneous sessions; the next caller is refused (close code 1013).
    #[arg(long, default_value_t = 8)]
    pub max_sessions: usize,
    /// Another origin allowed to open sessions, e.g. https://demo.example (repeatable; `*` for any).
    #[arg(long = "allow-origin")]
    pub allow_origin: Vec<String>,
    /// A host name this server is reached by, e.g. demo.example (repeatable; IP addresses and
    /// localhost always pass, and so do the hosts of --allow-origin).
    #[arg(long = "allow-host")]
    pub allow_host: Vec<String>,
    /// End a call after this many seconds (1001), e.g. 1800.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_call_secs: Option<u64>,
    /// A secret that phone calls' media stream must carry in its path (/telephony/TOKEN);
    /// without it any platform that finds the port may call in.
    #[arg(long, env = "TELEPHONY_TOKEN", hide_env_values = true)]
    pub telephony_token: Option<String>,
    /// The public URL of the media stream that /twiml hands the telephony platform, up to
    /// /telephony (the token is added), e.g. wss://voice.example/telephony behind a tunnel or
    /// proxy [default: wss:// the webhook's host, the WebSocket port].
    #[arg(long, value_name = "URL")]
    pub telephony_url: Option<String>,
    /// Serve the page from this directory instead of the built-in copy (page development).
    #[arg(long)]
    pub static_dir: Option<PathBuf>,
}

impl ServeArgs {
    pub fn config(&self, pipeline: PipelineConfig) -> ServerConfig {
        ServerConfig {
            bind: self.bind.clone(),
            ws_bind: self.ws_bind.clone(),
            max_sessions: self.max_sessions,
            allowed_origins: self.allow_origin.clone(),
            allowed_hosts: self.allow_host.clone(),
            max_call: self.max_call_secs.map(Duration::from_secs),
            telephony_token: self.telephony_token.clone().filter(|t| !t.is_empty()),
            telephony_url: self.telephony_url.clone(),
            static_dir: self.static_dir.clone(),
            pipeline: socket_pipeline(pipeline),
            ..ServerConfig::default()
        }
    }
}
