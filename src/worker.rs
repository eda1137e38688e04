//! The one way the core runs a thread of its own: named, panic-contained, stoppable, and joined before `stop`
//! returns (the host unmaps our code right after unload, so no thread may outlive the call that stops it).
//!
//! Pollers, the status page's history sampler and the trace writer all run on a [`Worker`]; none of them writes its
//! own stop flag or join.

use crate::log::{log, Level};
use crate::sync::lock;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The stop request a worker's body watches: a flag and a condition variable, so a sleeping body wakes at once.
#[derive(Default)]
pub struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// True once the worker has been asked to stop.
    pub fn is_set(&self) -> bool {
        *lock(&self.stopped)
    }

    fn set(&self) {
        *lock(&self.stopped) = true;
        self.cv.notify_all();
    }

    /// Sleeps until `deadline`; true when woken by a stop request (then the body should return).
    pub fn sleep_until(&self, deadline: Instant) -> bool {
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

    /// Sleeps for `d`; true when woken by a stop request.
    pub fn sleep(&self, d: Duration) -> bool {
        self.sleep_until(Instant::now() + d)
    }
}

/// A running thread of the core. [`Worker::stop`] (or dropping it) asks the body to stop and joins the thread.
pub struct Worker {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Spawns `body` on a thread named `prom_rs-<name>`. A panic in the body is contained (the panic hook has sent
    /// its message to the host's log); `on_panic` then runs on the same thread, so the owner can mark itself down.
    pub fn spawn(
        name: &str,
        body: impl FnOnce(&Stop) + Send + 'static,
        on_panic: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Worker> {
        let stop = Arc::new(Stop::default());
        let thread_stop = stop.clone();
        let thread_name = format!("prom_rs-{name}");
        let what = thread_name.clone();
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                if catch_unwind(AssertUnwindSafe(|| body(&thread_stop))).is_err() {
                    log(
                        Level::Error,
                        &format!("thread {what} stopped after an internal error"),
                    );
                    let _ = catch_unwind(AssertUnwindSafe(on_panic));
                }
            })?;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }

    /// Asks the body to stop and waits for the thread to end.
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.stop.set();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn stop_wakes_a_sleeping_body_and_joins() {
        let w = Worker::spawn(
            "test-sleep",
            |s| while !s.sleep(Duration::from_secs(60)) {},
            || {},
        )
        .unwrap();
        let t = Instant::now();
        w.stop();
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_panicking_body_runs_on_panic_and_is_joined() {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let w = Worker::spawn(
            "test-panic",
            |_| panic!("boom"),
            move || f.store(true, Ordering::SeqCst),
        )
        .unwrap();
        w.stop();
        assert!(flag.load(Ordering::SeqCst));
    }
}
