//! The reference host (`build/prom_host`) against hostile configurations and signals: every refusal is exit 2 with
//! FILE:LINE and the key first, the value escaped and bounded, no panic and no control character in the output;
//! pairs of keys and unusable files are refused at validation, not as a failure to start; SIGINT at any moment of
//! startup exits 0. Bounded in count and time, loopback only.

// Calls kill(2) on our own children: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

const SIGINT: i32 = 2;
const SIGKILL: i32 = 9;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prom_rs_hostcfg_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One `modparam` line; `value` is written inside double quotes with `"`, `\` and control characters escaped the
/// way the reference host's reader decodes them (`\n`, `\t`, `\r`, `\"`, `\\`).
fn line(key: &str, value: &str) -> String {
    let mut v = String::new();
    for c in value.chars() {
        match c {
            '"' => v.push_str("\\\""),
            '\\' => v.push_str("\\\\"),
            '\n' => v.push_str("\\n"),
            '\t' => v.push_str("\\t"),
            '\r' => v.push_str("\\r"),
            c => v.push(c),
        }
    }
    format!("modparam(\"prom_rs\", \"{key}\", \"{v}\")\n")
}

/// How a run of the host ended.
struct Run {
    code: Option<i32>,
    stderr: String,
}

/// Runs the host on `cfg` (plus `extra` arguments) until it exits, killing it after `limit`.
fn run(cfg: &Path, extra: &[&str], limit: Duration) -> Run {
    let mut child = Command::new(host_path())
        .args([
            "--lib",
            lib_path().to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .args(extra)
        // Relative paths in a fuzzed configuration (trace_file) land in the scratch folder, not in the checkout.
        .current_dir(cfg.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make` first)", host_path().display()));
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut s).unwrap();
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("host still running after {limit:?} on {}", cfg.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let bytes = reader.join().unwrap();
    Run {
        code: status.code(),
        stderr: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The first stderr line that starts with `FILE:`, i.e. the refusal.
fn refusal<'a>(r: &'a Run, file: &str) -> &'a str {
    r.stderr
        .lines()
        .find(|l| l.starts_with(file))
        .unwrap_or_else(|| panic!("no {file}: line in:\n{}", r.stderr))
}

/// Output a log would receive: one line per message, and no control character but the newlines between them.
fn assert_clean(r: &Run) {
    assert!(
        !r.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "control character in {:?}",
        r.stderr
    );
    assert!(!r.stderr.contains("panic"), "{}", r.stderr);
    assert!(
        !r.stderr
            .lines()
            .any(|l| l.starts_with("[prom_host] NOTICE: forged")),
        "a value forged a line:\n{}",
        r.stderr
    );
}

#[test]
fn refused_configurations_exit_2_naming_file_line_and_key() {
    let dir = scratch("refusals");
    let file = dir.join("host.conf");
    let f = file.to_str().unwrap();
    let missing_dir = dir.join("no-such-dir").join("t.trace");
    let long = "9".repeat(10_000);
    // (lines, the line refused, what its message starts with after "FILE:LINE: ")
    let cases: Vec<(Vec<String>, usize, String)> = vec![
        (vec![line("enabled", "no"), line("auth_username", "prom")], 2,
         "key \"auth_username\": is set but neither auth_password nor auth_password_hash is".into()),
        (vec![line("enabled", "no"), line("auth_password", "hunter2")], 2,
         "key \"auth_password\": is set but auth_username is not".into()),
        (vec![line("enabled", "no"), line("tls_key", "/k.pem")], 2, "key \"tls_key\": is set but tls_cert".into()),
        (vec![line("enabled", "no"), line("trace_file", missing_dir.to_str().unwrap())], 2,
         "key \"trace_file\": invalid value".into()),
        (vec![line("auth_username", "prom"), line("auth_password", "first-secret"),
              line("auth_password", "second-secret")], 3, "key \"auth_password\": is set twice".into()),
        (vec![line("auth_username", "a:b")], 1, "key \"auth_username\": invalid value \"a:b\"".into()),
        (vec![line("auth_password", "pw\n")], 1, "key \"auth_password\": invalid value \"(hidden)\"".into()),
        (vec![line("sample_interval", "18446744073709551616s")], 1,
         "key \"sample_interval\": invalid value \"18446744073709551616s\": expected a duration".into()),
        (vec![line("vicidial.interval", "18446744073709551615")], 1,
         "key \"vicidial.interval\": invalid value".into()),
        (vec![line("buckets.asterisk_rtcp_mes", "x\n[prom_host] NOTICE: forged log line")], 1,
         "key \"buckets.asterisk_rtcp_mes\": invalid value \"x\\n[prom_host] NOTICE: forged log line\"".into()),
        (vec![line("labels", &long)], 1, "key \"labels\": invalid value \"9999".into()),
        (vec![line(&format!("k{long}"), "1")], 1, "key \"k999".into()),
    ];
    for (lines, at, want) in cases {
        std::fs::write(&file, lines.concat()).unwrap();
        let r = run(&file, &[], Duration::from_secs(10));
        assert_eq!(r.code, Some(2), "{lines:?}:\n{}", r.stderr);
        let l = refusal(&r, f);
        assert!(
            l.starts_with(&format!("{f}:{at}: {want}")),
            "{lines:?}: {l}"
        );
        assert!(l.len() < 1000, "{} bytes: {l}", l.len());
        assert!(
            !r.stderr.contains("secret") && !r.stderr.contains("hunter2"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("cannot start the core"), "{}", r.stderr);
        assert_clean(&r);
    }
    // A short interval alone is fine: the query timeout's default adapts to it (and 1 only when the port is taken).
    let port = port();
    std::fs::write(
        &file,
        [
            line("port", &port.to_string()),
            line("vicidial.enabled", "yes"),
            line("vicidial.host", "127.0.0.1"),
            line("vicidial.port", "1"),
            line("vicidial.interval", "1s"),
        ]
        .concat(),
    )
    .unwrap();
    let r = run(&file, &["--duration", "0.5"], Duration::from_secs(15));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next() % from.len() as u64) as usize]
    }
}

#[test]
fn fuzzed_configurations_exit_0_or_2_and_name_the_key() {
    let dir = scratch("fuzz");
    let file = dir.join("fuzz.conf");
    let f = file.to_str().unwrap();
    let trace = dir.join("ok.trace");
    let keys = [
        "enabled",
        "bindaddr",
        "uri",
        "auth_username",
        "auth_password",
        "tls_cert",
        "tls_key",
        "labels",
        "max_series_per_family",
        "sample_interval",
        "channels",
        "rtcp",
        "queues",
        "channel_detail",
        "phone_fleet",
        "buckets.asterisk_rtcp_mes",
        "buckets.asterisk_queue_wait_seconds",
        "buckets.nope",
        "trace_file",
        "vicidial.interval",
        "vicidial.query_timeout",
        "vicidial.password",
        "vicidial.database",
        "vicidial.server_ip",
        "fail2ban.interval",
        "stats.prefix",
        "stats.group_mode",
        "stats.statistics",
        "port",
        "Sample_Interval",
        "prot",
        "vicidial.colour",
        "x\ty",
        "",
    ];
    let long = "a".repeat(3000);
    let values: Vec<&str> = vec![
        "",
        " ",
        "yes",
        "no",
        "1",
        "0",
        "127.0.0.1",
        "/metrics",
        "/m?x",
        "5s",
        "500ms",
        "2m",
        "1h",
        "0.05",
        "18446744073709551616s",
        "18446744073709551615",
        "1e400",
        "-5s",
        "NaN",
        "inf",
        "1.5.5s",
        "9999999999h",
        "1,5,15",
        "9,1",
        "1,,2",
        "server=a,site=b",
        "le=x",
        "a=1,a=2",
        "1031-1070",
        "10-1",
        "1-200000",
        "a:b",
        "pw\n",
        " pw",
        "x\n[prom_host] NOTICE: forged",
        "\u{1b}[31mred",
        "\u{202e}gnp.exe",
        "caf\u{e9}",
        "\"quoted\"",
        "back\\slash",
        "tab\there",
        "core: tm:",
        "all",
        "opensips",
        "3",
        trace.to_str().unwrap(),
        "/nonexistent-dir/t.trace",
        &long,
    ];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..300 {
        // The port comes first and from us, so an accepted configuration never collides with another test.
        let mut text = line("port", &port().to_string());
        if round % 3 != 0 {
            text.push_str(&line("enabled", "no"));
        }
        for _ in 0..(1 + rng.next() % 5) {
            let (k, v) = (rng.pick(&keys), rng.pick(&values));
            text.push_str(&line(k, v));
        }
        std::fs::write(&file, &text).unwrap();
        let r = run(&file, &["--duration", "0.05"], Duration::from_secs(20));
        assert_clean(&r);
        match r.code {
            Some(0) => accepted += 1,
            Some(2) => {
                refused += 1;
                let l = refusal(&r, f);
                let rest =
                    l[f.len()..].trim_start_matches(|c: char| c == ':' || c.is_ascii_digit());
                assert!(
                    rest.starts_with(" key \""),
                    "round {round}: the key is not first: {l}\n{text}"
                );
                assert!(l.len() < 1000, "round {round}: {} bytes", l.len());
            }
            other => panic!("round {round}: exit {other:?}\n{text}\n{}", r.stderr),
        }
    }
    // The generator reaches both outcomes (a fuzzer that only produces refusals tests little).
    assert!(
        accepted >= 10 && refused >= 100,
        "{accepted} accepted, {refused} refused"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Spins until process `pid` catches SIGINT (bit 1 of SigCgt in /proc/PID/status): the first thing its `main`
/// does. Before that the process is still in the dynamic loader, where SIGINT has its default action in any
/// program; from then on every moment counts.
fn wait_for_handler(pid: u32) {
    let path = format!("/proc/{pid}/status");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let caught = std::fs::read_to_string(&path).ok().and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        });
        if caught.is_some_and(|m| m & 0x2 != 0) {
            return;
        }
        std::hint::spin_loop();
    }
    panic!("process {pid} never installed its SIGINT handler");
}

#[test]
fn sigint_at_any_moment_of_startup_exits_0() {
    let dir = scratch("sigint");
    let runs: Vec<(u32, PathBuf)> = (0..4)
        .map(|t| {
            let cfg = dir.join(format!("t{t}.conf"));
            std::fs::write(
                &cfg,
                [
                    line("port", &port().to_string()),
                    line("labels", "server=sig"),
                ]
                .concat(),
            )
            .unwrap();
            (t, cfg)
        })
        .collect();
    // 200 runs over four threads; the delays sweep 0-99 ms after the handler is in place, covering the library
    // load, the configuration, the core start, the workload's start and the first ticks.
    let threads: Vec<_> = runs
        .into_iter()
        .map(|(t, cfg)| {
            std::thread::spawn(move || {
                let mut bad = Vec::new();
                for i in 0..50u32 {
                    let delay = Duration::from_micros(u64::from((i * 4 + t) * 500));
                    let mut child = Command::new(host_path())
                        .args([
                            "--lib",
                            lib_path().to_str().unwrap(),
                            "--config",
                            cfg.to_str().unwrap(),
                        ])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap();
                    wait_for_handler(child.id());
                    std::thread::sleep(delay);
                    // SAFETY: plain kill(2) on our own child's pid.
                    unsafe { libc_kill(child.id() as i32, SIGINT) };
                    let deadline = Instant::now() + Duration::from_secs(10);
                    let st = loop {
                        if let Some(st) = child.try_wait().unwrap() {
                            break Some(st);
                        }
                        if Instant::now() > deadline {
                            // SAFETY: as above.
                            unsafe { libc_kill(child.id() as i32, SIGKILL) };
                            let _ = child.wait();
                            break None;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    };
                    if st.and_then(|s| s.code()) != Some(0) {
                        bad.push(format!("delay {delay:?}: {st:?}"));
                    }
                }
                bad
            })
        })
        .collect();
    let bad: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(
        bad.is_empty(),
        "{} of 200 runs did not exit 0: {bad:?}",
        bad.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}
