//! A private MariaDB server for the ViciDial tests: its own data directory, Unix socket and loopback port, started
//! from the Debian `mariadb-server` binaries (`make test-deps` installs them), no system service involved.
//!
//! The guard kills the server on drop, also when a test panics. A server kept in a `static` is never dropped, so
//! every server also gets a watchdog (`sh`) that kills it and removes its directory once the test process is gone.

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The exporter's read-only account.
pub const USER: &str = "exporter";
pub const PASSWORD: &str = "Vd-s3cret-7f2a";

/// The tables the reader reads: the four of the live state, then those of the KPI families.
pub const TABLES: [&str; 12] = [
    "vicidial_live_agents",
    "vicidial_auto_calls",
    "vicidial_closer_log",
    "recording_log",
    "vicidial_campaigns",
    "vicidial_campaign_stats",
    "vicidial_hopper",
    "vicidial_inbound_groups",
    "vicidial_agent_log",
    "vicidial_log",
    "vicidial_statuses",
    "vicidial_campaign_statuses",
];

const SQL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sql");

/// Which `CREATE TABLE`s to run.
#[derive(Clone, Copy)]
pub enum Schema {
    /// Upstream schema version 1728 (2025).
    Current,
    /// Schema version 1540 (2019): without the newest agent columns.
    Old1540,
}

const INSTALL_DB: &[&str] = &["mariadb-install-db", "mysql_install_db"];
const SERVER: &[&str] = &["mariadbd", "mysqld"];

fn locate(names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|n| {
        ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(n))
            .find(|p| p.exists())
    })
}

fn find(names: &[&str]) -> PathBuf {
    locate(names).unwrap_or_else(|| panic!("{}", missing(names)))
}

fn missing(names: &[&str]) -> String {
    format!(
        "{} not found: the ViciDial tests need a MariaDB server (run `make test-deps`, or apt-get install mariadb-server)",
        names[0]
    )
}

/// Why a private server cannot be started on this machine (`None`: it can).
pub fn unavailable() -> Option<String> {
    [INSTALL_DB, SERVER]
        .iter()
        .find(|n| locate(n).is_none())
        .map(|n| missing(n))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One running (or killed) private server.
pub struct MariaDb {
    dir: PathBuf,
    pub port: u16,
    pub socket: PathBuf,
    child: Option<Child>,
    watchdog: Option<Child>,
}

impl MariaDb {
    /// Creates a data directory and starts a server on it; waits until it accepts connections.
    pub fn start() -> MariaDb {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "prom_rs_mariadb_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let install = find(INSTALL_DB);
        let out = Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                // Small InnoDB files: the tests use MyISAM and MEMORY tables, as ViciDial does.
                "--innodb-log-file-size=4M",
                "--innodb-buffer-pool-size=16M",
            ])
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", install.display()));
        assert!(
            out.status.success(),
            "{} failed: {}{}",
            install.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut db = MariaDb {
            socket: dir.join("sock"),
            dir,
            port: free_port(),
            child: None,
            watchdog: None,
        };
        db.launch();
        db
    }

    fn launch(&mut self) {
        let server = find(SERVER);
        let child = Command::new(&server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--socket={}", self.socket.display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
            .arg(format!(
                "--log-error={}",
                self.dir.join("error.log").display()
            ))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--skip-name-resolve",
                "--innodb-log-file-size=4M",
                "--innodb-buffer-pool-size=16M",
                "--max-connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", server.display()));
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(
                "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\" 2>/dev/null; rm -rf \"$3\"",
            )
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .arg(&self.dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("sh");
        self.child = Some(child);
        if let Some(mut old) = self.watchdog.replace(watchdog) {
            let _ = old.kill();
            let _ = old.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.root_opt().is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("mariadbd exited ({status}): {}", self.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not accept connections within 60 s: {}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's error log (for assertion messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn root_opt(&self) -> mysql::Result<Conn> {
        Conn::new(
            OptsBuilder::new()
                .socket(Some(self.socket.to_string_lossy()))
                .user(Some("root"))
                .read_timeout(Some(Duration::from_secs(30)))
                .write_timeout(Some(Duration::from_secs(30))),
        )
    }

    /// A root connection over the socket.
    pub fn root(&self) -> Conn {
        self.root_opt().expect("root connection")
    }

    /// Kills the server the hard way (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data directory and port.
    pub fn restart(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.socket);
        self.launch();
    }

    /// Creates database `name` with the tables of `schema`, and the read-only account with SELECT on exactly
    /// those tables (and `user` with `password`, when another account is wanted).
    pub fn create_database(&self, name: &str, schema: Schema) {
        let mut c = self.root();
        c.query_drop(format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        c.query_drop(format!("CREATE DATABASE {name}")).unwrap();
        c.query_drop(format!("USE {name}")).unwrap();
        let file = match schema {
            Schema::Current => "schema_current.sql",
            Schema::Old1540 => "schema_1540.sql",
        };
        run_sql_file(&mut c, file);
        self.grant(name, USER, PASSWORD);
    }

    /// Creates `user` (if needed) and grants it SELECT on the reader's tables of `db`.
    pub fn grant(&self, db: &str, user: &str, password: &str) {
        let mut c = self.root();
        for host in ["localhost", "127.0.0.1"] {
            // CREATE USER cannot be prepared; the test passwords hold no quote or backslash.
            assert!(!password.contains(['\'', '\\']));
            c.query_drop(format!(
                "CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}'"
            ))
            .unwrap();
            for t in TABLES {
                c.query_drop(format!("GRANT SELECT ON {db}.{t} TO '{user}'@'{host}'"))
                    .unwrap();
            }
        }
    }

    /// Waits, when the server's clock is less than `margin` past midnight, until it is (scenario rows of "today" are
    /// up to a minute old).
    pub fn wait_past_midnight(&self, margin: Duration) {
        let since: u64 = self
            .root()
            .query_first("SELECT TIME_TO_SEC(CURTIME())")
            .unwrap()
            .unwrap_or(0);
        if let Some(left) = margin.as_secs().checked_sub(since) {
            std::thread::sleep(Duration::from_secs(left + 1));
        }
    }

    /// Runs statements as root in database `db`.
    pub fn exec(&self, db: &str, statements: &[&str]) {
        let mut c = self.root();
        c.query_drop(format!("USE {db}")).unwrap();
        for s in statements {
            c.query_drop(*s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }

    /// Loads `tests/sql/<file>` into database `db`.
    pub fn load(&self, db: &str, file: &str) {
        let mut c = self.root();
        c.query_drop(format!("USE {db}")).unwrap();
        run_sql_file(&mut c, file);
    }
}

/// Runs a file of statements, each ending with `;` at the end of a line; `--` lines are comments.
fn run_sql_file(c: &mut Conn, file: &str) {
    let path = Path::new(SQL_DIR).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    for stmt in body.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        c.query_drop(stmt)
            .unwrap_or_else(|e| panic!("{file}: {e}\n{stmt}"));
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.kill();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
