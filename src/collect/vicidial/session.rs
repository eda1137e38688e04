//! One run of the reader thread: (re)connect when needed, read everything, publish a snapshot. The shared poller
//! runner does the looping, backoff and logging.

use super::db::{target, Db, Failure};
use super::kpi_db::KpiState;
use super::snapshot::Snapshot;
use super::Published;
use crate::collect::poller::{PollError, Polled, Session};
use crate::config::VicidialConfig;
use crate::log::log;
use crate::worker::Stop;
use std::sync::Arc;
use std::time::Duration;

/// The reader with the settings it started with. A query in progress ends within `vicidial.query_timeout` (socket
/// timeout and server-side statement limit), a connection attempt within `vicidial.connect_timeout` plus
/// `query_timeout` for the handshake, so stopping the thread never waits longer.
pub(super) struct ReaderSession {
    cfg: VicidialConfig,
    published: Arc<Published>,
    db: Option<Db>,
    /// KPI groups switched off and the 30-day window's closed days, kept across polls and reconnections.
    kpi: KpiState,
}

impl ReaderSession {
    pub(super) fn new(cfg: VicidialConfig, published: Arc<Published>) -> ReaderSession {
        ReaderSession {
            cfg,
            published,
            db: None,
            kpi: KpiState::default(),
        }
    }

    /// Replaces the password in a message, whatever produced it (belt and braces: no message we build contains it).
    fn scrub(&self, msg: String) -> String {
        let password = &self.cfg.password;
        if password.len() >= 3 && msg.contains(password.as_str()) {
            msg.replace(password.as_str(), "(hidden)")
        } else {
            msg
        }
    }
}

impl Session for ReaderSession {
    fn who(&self) -> String {
        format!(
            "{}@{}/{}",
            self.cfg.user,
            target(&self.cfg),
            self.cfg.database
        )
    }

    fn interval(&self) -> Duration {
        self.cfg.interval
    }

    fn poll(&mut self, stop: &Stop) -> Result<Polled, PollError> {
        let fresh = self.db.is_none();
        let outcome = (|| {
            if self.db.is_none() {
                self.db = Some(Db::connect(&self.cfg)?);
            }
            let Some(conn) = self.db.as_mut() else {
                return Err(Failure::Stopped);
            };
            conn.read(&self.cfg, &|| stop.is_set(), &mut self.kpi)
        })();
        for (level, line) in std::mem::take(&mut self.kpi.events) {
            log(level, &format!("ViciDial reader ({}): {line}", self.who()));
        }
        let reading = match outcome {
            Ok(r) => r,
            Err(Failure::Stopped) => return Err(PollError::Stopped),
            Err(f) => {
                return Err(PollError::Failed {
                    situation: f.situation(),
                    message: self.scrub(f.to_string()),
                })
            }
        };
        let (snap, dropped) = Snapshot::build(&reading, self.published.cap());
        let series = snap.series_count();
        self.published.publish(Some(snap), &dropped);
        let db = self.db.as_ref();
        let version = db.map(|d| d.version.clone()).unwrap_or_default();
        let mut notes = Vec::new();
        if fresh && db.is_some_and(|d| !d.statement_limit) {
            notes.push("this server has no per-session statement time limit (max_statement_time / max_execution_time); only the socket timeout bounds a query".to_string());
        }
        Ok(Polled {
            status: format!("{} ({version}), {series} series", target(&self.cfg)),
            detail: version,
            notes,
        })
    }

    fn reset(&mut self) {
        self.db = None;
    }
}
