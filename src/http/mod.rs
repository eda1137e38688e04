//! Scrape endpoint: a small, bounded HTTP/1.1 server on one `mio` thread.
//!
//! The server runs inside the host process (a PBX), so it is built to be
//! predictable rather than fast:
//!
//! * exactly one thread (named `prom_rs-http`), joined by [`HttpServer::stop`]
//!   and by `Drop`, so no code of ours runs after `stop` returns;
//! * every resource is bounded: open connections, request-head size, the time
//!   a request head may take, keep-alive idle time and the time a response may
//!   take to drain (see [`Limits`]);
//! * only `GET` and `HEAD` without a body are served; everything else gets a
//!   short error response;
//! * the thread body runs under `catch_unwind`: a panic (ours or the page
//!   source's) stops serving instead of unwinding into the host. A panic inside
//!   a [`PageSource`] call while answering one request is caught on its own and
//!   answered with `500`, and the server keeps serving.
//!
//! Routes: the configured metrics path ([`HttpSettings::uri`]), `/` (landing
//! page, unless the metrics path is `/`), anything else is `404`.

mod conn;
mod handler;
mod negotiate;
mod request;
mod response;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use server::{HttpServer, THREAD_NAME};

use crate::registry::Format;

/// What the server asks the rest of the core for. Implemented by the core;
/// called on the HTTP thread only, one call at a time.
pub trait PageSource: Send + Sync + 'static {
    /// Render the metrics page. `collect` is the list of `collect[]` query
    /// values (family-name prefixes, percent-decoded, empty values dropped;
    /// an empty list means all families).
    fn render_metrics(&self, format: Format, collect: &[String]) -> Vec<u8>;
    /// Render the landing page at `/` (HTML, sent as `text/html; charset=utf-8`).
    fn render_landing(&self) -> Vec<u8>;
    /// Called once per answered request with the status code sent (for
    /// `prom_rs_http_requests_total{code}`). Not called for connections closed
    /// without an answer (idle timeout, peer gone, over the connection limit).
    fn record_request(&self, code: u16);
    /// Called with the time spent producing a metrics response (render +
    /// compress), in seconds.
    fn record_scrape(&self, seconds: f64);
}

/// HTTP Basic credentials required on every route when set.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// Expected user name.
    pub username: String,
    /// Expected password. Never printed by `Debug` and never logged.
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Settings the server runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// Address to listen on. Changing it needs a new server (see
    /// [`HttpServer::update`]).
    pub bind: SocketAddr,
    /// Path of the metrics page; starts with `/`. Matched exactly against the
    /// request path (query string excluded).
    pub uri: String,
    /// Credentials required on every route, if any.
    pub auth: Option<BasicAuth>,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum HttpError {
    /// The listening socket could not be bound.
    Bind {
        /// The address we tried to listen on.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The poller, waker or server thread could not be created.
    Spawn(std::io::Error),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Bind { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                if source.kind() == std::io::ErrorKind::AddrInUse {
                    write!(
                        f,
                        "; another process (or a second copy of the module) owns that port \
                         — set `port` or `bindaddr` to a free address"
                    )?;
                }
                Ok(())
            }
            HttpError::Spawn(e) => write!(f, "cannot start the HTTP server thread: {e}"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Bind { source, .. } => Some(source),
            HttpError::Spawn(e) => Some(e),
        }
    }
}

/// Most connections open at once; connections accepted beyond this are
/// closed at once without an answer.
pub const MAX_CONNECTIONS: usize = 512;
/// Largest request head (request line + headers) accepted, in bytes;
/// a longer head is answered with `431` and the connection closed.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Time a request head may take to arrive, counted from the connection's
/// opening (first request) or from the request's first byte (later requests
/// on a kept-alive connection). On expiry the connection is closed, after a
/// `408` answer if part of a head was received.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a kept-alive connection may sit idle between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a queued response may take to be fully sent before the connection
/// is dropped (guards against clients that never read).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the poll loop sleeps before sweeping the timeouts above.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// After a final answer (`Connection: close`, errors), how long the server
/// keeps reading and discarding what the client still sends, so the client
/// gets the answer rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);

/// Resource limits of a server. [`Limits::default`] gives the production
/// values (the `MAX_*`, `*_TIMEOUT`, [`POLL_INTERVAL`] and [`LINGER`]
/// constants); tests shorten them through [`HttpServer::start_with_limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_HEAD_BYTES`].
    pub max_head_bytes: usize,
    /// See [`HEAD_TIMEOUT`].
    pub head_timeout: Duration,
    /// See [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// See [`POLL_INTERVAL`].
    pub poll_interval: Duration,
    /// See [`LINGER`].
    pub linger: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            max_head_bytes: MAX_HEAD_BYTES,
            head_timeout: HEAD_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            poll_interval: POLL_INTERVAL,
            linger: LINGER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_debug_hides_password() {
        let a = BasicAuth {
            username: "u".into(),
            password: "hunter2".into(),
        };
        let s = format!("{:?}", a);
        assert!(s.contains("\"u\""));
        assert!(!s.contains("hunter2"));
        let settings = HttpSettings {
            bind: "127.0.0.1:1".parse().unwrap(),
            uri: "/metrics".into(),
            auth: Some(a),
        };
        assert!(!format!("{:?}", settings).contains("hunter2"));
    }

    #[test]
    fn bind_error_message_names_address() {
        let e = HttpError::Bind {
            addr: "127.0.0.1:9101".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        let s = e.to_string();
        assert!(s.starts_with("cannot listen on 127.0.0.1:9101: "), "{s}");
        assert!(s.contains("set `port` or `bindaddr`"), "{s}");
    }
}
