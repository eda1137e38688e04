//! The live status page at `/`: the reference host's workload (paused, so the numbers hold still) with the ViciDial
//! reader on a private MariaDB; the page's numbers match the metrics page, and headless Chromium renders it (no
//! script needed) and takes the screenshot shown in the README.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
#[path = "vicidial/server.rs"]
#[allow(dead_code)]
mod server;

use common::*;
use server::{MariaDb, Schema, PASSWORD, USER};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

struct Host(Child);

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { kill(self.0.id() as i32, 15) };
        let _ = self.0.wait();
    }
}

/// The number shown in the card labelled `label` (`<div class="card ..."><b>N</b>label</div>`).
fn card(html: &str, label: &str) -> String {
    let end = html
        .find(&format!("</b>{label}</div>"))
        .unwrap_or_else(|| panic!("no card {label}"));
    let start = html[..end].rfind("<b>").unwrap() + 3;
    html[start..end].to_string()
}

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromium is installed by `make test` (Debian package chromium)")
}

fn headless(profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

#[test]
fn status_page_shows_the_workload_and_renders_in_chromium() {
    let db = MariaDb::start();
    db.create_database("asterisk", Schema::Current);
    db.load("asterisk", "scenario.sql");
    let dir = std::env::temp_dir().join(format!("prom_rs_status_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = port();
    let conf = dir.join("host.conf");
    let lines = [
        ("port", port.to_string()),
        ("labels", "server=demo-pbx".into()),
        ("phone_fleet", "1031-1070".into()),
        ("vicidial.enabled", "yes".into()),
        ("vicidial.host", "127.0.0.1".into()),
        ("vicidial.port", db.port.to_string()),
        ("vicidial.user", USER.into()),
        ("vicidial.password", PASSWORD.into()),
        ("vicidial.interval", "1s".into()),
        ("vicidial.query_timeout", "800ms".into()),
        ("vicidial.server_ip", "10.0.0.1".into()),
    ];
    let text: String = lines
        .iter()
        .map(|(k, v)| format!("modparam(\"prom_rs\", \"{k}\", \"{v}\")\n"))
        .collect();
    std::fs::write(&conf, text).unwrap();
    let child = Command::new(host_path())
        .args([
            "--lib",
            lib_path().to_str().unwrap(),
            "--config",
            conf.to_str().unwrap(),
            "--seed",
            "11",
            "--speed",
            "20",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("build/prom_host (run `make`)");
    let host = Host(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    // Let the charts gather a few points (one every 5 s) and the reader poll.
    std::thread::sleep(Duration::from_secs(16));
    // SAFETY: kill(2) on our own child: SIGUSR1 pauses the workload so the two pages below agree.
    unsafe { kill(host.0.id() as i32, 10) };
    std::thread::sleep(Duration::from_millis(500));
    let metrics = loop {
        let page = get(addr, "/metrics", &[]).unwrap().text();
        if page.contains("vicidial_agents{") || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let r = get(addr, "/", &[]).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(!html.contains("<script"), "readable without JavaScript");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );

    let sum = |prefix: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let active = value(&metrics, "asterisk_active_calls{server=\"demo-pbx\"}").unwrap();
    assert_eq!(card(&html, "active calls"), format!("{active}"));
    assert_eq!(
        card(&html, "channels"),
        format!("{}", sum("asterisk_channels{"))
    );
    let down = metrics
        .lines()
        .filter(|l| l.starts_with("asterisk_endpoint_up{") && l.ends_with(" 0"))
        .count();
    assert_eq!(card(&html, "endpoints down (of 46)"), down.to_string());
    // The ViciDial scenario on dialer 10.0.0.1: a03 and a12 in a call; a01 ready and a08 closer waiting; 3 paused.
    assert_eq!(card(&html, "agents in call"), "2");
    assert_eq!(card(&html, "agents waiting"), "2");
    assert_eq!(card(&html, "agents paused"), "3");
    assert_eq!(
        card(&html, "recordings missing (1 h)"),
        format!(
            "{}",
            value(&metrics, "vicidial_recordings_missing{server=\"demo-pbx\"}").unwrap()
        )
    );
    assert!(
        html.matches("<svg class=\"chart\"").count() >= 5,
        "five charts"
    );
    assert!(
        html.matches("<polyline").count() >= 4,
        "charts have lines after 16 s"
    );

    // Headless Chromium renders it: the DOM it builds carries the numbers, and a screenshot is taken.
    let profile = dir.join("chromium");
    let url = format!("http://127.0.0.1:{port}/");
    let dom = headless(&profile, &["--dump-dom", &url]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(
        dom_text.contains("res_prom_rs status") && dom_text.contains("agents in call"),
        "{dom_text}"
    );
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/status-page.png");
    let out = headless(
        &profile,
        &[
            "--hide-scrollbars",
            "--window-size=1280,1400",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot {} bytes",
        png.len()
    );
    if std::env::var_os("PROM_RS_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(
            &shot,
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png"),
        )
        .unwrap();
    }
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);
}
