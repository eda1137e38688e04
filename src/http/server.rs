//! The server handle and its single event-loop thread.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use super::conn::{Conn, Ctx, Step};
use super::{HttpError, HttpSettings, Limits, PageSource};

/// Name of the server thread (visible in `/proc/<pid>/task/*/comm`).
pub const THREAD_NAME: &str = "prom_rs-http";

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Token of connection slot `i` is `Token(FIRST_CONN + i)`.
const FIRST_CONN: usize = 2;
/// Connections accepted per readiness event before other work gets a turn.
const ACCEPT_BATCH: usize = 256;
/// Poll timeout while accepting is pending (batch exhausted or fd limit hit).
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// State shared between the handle and the thread.
struct Shared {
    settings: Mutex<Arc<HttpSettings>>,
    stop: AtomicBool,
    running: AtomicBool,
}

impl Shared {
    fn settings(&self) -> Arc<HttpSettings> {
        Arc::clone(&self.settings.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A running scrape endpoint: one listening socket served by one thread.
///
/// Dropping the handle stops the server like [`HttpServer::stop`].
pub struct HttpServer {
    shared: Arc<Shared>,
    waker: Waker,
    thread: Option<JoinHandle<()>>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("local_addr", &self.local_addr)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Bind `settings.bind` and start the server thread (named `prom_rs-http`)
    /// with the production [`Limits`].
    ///
    /// The socket gets `SO_REUSEADDR` (as std and mio set it on Unix) but not
    /// `SO_REUSEPORT`, so a port owned by another socket fails with
    /// [`HttpError::Bind`].
    ///
    /// # Errors
    ///
    /// [`HttpError::Bind`] when the address cannot be bound (in use, not
    /// local, no permission), [`HttpError::Spawn`] when the poller or the
    /// thread cannot be created.
    pub fn start(
        settings: HttpSettings,
        source: Arc<dyn PageSource>,
    ) -> Result<HttpServer, HttpError> {
        Self::start_with_limits(settings, source, Limits::default())
    }

    /// [`HttpServer::start`] with explicit limits (tests shorten the timeouts).
    #[doc(hidden)]
    pub fn start_with_limits(
        settings: HttpSettings,
        source: Arc<dyn PageSource>,
        limits: Limits,
    ) -> Result<HttpServer, HttpError> {
        let addr = settings.bind;
        let bind_err = |source| HttpError::Bind { addr, source };
        let mut listener = TcpListener::bind(addr).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let poll = Poll::new().map_err(HttpError::Spawn)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(HttpError::Spawn)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(HttpError::Spawn)?;
        let shared = Arc::new(Shared {
            settings: Mutex::new(Arc::new(settings)),
            stop: AtomicBool::new(false),
            running: AtomicBool::new(true),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_string())
            .spawn(move || {
                let shared = thread_shared;
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    event_loop(poll, listener, &shared, &*source, limits);
                }));
                shared.running.store(false, Ordering::Release);
                // Dropping a panic payload could itself panic; keep that in here too.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(outcome)));
            })
            .map_err(HttpError::Spawn)?;
        Ok(HttpServer {
            shared,
            waker,
            thread: Some(thread),
            local_addr,
        })
    }

    /// Replace the metrics path and credentials; takes effect for the next
    /// request. `settings.bind` is ignored: a new address needs a new server.
    pub fn update(&self, settings: HttpSettings) {
        *self
            .shared
            .settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }

    /// The address actually listened on (the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the server thread is still serving. `false` after [`stop`]
    /// or if the thread ended on its own (a caught panic, a failing poller).
    ///
    /// [`stop`]: HttpServer::stop
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::Acquire)
    }

    /// Stop serving: wake the thread, close every connection and the
    /// listener, and join the thread. Once this returns no code of the server
    /// runs any more and the port can be bound again at once.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.stop.store(true, Ordering::Release);
            // If waking fails the thread still sees `stop` within one poll interval.
            let _ = self.waker.wake();
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Connection table: slots reused through a free list.
struct Slots {
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    open: usize,
}

impl Slots {
    fn insert(&mut self, conn: Conn) -> usize {
        self.open += 1;
        match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(conn);
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        }
    }

    /// Run `f` on connection `i` (if open) and act on the step it returns.
    fn drive(
        &mut self,
        i: usize,
        ctx: &Ctx<'_>,
        again: &mut Vec<usize>,
        f: impl FnOnce(&mut Conn, &Ctx<'_>) -> Step,
    ) {
        let step = match self.conns.get_mut(i).and_then(Option::as_mut) {
            Some(conn) => f(conn, ctx),
            None => return,
        };
        match step {
            Step::Keep => {}
            Step::Close => self.remove(i),
            Step::Yield if again.contains(&i) => {}
            Step::Yield => again.push(i),
        }
    }

    fn remove(&mut self, i: usize) {
        if self.conns.get_mut(i).and_then(Option::take).is_some() {
            self.open -= 1;
            self.free.push(i);
        }
    }
}

fn event_loop(
    mut poll: Poll,
    listener: TcpListener,
    shared: &Shared,
    source: &dyn PageSource,
    limits: Limits,
) {
    let mut events = Events::with_capacity(256);
    let mut slots = Slots {
        conns: Vec::new(),
        free: Vec::new(),
        open: 0,
    };
    let mut accept_pending = false;
    // Connections that yielded with work left; driven again next iteration.
    let mut again: Vec<usize> = Vec::new();
    let sweep_every = limits.poll_interval.min(Duration::from_millis(100));
    let mut last_sweep = Instant::now();
    loop {
        let timeout = if !again.is_empty() {
            Duration::ZERO
        } else if accept_pending {
            ACCEPT_RETRY.min(limits.poll_interval)
        } else {
            limits.poll_interval
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != ErrorKind::Interrupted {
                return; // the poller is broken: stop serving
            }
        }
        if shared.stop.load(Ordering::Acquire) {
            return; // dropping `slots` and `listener` closes every socket
        }
        let settings = shared.settings();
        let ctx = Ctx {
            settings: &settings,
            source,
            limits: &limits,
            now: Instant::now(),
        };
        let mut listener_ready = accept_pending;
        for i in std::mem::take(&mut again) {
            slots.drive(i, &ctx, &mut again, Conn::drive);
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => listener_ready = true,
                WAKER => {}
                Token(t) => slots.drive(t - FIRST_CONN, &ctx, &mut again, Conn::drive),
            }
        }
        if listener_ready {
            accept_pending = accept(&listener, &poll, &mut slots, &ctx);
        }
        if ctx.now.duration_since(last_sweep) >= sweep_every {
            last_sweep = ctx.now;
            for i in 0..slots.conns.len() {
                slots.drive(i, &ctx, &mut again, Conn::check_timeout);
            }
        }
    }
}

/// Accept waiting connections. Returns whether accepting should be retried
/// soon without a new readiness event (batch used up, or out of descriptors).
fn accept(listener: &TcpListener, poll: &Poll, slots: &mut Slots, ctx: &Ctx<'_>) -> bool {
    for _ in 0..ACCEPT_BATCH {
        match listener.accept() {
            Ok((stream, _peer)) => {
                if slots.open >= ctx.limits.max_connections {
                    continue; // over the limit: closed at once by dropping it
                }
                let _ = stream.set_nodelay(true);
                let i = slots.insert(Conn::new(stream, ctx));
                let registered = match slots.conns[i].as_mut() {
                    Some(conn) => conn
                        .register(poll.registry(), Token(FIRST_CONN + i))
                        .is_ok(),
                    None => false,
                };
                if !registered {
                    slots.remove(i);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                ) => {}
            // EMFILE, ENFILE, ENOBUFS...: the connection stays queued; retry shortly.
            Err(_) => return true,
        }
    }
    true
}
