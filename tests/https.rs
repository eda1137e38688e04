//! HTTPS and hashed passwords end to end: certificates made by the `openssl` CLI, the core configured through its
//! keys (`tls_*`, `auth_password_hash`), checked with `curl`, `openssl s_client` and a real Prometheus scraping over
//! HTTPS with basic auth, with and without a client certificate. Renewed certificates are picked up by a reload
//! while the port stays bound.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use res_prom_rs::config::{Config, ConfigBuilder, ConfigError};
use res_prom_rs::core::Core;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (`make test-deps` installs it)"))
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = run("openssl", args, dir);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a key + certificate signed by it (`usage`: serverAuth or clientAuth).
fn issue(dir: &Path, ca: &str, name: &str, cn: &str, usage: &str) {
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage={usage}\n"),
    )
    .unwrap();
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

fn make_ca(dir: &Path, name: &str) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn config(pairs: &[(&str, String)]) -> Result<Config, ConfigError> {
    let mut b = ConfigBuilder::new();
    for (k, v) in pairs {
        b.set(k, v)?;
    }
    b.finish()
}

/// `curl` against the exporter: (HTTP code, body); code 0 when no HTTP answer came (TLS refused).
fn curl(dir: &Path, port: u16, extra: &[&str]) -> (u16, String) {
    let url = format!("https://127.0.0.1:{port}/metrics");
    let mut args = vec![
        "-s",
        "-m",
        "10",
        "--cacert",
        "ca.pem",
        "-o",
        "body.txt",
        "-w",
        "%{http_code}",
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let _ = std::fs::remove_file(dir.join("body.txt"));
    let out = run("curl", &args, dir);
    let code = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (
        code,
        std::fs::read_to_string(dir.join("body.txt")).unwrap_or_default(),
    )
}

/// The subject of the certificate the server presents now.
fn served_subject(dir: &Path, port: u16) -> String {
    let out = run(
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            "ca.pem",
            "-cert",
            "client.pem",
            "-key",
            "client.key",
        ],
        dir,
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or_default()
        .to_string()
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus_targets(port: u16) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-m",
            "5",
            &format!("http://127.0.0.1:{port}/api/v1/targets"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// (job, health) of every active target in a /api/v1/targets answer.
fn health(targets: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in targets.split("\"labels\":{").skip(1) {
        let job = part
            .split("\"job\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default();
        let h = part
            .split("\"health\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default();
        if !job.is_empty() {
            out.push((job.to_string(), h.to_string()));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn tmpdir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("prom_rs_https_{}_{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn https_with_bcrypt_auth_and_client_certificates_with_curl_and_prometheus() {
    let dir = tmpdir("e2e");
    make_ca(&dir, "ca");
    make_ca(&dir, "rogue");
    issue(&dir, "ca", "server", "server-1", "serverAuth");
    issue(&dir, "ca", "client", "prometheus", "clientAuth");
    issue(&dir, "rogue", "intruder", "intruder", "clientAuth");
    let hash = bcrypt::hash("s3cret pass", 6).unwrap();
    let port = free_port();
    let path = |f: &str| dir.join(f).display().to_string();
    let base = vec![
        ("port", port.to_string()),
        ("tls_cert", path("server.pem")),
        ("tls_key", path("server.key")),
        ("tls_client_ca", path("ca.pem")),
        ("auth_username", "prom".to_string()),
        ("auth_password_hash", hash.clone()),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut p = base.clone();
        p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        config(&p).unwrap()
    };
    let core = Core::start(with(&[("tls_client_auth", "verify_if_given")])).expect("start");
    let cert = ["--cert", "client.pem", "--key", "client.key"];
    // Basic auth with the hash; a client certificate is optional but must verify when given.
    assert_eq!(curl(&dir, port, &[]).0, 401);
    assert_eq!(curl(&dir, port, &["-u", "prom:wrong"]).0, 401);
    assert_eq!(curl(&dir, port, &["-u", "other:s3cret pass"]).0, 401);
    let (code, body) = curl(&dir, port, &["-u", "prom:s3cret pass"]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("prom_rs_"), "{body}");
    let mut ok = vec!["-u", "prom:s3cret pass"];
    ok.extend_from_slice(&cert);
    assert_eq!(curl(&dir, port, &ok).0, 200);
    let mut bad = vec![
        "-u",
        "prom:s3cret pass",
        "--cert",
        "intruder.pem",
        "--key",
        "intruder.key",
    ];
    assert_eq!(
        curl(&dir, port, &bad).0,
        0,
        "a certificate from another CA is refused"
    );
    // Plain HTTP on the HTTPS port gets no page.
    let out = run(
        "curl",
        &[
            "-s",
            "-m",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://127.0.0.1:{port}/metrics"),
        ],
        &dir,
    );
    assert_ne!(String::from_utf8_lossy(&out.stdout).trim(), "200");

    // A real Prometheus: with a client certificate, without one, and with a wrong password.
    let prom_port = free_port();
    let job = |name: &str, pass: &str, with_cert: bool| {
        let certs = if with_cert {
            format!(
                "\n      cert_file: {}\n      key_file: {}",
                path("client.pem"),
                path("client.key")
            )
        } else {
            String::new()
        };
        format!(
            "  - job_name: {name}\n    scheme: https\n    basic_auth:\n      username: prom\n      password: '{pass}'\n    \
             tls_config:\n      ca_file: {ca}{certs}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
            ca = path("ca.pem")
        )
    };
    let yml = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n{}{}{}",
        job("with_cert", "s3cret pass", true),
        job("no_cert", "s3cret pass", false),
        job("wrong_password", "nope", true)
    );
    std::fs::write(dir.join("prometheus.yml"), yml).unwrap();
    let _prom = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", path("prometheus.yml")))
            .arg(format!("--storage.tsdb.path={}", path("data")))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus (Debian package `prometheus`; `make test-deps` installs it)"),
    );
    let want = vec![
        ("no_cert".to_string(), "up".to_string()),
        ("with_cert".to_string(), "up".to_string()),
        ("wrong_password".to_string(), "down".to_string()),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen = health(&prometheus_targets(prom_port));
        if seen == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(seen, want, "{}", prometheus_targets(prom_port));

    // Reload: a certificate is now required, TLS 1.3 only, and the server certificate was renewed. The port stays;
    // connections kept alive under the old setup are closed when idle, so Prometheus' no_cert job goes down.
    assert!(served_subject(&dir, port).contains("server-1"));
    issue(&dir, "ca", "server", "server-2", "serverAuth");
    core.reload(with(&[
        ("tls_client_auth", "require"),
        ("tls_min_version", "TLS13"),
    ]))
    .expect("reload");
    assert_eq!(core.local_addr().unwrap().port(), port);
    assert!(
        served_subject(&dir, port).contains("server-2"),
        "{}",
        served_subject(&dir, port)
    );
    assert_eq!(
        curl(&dir, port, &["-u", "prom:s3cret pass"]).0,
        0,
        "no client certificate: refused"
    );
    assert_eq!(curl(&dir, port, &ok).0, 200);
    bad = ok.clone();
    bad.extend_from_slice(&["--tls-max", "1.2"]);
    assert_eq!(
        curl(&dir, port, &bad).0,
        0,
        "TLS 1.2 refused under tls_min_version = TLS13"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let want_after = vec![
        ("no_cert".to_string(), "down".to_string()),
        ("with_cert".to_string(), "up".to_string()),
        ("wrong_password".to_string(), "down".to_string()),
    ];
    while Instant::now() < deadline {
        seen = health(&prometheus_targets(prom_port));
        if seen == want_after {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(seen, want_after, "{}", prometheus_targets(prom_port));
    core.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_tls_files_are_refused_naming_the_key() {
    let dir = tmpdir("bad");
    make_ca(&dir, "ca");
    issue(&dir, "ca", "server", "server-1", "serverAuth");
    issue(&dir, "ca", "other", "other", "serverAuth");
    let path = |f: &str| dir.join(f).display().to_string();
    std::fs::write(dir.join("empty.pem"), "not pem\n").unwrap();
    let cases = [
        (
            "tls_cert",
            path("missing.pem"),
            path("server.key"),
            "cannot read",
        ),
        (
            "tls_cert",
            path("empty.pem"),
            path("server.key"),
            "no \"BEGIN CERTIFICATE\"",
        ),
        (
            "tls_key",
            path("server.pem"),
            path("server.pem"),
            "no private key",
        ),
        (
            "tls_key",
            path("server.pem"),
            path("other.key"),
            "cannot be used with the certificate",
        ),
    ];
    for (key, cert, k, msg) in cases {
        let e = config(&[("tls_cert", cert), ("tls_key", k)]).unwrap_err();
        assert_eq!(e.key, key, "{e}");
        assert!(e.to_string().contains(msg), "{e}");
    }
    let e = config(&[
        ("tls_cert", path("server.pem")),
        ("tls_key", path("server.key")),
        ("tls_client_ca", path("empty.pem")),
    ])
    .unwrap_err();
    assert_eq!(e.key, "tls_client_ca", "{e}");
    assert!(config(&[
        ("tls_cert", path("server.pem")),
        ("tls_key", path("server.key"))
    ])
    .is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
