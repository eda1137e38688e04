//! The database side of the reader: one connection with every network step bounded, the four live-state queries
//! (the KPI queries are in [`super::kpi_db`]), and the classification of failures into what an operator has to do
//! about them.
//!
//! Client: the `mysql` crate (the maintained synchronous MySQL/MariaDB driver; `mysql_async` and `sqlx` need an
//! async runtime we do not want inside the PBX), used as one `Conn` and never as a `Pool` (`Pool::new` opens ten
//! connections at once), built without TLS so no OpenSSL is linked into the host. A connection is dropped after any
//! error: a timed-out or interrupted exchange leaves it out of sync.

use super::kpi_db::{self, KpiState};
use super::snapshot::{AgentRow, GroupRow, Reading};
use crate::clock::secs;
use crate::config::VicidialConfig;
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, Params, Row, Value};
use std::io;
use std::time::Duration;

/// Agents: columns by name, present in every schema version since 2019 (the newest columns are not read).
const AGENTS_SQL: &str = "SELECT user, status, campaign_id, pause_code, lead_id, \
     TIMESTAMPDIFF(SECOND, last_state_change, NOW()) FROM vicidial_live_agents";
/// Calls the dialer is handling, by campaign and status.
const AUTO_CALLS_SQL: &str = "SELECT campaign_id, status, COUNT(*) FROM vicidial_auto_calls";
const AUTO_CALLS_GROUP: &str = " GROUP BY campaign_id, status";
/// Closer calls of the last hour longer than 10 s without a recording. `vicidial_id` holds the closecallid as text:
/// comparing it with a number would convert every row (no index); `CAST(... AS CHAR)` gives the connection's
/// character set, which wins over the column's and also defeats the index; `CONCAT(number)` is coercible to the
/// column's character set, so recording_log's index on vicidial_id is used (45 ms -> 1 ms on 1,000 calls).
const MISSING_SQL: &str = "SELECT COUNT(*) FROM vicidial_closer_log cl \
     WHERE cl.call_date >= NOW() - INTERVAL 1 HOUR AND cl.length_in_sec > 10 \
     AND NOT EXISTS (SELECT 1 FROM recording_log rl WHERE rl.vicidial_id = CONCAT(cl.closecallid))";
/// Closer calls of the last hour by in-group and termination reason, with their total time in queue.
const CLOSER_SQL: &str = "SELECT campaign_id, term_reason, COUNT(*), SUM(queue_seconds) \
     FROM vicidial_closer_log WHERE call_date >= NOW() - INTERVAL 1 HOUR GROUP BY campaign_id, term_reason";

const QUERY_KEY: &str = "vicidial.query_timeout";

/// What went wrong, in the terms an operator acts on. Messages never contain the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server cannot be reached (down, wrong host/port/socket, firewall).
    Unreachable(String),
    /// The server refused the account (wrong user or password, or no access to the database).
    AccessDenied(String),
    /// A table or column the reader needs is missing (`table`, server message).
    Schema(&'static str, String),
    /// The account lacks SELECT on a table.
    NoPrivilege(&'static str, String),
    /// A step took longer than its timeout (step, limit, the key that sets it).
    Timeout(String, Duration, &'static str),
    /// The connection broke in the middle of an exchange.
    Lost(String),
    /// Anything else (step, detail).
    Other(String, String),
    /// The reader was asked to stop between two queries (not a failure of the source).
    Stopped,
}

impl Failure {
    /// A short key for the kind of failure: the operator is told once per change of situation, not once per poll.
    pub fn situation(&self) -> String {
        match self {
            Failure::Unreachable(_) => "unreachable".into(),
            Failure::AccessDenied(_) => "access denied".into(),
            Failure::Lost(_) => "lost".into(),
            Failure::Schema(t, _) => format!("schema:{t}"),
            Failure::NoPrivilege(t, _) => format!("privilege:{t}"),
            Failure::Timeout(step, ..) => format!("timeout:{step}"),
            Failure::Other(step, _) => format!("other:{step}"),
            Failure::Stopped => "stopped".into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(d) => write!(f, "cannot connect to {d}"),
            Failure::AccessDenied(d) => write!(
                f,
                "access denied: {d} (check vicidial.user, vicidial.password and vicidial.database, and the GRANTs in the README)"
            ),
            Failure::Schema(t, d) => write!(
                f,
                "the query on {t} failed: {d}; the reader needs the tables and columns listed in the README (is vicidial.database a ViciDial database?)"
            ),
            Failure::NoPrivilege(t, d) => write!(
                f,
                "no SELECT privilege on {t}: {d} (see the GRANTs in the README)"
            ),
            Failure::Timeout(step, limit, key) => {
                write!(f, "{step} timed out after {} ({key})", secs(*limit))
            }
            Failure::Lost(d) => write!(f, "connection lost: {d}"),
            Failure::Other(step, d) => write!(f, "{step} failed: {d}"),
            Failure::Stopped => write!(f, "stopped"),
        }
    }
}

/// Where the server is, for messages (`host:port` or the socket path).
pub fn target(cfg: &VicidialConfig) -> String {
    match &cfg.socket {
        Some(p) => p.display().to_string(),
        None if cfg.host.contains(':') => format!("[{}]:{}", cfg.host, cfg.port),
        None => format!("{}:{}", cfg.host, cfg.port),
    }
}

fn io_error(e: &mysql::Error) -> Option<&io::Error> {
    match e {
        mysql::Error::IoError(e) => Some(e),
        mysql::Error::CodecError(c) => std::error::Error::source(c)?.downcast_ref::<io::Error>(),
        _ => None,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Classifies an error of `step` (`"connecting"`, or a query on `table`).
fn classify(
    e: mysql::Error,
    cfg: &VicidialConfig,
    step: &str,
    table: Option<&'static str>,
) -> Failure {
    use mysql::DriverError as D;
    match &e {
        mysql::Error::MySqlError(m) => {
            let msg = format!("{} (error {})", m.message, m.code);
            match (m.code, table) {
                // ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_BAD_DB_ERROR
                (1045 | 1044 | 1049, _) => Failure::AccessDenied(msg),
                // ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR
                (1146 | 1054, Some(t)) => Failure::Schema(t, msg),
                // ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR
                (1142 | 1143, Some(t)) => Failure::NoPrivilege(t, msg),
                // MariaDB max_statement_time, MySQL max_execution_time
                (1969 | 3024, _) => {
                    Failure::Timeout(step.to_string(), cfg.query_timeout, QUERY_KEY)
                }
                _ => Failure::Other(step.to_string(), msg),
            }
        }
        mysql::Error::DriverError(D::ConnectTimeout) => Failure::Timeout(
            format!("connecting to {}", target(cfg)),
            cfg.connect_timeout,
            "vicidial.connect_timeout",
        ),
        mysql::Error::DriverError(D::CouldNotConnect(Some((addr, desc, _)))) => {
            Failure::Unreachable(format!("{addr}: {desc}"))
        }
        mysql::Error::DriverError(D::CouldNotConnect(None)) => Failure::Unreachable(target(cfg)),
        _ => match io_error(&e) {
            // Reads and writes (the handshake's too) are bounded by the query timeout.
            Some(io) if is_timeout(io) => {
                Failure::Timeout(step.to_string(), cfg.query_timeout, QUERY_KEY)
            }
            Some(io) if table.is_none() => Failure::Unreachable(format!("{}: {io}", target(cfg))),
            Some(io) => Failure::Lost(format!("{step}: {io}")),
            None => Failure::Other(step.to_string(), e.to_string()),
        },
    }
}

/// An open connection and what it is connected to.
pub struct Db {
    conn: Conn,
    /// `VERSION()`, e.g. `10.11.6-MariaDB-0+deb12u1`.
    pub version: String,
    /// False when the server-side statement time limit could not be set (old server): only the socket timeout
    /// bounds a query then.
    pub statement_limit: bool,
}

/// The server-side statement time limit for a server of `version`: MariaDB takes seconds (`max_statement_time`,
/// since 10.1), MySQL milliseconds (`max_execution_time`, since 5.7.8, SELECT only, which is all we run).
fn statement_limit_sql(version: &str, limit: Duration) -> String {
    if version.to_ascii_lowercase().contains("mariadb") {
        format!(
            "SET SESSION max_statement_time = {:.3}",
            limit.as_secs_f64()
        )
    } else {
        format!("SET SESSION max_execution_time = {}", limit.as_millis())
    }
}

impl Db {
    /// Connects: TCP connect bounded by `connect_timeout`, every read and write by `query_timeout`.
    pub fn connect(cfg: &VicidialConfig) -> Result<Db, Failure> {
        let mut opts = OptsBuilder::new()
            .user(Some(cfg.user.as_str()))
            .pass((!cfg.password.is_empty()).then_some(cfg.password.as_str()))
            .db_name(Some(cfg.database.as_str()))
            .tcp_connect_timeout(Some(cfg.connect_timeout))
            .read_timeout(Some(cfg.query_timeout))
            .write_timeout(Some(cfg.query_timeout))
            // Connect exactly where configured: by default the crate moves a loopback TCP connection to the
            // server's Unix socket, which may not be the server the configuration names.
            .prefer_socket(false)
            .stmt_cache_size(8);
        opts = match &cfg.socket {
            Some(p) => opts.socket(Some(p.to_string_lossy())),
            None => opts
                .ip_or_hostname(Some(cfg.host.as_str()))
                .tcp_port(cfg.port),
        };
        let mut conn = Conn::new(opts).map_err(|e| classify(e, cfg, "connecting", None))?;
        let version: String = conn
            .query_first::<String, _>("SELECT VERSION()")
            .map_err(|e| classify(e, cfg, "reading the server version", None))?
            .unwrap_or_default();
        let statement_limit =
            match conn.query_drop(statement_limit_sql(&version, cfg.query_timeout)) {
                Ok(()) => true,
                // Unknown system variable on an old server: carry on with the socket timeout alone.
                Err(mysql::Error::MySqlError(_)) => false,
                Err(e) => return Err(classify(e, cfg, "setting the statement time limit", None)),
            };
        Ok(Db {
            conn,
            version,
            statement_limit,
        })
    }

    /// Runs one query on `table` (named in errors), unless `stopped()`.
    pub(super) fn rows(
        &mut self,
        cfg: &VicidialConfig,
        stopped: &dyn Fn() -> bool,
        table: &'static str,
        sql: &str,
        params: Params,
    ) -> Result<Vec<Row>, Failure> {
        if stopped() {
            return Err(Failure::Stopped);
        }
        self.conn
            .exec(sql, params)
            .map_err(|e| classify(e, cfg, &format!("query on {table}"), Some(table)))
    }

    /// Runs the four live-state queries, then the KPI ones. `server_ip` limits agents and auto calls to one dialer
    /// (a bound parameter). Gives up before the next query once `stopped()` says so.
    pub fn read(
        &mut self,
        cfg: &VicidialConfig,
        stopped: &dyn Fn() -> bool,
        kpi: &mut KpiState,
    ) -> Result<Reading, Failure> {
        let ip = cfg.server_ip.map(|ip| ip.to_string());
        let (filter, params) = match &ip {
            Some(ip) => (
                " WHERE server_ip = ?",
                Params::Positional(vec![Value::from(ip.as_str())]),
            ),
            None => ("", Params::Empty),
        };
        let agents = self
            .rows(
                cfg,
                stopped,
                "vicidial_live_agents",
                &format!("{AGENTS_SQL}{filter}"),
                params.clone(),
            )?
            .into_iter()
            .map(|r| AgentRow {
                user: text(&r, 0),
                status: text(&r, 1),
                campaign: text(&r, 2),
                pause_code: text(&r, 3),
                lead_id: number(&r, 4).max(0.0) as u64,
                state_seconds: opt_number(&r, 5).map(|v| v as i64),
            })
            .collect();
        let auto_calls = self
            .rows(
                cfg,
                stopped,
                "vicidial_auto_calls",
                &format!("{AUTO_CALLS_SQL}{filter}{AUTO_CALLS_GROUP}"),
                params,
            )?
            .into_iter()
            .map(|r| GroupRow {
                campaign: text(&r, 0),
                key: text(&r, 1),
                count: number(&r, 2) as u64,
                queue_seconds: 0.0,
            })
            .collect();
        let recordings_missing = self
            .rows(
                cfg,
                stopped,
                "vicidial_closer_log and recording_log",
                MISSING_SQL,
                Params::Empty,
            )?
            .first()
            .map(|r| number(r, 0) as u64)
            .unwrap_or(0);
        let closer = self
            .rows(
                cfg,
                stopped,
                "vicidial_closer_log",
                CLOSER_SQL,
                Params::Empty,
            )?
            .into_iter()
            .map(|r| GroupRow {
                campaign: text(&r, 0),
                key: text(&r, 1),
                count: number(&r, 2) as u64,
                queue_seconds: number(&r, 3),
            })
            .collect();
        let kpi = kpi_db::read(self, cfg, stopped, kpi)?;
        Ok(Reading {
            agents,
            auto_calls,
            closer,
            recordings_missing,
            kpi,
        })
    }
}

fn value(r: &Row, i: usize) -> &Value {
    r.as_ref(i).unwrap_or(&Value::NULL)
}

/// A text column (NULL is empty; bytes that are not UTF-8 are replaced, never refused).
pub(super) fn text(r: &Row, i: usize) -> String {
    match value(r, i) {
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        _ => String::new(),
    }
}

/// A numeric column; DECIMAL arrives as text.
pub(super) fn opt_number(r: &Row, i: usize) -> Option<f64> {
    match value(r, i) {
        Value::Int(n) => Some(*n as f64),
        Value::UInt(n) => Some(*n as f64),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(f) => Some(*f),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn number(r: &Row, i: usize) -> f64 {
    opt_number(r, i).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_limit_by_server_kind() {
        let d = Duration::from_millis(1500);
        assert_eq!(
            statement_limit_sql("10.11.6-MariaDB-0+deb12u1", d),
            "SET SESSION max_statement_time = 1.500"
        );
        assert_eq!(
            statement_limit_sql("8.0.36", d),
            "SET SESSION max_execution_time = 1500"
        );
    }

    #[test]
    fn situations_compare_by_kind_and_table() {
        let t = Duration::from_secs(1);
        let same = |a: Failure, b: Failure| a.situation() == b.situation();
        assert!(same(
            Failure::Unreachable("a".into()),
            Failure::Unreachable("b".into())
        ));
        assert!(!same(
            Failure::Schema("x", "m".into()),
            Failure::Schema("y", "m".into())
        ));
        assert!(!same(
            Failure::Timeout("q1".into(), t, QUERY_KEY),
            Failure::Lost("q1".into())
        ));
        assert_eq!(secs(Duration::from_millis(500)), "500 ms");
        assert_eq!(secs(Duration::from_secs(8)), "8 s");
    }
}
