//! One client connection: buffered non-blocking reads and writes, request
//! sequencing and per-connection deadlines.
//!
//! The socket is registered edge-triggered for both readiness kinds, so
//! [`Conn::drive`] always works until the socket would block (or until a
//! response is waiting to be written, in which case the writable event
//! resumes it). Requests are answered one at a time, in order: while a
//! response is pending nothing more is read, which bounds buffering for
//! pipelining clients.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::handler::{answer, record, Answer};
use super::request::{parse_head, Parsed};
use super::response::Response;
use super::{HttpSettings, Limits, PageSource};

/// Size of one read from the socket.
const READ_CHUNK: usize = 8 * 1024;
/// Write buffers larger than this are released after use instead of kept.
const KEEP_WRITE_CAPACITY: usize = 64 * 1024;
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

/// Everything a connection needs from the server while being driven.
pub(crate) struct Ctx<'a> {
    /// Current settings (uri, auth).
    pub settings: &'a HttpSettings,
    /// Page source.
    pub source: &'a dyn PageSource,
    /// Limits in force.
    pub limits: &'a Limits,
    /// Time of the current event batch.
    pub now: Instant,
}

/// State of one client connection.
pub(crate) struct Conn {
    stream: TcpStream,
    /// Received bytes not yet consumed as a request head.
    read_buf: Vec<u8>,
    /// Serialised responses; `write_pos` bytes of it are sent.
    write_buf: Vec<u8>,
    write_pos: usize,
    /// Close (after draining) once `write_buf` is sent.
    close_after_write: bool,
    /// The peer shut down its sending side.
    peer_eof: bool,
    /// Final answer sent and our side shut down: discarding input until
    /// the peer closes or `deadline` passes.
    draining: bool,
    /// Kept alive between requests (the idle timeout runs, not the head one).
    idle: bool,
    /// When the current phase (head, idle, write, drain) times out.
    deadline: Instant,
}

impl Conn {
    /// A new connection: its first request head is due within the head timeout.
    pub fn new(stream: TcpStream, ctx: &Ctx<'_>) -> Conn {
        Conn {
            stream,
            read_buf: Vec::new(),
            write_buf: Vec::new(),
            write_pos: 0,
            close_after_write: false,
            peer_eof: false,
            draining: false,
            idle: false,
            deadline: ctx.now + ctx.limits.head_timeout,
        }
    }

    /// Register the socket for both readiness kinds (edge-triggered).
    pub fn register(&mut self, registry: &Registry, token: Token) -> std::io::Result<()> {
        registry.register(
            &mut self.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    fn write_pending(&self) -> bool {
        self.write_pos < self.write_buf.len()
    }

    /// Make all progress possible without blocking (within [`DRIVE_BUDGET`]).
    pub fn drive(&mut self, ctx: &Ctx<'_>) -> Step {
        let mut chunk = [0u8; READ_CHUNK];
        for _ in 0..DRIVE_BUDGET {
            if self.write_pending() {
                match self.flush() {
                    Ok(true) => self.after_flush(ctx),
                    Ok(false) => return Step::Keep,
                    Err(()) => return Step::Close,
                }
            }
            if self.draining {
                return self.discard_input(&mut chunk);
            }
            if !self.read_buf.is_empty() {
                match parse_head(&self.read_buf, ctx.limits.max_head_bytes) {
                    Parsed::Complete(req, used) => {
                        self.read_buf.drain(..used);
                        let ans = answer(&req, ctx.settings, ctx.source);
                        self.queue(ans, ctx);
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
            match self.stream.read(&mut chunk) {
                Ok(0) => self.peer_eof = true,
                Ok(n) => {
                    if self.idle {
                        // First byte of a request on a kept-alive connection.
                        self.idle = false;
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

    /// Close or answer `408` if the current phase's deadline has passed.
    pub fn check_timeout(&mut self, ctx: &Ctx<'_>) -> Step {
        if ctx.now < self.deadline {
            return Step::Keep;
        }
        if self.draining || self.write_pending() || self.read_buf.is_empty() {
            // Drain over, client not reading, or idle / nothing sent: just close.
            return Step::Close;
        }
        // Part of a head arrived but not the rest in time.
        self.queue(Answer::closing(Response::plain(408)), ctx);
        self.drive(ctx)
    }

    /// Serialise an answer into the write buffer and report it.
    fn queue(&mut self, ans: Answer, ctx: &Ctx<'_>) {
        record(ctx.source, ans.response.status);
        if self.write_pos == self.write_buf.len() {
            self.write_buf.clear();
            self.write_pos = 0;
        }
        ans.response.write_to(
            &mut self.write_buf,
            ans.head_only,
            ans.keep_alive,
            ans.http10,
        );
        if !ans.keep_alive {
            self.close_after_write = true;
            self.read_buf.clear();
        }
        self.deadline = ctx.now + ctx.limits.write_timeout;
    }

    /// Write as much as possible. `Ok(true)`: all sent; `Ok(false)`: would block.
    fn flush(&mut self) -> Result<bool, ()> {
        while self.write_pending() {
            match self.stream.write(&self.write_buf[self.write_pos..]) {
                Ok(0) => return Err(()),
                Ok(n) => self.write_pos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
        Ok(true)
    }

    /// The write buffer just emptied: close gracefully or wait for the next request.
    fn after_flush(&mut self, ctx: &Ctx<'_>) {
        self.write_pos = 0;
        if self.write_buf.capacity() > KEEP_WRITE_CAPACITY {
            self.write_buf = Vec::new();
        } else {
            self.write_buf.clear();
        }
        if self.close_after_write {
            // Half-close and keep reading for a moment so the client receives
            // the answer instead of a reset caused by its unread data.
            let _ = self.stream.shutdown(Shutdown::Write);
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
            match self.stream.read(chunk) {
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
