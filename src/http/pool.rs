//! Work done off the event loop: rendering pages and verifying bcrypt passwords, with single flight.
//!
//! Three lanes, one thread each, so that no kind of work waits behind another: full pages (`prom_rs-render`, the
//! expensive ones), partial pages (`collect[]`) and the landing page (`prom_rs-render` too), and bcrypt
//! verifications (`prom_rs-auth`). Requests for the same page (same format, `collect[]` list and encoding) that
//! arrive while it is queued or rendering join that flight: one render, one compressed copy, and every waiting
//! connection sends the same bytes by reference. The event loop learns of finished work through its waker.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use mio::Waker;

use super::auth::Verification;
use super::response::{gzip, Response};
use super::PageSource;
use crate::registry::Format;

/// Verifications waiting beyond this are refused with 503, so a flood of made-up passwords is bounded.
const MAX_QUEUED_VERIFICATIONS: usize = 8;
/// Distinct pages waiting to be rendered, per lane; beyond it a request gets 503.
const MAX_QUEUED_PAGES: usize = 64;

/// A piece of work.
pub(crate) enum Job {
    /// The metrics page.
    Metrics {
        /// Exposition format.
        format: Format,
        /// `collect[]` values; empty: every family.
        collect: Vec<String>,
        /// Send it gzip-compressed.
        gzip: bool,
    },
    /// The landing page.
    Landing,
    /// A bcrypt verification.
    Verify(Verification),
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Metrics(Format, Vec<String>, bool),
    Landing,
    Verify([u8; 32]),
}

impl Job {
    fn key(&self) -> Key {
        match self {
            Job::Metrics {
                format,
                collect,
                gzip,
            } => Key::Metrics(*format, collect.clone(), *gzip),
            Job::Landing => Key::Landing,
            Job::Verify(v) => Key::Verify(v.key),
        }
    }

    fn lane(&self) -> usize {
        match self {
            Job::Metrics { collect, .. } if collect.is_empty() => 0,
            Job::Metrics { .. } | Job::Landing => 1,
            Job::Verify(_) => 2,
        }
    }
}

const LANES: usize = 3;
const LANE_NAMES: [&str; LANES] = ["prom_rs-render", "prom_rs-render", "prom_rs-auth"];

/// What a finished flight produced.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// A page; `None` when rendering panicked (answered 500).
    Page(Option<Response>),
    /// A verification ran: check the credentials again (the cache now knows them).
    Verified,
}

/// A finished flight and the connection slots that waited for it.
pub(crate) struct Done {
    /// Flight id, matched against the id a connection waits for (slots are reused).
    pub id: u64,
    /// Slots of the waiting connections.
    pub waiters: Vec<usize>,
    /// The result.
    pub outcome: Outcome,
}

struct Flight {
    id: u64,
    waiters: Vec<usize>,
    job: Option<Job>,
}

#[derive(Default)]
struct State {
    flights: HashMap<Key, Flight>,
    queues: [VecDeque<Key>; LANES],
    done: Vec<Done>,
    next_id: u64,
}

/// Shared between the event loop and the lane threads.
pub(crate) struct Pool {
    state: Mutex<State>,
    ready: [Condvar; LANES],
    stop: AtomicBool,
    waker: Arc<Waker>,
    source: Arc<dyn PageSource>,
}

/// The pool was too busy to take the job.
#[derive(Debug)]
pub(crate) struct Busy;

impl Pool {
    /// Start the lane threads.
    pub fn start(
        source: Arc<dyn PageSource>,
        waker: Arc<Waker>,
    ) -> std::io::Result<(Arc<Pool>, Vec<JoinHandle<()>>)> {
        let pool = Arc::new(Pool {
            state: Mutex::default(),
            ready: Default::default(),
            stop: AtomicBool::new(false),
            waker,
            source,
        });
        let mut threads = Vec::new();
        for (lane, name) in LANE_NAMES.iter().enumerate() {
            let p = Arc::clone(&pool);
            let spawned = std::thread::Builder::new()
                .name((*name).to_string())
                .spawn(move || {
                    let _ = catch_unwind(AssertUnwindSafe(|| p.run(lane)));
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    pool.stop_and_join(threads);
                    return Err(e);
                }
            }
        }
        Ok((pool, threads))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ask for `job` on behalf of connection `slot`; returns the flight id to wait for.
    pub fn submit(&self, job: Job, slot: usize) -> Result<u64, Busy> {
        let key = job.key();
        let lane = job.lane();
        let mut st = self.lock();
        if let Some(f) = st.flights.get_mut(&key) {
            f.waiters.push(slot);
            return Ok(f.id);
        }
        let limit = if lane == 2 {
            MAX_QUEUED_VERIFICATIONS
        } else {
            MAX_QUEUED_PAGES
        };
        if st.queues[lane].len() >= limit {
            return Err(Busy);
        }
        st.next_id += 1;
        let id = st.next_id;
        st.flights.insert(
            key.clone(),
            Flight {
                id,
                waiters: vec![slot],
                job: Some(job),
            },
        );
        st.queues[lane].push_back(key);
        drop(st);
        self.ready[lane].notify_one();
        Ok(id)
    }

    /// Finished flights since the last call.
    pub fn take_done(&self) -> Vec<Done> {
        std::mem::take(&mut self.lock().done)
    }

    fn run(&self, lane: usize) {
        loop {
            let (key, job) = {
                let mut st = self.lock();
                loop {
                    if self.stop.load(Ordering::Acquire) {
                        return;
                    }
                    if let Some(key) = st.queues[lane].pop_front() {
                        let job = st.flights.get_mut(&key).and_then(|f| f.job.take());
                        if let Some(job) = job {
                            break (key, job);
                        }
                        continue;
                    }
                    st = self.ready[lane]
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            // New requests for this page still join the flight while it renders.
            let outcome = self.work(job);
            let mut st = self.lock();
            if let Some(f) = st.flights.remove(&key) {
                st.done.push(Done {
                    id: f.id,
                    waiters: f.waiters,
                    outcome,
                });
            }
            drop(st);
            // If waking fails the event loop still collects this within one poll interval.
            let _ = self.waker.wake();
        }
    }

    fn work(&self, job: Job) -> Outcome {
        let source = &*self.source;
        match job {
            Job::Verify(v) => {
                let _ = catch_unwind(AssertUnwindSafe(|| v.run()));
                Outcome::Verified
            }
            Job::Landing => Outcome::Page(
                catch_unwind(AssertUnwindSafe(|| {
                    Response::new(200, "text/html; charset=utf-8", source.render_landing())
                }))
                .ok(),
            ),
            Job::Metrics {
                format,
                collect,
                gzip: gz,
            } => Outcome::Page(
                catch_unwind(AssertUnwindSafe(|| {
                    let start = Instant::now();
                    let page = source.render_metrics(format, &collect);
                    let body = if gz { gzip(&page) } else { page };
                    source.record_scrape(start.elapsed().as_secs_f64());
                    let r = Response::new(200, format.content_type(), body)
                        .with("Vary", "Accept-Encoding");
                    if gz {
                        r.with("Content-Encoding", "gzip")
                    } else {
                        r
                    }
                }))
                .ok(),
            ),
        }
    }

    /// Stop the lanes (a render in progress finishes first) and join them.
    pub fn stop_and_join(&self, threads: Vec<JoinHandle<()>>) {
        self.stop.store(true, Ordering::Release);
        {
            // Taking the lock orders the flag before any waiter's next check.
            let _st = self.lock();
            for cv in &self.ready {
                cv.notify_all();
            }
        }
        for t in threads {
            let _ = t.join();
        }
    }
}
