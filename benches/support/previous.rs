//! Section 7: this build against a build of an earlier commit (`BENCH_BASE_LIB`, built by `make bench` from
//! `BENCH_BASE`), side by side in one process and one run, runs alternating so machine noise hits both alike.
//! Section 8: events while a reload takes over a second (it joins a ViciDial reader stuck in a handshake with a
//! server that never answers), with `trace_file` set: the worst event latency during the reload.

use super::events::TS0;
use super::ffi::{Api, Core, OK};
use super::http::{free_port, get_fresh, loopback};
use super::render;
use super::timing::{ms, time_each, time_runs, Summary};
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One measurement on both builds: per-run medians, in run order.
struct Pair {
    name: &'static str,
    unit: &'static str,
    ours: Vec<f64>,
    base: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    Summary::of(&mut v).p50
}

impl Pair {
    fn row(&self) -> String {
        let (o, b) = (median(&self.ours), median(&self.base));
        let spread = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            format!("{lo:.1}–{hi:.1}")
        };
        format!(
            "| {} | {o:.1} {u} | {} | {b:.1} {u} | {} | {:.2} |\n",
            self.name,
            spread(&self.ours),
            spread(&self.base),
            o / b,
            u = self.unit,
        )
    }
}

/// Alternates one run of `f` on each core, `runs` times.
fn alternate(
    name: &'static str,
    unit: &'static str,
    runs: usize,
    ours: &Core,
    base: &Core,
    mut f: impl FnMut(&Core) -> f64,
) -> Pair {
    let mut p = Pair {
        name,
        unit,
        ours: Vec::new(),
        base: Vec::new(),
    };
    for _ in 0..runs {
        p.ours.push(f(ours));
        p.base.push(f(base));
    }
    p
}

fn event_pairs(ours: &Core, base: &Core, runs: usize, iters: usize) -> Vec<Pair> {
    let ts = |i: usize| TS0 + i as i64;
    let one = |f: &mut dyn FnMut(usize)| time_runs(1, iters, 1, f).median;
    let mut out = vec![
        alternate("dial_result", "ns", runs, ours, base, |c| {
            let mut rc = OK;
            let t = one(&mut |i| rc |= c.dial_result(black_box(c"ANSWER"), ts(i)));
            assert_eq!(rc, OK, "{}", c.last_error());
            t
        }),
        alternate("security_event", "ns", runs, ours, base, |c| {
            let mut rc = OK;
            let t = one(&mut |i| {
                rc |= c.security_event(black_box(c"PJSIP"), black_box(c"InvalidPassword"), ts(i))
            });
            assert_eq!(rc, OK, "{}", c.last_error());
            t
        }),
        alternate("rtcp_report", "ns", runs, ours, base, |c| {
            let mut rc = OK;
            let t = one(&mut |i| {
                let j = 0.001 * (i % 50) as f64;
                rc |= c.rtcp_report(
                    c"PJSIP",
                    c"alice",
                    (i & 1) as i32,
                    j,
                    0.0,
                    0.03,
                    80.0,
                    ts(i),
                )
            });
            assert_eq!(rc, OK, "{}", c.last_error());
            t
        }),
    ];
    out.push(alternate(
        "channel lifecycle (per event)",
        "ns",
        runs,
        ours,
        base,
        |c| {
            let uids: Vec<std::ffi::CString> = (0..1024)
                .map(|i| std::ffi::CString::new(format!("1700000000.{i}")).unwrap())
                .collect();
            let mut rc = OK;
            let t = time_runs(1, iters / 4, 3, |i| {
                let (uid, t0) = (uids[i % 1024].as_c_str(), TS0 + i as i64 * 1_000);
                rc |= c.channel_created(uid, c"PJSIP", c"alice", 0, t0);
                rc |= c.channel_state(uid, 6, t0 + 2_000_000);
                rc |= c.channel_hangup(uid, c"PJSIP", 16, t0, t0 + 62_000_000);
            })
            .median;
            assert_eq!(rc, OK, "{}", c.last_error());
            t
        },
    ));
    out
}

/// Section 7, or the reason it did not run.
pub fn section(ours_api: &Api, runs: usize, iters: usize) -> String {
    let mut out = String::from("\n## 7. This build against an earlier commit's build\n\n");
    let Some(path) = std::env::var_os("BENCH_BASE_LIB") else {
        out.push_str("Not run: `BENCH_BASE_LIB` is not set (`make bench` builds `BENCH_BASE`, default `HEAD~1`, and sets it).\n");
        return out;
    };
    let base_api = match Api::load(std::path::Path::new(&path)) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(out, "Not run: {e}");
            return out;
        }
    };
    let rev = std::env::var("BENCH_BASE").unwrap_or_else(|_| "(unnamed)".into());
    let port = || free_port().expect("a free port");
    let cap = [("max_series_per_family", "200000")];
    let (po, pb) = (port(), port());
    let ours = ours_api.start(po, &cap).expect("core start");
    let base = base_api.start(pb, &cap).expect("base core start");
    let mut pairs = event_pairs(&ours, &base, runs, iters);
    super::progress("  events on both builds done");
    render::fill(&ours, 0, 10_000);
    render::fill(&base, 0, 10_000);
    let scrape = |port: u16| {
        let addr = loopback(port);
        let (mut t, _) = time_each(10, || get_fresh(addr, "/metrics").expect("scrape").body);
        Summary::of(&mut t).p50
    };
    let mut render_pair = Pair {
        name: "render + scrape, 10k series (p50 of 10 scrapes per run)",
        unit: "ms",
        ours: Vec::new(),
        base: Vec::new(),
    };
    for _ in 0..runs {
        render_pair.ours.push(scrape(po));
        render_pair.base.push(scrape(pb));
    }
    pairs.push(render_pair);
    let _ = write!(
        out,
        "Base: commit `{rev}`, built into `{}`. Both libraries loaded in this process; {runs} runs each, alternating \
         (ours, base, ours, ...). Event rows: mean ns/event of a run of {iters} calls ({} lifecycles); ratio = this \
         build / base, medians (below 1: this build is faster).\n\n\
         | measurement | this build | runs | base | runs | ratio |\n|---|---:|---:|---:|---:|---:|\n",
        std::path::Path::new(&path).display(),
        iters / 4
    );
    for p in &pairs {
        out.push_str(&p.row());
    }
    out
}

/// Section 8 through the C ABI: two threads send events, a reload waits over a second for a poller's stop.
pub fn reload_section(api: &Api) -> String {
    let mut out = String::from("\n## 8. Events during a slow reload\n\n");
    let silent = TcpListener::bind("127.0.0.1:0").expect("listener");
    let db_port = silent.local_addr().unwrap().port().to_string();
    let dir = std::env::temp_dir().join(format!("prom_rs_bench_reload_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let trace = dir.join("events.trace").display().to_string();
    let base = [
        ("trace_file", trace.as_str()),
        ("vicidial.host", "127.0.0.1"),
        ("vicidial.port", db_port.as_str()),
        ("vicidial.interval", "10s"),
        ("vicidial.connect_timeout", "2s"),
        ("vicidial.query_timeout", "2s"),
    ];
    let mut with_reader = base.to_vec();
    with_reader.push(("vicidial.enabled", "yes"));
    let port = free_port().expect("a free port");
    let core = api.start(port, &with_reader).expect("core start");
    let _held = silent.accept().expect("the reader connects");
    std::thread::sleep(Duration::from_millis(100));
    let running = AtomicBool::new(true);
    let (took, window, lat) = std::thread::scope(|s| {
        let senders: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut v: Vec<(Instant, Duration)> = Vec::with_capacity(1 << 18);
                    let mut i = 0;
                    while running.load(Ordering::Relaxed) {
                        i += 1;
                        let t = Instant::now();
                        assert_eq!(core.dial_result(c"ANSWER", TS0 + i), OK);
                        v.push((t, t.elapsed()));
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    v
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        core.reload(port, &base).expect("reload");
        let end = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        running.store(false, Ordering::Relaxed);
        let lat: Vec<(Instant, Duration)> = senders
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        (end - start, (start, end), lat)
    });
    drop(core);
    let _ = std::fs::remove_dir_all(&dir);
    let mut during: Vec<f64> = lat
        .iter()
        .filter(|(t, _)| *t >= window.0 && *t < window.1)
        .map(|(_, d)| d.as_secs_f64() * 1e6)
        .collect();
    let mut all: Vec<f64> = lat.iter().map(|(_, d)| d.as_secs_f64() * 1e6).collect();
    let n_during = during.len();
    let (d, a) = (Summary::of(&mut during), Summary::of(&mut all));
    let _ = write!(
        out,
        "Two threads send `dial_result` through the C ABI (50 µs apart) with `trace_file` set, while \
         `prom_rs_core_reload` turns the ViciDial reader off; the reader is stuck in a handshake with a server that \
         never answers (`vicidial.query_timeout = 2s`), so the reload waits for it. The reload took {:.0} ms; \
         {n_during} events were sent during it.\n\n\
         | events | p50 | p99 | worst |\n|---|---:|---:|---:|\n\
         | during the reload | {:.2} µs | {:.2} µs | {:.1} µs |\n| whole run ({} events) | {:.2} µs | {:.2} µs | {:.1} µs |\n",
        ms(took),
        d.p50,
        d.p99,
        d.max,
        a.n,
        a.p50,
        a.p99,
        a.max
    );
    out
}
