//! The event path never waits on a reload or on the trace writer: two threads send events with `trace_file` set
//! while a reload takes over a second (it joins a ViciDial reader stuck in a handshake with a server that never
//! answers), and events keep being counted during the reload.

use res_prom_rs::config::{Config, ConfigBuilder};
use res_prom_rs::core::Core;
use res_prom_rs::event::Event;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut b = ConfigBuilder::new();
    for (k, v) in pairs {
        b.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    b.finish().expect("valid configuration")
}

/// (send time, latency) of every event a sender thread sent.
type Timings = Vec<(Instant, Duration)>;

#[test]
fn events_flow_while_a_slow_reload_runs() {
    // A "database" that accepts connections and never sends its greeting: the reader's handshake waits for the
    // whole vicidial.query_timeout, and so does the reload that stops it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let db_port = silent.local_addr().unwrap().port().to_string();
    let dir = std::env::temp_dir().join(format!("prom_rs_reload_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("events.trace");
    let trace_s = trace.to_str().unwrap().to_string();
    let base = [
        ("enabled", "no"),
        ("trace_file", trace_s.as_str()),
        ("vicidial.host", "127.0.0.1"),
        ("vicidial.port", db_port.as_str()),
        ("vicidial.password", "secret-pw"),
        ("vicidial.interval", "10s"),
        ("vicidial.connect_timeout", "2s"),
        ("vicidial.query_timeout", "2s"),
    ];
    let mut with_reader = base.to_vec();
    with_reader.push(("vicidial.enabled", "yes"));
    let core = Arc::new(Core::start(config(&with_reader)).expect("core starts"));
    // Wait until the reader is inside its handshake.
    silent.set_nonblocking(false).unwrap();
    let (_held, _) = silent.accept().expect("the reader connects");
    std::thread::sleep(Duration::from_millis(100));

    let running = Arc::new(AtomicBool::new(true));
    let timings: Arc<Mutex<Vec<Timings>>> = Arc::default();
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let (core, running, timings) = (core.clone(), running.clone(), timings.clone());
            std::thread::spawn(move || {
                let mut mine = Timings::with_capacity(1 << 20);
                let mut ts = 0;
                while running.load(Ordering::Relaxed) {
                    ts += 1;
                    let t = Instant::now();
                    core.dispatch(&Event::DialResult {
                        dialstatus: "ANSWER",
                        ts_us: ts,
                    })
                    .unwrap();
                    mine.push((t, t.elapsed()));
                    // Keep the trace queue from filling: this is about waiting, not about throughput.
                    std::thread::sleep(Duration::from_micros(50));
                }
                timings.lock().unwrap().push(mine);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));

    let reload_start = Instant::now();
    core.reload(config(&base)).expect("reload");
    let reload_end = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    running.store(false, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let took = reload_end - reload_start;
    assert!(
        took >= Duration::from_secs(1),
        "the reload should have waited for the reader's handshake (took {took:?})"
    );

    let all: Vec<(Instant, Duration)> = timings.lock().unwrap().concat();
    let during: Vec<Duration> = all
        .iter()
        .filter(|(t, _)| *t >= reload_start && *t < reload_end)
        .map(|(_, d)| *d)
        .collect();
    let worst = all.iter().map(|(_, d)| *d).max().unwrap();
    let worst_during = during.iter().max().copied().unwrap_or_default();
    println!(
        "reload under events: reload took {:.0} ms; {} events sent during it by 2 threads (of {} in all); worst event latency {:.1} us during the reload, {:.1} us overall",
        took.as_secs_f64() * 1e3,
        during.len(),
        all.len(),
        worst_during.as_secs_f64() * 1e6,
        worst.as_secs_f64() * 1e6,
    );
    // Both threads kept going for the whole reload: at 50 us pauses that is thousands of events, not a handful.
    assert!(
        during.len() > 1000,
        "only {} events were sent during a {took:?} reload: the event path waited",
        during.len()
    );
    assert!(
        worst_during < took / 4,
        "an event waited {worst_during:?} during a {took:?} reload"
    );

    Arc::try_unwrap(core).ok().expect("senders joined").stop();
    let text = std::fs::read_to_string(&trace).unwrap();
    let traced = text
        .lines()
        .filter(|l| l.starts_with("dial_result"))
        .count();
    assert_eq!(
        traced,
        all.len(),
        "every event sent while tracing is in the trace"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
