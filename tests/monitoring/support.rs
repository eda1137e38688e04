//! Processes, ports and the Prometheus HTTP API for the monitoring tests.

use super::json::{self, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

/// The repository's `monitoring/` directory.
pub fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring")
}

/// A loopback port free right now (the kernel's pick).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A scratch directory for this test process, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("prom_rs_monitoring_{}_{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed on drop, also when the test panics.
pub struct Guard {
    pub name: &'static str,
    pub child: Child,
}

impl Guard {
    /// Panics with `log` when the process has exited.
    pub fn assert_running(&mut self, log: &Path) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited ({status}):\n{}",
                self.name,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a tool from the Debian `prometheus` package (promtool, prometheus).
pub fn run_tool(tool: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool}: {e} (the Debian package `prometheus` provides it; `make test` installs it)")
        })
}

/// Asserts that a tool run succeeded, showing its output otherwise.
pub fn assert_success(what: &str, o: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{what} failed ({}):\n{text}", o.status);
    text
}

/// Percent-encodes a query parameter value.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One GET to 127.0.0.1:`port` over HTTP/1.0 (so the body is neither chunked nor kept alive): (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no header end"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

/// The HTTP API of a Prometheus server on 127.0.0.1:`port`.
pub struct PromApi {
    pub port: u16,
}

impl PromApi {
    /// `data` of an API answer, or the API's error message.
    pub fn get(&self, path: &str) -> Result<Value, String> {
        let (status, body) = http_get(self.port, path).map_err(|e| format!("GET {path}: {e}"))?;
        let v =
            json::parse(&body).map_err(|e| format!("GET {path}: HTTP {status}, {e}: {body}"))?;
        if v.str_at("status") != "success" {
            return Err(format!("{}: {}", v.str_at("errorType"), v.str_at("error")));
        }
        v.get("data")
            .cloned()
            .ok_or_else(|| format!("GET {path}: no data in {body}"))
    }

    /// The series an instant query returns (vector results; a scalar counts as one series).
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.get(&format!("/api/v1/query?query={}", url_encode(expr)))?;
        match data.str_at("resultType") {
            "vector" | "matrix" => Ok(data
                .get("result")
                .map(|r| r.as_array().to_vec())
                .unwrap_or_default()),
            "scalar" | "string" => Ok(vec![data.get("result").cloned().unwrap_or(Value::Null)]),
            other => Err(format!("unexpected result type {other:?}")),
        }
    }

    /// The value of a one-series query, when there is exactly one.
    pub fn scalar(&self, expr: &str) -> Option<f64> {
        let r = self.query(expr).ok()?;
        if r.len() != 1 {
            return None;
        }
        r[0].get("value")?.as_array().get(1)?.as_str()?.parse().ok()
    }
}
