//! The server handle and its single event-loop thread.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use super::conn::{Conn, Ctx, Step};
use super::pool::Pool;
use super::tls::Transport;
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
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    pool: Arc<Pool>,
    pool_threads: Vec<JoinHandle<()>>,
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
    /// and its pool threads (two `prom_rs-render`, one `prom_rs-auth`) with
    /// the production [`Limits`].
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
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(HttpError::Spawn)?);
        let (pool, pool_threads) =
            Pool::start(Arc::clone(&source), Arc::clone(&waker)).map_err(HttpError::Spawn)?;
        let shared = Arc::new(Shared {
            settings: Mutex::new(Arc::new(settings)),
            stop: AtomicBool::new(false),
            running: AtomicBool::new(true),
        });
        let thread_shared = Arc::clone(&shared);
        let thread_pool = Arc::clone(&pool);
        let spawned = std::thread::Builder::new()
            .name(THREAD_NAME.to_string())
            .spawn(move || {
                let shared = thread_shared;
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    event_loop(poll, listener, &shared, &*source, &thread_pool, limits);
                }));
                shared.running.store(false, Ordering::Release);
                // Dropping a panic payload could itself panic; keep that in here too.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(outcome)));
            });
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                pool.stop_and_join(pool_threads);
                return Err(HttpError::Spawn(e));
            }
        };
        Ok(HttpServer {
            shared,
            waker,
            thread: Some(thread),
            pool,
            pool_threads,
            local_addr,
        })
    }

    /// Replace the metrics path, credentials, access list and TLS setup
    /// (renewed certificates); credentials and path take effect for the next
    /// request, the access list and TLS setup for the next connection.
    /// `settings.bind` is ignored: a new address needs a new server.
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
    /// listener, and join the thread and the pool threads (a render in
    /// progress finishes first). Once this returns no code of the server
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
            self.pool
                .stop_and_join(std::mem::take(&mut self.pool_threads));
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Connection table: slots reused through a free list, with a count of connections per peer address.
struct Slots {
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    open: usize,
    per_peer: HashMap<IpAddr, usize>,
}

impl Slots {
    fn insert(&mut self, conn: Conn) -> usize {
        self.open += 1;
        *self.per_peer.entry(conn.peer()).or_default() += 1;
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
        f: impl FnOnce(&mut Conn, &Ctx<'_>, usize) -> Step,
    ) {
        let step = match self.conns.get_mut(i).and_then(Option::as_mut) {
            Some(conn) => f(conn, ctx, i),
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
        if let Some(conn) = self.conns.get_mut(i).and_then(Option::take) {
            self.open -= 1;
            self.free.push(i);
            if let Some(n) = self.per_peer.get_mut(&conn.peer()) {
                *n -= 1;
                if *n == 0 {
                    self.per_peer.remove(&conn.peer());
                }
            }
        }
    }

    fn peer_count(&self, peer: IpAddr) -> usize {
        self.per_peer.get(&peer).copied().unwrap_or(0)
    }

    /// The connection to close to make room (of `peer` only, if given): one lingering after its answer, else the
    /// one that has waited longest for a complete request head, else the longest idle kept-alive one, else the one
    /// answered longest ago (a client that does not read).
    fn victim(&self, peer: Option<IpAddr>) -> Option<usize> {
        self.conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i, c)))
            .filter(|(_, c)| peer.is_none_or(|p| c.peer() == p))
            .min_by_key(|(_, c)| c.phase())
            .map(|(i, _)| i)
    }
}

fn event_loop(
    mut poll: Poll,
    listener: TcpListener,
    shared: &Shared,
    source: &dyn PageSource,
    pool: &Pool,
    limits: Limits,
) {
    let mut events = Events::with_capacity(256);
    let mut slots = Slots {
        conns: Vec::new(),
        free: Vec::new(),
        open: 0,
        per_peer: HashMap::new(),
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
            pool,
            limits: &limits,
            now: Instant::now(),
            pressure: slots.open * 4 >= limits.max_connections * 3,
        };
        for done in pool.take_done() {
            for &i in &done.waiters {
                slots.drive(i, &ctx, &mut again, |c, ctx, me| {
                    c.deliver(done.id, &done.outcome, ctx, me)
                });
            }
        }
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
            accept_pending = accept(&listener, &poll, &mut slots, &ctx, &mut again);
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
///
/// A peer the access list refuses is closed before anything is read. A full
/// table (or a peer at its own limit) makes room by closing the connection
/// [`Slots::victim`] picks, so connections that never send a request cannot
/// keep a scraper out. A new connection is driven at once: a request already
/// sent is read before later arrivals can make room at its expense.
fn accept(
    listener: &TcpListener,
    poll: &Poll,
    slots: &mut Slots,
    ctx: &Ctx<'_>,
    again: &mut Vec<usize>,
) -> bool {
    for _ in 0..ACCEPT_BATCH {
        match listener.accept() {
            Ok((stream, addr)) => {
                let peer = match addr.ip() {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                    v4 => v4,
                };
                if !ctx.settings.acl.allows(peer) {
                    continue; // closed at once by dropping it
                }
                if slots.peer_count(peer) >= ctx.limits.max_per_peer {
                    match slots.victim(Some(peer)) {
                        Some(v) => slots.remove(v),
                        None => continue,
                    }
                }
                if slots.open >= ctx.limits.max_connections {
                    match slots.victim(None) {
                        Some(v) => slots.remove(v),
                        None => continue,
                    }
                }
                let _ = stream.set_nodelay(true);
                let Some(io) = Transport::new(stream, ctx.settings.tls.as_ref()) else {
                    continue;
                };
                let i = slots.insert(Conn::new(io, ctx.settings.tls.clone(), peer, ctx));
                let registered = match slots.conns[i].as_mut() {
                    Some(conn) => conn
                        .register(poll.registry(), Token(FIRST_CONN + i))
                        .is_ok(),
                    None => false,
                };
                if registered {
                    slots.drive(i, ctx, again, Conn::drive);
                } else {
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
