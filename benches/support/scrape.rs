//! Section 4: scrape latency over loopback while two threads push events as fast as they can.
//!
//! Each mode runs its own session: two pusher threads start, the scrapes are taken one after another, then the
//! pushers stop. On a 2-core machine the pushers, the core's HTTP thread and the scraping client share two cores,
//! which is the point: it shows what a scrape costs on a busy PBX.

use super::events::TS0;
use super::ffi::{Core, OK};
use super::http::{get_fresh, KeepAlive};
use super::timing::{ms, Summary};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One connection mode.
pub struct Row {
    /// `fresh connection` or `keep-alive`.
    pub mode: &'static str,
    /// Milliseconds per scrape, request to last byte (connect included for fresh connections).
    pub latency: Summary,
    /// Events per second the two pushers achieved during the scrapes (both threads together).
    pub events_per_sec: f64,
}

/// Events between checks of the stop flag.
const PUSH_BATCH: usize = 256;

/// Pushes a mix of dial results, security events and RTCP reports until `stop`; returns the events sent.
fn push(core: &Core, thread: usize, stop: &AtomicBool) -> u64 {
    let statuses = [c"ANSWER", c"BUSY", c"NOANSWER"];
    let (mut sent, mut i, mut rc) = (0u64, 0usize, OK);
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..PUSH_BATCH {
            let ts = TS0 + i as i64;
            rc |= match i % 3 {
                0 => core.dial_result(black_box(statuses[(i / 3) % 3]), ts),
                1 => core.security_event(c"PJSIP", c"InvalidPassword", ts),
                _ => core.rtcp_report(
                    c"PJSIP",
                    c"alice",
                    thread as i32 & 1,
                    0.012,
                    0.001,
                    0.04,
                    90.0,
                    ts,
                ),
            };
            i += 1;
        }
        sent += PUSH_BATCH as u64;
    }
    assert_eq!(
        rc,
        OK,
        "an event failed while pushing: {}",
        core.last_error()
    );
    sent
}

/// Takes `scrapes` scrapes with `scrape` while two threads push events; returns latencies and the push rate.
fn session(
    core: &Core,
    mode: &'static str,
    scrapes: usize,
    mut scrape: impl FnMut() -> usize,
) -> Row {
    let stop = AtomicBool::new(false);
    let (mut latencies, events, elapsed) = std::thread::scope(|s| {
        let all = Instant::now();
        let pushers: Vec<_> = (0..2)
            .map(|t| {
                s.spawn({
                    let stop = &stop;
                    move || push(core, t, stop)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let latencies: Vec<f64> = (0..scrapes)
            .map(|_| {
                let t = Instant::now();
                let bytes = scrape();
                assert!(bytes > 0, "empty page");
                ms(t.elapsed())
            })
            .collect();
        stop.store(true, Ordering::Relaxed);
        let events: u64 = pushers.into_iter().map(|h| h.join().expect("pusher")).sum();
        (latencies, events, all.elapsed())
    });
    Row {
        mode,
        latency: Summary::of(&mut latencies),
        // From the pushers' start to their end (they run 50 ms before the first scrape).
        events_per_sec: events as f64 / elapsed.as_secs_f64(),
    }
}

/// Both modes against the core at `addr`.
pub fn run(core: &Core, addr: SocketAddr, scrapes: usize) -> Vec<Row> {
    let fresh = session(core, "fresh connection per scrape", scrapes, || {
        get_fresh(addr, "/metrics").expect("scrape").body.len()
    });
    super::progress("  fresh connections done");
    let mut conn = KeepAlive::connect(addr).expect("connect");
    let kept = session(core, "one keep-alive connection", scrapes, || {
        conn.get("/metrics").expect("scrape")
    });
    super::progress("  keep-alive done");
    vec![fresh, kept]
}
