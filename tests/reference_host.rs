//! The C reference host (`build/prom_host`) driving the real library: the synthetic workload gives a valid page,
//! a recorded trace replays to the same values, signals stop it cleanly, errors exit with the core's message, and
//! it runs clean under valgrind.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Kills the host if a test fails before stopping it.
struct HostGuard(Option<Child>);

impl Drop for HostGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl HostGuard {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
    /// SIGTERM, then the exit status (within 10 s).
    fn terminate(mut self) -> ExitStatus {
        let mut c = self.0.take().unwrap();
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc_kill(c.id() as i32, 15) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "host did not stop within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prom_rs_test_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(dir: &Path, port: u16, extra: &[(&str, &str)]) -> PathBuf {
    let mut text = format!("modparam(\"prom_rs\", \"port\", \"{port}\")\nmodparam(\"prom_rs\", \"phone_fleet\", \"1031-1070\")\n");
    for (k, v) in extra {
        text.push_str(&format!("modparam(\"prom_rs\", \"{k}\", \"{v}\")\n"));
    }
    let path = dir.join("host.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(args: &[&str]) -> HostGuard {
    let child = Command::new(host_path())
        .args(["--lib", lib_path().to_str().unwrap()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make` first)", host_path().display()));
    HostGuard(Some(child))
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "host never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads the host's stdout until the replay summary line.
fn wait_replay_done(g: &mut HostGuard) -> String {
    let out = g.child().stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    line
}

/// Sends `sig` to the host.
fn signal(g: &mut HostGuard, sig: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc_kill(g.child().id() as i32, sig) }, 0);
}

const SIGUSR1: i32 = 10;

#[test]
fn synthetic_workload_page_is_valid_and_lively() {
    let dir = scratch("workload");
    let port = port();
    let cfg = write_config(&dir, port, &[("labels", "server=ci")]);
    // 20x: 6 s of wall time is two simulated minutes of call center.
    let host = spawn(&[
        "--config",
        cfg.to_str().unwrap(),
        "--seed",
        "7",
        "--speed",
        "20",
    ]);
    wait_for_port(port);
    std::thread::sleep(Duration::from_secs(6));
    let page = scrape(port);
    let mut c = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by `make test`");
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), page.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && text.trim().is_empty(),
        "promtool: {text}"
    );
    // Every event-driven area shows up within two simulated minutes.
    for family in [
        "asterisk_channels{",
        "asterisk_channel_hangups_total{",
        "asterisk_channel_answered_duration_seconds_bucket{",
        "asterisk_dial_results_total{",
        "asterisk_endpoint_up{",
        "asterisk_endpoint_rtt_seconds{",
        "asterisk_rtcp_jitter_seconds_bucket{",
        "asterisk_rtcp_mes_bucket{",
        "asterisk_endpoint_rtcp_jitter_seconds{",
        "asterisk_bridges{",
        "asterisk_queue_wait_seconds_bucket{",
        "asterisk_security_events_total{",
        "asterisk_outbound_registration_status{",
        "asterisk_channels_by_codec{",
        "asterisk_uptime_seconds{",
        "asterisk_phone_fleet_state{",
    ] {
        assert!(
            page.contains(family),
            "{family} missing after two simulated minutes:\n{page}"
        );
    }
    assert_eq!(
        value(&page, "asterisk_phone_fleet_size{server=\"ci\"}"),
        Some(40.0)
    );
    assert_eq!(
        value(
            &page,
            "prom_rs_collector_up{server=\"ci\",collector=\"sampler\"}"
        ),
        Some(1.0)
    );
    let uptime = value(&page, "asterisk_uptime_seconds{server=\"ci\"}").unwrap();
    assert!(
        (60.0..=200.0).contains(&uptime),
        "simulated uptime {uptime}"
    );
    let status = host.terminate();
    assert!(status.success(), "exit {status:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_first_scrape_shows_a_busy_call_center() {
    // Real time (speed 1), as `make run` starts it: what the host seeds at load must be on the very first page.
    let dir = scratch("first");
    let port = port();
    let cfg = write_config(&dir, port, &[]);
    let started = Instant::now();
    let host = spawn(&["--config", cfg.to_str().unwrap()]);
    wait_for_port(port);
    let page = scrape(port);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "first scrape {took:?} after start"
    );
    let sum = |prefix: &str| -> f64 {
        page.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(sum("asterisk_channels{") >= 20.0, "channels:\n{page}");
    assert!(sum("asterisk_bridges{") >= 9.0, "bridges:\n{page}");
    assert!(
        sum("asterisk_queue_callers{") >= 1.0,
        "queue callers:\n{page}"
    );
    assert!(sum("asterisk_endpoint_up{") >= 40.0, "endpoints:\n{page}");
    assert!(
        sum("asterisk_rtcp_jitter_seconds_count{") >= 18.0,
        "RTCP:\n{page}"
    );
    for family in [
        "asterisk_endpoint_rtcp_jitter_seconds{",
        "asterisk_rtcp_mes_bucket{",
        "asterisk_outbound_registration_status{",
        "asterisk_endpoint_rtt_seconds{",
        "asterisk_channels_by_codec{",
        "asterisk_uptime_seconds",
        "prom_rs_untracked_total{table=\"queue_callers\"} 0",
    ] {
        assert!(
            page.contains(family),
            "{family} missing from the first page:\n{page}"
        );
    }
    assert!(host.terminate().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// Families that events alone determine (no wall clock, no HTTP self metrics).
fn event_determined(page: &str) -> Vec<String> {
    let mut v: Vec<String> = page
        .lines()
        .filter(|l| l.starts_with("asterisk_") && !l.starts_with("asterisk_channel_age_seconds"))
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[test]
fn a_recorded_trace_replays_to_the_same_page() {
    let dir = scratch("replay");
    let (p1, p2) = (port(), port());
    let trace = dir.join("recorded.trace");
    std::fs::create_dir_all(dir.join("live")).unwrap();
    std::fs::create_dir_all(dir.join("replay")).unwrap();
    let cfg1 = write_config(
        &dir.join("live"),
        p1,
        &[("trace_file", trace.to_str().unwrap())],
    );
    let mut live = spawn(&[
        "--config",
        cfg1.to_str().unwrap(),
        "--seed",
        "3",
        "--speed",
        "20",
    ]);
    wait_for_port(p1);
    std::thread::sleep(Duration::from_secs(4));
    // Freeze the workload, let the trace writer flush (it does every 200 ms when idle), then read both.
    signal(&mut live, SIGUSR1);
    std::thread::sleep(Duration::from_millis(800));
    let live_page = scrape(p1);
    // Stopping lets the paused workload finish a tick, so replay a copy of the trace as it was at the scrape.
    let recorded = std::fs::read_to_string(&trace).unwrap();
    let snapshot = dir.join("snapshot.trace");
    std::fs::write(&snapshot, &recorded).unwrap();
    let events = recorded.lines().filter(|l| !l.starts_with('#')).count();
    assert!(events > 500, "trace recorded {events} events");
    assert_eq!(
        value(&live_page, "prom_rs_events_total{kind=\"channel_created\"}"),
        Some(
            recorded
                .lines()
                .filter(|l| l.starts_with("channel_created\t"))
                .count() as f64
        ),
        "every event received was recorded"
    );
    assert!(live.terminate().success());

    let cfg2 = write_config(&dir.join("replay"), p2, &[]);
    let mut replay = spawn(&[
        "--config",
        cfg2.to_str().unwrap(),
        "--replay",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(
        wait_replay_done(&mut replay).trim(),
        format!("replay done: {events} events, 0 errors")
    );
    let replayed = scrape(p2);
    let (a, b) = (event_determined(&live_page), event_determined(&replayed));
    assert!(a.len() > 150, "{} event-determined samples", a.len());
    let diff: Vec<_> = a
        .iter()
        .zip(b.iter())
        .filter(|(x, y)| x != y)
        .take(5)
        .collect();
    assert_eq!(a.len(), b.len(), "sample counts differ");
    assert!(diff.is_empty(), "live vs replayed differ: {diff:?}");
    assert!(replay.terminate().success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn replay_reproduces_every_value_exactly() {
    // A fixed trace with known values: durations come from the recorded timestamps, not the replay's clock.
    let dir = scratch("fixed");
    let port = port();
    let trace = dir.join("fixed.trace");
    std::fs::write(
        &trace,
        "# a call answered after 2 s, talking 30 s\n\
         channel_created\t1.1\tPJSIP\ttrunk\t4\t1000000000\n\
         channel_state\t1.1\t6\t1002000000\n\
         dial_result\tANSWER\t1002000000\n\
         channel_hangup\t1.1\tPJSIP\t16\t1000000000\t1032000000\n\
         queue_caller\tsales\tu1\t0\t1000000000\n\
         queue_caller\tsales\tu1\t1\t1012500000\n\
         not_an_event\tx\n",
    )
    .unwrap();
    let cfg = write_config(&dir, port, &[]);
    let mut host = spawn(&[
        "--config",
        cfg.to_str().unwrap(),
        "--replay",
        trace.to_str().unwrap(),
    ]);
    let done = wait_replay_done(&mut host);
    // Every non-comment line counts as an event, including the one refused.
    assert_eq!(done.trim(), "replay done: 7 events, 1 errors");
    let page = scrape(port);
    assert_eq!(
        value(
            &page,
            "asterisk_channel_duration_seconds_sum{tech=\"PJSIP\"}"
        ),
        Some(32.0)
    );
    assert_eq!(
        value(
            &page,
            "asterisk_channel_answered_duration_seconds_sum{tech=\"PJSIP\"}"
        ),
        Some(30.0)
    );
    assert_eq!(
        value(
            &page,
            "asterisk_channel_hangups_total{tech=\"PJSIP\",cause=\"NORMAL_CLEARING\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&page, "asterisk_queue_wait_seconds_sum{queue=\"sales\"}"),
        Some(12.5)
    );
    assert_eq!(value(&page, "asterisk_channels{tech=\"PJSIP\"}"), Some(0.0));
    assert!(host.terminate().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the host with `cfg` until it exits by itself; its exit code and stderr.
fn run_to_exit(cfg: &Path) -> (Option<i32>, String) {
    let out = Command::new(host_path())
        .args([
            "--lib",
            lib_path().to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_errors_and_a_taken_port_exit_with_the_core_message() {
    let dir = scratch("errors");
    let cfg = dir.join("bad.conf");
    std::fs::write(&cfg, "modparam(\"prom_rs\", \"port\", \"9101\")\nmodparam(\"prom_rs\", \"max_series_per_family\", \"lots\")\n").unwrap();
    let (code, err) = run_to_exit(&cfg);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("bad.conf:2") && err.contains("max_series_per_family") && err.contains("lots"),
        "{err}"
    );

    let port = port();
    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let cfg = write_config(&dir, port, &[]);
    let (code, err) = run_to_exit(&cfg);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("in use"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_host_runs_clean_under_valgrind() {
    let dir = scratch("valgrind");
    let port = port();
    let cfg = write_config(&dir, port, &[]);
    let trace = dir.join("short.trace");
    let mut lines = String::new();
    for i in 0..200 {
        lines.push_str(&format!(
            "channel_created\t{i}.1\tPJSIP\t10{:02}\t4\t1000000\n",
            i % 40
        ));
        lines.push_str(&format!(
            "rtcp_report\tPJSIP\t10{:02}\t0\t0.01\t0.02\t0.05\t88\t1\n",
            i % 40
        ));
        lines.push_str(&format!(
            "channel_hangup\t{i}.1\tPJSIP\t16\t1000000\t9000000\n"
        ));
    }
    std::fs::write(&trace, lines).unwrap();
    let out = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--quiet",
        ])
        .arg(host_path())
        .args([
            "--lib",
            lib_path().to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--replay",
            trace.to_str().unwrap(),
            "--duration",
            "4",
        ])
        .output()
        .expect("valgrind is installed by `make test`");
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "valgrind exit {:?}:\n{err}",
        out.status.code()
    );
    assert!(
        stdout.contains("replay done: 600 events, 0 errors"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
