//! Section 9: big pages, this build against `BENCH_BASE_LIB` (main), side by side in one process, runs alternating.
//! At 10k and 200k series: the latency of a small `collect[]` scrape while other clients keep scraping the full
//! page, and the resident memory 50 slow readers (each asks for the full page and reads one byte) make the process
//! grow by.

use super::ffi::Api;
use super::http::{free_port, get_fresh, loopback};
use super::render;
use super::timing::{ms, Summary};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SLOW_READERS: usize = 50;
const FULL_SCRAPERS: usize = 2;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// p50 and p99 (ms) of `n` small scrapes while `FULL_SCRAPERS` threads scrape the full page back to back.
fn small_while_full(addr: SocketAddr, n: usize) -> Summary {
    let stop = Arc::new(AtomicBool::new(false));
    let full: Vec<_> = (0..FULL_SCRAPERS)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = get_fresh(addr, "/metrics");
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        get_fresh(addr, "/metrics?collect[]=prom_rs_scrape").expect("small scrape");
        t.push(ms(start.elapsed()));
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for h in full {
        let _ = h.join();
    }
    Summary::of(&mut t)
}

/// Growth of this process's RSS (MB) while `SLOW_READERS` clients have each asked for the full page and read one
/// byte of the answer (so every answer is under way), then the readers go away.
fn slow_readers_rss(addr: SocketAddr) -> f64 {
    std::thread::sleep(Duration::from_millis(300));
    // Hand memory freed by earlier scrapes back to the kernel, so that reusing it does not hide the growth.
    // SAFETY: malloc_trim only releases free heap memory; no pointer is involved.
    unsafe { libc::malloc_trim(0) };
    let before = rss_mb();
    let mut readers: Vec<TcpStream> = (0..SLOW_READERS)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
                .expect("send");
            s
        })
        .collect();
    for s in &mut readers {
        let mut one = [0u8; 1];
        s.read_exact(&mut one).expect("first byte");
    }
    std::thread::sleep(Duration::from_millis(300));
    let grown = rss_mb() - before;
    drop(readers);
    std::thread::sleep(Duration::from_millis(500));
    grown
}

struct Row {
    series: usize,
    what: &'static str,
    unit: &'static str,
    ours: Vec<f64>,
    base: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    Summary::of(&mut v).p50
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.1}–{hi:.1}")
}

/// Section 9, or the reason it did not run.
pub fn section(ours_api: &Api, quick: bool) -> String {
    let mut out =
        String::from("\n## 9. Big pages: a small scrape during full renders, and slow readers\n\n");
    let Some(path) = std::env::var_os("BENCH_BASE_LIB") else {
        out.push_str("Not run: `BENCH_BASE_LIB` is not set (`make bench` builds `BENCH_BASE` and sets it).\n");
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
    let (runs, small_n) = if quick { (1, 20) } else { (3, 100) };
    let cap = [("max_series_per_family", "200000")];
    let (po, pb) = (free_port().expect("port"), free_port().expect("port"));
    let ours = ours_api.start(po, &cap).expect("core start");
    let base = base_api.start(pb, &cap).expect("base core start");
    let mut rows = Vec::new();
    let mut have = 0;
    for series in [10_000, 200_000] {
        render::fill(&ours, have, series);
        render::fill(&base, have, series);
        have = series;
        let page = get_fresh(loopback(po), "/metrics")
            .expect("page")
            .body
            .len();
        let mut p50 = Row {
            series,
            what: "small `collect[]` scrape during full scrapes, p50",
            unit: "ms",
            ours: vec![],
            base: vec![],
        };
        let mut p99 = Row {
            series,
            what: "small `collect[]` scrape during full scrapes, p99",
            unit: "ms",
            ours: vec![],
            base: vec![],
        };
        let mut rss = Row {
            series,
            what: "RSS growth with 50 slow readers",
            unit: "MB",
            ours: vec![],
            base: vec![],
        };
        let each = |port: u16, p50: &mut Vec<f64>, p99: &mut Vec<f64>, rss: &mut Vec<f64>| {
            let s = small_while_full(loopback(port), small_n);
            p50.push(s.p50);
            p99.push(s.p99);
            rss.push(slow_readers_rss(loopback(port)));
        };
        for _ in 0..runs {
            each(po, &mut p50.ours, &mut p99.ours, &mut rss.ours);
            each(pb, &mut p50.base, &mut p99.base, &mut rss.base);
        }
        super::progress(&format!(
            "  big pages at {series} series ({page} bytes) done"
        ));
        rows.extend([p50, p99, rss]);
    }
    let _ = write!(
        out,
        "Base: commit `{rev}` (`{}`), loaded in this process next to this build; {runs} runs each, alternating \
         (ours, base, ...), each run: {small_n} scrapes of `/metrics?collect[]=prom_rs_scrape` (fresh connection \
         each, 5 ms apart) while {FULL_SCRAPERS} clients scrape the full page back to back, then {SLOW_READERS} \
         clients that each ask for the full page and read one byte; RSS is this process's `VmRSS` growth once every \
         answer is under way, counted from just after `malloc_trim(0)` (so reused free memory does not hide growth; socket \
         buffers are kernel memory and not counted: a 0.4 MB answer fits in a loopback socket buffer whole, so at 10k \
         series neither build holds it). Figures: median of the runs, \
         spread = lowest–highest run; ratio = this build / base.\n\n\
         | series | measurement | this build | runs | base | runs | ratio |\n|---:|---|---:|---:|---:|---:|---:|\n",
        std::path::Path::new(&path).display()
    );
    for r in &rows {
        let (o, b) = (median(&r.ours), median(&r.base));
        let _ = writeln!(
            out,
            "| {} | {} | {o:.1} {u} | {} | {b:.1} {u} | {} | {:.2} |",
            r.series,
            r.what,
            spread(&r.ours),
            spread(&r.base),
            if b.abs() > f64::EPSILON {
                o / b
            } else {
                f64::NAN
            },
            u = r.unit
        );
    }
    out
}
