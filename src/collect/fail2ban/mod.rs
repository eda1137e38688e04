//! The fail2ban poller: bans and failures per jail read from fail2ban-server over its control socket, in process.
//!
//! With `fail2ban.enabled = yes` a thread (`prom_rs-fail2ban`) connects to `fail2ban.socket` every
//! `fail2ban.interval` and asks what `fail2ban-client status` and `fail2ban-client status JAIL` ask, in the same
//! protocol ([`client`]), on one connection per poll: no fork, no text parsing. The scrape renders the latest complete
//! reading and never waits on the socket.
//!
//! While the server is down or the socket cannot be used, the `fail2ban_*` families are left off the page and
//! `prom_rs_collector_up{collector="fail2ban"}` is 0; the shared poller runner logs one line per change of situation
//! and backs off.

pub mod client;
pub mod reading;

use super::poller::{Plan, PollError, Polled, Poller, PollerState, Session};
use crate::config::{Config, Fail2banConfig};
use crate::registry::Collect;
use crate::sync::lock;
use crate::worker::Stop;
use client::{printable, Conn, Failure};
use reading::{FamilyView, JailStatus, Reading, Snapshot, FAMILIES};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Name of the collector on `prom_rs_collector_*`.
pub const COLLECTOR: &str = "fail2ban";

/// Longest a poll may take (connect and every answer), or the interval when that is shorter.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the poller thread publishes and the scrape reads.
struct Published {
    latest: Mutex<Option<Arc<Snapshot>>>,
    dropped: [AtomicU64; FAMILIES.len()],
    cap: AtomicUsize,
}

impl Published {
    fn publish(&self, snap: Option<Snapshot>, dropped: &[u64; FAMILIES.len()]) {
        for (c, d) in self.dropped.iter().zip(dropped) {
            c.fetch_add(*d, Ordering::Relaxed);
        }
        let old = std::mem::replace(&mut *lock(&self.latest), snap.map(Arc::new));
        drop(old);
    }
}

/// The fail2ban poller: lives as long as the core, across restarts of its thread on reload.
pub struct Fail2ban {
    state: PollerState,
    published: Arc<Published>,
    running: Mutex<Option<Fail2banConfig>>,
}

impl Fail2ban {
    /// No thread yet; series per family capped at `cap`.
    pub fn new(cap: usize) -> Fail2ban {
        Fail2ban {
            state: PollerState::new(COLLECTOR, "fail2ban poller", "fail2ban_*"),
            published: Arc::new(Published {
                latest: Mutex::new(None),
                dropped: std::array::from_fn(|_| AtomicU64::new(0)),
                cap: AtomicUsize::new(cap),
            }),
            running: Mutex::new(None),
        }
    }

    fn latest(&self) -> Option<Arc<Snapshot>> {
        lock(&self.published.latest).clone()
    }
}

impl Poller for Fail2ban {
    fn state(&self) -> &PollerState {
        &self.state
    }

    fn configure(&self, cfg: &Config) -> Plan {
        self.published
            .cap
            .store(cfg.max_series_per_family, Ordering::Relaxed);
        let mut running = lock(&self.running);
        let wanted = cfg.fail2ban.enabled.then(|| cfg.fail2ban.clone());
        if *running == wanted {
            return Plan::Keep;
        }
        *running = wanted.clone();
        match wanted {
            None => Plan::Off,
            Some(fc) => Plan::Start(Box::new(PollSession {
                cfg: fc,
                published: self.published.clone(),
            })),
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&dyn Collect)) {
        let snap = self.latest();
        for (i, def) in FAMILIES.iter().enumerate() {
            let rows = snap.as_ref().map_or(&[][..], |s| &s.rows[i][..]);
            f(&FamilyView {
                def,
                rows,
                dropped: self.published.dropped[i].load(Ordering::Relaxed),
            });
        }
    }

    fn clear(&self) {
        self.published.publish(None, &[0; FAMILIES.len()]);
    }
}

/// One run of the poller thread, with the settings it started with.
struct PollSession {
    cfg: Fail2banConfig,
    published: Arc<Published>,
}

impl PollSession {
    /// Asks the server everything on one connection.
    /// Returns the reading, how many jails were asked about, and notes for the log.
    fn read(&self, stop: &Stop) -> Result<(Reading, usize, Vec<String>), Failure> {
        let mut conn = Conn::connect(&self.cfg.socket, POLL_TIMEOUT.min(self.cfg.interval), stop)?;
        let version = match conn.command(&["version"], stop)? {
            serde_pickle::Value::String(v) => printable(&v),
            _ => return Err(Failure::Protocol("version".into(), "is not text".into())),
        };
        let status = conn.command(&["status"], stop)?;
        let (running, names) =
            reading::jail_list(&status).map_err(|e| Failure::Protocol("status".into(), e))?;
        let mut notes = Vec::new();
        let selected: Vec<&str> = if self.cfg.jails.is_empty() {
            names.iter().map(String::as_str).collect()
        } else {
            for want in &self.cfg.jails {
                if !names.contains(want) {
                    notes.push(format!(
                        "fail2ban.jails names \"{want}\", which this server does not run (it runs: {})",
                        printable(&names.join(", "))
                    ));
                }
            }
            self.cfg
                .jails
                .iter()
                .filter(|w| names.contains(w))
                .map(String::as_str)
                .collect()
        };
        let short = reading::knows_short_status(&version);
        // Past the cap a jail would be dropped anyway: it is not asked about (its series are counted as dropped).
        let cap = self.published.cap.load(Ordering::Relaxed);
        let mut jails: Vec<JailStatus> = Vec::new();
        let mut skipped = Vec::new();
        let mut sorted = selected.clone();
        sorted.sort_unstable();
        for (i, name) in sorted.iter().enumerate() {
            if i >= cap {
                skipped.push(JailStatus {
                    name: name.to_string(),
                    ..JailStatus::default()
                });
                continue;
            }
            let mut args = vec!["status", name];
            if short {
                args.push("short");
            }
            match conn.command(&args, stop) {
                Ok(v) => jails.push(
                    reading::jail_status(name, &v)
                        .map_err(|e| Failure::Protocol(printable(&args.join(" ")), e))?,
                ),
                // Stopped between the two commands (a reload of fail2ban): gone from this reading.
                Err(Failure::Refusal(..)) => {}
                Err(e) => return Err(e),
            }
        }
        conn.close();
        let polled = jails.len();
        jails.extend(skipped);
        Ok((
            Reading {
                version,
                jails_running: running,
                jails,
            },
            polled,
            notes,
        ))
    }
}

impl Session for PollSession {
    fn who(&self) -> String {
        self.cfg.socket.display().to_string()
    }

    fn interval(&self) -> Duration {
        self.cfg.interval
    }

    fn poll(&mut self, stop: &Stop) -> Result<Polled, PollError> {
        let (reading, polled, notes) = match self.read(stop) {
            Ok(r) => r,
            Err(Failure::Stopped) => return Err(PollError::Stopped),
            Err(f) => {
                return Err(PollError::Failed {
                    situation: f.situation(),
                    message: f.to_string(),
                })
            }
        };
        let cap = self.published.cap.load(Ordering::Relaxed);
        let (snap, dropped) = Snapshot::build(&reading, cap);
        let banned: u64 = reading.jails.iter().map(|j| j.currently_banned).sum();
        let series = snap.series_count();
        self.published.publish(Some(snap), &dropped);
        Ok(Polled {
            status: format!(
                "fail2ban {}, {polled} jails polled, {banned} addresses banned, {series} series",
                reading.version
            ),
            detail: format!("fail2ban {}", reading.version),
            notes,
        })
    }

    fn reset(&mut self) {}
}
