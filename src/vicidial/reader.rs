//! The reader thread: poll, publish, back off, and tell the operator once per change of situation.

use super::db::{secs, target, Db, Failure};
use super::snapshot::{Snapshot, FAMILIES};
use super::{lock, Vicidial};
use crate::config::VicidialConfig;
use crate::log::{log, Level};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Name of the thread (shown by `top -H`, gdb, `/proc/PID/task/*/comm`).
pub const THREAD_NAME: &str = "prom_rs-vicidial";

/// First retry delay after a failure; doubled after each further failure up to the poll interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Wakes the thread early when set.
#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl StopSignal {
    fn is_set(&self) -> bool {
        *lock(&self.stopped)
    }
    fn set(&self) {
        *lock(&self.stopped) = true;
        self.cv.notify_all();
    }
    /// Sleeps until `deadline`; true when woken by a stop.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stopped = lock(&self.stopped);
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .cv
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A running reader thread. [`Reader::stop`] (or dropping it) wakes and joins the thread; a query in progress ends
/// within `vicidial.query_timeout` (socket timeout and server-side statement limit), a connection attempt within
/// `vicidial.connect_timeout` plus `query_timeout` for the handshake.
pub struct Reader {
    cfg: VicidialConfig,
    signal: Arc<StopSignal>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    /// Starts the thread; it connects and polls at once, then every `cfg.interval`.
    pub fn start(cfg: VicidialConfig, state: Arc<Vicidial>) -> std::io::Result<Reader> {
        let signal = Arc::new(StopSignal::default());
        state.set_status(format!("connecting to {}", target(&cfg)));
        let thread = {
            let (cfg, signal) = (cfg.clone(), signal.clone());
            std::thread::Builder::new()
                .name(THREAD_NAME.into())
                .spawn(move || {
                    // A panic must not unwind out of a thread inside the PBX; the panic hook has logged it.
                    let state2 = state.clone();
                    if catch_unwind(AssertUnwindSafe(|| run(&cfg, &state, &signal))).is_err() {
                        state2.health().failure();
                        state2.publish(None, &[0; FAMILIES.len()]);
                        state2.set_status("stopped after an internal error (see the log)".into());
                    }
                })?
        };
        Ok(Reader {
            cfg,
            signal,
            thread: Some(thread),
        })
    }

    /// The settings this reader runs with.
    pub fn config(&self) -> &VicidialConfig {
        &self.cfg
    }

    /// Wakes the thread and waits for it.
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.signal.set();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.join();
    }
}

/// What the operator was last told.
#[derive(PartialEq)]
enum Told {
    Nothing,
    Up,
    Down(Failure),
}

/// Replaces the password in a message, whatever produced it (belt and braces: no message we build contains it).
fn scrub(msg: String, password: &str) -> String {
    if password.len() >= 3 && msg.contains(password) {
        msg.replace(password, "(hidden)")
    } else {
        msg
    }
}

/// Who the reader reads as, for log lines: `exporter@127.0.0.1:3306/asterisk` (never the password).
fn account(cfg: &VicidialConfig) -> String {
    format!("{}@{}/{}", cfg.user, target(cfg), cfg.database)
}

fn run(cfg: &VicidialConfig, state: &Vicidial, signal: &StopSignal) {
    let who = account(cfg);
    let mut db: Option<Db> = None;
    let mut told = Told::Nothing;
    let mut retry = FIRST_RETRY.min(cfg.interval);
    while !signal.is_set() {
        let started = Instant::now();
        let cap = state.cap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            poll(cfg, &mut db, signal).map(|r| Snapshot::build(&r, cap))
        }))
        .unwrap_or_else(|_| {
            Err(Failure::Other(
                "polling".into(),
                "internal error (panic, see the log)".into(),
            ))
        });
        let took = started.elapsed();
        state.health().set_duration(took.as_secs_f64());
        let next = match outcome {
            Ok((snap, dropped)) => {
                let series = snap.series_count();
                state.publish(Some(snap), &dropped);
                state.health().success();
                let version = db.as_ref().map(|d| d.version.as_str()).unwrap_or("");
                if told != Told::Up {
                    let again = if told == Told::Nothing { "" } else { " again" };
                    log(
                        Level::Notice,
                        &format!(
                            "ViciDial reader ({who}): connected{again} ({version}); polling every {}",
                            secs(cfg.interval)
                        ),
                    );
                    if db.as_ref().is_some_and(|d| !d.statement_limit) {
                        log(Level::Warning, &format!("ViciDial reader ({who}): this server has no per-session statement time limit (max_statement_time / max_execution_time); only the socket timeout bounds a query"));
                    }
                    told = Told::Up;
                }
                retry = FIRST_RETRY.min(cfg.interval);
                state.set_status(format!(
                    "up, {} ({version}), {series} series, last poll took {}",
                    target(cfg),
                    secs(took)
                ));
                started + cfg.interval
            }
            Err(Failure::Stopped) => break,
            Err(failure) => {
                // After any error the connection may be out of sync: never reuse it.
                db = None;
                state.publish(None, &[0; FAMILIES.len()]);
                state.health().failure();
                let wait = retry;
                retry = (retry * 2).min(cfg.interval);
                let msg = scrub(failure.to_string(), &cfg.password);
                let same = matches!(&told, Told::Down(f) if f.same_situation(&failure));
                if !same {
                    log(
                        Level::Error,
                        &format!(
                            "ViciDial reader ({who}): {msg}; vicidial_* metrics are off the page until it recovers; retrying in {}, backing off to every {}",
                            secs(wait),
                            secs(cfg.interval)
                        ),
                    );
                    told = Told::Down(failure);
                }
                state.set_status(format!("DOWN: {msg}"));
                Instant::now() + wait
            }
        };
        if signal.sleep_until(next) {
            break;
        }
    }
    drop(db);
    state.publish(None, &[0; FAMILIES.len()]);
}

/// One poll: (re)connect if needed, then read everything.
fn poll(
    cfg: &VicidialConfig,
    db: &mut Option<Db>,
    signal: &StopSignal,
) -> Result<super::snapshot::Reading, Failure> {
    if db.is_none() {
        *db = Some(Db::connect(cfg)?);
    }
    let Some(conn) = db.as_mut() else {
        return Err(Failure::Stopped);
    };
    conn.read(cfg, &|| signal.is_set())
}
