//! The last minutes of the headline numbers, for the status page's charts: a small ring buffer filled every few
//! seconds by its own thread (joined on stop like every other thread of the core).

use super::numbers::Numbers;
use crate::clock::unix_now;
use crate::sync::lock;
use crate::worker::Worker;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Seconds between two points.
pub const STEP: Duration = Duration::from_secs(5);
/// Points kept: ten minutes.
pub const POINTS: usize = 120;

/// One point of every chart.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// Unix time.
    pub t: f64,
    /// Live channels.
    pub channels: f64,
    /// Active calls (the host's count, or channels when the host does not sample).
    pub calls: f64,
    /// Channels created since start (cumulative; the chart shows its rate).
    pub created: f64,
    /// Endpoints down.
    pub endpoints_down: f64,
    /// Callers waiting in queues.
    pub queue_waiting: f64,
    /// ViciDial agents in a call.
    pub agents_incall: f64,
    /// ViciDial agents waiting for a call.
    pub agents_waiting: f64,
}

impl Point {
    /// A point from a reading.
    pub fn from_numbers(n: &Numbers, t: f64) -> Point {
        Point {
            t,
            channels: n.channels(),
            calls: n.active_calls.unwrap_or_else(|| n.channels()),
            created: n.channels_created as f64,
            endpoints_down: n.endpoints_down.len() as f64,
            queue_waiting: n.queue_waiting(),
            agents_incall: n.agents(&["INCALL"]) as f64,
            agents_waiting: n.agents(&["READY", "CLOSER"]) as f64,
        }
    }
}

/// The ring buffer.
#[derive(Debug, Default)]
pub struct History {
    points: Mutex<VecDeque<Point>>,
}

impl History {
    /// Appends a point, dropping the oldest beyond [`POINTS`].
    pub fn push(&self, p: Point) {
        let mut v = lock(&self.points);
        if v.len() == POINTS {
            v.pop_front();
        }
        v.push_back(p);
    }
    /// The points, oldest first.
    pub fn points(&self) -> Vec<Point> {
        lock(&self.points).iter().copied().collect()
    }
}

/// Starts the thread that samples `read()` into `history` every [`STEP`] (stopped and joined with the worker).
pub fn start_sampler(
    history: Arc<History>,
    read: impl Fn() -> Numbers + Send + 'static,
) -> std::io::Result<Worker> {
    Worker::spawn(
        "history",
        move |stop| loop {
            history.push(Point::from_numbers(&read(), unix_now()));
            if stop.sleep(STEP) {
                break;
            }
        },
        || {},
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_points() {
        let h = History::default();
        for i in 0..(POINTS + 5) {
            h.push(Point {
                t: i as f64,
                ..Point::default()
            });
        }
        let p = h.points();
        assert_eq!(p.len(), POINTS);
        assert_eq!(p[0].t, 5.0);
        assert_eq!(p[POINTS - 1].t, (POINTS + 4) as f64);
    }
}
