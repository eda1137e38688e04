//! One client connection: buffered non-blocking reads and writes, request
//! sequencing and per-connection deadlines.
//!
//! The socket is registered edge-triggered for both readiness kinds, so
//! [`Conn::drive`] always works until the socket would block (or until a
//! response is waiting to be written, in which case the writable event
//! resumes it). Requests are answered one at a time, in order: while a
//! response is pending (being rendered or sent) nothing more is read, which
//! bounds buffering for pipelining clients. A page body is sent from the
//! shared rendered page, never copied per connection: a slow reader holds a
//! reference, its socket buffer and (HTTPS) a bounded TLS buffer.

use std::io::ErrorKind;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::{Interest, Registry, Token};

use super::handler::{answer, record, Answer, How, Reply};
use super::pool::{Outcome, Pool};
use super::request::{parse_head, Parsed, Request};
use super::response::Response;
use super::tls::{TlsServer, Transport};
use super::{HttpSettings, Limits, PageSource};

/// Size of one read from the socket.
const READ_CHUNK: usize = 8 * 1024;
/// Head buffers larger than this are released after use instead of kept.
const KEEP_HEAD_CAPACITY: usize = 64 * 1024;
/// Bodies up to this size are copied behind the head (one write); larger ones are sent from the shared page.
const INLINE_BODY: usize = 16 * 1024;
/// Reads and answers one [`Conn::drive`] call may do before yielding, so one
/// busy client cannot starve the others or delay a stop.
const DRIVE_BUDGET: usize = 32;

/// What the event loop should do with a connection after driving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Leave it registered.
    Keep,
    /// Drop it (closes the socket).
    Close,
    /// Budget used up with work possibly left: drive it again soon, without
    /// waiting for a readiness event (none may come: edge-triggered).
    Yield,
}

/// What a connection is doing, in the order connections are evicted when the table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Answer sent, lingering to read what the client still sends.
    Draining,
    /// Waiting for a complete request head (also the TLS handshake).
    Head,
    /// Kept alive between requests (a scraper's connection).
    Idle,
    /// A request is being answered (page rendering or being sent).
    Busy,
}

/// Everything a connection needs from the server while being driven.
pub(crate) struct Ctx<'a> {
    /// Current settings (uri, auth).
    pub settings: &'a HttpSettings,
    /// Page source (for request counts).
    pub source: &'a dyn PageSource,
    /// Where pages are rendered and passwords verified.
    pub pool: &'a Pool,
    /// Limits in force.
    pub limits: &'a Limits,
    /// Time of the current event batch.
    pub now: Instant,
    /// The connection table is nearly full: heads get the shorter timeout.
    pub pressure: bool,
}

/// A request whose answer is being prepared by the pool.
struct Waiting {
    /// Flight id to match the pool's result with (slots are reused).
    id: u64,
    /// The request, decided again after a password verification.
    req: Request,
    how: How,
}

/// State of one client connection.
pub(crate) struct Conn {
    io: Transport,
    /// The TLS setup the connection was accepted with (to notice a reload that replaced it).
    tls: Option<TlsServer>,
    peer: IpAddr,
    /// Received bytes not yet consumed as a request head.
    read_buf: Vec<u8>,
    /// Serialised response head (and a small body).
    head: Vec<u8>,
    /// A larger body, shared with every connection sending the same page.
    body: Option<Arc<Vec<u8>>>,
    /// Bytes of `head` then `body` sent so far.
    sent: usize,
    /// A response is queued and not fully sent.
    responding: bool,
    waiting: Option<Waiting>,
    /// Close (after draining) once the response is sent.
    close_after_write: bool,
    /// The peer shut down its sending side.
    peer_eof: bool,
    /// Final answer sent and our side shut down: discarding input until
    /// the peer closes or `deadline` passes.
    draining: bool,
    /// Kept alive between requests (the idle timeout runs, not the head one).
    idle: bool,
    /// When the current phase began.
    since: Instant,
    /// When the current phase (head, idle, write, drain) times out.
    deadline: Instant,
}

impl Conn {
    /// A new connection: its first request head is due within the head timeout.
    pub fn new(io: Transport, tls: Option<TlsServer>, peer: IpAddr, ctx: &Ctx<'_>) -> Conn {
        Conn {
            io,
            tls,
            peer,
            read_buf: Vec::new(),
            head: Vec::new(),
            body: None,
            sent: 0,
            responding: false,
            waiting: None,
            close_after_write: false,
            peer_eof: false,
            draining: false,
            idle: false,
            since: ctx.now,
            deadline: ctx.now + ctx.limits.head_timeout,
        }
    }

    /// Register the socket for both readiness kinds (edge-triggered).
    pub fn register(&mut self, registry: &Registry, token: Token) -> std::io::Result<()> {
        registry.register(
            self.io.tcp(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    /// The peer's address (IPv4-mapped addresses as IPv4).
    pub fn peer(&self) -> IpAddr {
        self.peer
    }

    /// Whether a reload replaced the TLS setup this connection was accepted with (new certificate, client CA,
    /// versions, or HTTPS switched on or off): such a connection is closed when it falls idle, so the new setup
    /// applies to every later request.
    fn stale(&self, settings: &HttpSettings) -> bool {
        match (&self.tls, &settings.tls) {
            (None, None) => false,
            (Some(a), Some(b)) => !a.same(b),
            _ => true,
        }
    }

    /// What the connection is doing and since when (for eviction).
    pub fn phase(&self) -> (Phase, Instant) {
        let phase = if self.draining {
            Phase::Draining
        } else if self.responding || self.waiting.is_some() {
            Phase::Busy
        } else if self.idle {
            Phase::Idle
        } else {
            Phase::Head
        };
        (phase, self.since)
    }

    /// Make all progress possible without blocking (within [`DRIVE_BUDGET`]).
    /// `me` is the connection's slot, given to the pool to find it again.
    pub fn drive(&mut self, ctx: &Ctx<'_>, me: usize) -> Step {
        let mut chunk = [0u8; READ_CHUNK];
        for _ in 0..DRIVE_BUDGET {
            if self.responding || self.io.wants_write() {
                match self.flush() {
                    Ok(true) if self.responding => self.after_flush(ctx),
                    Ok(true) => {}
                    Ok(false) => return Step::Keep,
                    Err(()) => return Step::Close,
                }
            }
            if self.draining {
                return self.discard_input(&mut chunk);
            }
            if self.waiting.is_some() {
                return Step::Keep;
            }
            if !self.read_buf.is_empty() {
                match parse_head(&self.read_buf, ctx.limits.max_head_bytes) {
                    Parsed::Complete(req, used) => {
                        self.read_buf.drain(..used);
                        self.start(req, ctx, me);
                        continue;
                    }
                    Parsed::Error(e) => {
                        self.queue(Answer::closing(Response::plain(e.status())), ctx);
                        continue;
                    }
                    Parsed::Incomplete => {}
                }
            }
            if self.peer_eof {
                // Nothing complete left to answer and nothing more coming.
                return Step::Close;
            }
            match self.io.read(&mut chunk) {
                Ok(0) => self.peer_eof = true,
                Ok(n) => {
                    if self.idle {
                        // First byte of a request on a kept-alive connection.
                        self.idle = false;
                        self.since = ctx.now;
                        self.deadline = ctx.now + ctx.limits.head_timeout;
                    }
                    self.read_buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Keep,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
        Step::Yield
    }

    /// Decide on a request: answer now, or hand the work to the pool and wait.
    fn start(&mut self, req: Request, ctx: &Ctx<'_>, me: usize) {
        match answer(&req, ctx.settings) {
            Reply::Now(a) => self.queue(a, ctx),
            Reply::Later(job, how) => match ctx.pool.submit(job, me) {
                Ok(id) => {
                    self.waiting = Some(Waiting { id, req, how });
                    self.since = ctx.now;
                    self.deadline = ctx.now + ctx.limits.write_timeout;
                }
                Err(_) => {
                    let response = Response::plain(503).with("Retry-After", "1");
                    self.queue(Answer { response, how }, ctx);
                }
            },
        }
    }

    /// The pool finished flight `id`; if this connection waits for it, answer.
    pub fn deliver(&mut self, id: u64, outcome: &Outcome, ctx: &Ctx<'_>, me: usize) -> Step {
        let Some(w) = self.waiting.take_if(|w| w.id == id) else {
            return Step::Keep;
        };
        match outcome {
            Outcome::Page(Some(response)) => self.queue(
                Answer {
                    response: response.clone(),
                    how: w.how,
                },
                ctx,
            ),
            Outcome::Page(None) => self.queue(Answer::closing(Response::plain(500)), ctx),
            Outcome::Verified => self.start(w.req, ctx, me),
        }
        self.drive(ctx, me)
    }

    /// Close or answer `408` if the current phase's deadline has passed.
    pub fn check_timeout(&mut self, ctx: &Ctx<'_>, me: usize) -> Step {
        let (phase, since) = self.phase();
        let hurried = phase == Phase::Head
            && ctx.pressure
            && ctx.now >= since + ctx.limits.pressure_head_timeout;
        if phase == Phase::Idle && self.stale(ctx.settings) {
            return Step::Close;
        }
        if ctx.now < self.deadline && !hurried {
            return Step::Keep;
        }
        if phase != Phase::Head || self.read_buf.is_empty() {
            // Drain over, client not reading, render too slow, or nothing sent: just close.
            return Step::Close;
        }
        // Part of a head arrived but not the rest in time.
        self.queue(Answer::closing(Response::plain(408)), ctx);
        self.drive(ctx, me)
    }

    /// Serialise an answer's head, attach its body and report it.
    fn queue(&mut self, ans: Answer, ctx: &Ctx<'_>) {
        record(ctx.source, ans.response.status);
        self.head.clear();
        self.sent = 0;
        self.body = None;
        ans.response
            .write_head(&mut self.head, ans.how.keep_alive, ans.how.http10);
        if !ans.how.head_only {
            let body = ans.response.body;
            if body.len() <= INLINE_BODY {
                self.head.extend_from_slice(&body);
            } else {
                self.body = Some(body);
            }
        }
        self.responding = true;
        if !ans.how.keep_alive {
            self.close_after_write = true;
            self.read_buf.clear();
        }
        self.since = ctx.now;
        self.deadline = ctx.now + ctx.limits.write_timeout;
    }

    /// Write as much as possible. `Ok(true)`: all sent; `Ok(false)`: would block.
    fn flush(&mut self) -> Result<bool, ()> {
        loop {
            let head_len = self.head.len();
            let rest: &[u8] = if self.sent < head_len {
                &self.head[self.sent..]
            } else {
                match &self.body {
                    Some(b) if self.sent - head_len < b.len() => &b[self.sent - head_len..],
                    _ => break,
                }
            };
            match self.io.write(rest) {
                Ok(0) => return Err(()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
        match self.io.flush() {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
            Err(_) => Err(()),
        }
    }

    /// The response is sent: close gracefully or wait for the next request.
    fn after_flush(&mut self, ctx: &Ctx<'_>) {
        self.responding = false;
        self.sent = 0;
        self.body = None;
        if self.head.capacity() > KEEP_HEAD_CAPACITY {
            self.head = Vec::new();
        } else {
            self.head.clear();
        }
        self.since = ctx.now;
        if self.read_buf.is_empty() && self.stale(ctx.settings) {
            self.close_after_write = true;
        }
        if self.close_after_write {
            // Half-close and keep reading for a moment so the client receives
            // the answer instead of a reset caused by its unread data.
            self.io.shutdown_write();
            self.draining = true;
            self.read_buf = Vec::new();
            self.deadline = ctx.now + ctx.limits.linger;
        } else if self.read_buf.is_empty() {
            self.idle = true;
            self.deadline = ctx.now + ctx.limits.idle_timeout;
        } else {
            // A pipelined request already started arriving.
            self.deadline = ctx.now + ctx.limits.head_timeout;
        }
    }

    /// Read and drop input until the peer closes (close) or it would block (keep).
    fn discard_input(&mut self, chunk: &mut [u8]) -> Step {
        for _ in 0..DRIVE_BUDGET {
            match self.io.read(chunk) {
                Ok(0) => return Step::Close,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Keep,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
        Step::Yield
    }
}
