//! A private fail2ban-server for the fail2ban tests, from the Debian `fail2ban` package (`make test-deps` installs
//! it): run in the foreground with its own configuration folder, socket, pid file, database and log under a temporary
//! folder, two jails reading one test log file, and a ban action that does nothing (no firewall is touched). The
//! system's fail2ban (its service, socket and database) is never used.
//!
//! The guard kills the server on drop, also when a test panics; a watchdog (`sh`) kills it and removes the folder
//! once the test process is gone.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const SERVER: &str = "/usr/bin/fail2ban-server";
pub const CLIENT: &str = "/usr/bin/fail2ban-client";

/// Why the tests cannot run here (`None`: they can).
pub fn unavailable() -> Option<String> {
    [SERVER, CLIENT]
        .iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| format!("{p} not found: the fail2ban tests need the Debian package fail2ban (run `make test-deps`, or apt-get install fail2ban)"))
}

/// One private server (running or killed).
pub struct Fail2banServer {
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// The log file both jails read.
    pub log: PathBuf,
    child: Option<Child>,
    watchdog: Option<Child>,
}

/// `pbx-auth` bans after 3 failed logins, `pbx-scan` after 2 scans; both read `pbx.log`, whose lines carry no
/// time stamp (fail2ban takes the time it reads them).
fn write_config(dir: &Path) {
    let conf = dir.join("conf");
    for sub in ["filter.d", "action.d", "jail.d", "fail2ban.d"] {
        std::fs::create_dir_all(conf.join(sub)).unwrap();
    }
    let d = dir.display();
    let files = [
        (
            "fail2ban.conf",
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/server.log\nsyslogsocket = auto\nsocket = {d}/f2b.sock\npidfile = {d}/f2b.pid\ndbfile = {d}/f2b.sqlite3\ndbpurgeage = 1d\n"
            ),
        ),
        (
            "filter.d/pbx-auth.conf",
            "[Definition]\nfailregex = ^PBX auth failed for \\S+ from <HOST>$\ndatepattern = {NONE}\n".into(),
        ),
        (
            "filter.d/pbx-scan.conf",
            "[Definition]\nfailregex = ^PBX scan from <HOST>$\ndatepattern = {NONE}\n".into(),
        ),
        (
            "action.d/pbx-noop.conf",
            "[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban =\nactionunban =\n".into(),
        ),
        (
            "jail.conf",
            format!(
                "[DEFAULT]\nbackend = polling\nbanaction = pbx-noop\naction = pbx-noop\nbantime = 1h\nfindtime = 1h\nmaxretry = 3\n\n\
                 [pbx-auth]\nenabled = true\nfilter = pbx-auth\nlogpath = {d}/pbx.log\n\n\
                 [pbx-scan]\nenabled = true\nfilter = pbx-scan\nlogpath = {d}/pbx.log\nmaxretry = 2\n"
            ),
        ),
    ];
    for (name, text) in files {
        std::fs::write(conf.join(name), text).unwrap();
    }
    std::fs::write(dir.join("pbx.log"), "").unwrap();
}

impl Fail2banServer {
    pub fn start() -> Fail2banServer {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "prom_rs_f2b_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Traversable by others: the permission test connects as an unprivileged user and must reach the socket.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_config(&dir);
        let mut s = Fail2banServer {
            socket: dir.join("f2b.sock"),
            log: dir.join("pbx.log"),
            dir,
            child: None,
            watchdog: None,
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let d = &self.dir;
        let child = Command::new(SERVER)
            .arg("-f")
            // A socket left behind by a killed server is removed first.
            .arg("-x")
            .arg("-c")
            .arg(d.join("conf"))
            .arg("-s")
            .arg(&self.socket)
            .arg("-p")
            .arg(d.join("f2b.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{SERVER}: {e}"));
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg("while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\" 2>/dev/null; rm -rf \"$3\"")
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .arg(d)
            .stdin(Stdio::null())
            .spawn()
            .expect("sh");
        self.child = Some(child);
        if let Some(mut old) = self.watchdog.replace(watchdog) {
            let _ = old.kill();
            let _ = old.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Ready once both jails answer.
            if self.client(&["status", "pbx-scan"]).is_ok()
                && self.client(&["status", "pbx-auth"]).is_ok()
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("fail2ban-server exited ({status}): {}", self.server_log());
            }
            assert!(
                Instant::now() < deadline,
                "fail2ban-server not ready within 30 s: {}",
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Runs `fail2ban-client -s SOCKET ARGS...`; its output, or why it failed.
    pub fn client(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(CLIENT)
            .arg("-s")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{CLIENT}: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// `fail2ban-client set JAIL banip|unbanip ADDRESS...`, which must succeed.
    pub fn set(&self, jail: &str, what: &str, addresses: &[&str]) {
        let mut args = vec!["set", jail, what];
        args.extend_from_slice(addresses);
        self.client(&args)
            .unwrap_or_else(|e| panic!("fail2ban-client {}: {e}", args.join(" ")));
    }

    /// Appends lines to the log file the jails read.
    pub fn append_log(&self, lines: &[String]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    /// Sends a signal (`STOP`, `CONT`) to the server with kill(1).
    pub fn signal(&self, sig: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("server running")
            .id()
            .to_string();
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(&pid)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid}");
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for Fail2banServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
