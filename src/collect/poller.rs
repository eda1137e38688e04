//! Pollers and the runner they share: one thread per enabled poller (on [`Worker`]), a poll every interval, a
//! complete reading published per success, the families taken off the page while the source fails, retries that
//! back off from 1 s to the interval, and one log line per change of situation (not one per poll).

use super::health::{CollectorHealth, HealthRow};
use crate::clock::secs;
use crate::config::Config;
use crate::log::{log, Level};
use crate::registry::Collect;
use crate::status::numbers::Numbers;
use crate::sync::lock;
use crate::worker::{Stop, Worker};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// First retry delay after a failure; doubled after each further failure up to the poll interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// What every poller shares with the runner and the page: its health, whether it is configured, its status line.
pub struct PollerState {
    health: Arc<CollectorHealth>,
    label: &'static str,
    families: &'static str,
    enabled: AtomicBool,
    status: Mutex<String>,
}

impl PollerState {
    /// `name` labels `prom_rs_collector_*` and names the thread; `label` starts its log and status lines
    /// ("ViciDial reader"); `families` names what leaves the page while it is down ("vicidial_*").
    pub fn new(name: &'static str, label: &'static str, families: &'static str) -> PollerState {
        PollerState {
            health: CollectorHealth::new(name),
            label,
            families,
            enabled: AtomicBool::new(false),
            status: Mutex::new("not started".into()),
        }
    }

    /// The collector name.
    pub fn name(&self) -> &'static str {
        self.health.name()
    }

    /// The health the runner records.
    pub fn health(&self) -> &CollectorHealth {
        &self.health
    }

    /// True while the configuration enables the poller.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    fn set_status(&self, text: String) {
        *lock(&self.status) = text;
    }

    /// The page's row, while the poller is enabled.
    pub fn row(&self) -> Option<HealthRow> {
        self.is_enabled().then(|| self.health.row())
    }

    /// One line for the host's status command (`None` while the poller is not enabled).
    pub fn status_line(&self) -> Option<String> {
        self.is_enabled()
            .then(|| format!("{:<18}{}", format!("{}:", self.label), lock(&self.status)))
    }
}

/// What a poller makes of a configuration.
pub enum Plan {
    /// The configuration disables it.
    Off,
    /// Its thread may go on as it is (none of its own settings changed).
    Keep,
    /// (Re)start its thread with this session.
    Start(Box<dyn Session>),
}

/// A good poll.
pub struct Polled {
    /// Status text after "up, " (where it reads from, what it found).
    pub status: String,
    /// What the source says it is (a server version), for the "connected" line.
    pub detail: String,
    /// Warnings to log once per (re)connection.
    pub notes: Vec<String>,
}

/// A failed poll.
pub enum PollError {
    /// The poll stopped early because the thread is being stopped (not a failure of the source).
    Stopped,
    /// The source failed. `situation` is compared with the previous failure's: the operator is told once per
    /// change of situation. `message` is for the log and the status line and never holds a secret.
    Failed {
        /// A short key for the kind of failure (`unreachable`, `schema:vicidial_live_agents`, ...).
        situation: String,
        /// What went wrong and what to do about it.
        message: String,
    },
}

/// One run of a poller's thread, made from the settings in force when it started.
pub trait Session: Send + 'static {
    /// Who or what it reads, for log lines: `exporter@127.0.0.1:3306/asterisk` (never a secret).
    fn who(&self) -> String;
    /// Time between the starts of two polls.
    fn interval(&self) -> Duration;
    /// Reads the source once and publishes a complete reading; returns early with [`PollError::Stopped`] when
    /// `stop` is set.
    fn poll(&mut self, stop: &Stop) -> Result<Polled, PollError>;
    /// Forgets the connection after a failure (a broken exchange leaves it out of sync) and when the thread ends.
    fn reset(&mut self);
}

/// A source read by a thread of ours. The object lives as long as the core and holds what the page shows; each run
/// of its thread is a [`Session`].
pub trait Poller: Send + Sync + 'static {
    /// Health, status line and the enabled flag.
    fn state(&self) -> &PollerState;
    /// Takes a configuration (start or reload); settings that need no restart (the cardinality cap) apply here.
    fn configure(&self, cfg: &Config) -> Plan;
    /// Calls `f` with each family of the latest reading.
    fn visit(&self, f: &mut dyn FnMut(&dyn Collect));
    /// Takes the latest reading off the page (source down, or thread stopped).
    fn clear(&self);
    /// Adds what the status page shows of this source.
    fn fill_status(&self, _n: &mut Numbers) {}
}

/// One poller and its thread, as the core holds them.
pub struct PollerSlot {
    poller: Arc<dyn Poller>,
    worker: Option<Worker>,
}

impl PollerSlot {
    /// A slot with no thread yet.
    pub fn new(poller: Arc<dyn Poller>) -> PollerSlot {
        PollerSlot {
            poller,
            worker: None,
        }
    }

    /// Applies `cfg`: starts, restarts or stops the thread as the poller's plan says. A thread that cannot be
    /// spawned is logged and the poller shows down; the rest of the core runs on.
    pub fn configure(&mut self, cfg: &Config) {
        match self.poller.configure(cfg) {
            Plan::Keep => {}
            Plan::Off => {
                self.stop();
                self.poller.state().enabled.store(false, Ordering::Relaxed);
                self.poller.clear();
            }
            Plan::Start(session) => {
                self.stop();
                self.start(session);
            }
        }
    }

    fn start(&mut self, session: Box<dyn Session>) {
        let st = self.poller.state();
        st.enabled.store(true, Ordering::Relaxed);
        st.set_status(format!("connecting to {}", session.who()));
        let (p, on_panic) = (self.poller.clone(), self.poller.clone());
        let spawned = Worker::spawn(
            st.name(),
            move |stop| run(&*p, session, stop),
            move || {
                on_panic.state().health.failure();
                on_panic.clear();
                on_panic
                    .state()
                    .set_status("stopped after an internal error (see the log)".into());
            },
        );
        match spawned {
            Ok(w) => self.worker = Some(w),
            Err(e) => {
                st.health.failure();
                log(
                    Level::Error,
                    &format!("{}: cannot start its thread: {e}", st.label),
                );
            }
        }
    }

    /// Stops and joins the thread, if one runs; a poll in progress ends within its own timeouts.
    pub fn stop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.stop();
        }
    }
}

/// What the operator was last told.
#[derive(PartialEq)]
enum Told {
    Nothing,
    Up,
    Down(String),
}

fn run(p: &dyn Poller, mut session: Box<dyn Session>, stop: &Stop) {
    let st = p.state();
    let (who, interval, label) = (session.who(), session.interval(), st.label);
    let mut told = Told::Nothing;
    let mut retry = FIRST_RETRY.min(interval);
    while !stop.is_set() {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| session.poll(stop))).unwrap_or_else(|_| {
            Err(PollError::Failed {
                situation: "panic".into(),
                message: "polling failed: internal error (panic, see the log)".into(),
            })
        });
        let took = started.elapsed();
        st.health.set_duration(took.as_secs_f64());
        let next = match outcome {
            Ok(polled) => {
                st.health.success();
                if told != Told::Up {
                    let again = if told == Told::Nothing { "" } else { " again" };
                    log(
                        Level::Notice,
                        &format!(
                            "{label} ({who}): connected{again} ({}); polling every {}",
                            polled.detail,
                            secs(interval)
                        ),
                    );
                    for note in &polled.notes {
                        log(Level::Warning, &format!("{label} ({who}): {note}"));
                    }
                    told = Told::Up;
                }
                retry = FIRST_RETRY.min(interval);
                st.set_status(format!(
                    "up, {}, last poll took {}",
                    polled.status,
                    secs(took)
                ));
                started + interval
            }
            Err(PollError::Stopped) => break,
            Err(PollError::Failed { situation, message }) => {
                session.reset();
                p.clear();
                st.health.failure();
                let wait = retry;
                retry = (retry * 2).min(interval);
                if !matches!(&told, Told::Down(s) if *s == situation) {
                    log(
                        Level::Error,
                        &format!(
                            "{label} ({who}): {message}; {} metrics are off the page until it recovers; retrying in {}, backing off to every {}",
                            st.families,
                            secs(wait),
                            secs(interval)
                        ),
                    );
                    told = Told::Down(situation);
                }
                st.set_status(format!("DOWN: {message}"));
                Instant::now() + wait
            }
        };
        if stop.sleep_until(next) {
            break;
        }
    }
    session.reset();
    p.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A poller whose polls succeed or fail as `fail_from` says, counting polls and clears.
    struct Fake {
        state: PollerState,
        polls: Arc<AtomicUsize>,
        clears: AtomicUsize,
        fail_from: usize,
    }

    struct FakeSession {
        polls: Arc<AtomicUsize>,
        fail_from: usize,
    }

    impl Session for FakeSession {
        fn who(&self) -> String {
            "fake@loopback".into()
        }
        fn interval(&self) -> Duration {
            Duration::from_millis(20)
        }
        fn poll(&mut self, _stop: &Stop) -> Result<Polled, PollError> {
            let n = self.polls.fetch_add(1, Ordering::SeqCst);
            if n >= self.fail_from {
                return Err(PollError::Failed {
                    situation: "down".into(),
                    message: "source gone".into(),
                });
            }
            Ok(Polled {
                status: format!("poll {n}"),
                detail: "v1".into(),
                notes: Vec::new(),
            })
        }
        fn reset(&mut self) {}
    }

    impl Poller for Fake {
        fn state(&self) -> &PollerState {
            &self.state
        }
        fn configure(&self, cfg: &Config) -> Plan {
            if !cfg.enabled {
                return Plan::Off;
            }
            Plan::Start(Box::new(FakeSession {
                polls: self.polls.clone(),
                fail_from: self.fail_from,
            }))
        }
        fn visit(&self, _f: &mut dyn FnMut(&dyn Collect)) {}
        fn clear(&self) {
            self.clears.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wait_for(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn fake(fail_from: usize) -> Arc<Fake> {
        Arc::new(Fake {
            state: PollerState::new("fake", "Fake reader", "fake_*"),
            polls: Arc::default(),
            clears: AtomicUsize::new(0),
            fail_from,
        })
    }

    #[test]
    fn a_poller_gets_health_duration_and_status_from_the_runner() {
        let p = fake(3);
        let mut slot = PollerSlot::new(p.clone());
        assert_eq!(p.state().row(), None, "not enabled before a configuration");
        slot.configure(&Config::default());
        wait_for("a success", || p.state().health().is_up());
        let row = p.state().row().expect("enabled");
        assert!(row.last_success > 0.0 && row.duration.is_some());
        assert!(p
            .state()
            .status_line()
            .unwrap()
            .starts_with("Fake reader:      up, poll"));
        // From the fourth poll on the source fails: down, its families cleared, the status says why.
        wait_for("a failure", || !p.state().health().is_up());
        assert!(p.clears.load(Ordering::SeqCst) >= 1);
        wait_for("the DOWN status", || {
            p.state()
                .status_line()
                .unwrap()
                .contains("DOWN: source gone")
        });
        // Retries go on (backing off from the 20 ms interval), and stop joins the thread.
        let before = p.polls.load(Ordering::SeqCst);
        wait_for("a retry", || p.polls.load(Ordering::SeqCst) > before);
        slot.stop();
        let after = p.polls.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(p.polls.load(Ordering::SeqCst), after, "no poll after stop");
    }

    #[test]
    fn a_configuration_that_disables_it_takes_it_off_the_page() {
        let p = fake(usize::MAX);
        let mut slot = PollerSlot::new(p.clone());
        slot.configure(&Config::default());
        wait_for("a success", || p.state().health().is_up());
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        slot.configure(&off);
        assert_eq!(p.state().row(), None);
        assert_eq!(p.state().status_line(), None);
        let polls = p.polls.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(p.polls.load(Ordering::SeqCst), polls, "its thread stopped");
    }
}
