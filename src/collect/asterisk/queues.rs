//! app_queue callers: waiting callers per queue, joins, abandons, and the wait from join to leave.
//!
//! app_queue publishes an abandon and then a leave for the same caller; whichever comes first ends the wait, the
//! other finds nothing to end, so a caller is never taken off the gauge twice.

use crate::registry::metric::{Buckets, Counter, Gauge, Histogram};
use crate::registry::{tuple_map, Collect, Family, LabelKey, LabelRef, SeriesCap, TupleMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Waiting callers tracked at once.
const MAX_WAITING: usize = 100_000;

/// Queue families and the callers currently waiting.
pub struct QueueModel {
    waiting: TupleMap<i64>,
    /// Joins not tracked because `MAX_WAITING` callers were already waiting.
    untracked: AtomicU64,
    pub(crate) callers: Family<Gauge>,
    pub(crate) joined: Family<Counter>,
    pub(crate) abandoned: Family<Counter>,
    pub(crate) wait: Family<Histogram>,
}

impl QueueModel {
    /// Empty families.
    pub fn new(cap: &Arc<SeriesCap>, wait: Buckets) -> Self {
        let q = &["queue"];
        QueueModel {
            untracked: AtomicU64::new(0),
            waiting: tuple_map(),
            callers: Family::new(
                "asterisk_queue_callers",
                "Callers waiting in the queue.",
                q,
                (),
                cap.clone(),
            ),
            joined: Family::new(
                "asterisk_queue_callers_joined_total",
                "Callers that joined the queue.",
                q,
                (),
                cap.clone(),
            ),
            abandoned: Family::new(
                "asterisk_queue_callers_abandoned_total",
                "Callers that hung up while waiting in the queue.",
                q,
                (),
                cap.clone(),
            ),
            wait: Family::new(
                "asterisk_queue_wait_seconds",
                "Time callers waited, from join to leave.",
                q,
                wait,
                cap.clone(),
            ),
        }
    }

    fn end_wait(&self, queue: &str, uniqueid: &str, ts_us: i64) {
        if let Some(joined_us) = self.waiting.pin().remove(&LabelRef(&[queue, uniqueid])) {
            self.callers.with(&[queue], |g| g.add(-1.0));
            if ts_us >= *joined_us {
                self.wait
                    .with(&[queue], |h| h.observe((ts_us - joined_us) as f64 / 1e6));
            }
        }
    }

    /// Callers whose join was not tracked because the waiting table was full (they are missing from
    /// `asterisk_queue_callers` and `asterisk_queue_wait_seconds`).
    pub fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    /// 0 join, 1 leave, 2 abandon.
    pub fn caller(&self, queue: &str, uniqueid: &str, kind: i32, ts_us: i64) -> Result<(), String> {
        match kind {
            0 => {
                self.joined.with(&[queue], |c| c.inc());
                let w = self.waiting.pin();
                if w.len() >= MAX_WAITING {
                    if !w.contains_key(&LabelRef(&[queue, uniqueid])) {
                        self.untracked.fetch_add(1, Ordering::Relaxed);
                    }
                } else if w
                    .try_insert(LabelKey::new(&[queue, uniqueid]), ts_us)
                    .is_ok()
                {
                    self.callers.with(&[queue], |g| g.add(1.0));
                }
            }
            1 => self.end_wait(queue, uniqueid, ts_us),
            2 => {
                self.abandoned.with(&[queue], |c| c.inc());
                self.end_wait(queue, uniqueid, ts_us);
            }
            _ => {
                return Err(format!(
                    "queue caller event kind {kind} is not 0 (join), 1 (leave) or 2 (abandon)"
                ))
            }
        }
        Ok(())
    }

    /// The families, in page order.
    pub fn families(&self) -> [&dyn Collect; 4] {
        [&self.callers, &self.joined, &self.abandoned, &self.wait]
    }
}
