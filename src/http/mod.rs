//! Scrape endpoint: a small, bounded HTTP/1.1 (and HTTPS) server on one `mio`
//! thread, with pages rendered off that thread.
//!
//! The server runs inside the host process (a PBX), so it is built to be
//! predictable rather than fast:
//!
//! * one event-loop thread (named `prom_rs-http`) and a pool of three (two
//!   `prom_rs-render`, one `prom_rs-auth`), all joined by [`HttpServer::stop`]
//!   and by `Drop`, so no code of ours runs after `stop` returns;
//! * the event loop never renders: pages are rendered by the pool (full pages
//!   on one thread, `collect[]` and landing pages on the other, so a small
//!   scrape never waits behind a big one), concurrent requests for the same
//!   page share one render, and each connection sends the shared bytes;
//! * every resource is bounded: open connections (in all and per peer
//!   address), request-head size, the time a request head may take (shorter
//!   when the table is nearly full), keep-alive idle time and the time a
//!   response may take to drain (see [`Limits`]);
//! * a full table makes room instead of refusing: the connection that has
//!   waited longest without sending a complete request goes first, and a
//!   kept-alive scraper's connection is among the last (see `server.rs`);
//! * an access list ([`Acl`]) is checked at accept, before anything is read;
//! * only `GET` and `HEAD` without a body are served; everything else gets a
//!   short error response;
//! * the thread body runs under `catch_unwind`: a panic (ours or the page
//!   source's) stops serving instead of unwinding into the host. A panic inside
//!   a [`PageSource`] call while answering one request is caught on its own and
//!   answered with `500`, and the server keeps serving.
//!
//! Routes: the configured metrics path ([`HttpSettings::uri`]), `/` (landing
//! page, unless the metrics path is `/`), anything else is `404`.

mod acl;
mod auth;
mod conn;
mod handler;
mod negotiate;
mod pool;
mod request;
mod response;
mod server;
mod tls;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use acl::{Acl, AclRule};
pub use auth::{BasicAuth, Password};
pub use server::{HttpServer, THREAD_NAME};
pub use tls::{ClientAuth, TlsError, TlsServer, TlsSettings, TlsVersion};

use crate::registry::Format;

/// What the server asks the rest of the core for. Implemented by the core.
/// The render calls run on the server's render threads (two, so two calls
/// may run at once: a full page and a `collect[]` or landing page);
/// `record_request` runs on the event-loop thread.
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

/// Settings the server runs with.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Address to listen on. Changing it needs a new server (see
    /// [`HttpServer::update`]).
    pub bind: SocketAddr,
    /// Path of the metrics page; starts with `/`. Matched exactly against the
    /// request path (query string excluded).
    pub uri: String,
    /// Credentials required on every route, if any.
    pub auth: Option<BasicAuth>,
    /// Peers allowed to connect.
    pub acl: Acl,
    /// Serve HTTPS with this setup (plain HTTP when `None`).
    pub tls: Option<TlsServer>,
}

impl HttpSettings {
    /// Plain HTTP on `bind`, metrics at `uri`, no credentials, every peer allowed.
    pub fn new(bind: SocketAddr, uri: impl Into<String>) -> HttpSettings {
        HttpSettings {
            bind,
            uri: uri.into(),
            auth: None,
            acl: Acl::default(),
            tls: None,
        }
    }
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

/// Most connections open at once; a connection accepted beyond this takes
/// the place of the one [`HttpServer`] finds least useful (see the module
/// documentation).
pub const MAX_CONNECTIONS: usize = 512;
/// Most connections open at once from one peer address; beyond it the
/// peer's own least useful connection makes room.
pub const MAX_PER_PEER: usize = 256;
/// The head timeout while the table is at least three quarters full.
pub const PRESSURE_HEAD_TIMEOUT: Duration = Duration::from_secs(2);
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
    /// See [`MAX_PER_PEER`].
    pub max_per_peer: usize,
    /// See [`PRESSURE_HEAD_TIMEOUT`].
    pub pressure_head_timeout: Duration,
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
            max_per_peer: MAX_PER_PEER,
            pressure_head_timeout: PRESSURE_HEAD_TIMEOUT,
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
        let a = BasicAuth::plain("u", "hunter2");
        let s = format!("{:?}", a);
        assert!(s.contains("\"u\""));
        assert!(!s.contains("hunter2"));
        let mut settings = HttpSettings::new("127.0.0.1:1".parse().unwrap(), "/metrics");
        settings.auth = Some(a);
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
