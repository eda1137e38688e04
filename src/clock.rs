//! Wall-clock time in the units the page and the status page use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Microseconds since the Unix epoch, now (the unit of the events' timestamps).
pub fn now_us() -> i64 {
    (unix_now() * 1e6) as i64
}

/// A duration for log lines and status text: `1.5 s`, `500 ms`.
pub fn secs(d: std::time::Duration) -> String {
    if d < std::time::Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        }
    }
}
