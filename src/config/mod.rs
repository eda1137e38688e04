//! Configuration: the keys of `res_prom_rs.conf` / `modparam("prom_rs", ...)`, each validated when it is set.
//!
//! A host hands over key/value strings one at a time ([`ConfigBuilder::set`]); keys outside `[general]` are written
//! `section.key`. Every value is checked at once and a bad one is refused with a message naming the key, the value
//! and what is allowed; [`ConfigBuilder::finish`] then checks the keys that only make sense together.

mod files;
mod http;
mod query;
pub mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use values as v;

/// Default histogram buckets per family; `buckets.FAMILY` may override any of them and only these.
pub const DEFAULT_BUCKETS: &[(&str, &[f64])] = &[
    (
        "asterisk_channel_duration_seconds",
        &[
            1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
        ],
    ),
    (
        "asterisk_channel_answered_duration_seconds",
        &[
            1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
        ],
    ),
    (
        "asterisk_rtcp_jitter_seconds",
        &[0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
    ),
    (
        "asterisk_rtcp_packet_loss_ratio",
        &[0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
    ),
    (
        "asterisk_rtcp_rtt_seconds",
        &[0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0],
    ),
    (
        "asterisk_rtcp_mes",
        &[20.0, 40.0, 60.0, 70.0, 80.0, 90.0, 95.0],
    ),
    (
        "asterisk_queue_wait_seconds",
        &[1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0],
    ),
    (
        "prom_rs_scrape_duration_seconds",
        &[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        ],
    ),
];

/// Where Debian's, Red Hat's and upstream's fail2ban put the server's control socket.
pub const FAIL2BAN_SOCKET: &str = "/var/run/fail2ban/fail2ban.sock";

/// Label names the exported families use; constant labels may not reuse them.
pub const RESERVED_LABELS: &[&str] = &[
    "abi",
    "agent",
    "campaign",
    "cause",
    "code",
    "codec",
    "collector",
    "dialstatus",
    "direction",
    "domain",
    "endpoint",
    "event",
    "family",
    "from",
    "group",
    "jail",
    "kind",
    "le",
    "pause_code",
    "quantile",
    "queue",
    "service",
    "state",
    "status",
    "tech",
    "technology",
    "term_reason",
    "to",
    "uniqueid",
    "username",
    "version",
];

/// Switches for the event-driven Asterisk collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collectors {
    /// Channel and call families.
    pub channels: bool,
    /// Endpoint, phone-fleet and outbound-registration families.
    pub endpoints: bool,
    /// RTCP media-quality families.
    pub rtcp: bool,
    /// Bridge and ConfBridge families.
    pub bridges: bool,
    /// app_queue families.
    pub queues: bool,
    /// Security-event families.
    pub security: bool,
    /// Codec and transcoding families.
    pub codecs: bool,
}

/// Settings of the ViciDial reader (`vicidial.*`).
#[derive(Clone, PartialEq, Eq)]
pub struct VicidialConfig {
    /// Start the reader thread.
    pub enabled: bool,
    /// Server host name or address.
    pub host: String,
    /// Server TCP port.
    pub port: u16,
    /// Unix socket path; used instead of host/port when set.
    pub socket: Option<PathBuf>,
    /// Account name.
    pub user: String,
    /// Account password (never logged, never shown).
    pub password: String,
    /// Database name.
    pub database: String,
    /// Poll interval.
    pub interval: Duration,
    /// Bound on connecting.
    pub connect_timeout: Duration,
    /// Bound on each query.
    pub query_timeout: Duration,
    /// Only rows of this dialer.
    pub server_ip: Option<IpAddr>,
}

impl std::fmt::Debug for VicidialConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VicidialConfig")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"(hidden)")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// Settings of the fail2ban poller (`fail2ban.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail2banConfig {
    /// Start the poller thread.
    pub enabled: bool,
    /// fail2ban-server's control socket.
    pub socket: PathBuf,
    /// Poll interval.
    pub interval: Duration,
    /// Only these jails (empty: every jail the server runs).
    pub jails: Vec<String>,
}

/// How host statistics are named (`stats.*`), after OpenSIPS's prometheus module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsConfig {
    /// First part of every statistic's name.
    pub prefix: String,
    /// 0: `<prefix>_<name>`; 1: `<prefix>_<group>_<name>`; 2: `<prefix>_<name>{group="<group>"}`.
    pub group_mode: u8,
    /// Which statistics are exported: `all`, or `group:` and single names.
    pub statistics: Vec<String>,
}

/// A complete, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Master switch: when off, the core starts nothing and serves nothing.
    pub enabled: bool,
    /// Listen address.
    pub bindaddr: IpAddr,
    /// Listen port.
    pub port: u16,
    /// Scrape path.
    pub uri: String,
    /// HTTP Basic credentials (username, plain password or bcrypt hash).
    pub auth: Option<(String, crate::http::Password)>,
    /// Peers allowed to connect (`acl`; empty: everyone).
    pub acl: crate::http::Acl,
    /// HTTPS (`tls_*`); plain HTTP when `None`.
    pub tls: Option<crate::http::TlsSettings>,
    /// Constant labels on every series.
    pub labels: Vec<(String, String)>,
    /// Cardinality cap per family.
    pub max_series_per_family: usize,
    /// How often the host samples what has no event.
    pub sample_interval: Duration,
    /// Collector switches.
    pub collectors: Collectors,
    /// Per-channel series.
    pub channel_detail: bool,
    /// Endpoint number ranges tracked as the phone fleet.
    pub phone_fleet: Vec<(u64, u64)>,
    /// Histogram bucket overrides by family.
    pub buckets: BTreeMap<String, Vec<f64>>,
    /// File that records every event received, for replay.
    pub trace_file: Option<PathBuf>,
    /// ViciDial reader.
    pub vicidial: VicidialConfig,
    /// fail2ban poller.
    pub fail2ban: Fail2banConfig,
    /// Host statistics naming.
    pub stats: StatsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            bindaddr: IpAddr::from([127, 0, 0, 1]),
            port: 9101,
            uri: "/metrics".into(),
            auth: None,
            acl: crate::http::Acl::default(),
            tls: None,
            labels: Vec::new(),
            max_series_per_family: 10_000,
            sample_interval: Duration::from_secs(5),
            collectors: Collectors {
                channels: true,
                endpoints: true,
                rtcp: true,
                bridges: true,
                queues: true,
                security: true,
                codecs: true,
            },
            channel_detail: false,
            phone_fleet: Vec::new(),
            buckets: BTreeMap::new(),
            trace_file: None,
            vicidial: VicidialConfig {
                enabled: false,
                host: "localhost".into(),
                port: 3306,
                socket: None,
                user: "exporter".into(),
                password: String::new(),
                database: "asterisk".into(),
                interval: Duration::from_secs(15),
                connect_timeout: Duration::from_secs(5),
                query_timeout: Duration::from_secs(5),
                server_ip: None,
            },
            fail2ban: Fail2banConfig {
                enabled: false,
                socket: PathBuf::from(FAIL2BAN_SOCKET),
                interval: Duration::from_secs(30),
                jails: Vec::new(),
            },
            stats: StatsConfig {
                prefix: "opensips".into(),
                group_mode: 1,
                statistics: vec!["all".into()],
            },
        }
    }
}

impl Config {
    /// The socket the scrape endpoint listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bindaddr, self.port)
    }
    /// The bucket layout for a histogram family: the override if one was set, else the default.
    pub fn buckets_for(&self, family: &str) -> Vec<f64> {
        self.buckets.get(family).cloned().unwrap_or_else(|| {
            DEFAULT_BUCKETS
                .iter()
                .find(|(f, _)| *f == family)
                .map(|(_, b)| b.to_vec())
                .unwrap_or_default()
        })
    }
}

/// A refused key or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key as given.
    pub key: String,
    /// The value as given, or `(hidden)` for secrets.
    pub value: Option<String>,
    /// What was wrong and what is allowed.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    /// `key "KEY": invalid value "VALUE": WHAT` or `key "KEY": WHAT`: the key first, and key and value quoted by
    /// [`values::quoted`] (escaped, at most [`values::SHOWN_CHARS`] characters each), so the message names the key
    /// even in a short host buffer and no control character reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key {}: ", v::quoted(self.key.trim()))?;
        match &self.value {
            Some(val) => write!(f, "invalid value {}: {}", v::quoted(val), self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

const SECRET_KEYS: &[&str] = &["auth_password", "auth_password_hash", "vicidial.password"];

/// Every key accepted, for the unknown-key message (`buckets.FAMILY` is listed as a pattern).
pub const KEYS: &[&str] = &[
    "enabled",
    "bindaddr",
    "port",
    "uri",
    "auth_username",
    "auth_password",
    "auth_password_hash",
    "acl",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "tls_client_auth",
    "tls_min_version",
    "labels",
    "max_series_per_family",
    "sample_interval",
    "channels",
    "endpoints",
    "rtcp",
    "bridges",
    "queues",
    "security",
    "codecs",
    "channel_detail",
    "phone_fleet",
    "buckets.FAMILY",
    "trace_file",
    "vicidial.enabled",
    "vicidial.host",
    "vicidial.port",
    "vicidial.socket",
    "vicidial.user",
    "vicidial.password",
    "vicidial.database",
    "vicidial.interval",
    "vicidial.connect_timeout",
    "vicidial.query_timeout",
    "vicidial.server_ip",
    "fail2ban.enabled",
    "fail2ban.socket",
    "fail2ban.interval",
    "fail2ban.jails",
    "stats.prefix",
    "stats.group_mode",
    "stats.statistics",
];

/// Collects key/value pairs into a [`Config`], validating each as it arrives. Each key may be set once: a second
/// setting of the same key (in any spelling of its case) is refused, so two `auth_password` lines never leave the
/// reader guessing which one is in force.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    cfg: Config,
    auth_username: Option<String>,
    auth_password: Option<String>,
    http: http::HttpKeys,
    /// The keys set so far, lower case.
    seen: BTreeSet<String>,
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl ConfigBuilder {
    /// A builder holding the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one key. Keys are case-insensitive; surrounding whitespace is ignored. A key already set is refused
    /// (nothing changes), as is any bad value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let key_l = key.trim().to_ascii_lowercase();
        if self.seen.contains(&key_l) {
            return Err(ConfigError {
                key: key.to_string(),
                value: None,
                message: "is set twice; each key may be set once (remove one of the two lines)"
                    .into(),
            });
        }
        self.set_new(&key_l, key, value)?;
        self.seen.insert(key_l);
        Ok(())
    }

    fn set_new(&mut self, key_l: &str, key: &str, value: &str) -> Result<(), ConfigError> {
        let key_l = key_l.to_string();
        let shown = if SECRET_KEYS.contains(&key_l.as_str()) {
            "(hidden)".to_string()
        } else {
            value.to_string()
        };
        let fail = |message: String| ConfigError {
            key: key.to_string(),
            value: Some(shown.clone()),
            message,
        };
        if let Some(r) = self.http.set(&key_l, value) {
            return r.map_err(fail);
        }
        let c = &mut self.cfg;
        match key_l.as_str() {
            "enabled" => c.enabled = v::boolean(value).map_err(fail)?,
            "bindaddr" => c.bindaddr = v::ip_addr(value).map_err(fail)?,
            "port" => c.port = v::integer(value, 1, 65535).map_err(fail)? as u16,
            "uri" => c.uri = v::uri(value).map_err(fail)?,
            "auth_username" => self.auth_username = Some(user_name(value).map_err(fail)?),
            "auth_password" => self.auth_password = Some(secret(value, false).map_err(fail)?),
            "labels" => c.labels = v::label_pairs(value, RESERVED_LABELS).map_err(fail)?,
            "max_series_per_family" => {
                c.max_series_per_family = v::integer(value, 1, 10_000_000).map_err(fail)? as usize
            }
            "sample_interval" => {
                c.sample_interval =
                    v::duration(value, Duration::from_millis(100), secs(3600)).map_err(fail)?
            }
            "channels" => c.collectors.channels = v::boolean(value).map_err(fail)?,
            "endpoints" => c.collectors.endpoints = v::boolean(value).map_err(fail)?,
            "rtcp" => c.collectors.rtcp = v::boolean(value).map_err(fail)?,
            "bridges" => c.collectors.bridges = v::boolean(value).map_err(fail)?,
            "queues" => c.collectors.queues = v::boolean(value).map_err(fail)?,
            "security" => c.collectors.security = v::boolean(value).map_err(fail)?,
            "codecs" => c.collectors.codecs = v::boolean(value).map_err(fail)?,
            "channel_detail" => c.channel_detail = v::boolean(value).map_err(fail)?,
            "phone_fleet" => c.phone_fleet = v::number_ranges(value).map_err(fail)?,
            "trace_file" => {
                c.trace_file = Some(PathBuf::from(nonempty(value, "a file path").map_err(fail)?))
            }
            k if k.starts_with("buckets.") => {
                let family = &k["buckets.".len()..];
                if !DEFAULT_BUCKETS.iter().any(|(f, _)| *f == family) {
                    let names: Vec<&str> = DEFAULT_BUCKETS.iter().map(|(f, _)| *f).collect();
                    return Err(ConfigError {
                        key: key.to_string(),
                        value: None,
                        message: format!(
                            "{} is not a histogram family; one of: {}",
                            v::quoted(family),
                            names.join(", ")
                        ),
                    });
                }
                c.buckets
                    .insert(family.to_string(), v::buckets(value).map_err(fail)?);
            }
            k if k.starts_with("vicidial.") => self
                .set_vicidial(&k["vicidial.".len()..], value)
                .map_err(fail)?,
            k if k.starts_with("fail2ban.") => self
                .set_fail2ban(&k["fail2ban.".len()..], value)
                .map_err(fail)?,
            "stats.prefix" => c.stats.prefix = stats_prefix(value).map_err(fail)?,
            "stats.group_mode" => c.stats.group_mode = v::integer(value, 0, 2).map_err(fail)? as u8,
            "stats.statistics" => c.stats.statistics = stats_list(value).map_err(fail)?,
            _ => return Err(unknown_key(key)),
        }
        Ok(())
    }

    fn set_vicidial(&mut self, sub: &str, value: &str) -> Result<(), String> {
        let vc = &mut self.cfg.vicidial;
        let t = value.trim();
        match sub {
            "enabled" => vc.enabled = v::boolean(value)?,
            "host" => vc.host = nonempty(value, "a host name or address")?,
            "port" => vc.port = v::integer(value, 1, 65535)? as u16,
            "socket" => {
                if !t.starts_with('/') {
                    return Err("expected an absolute path to the server's Unix socket".into());
                }
                vc.socket = Some(PathBuf::from(t));
            }
            "user" => vc.user = nonempty(value, "an account name")?,
            "password" => vc.password = secret(value, true)?,
            "database" => {
                if t.is_empty()
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
                {
                    return Err("expected a database name (letters, digits, '_' or '$')".into());
                }
                vc.database = t.to_string();
            }
            "interval" => vc.interval = v::duration(value, secs(1), secs(3600))?,
            "connect_timeout" => {
                vc.connect_timeout = v::duration(value, Duration::from_millis(100), secs(300))?
            }
            "query_timeout" => {
                vc.query_timeout = v::duration(value, Duration::from_millis(100), secs(300))?
            }
            "server_ip" => {
                vc.server_ip = Some(t.parse().map_err(|_| "expected the dialer's IP address")?)
            }
            _ => {
                return Err(format!(
                    "unknown key; vicidial keys are: {}",
                    section_keys("vicidial.").join(", ")
                ))
            }
        }
        Ok(())
    }

    fn set_fail2ban(&mut self, sub: &str, value: &str) -> Result<(), String> {
        let fc = &mut self.cfg.fail2ban;
        match sub {
            "enabled" => fc.enabled = v::boolean(value)?,
            "socket" => fc.socket = v::socket_path(value)?,
            "interval" => fc.interval = v::duration(value, secs(1), secs(3600))?,
            "jails" => fc.jails = v::jail_names(value)?,
            _ => {
                return Err(format!(
                    "unknown key; fail2ban keys are: {}",
                    section_keys("fail2ban.").join(", ")
                ))
            }
        }
        Ok(())
    }

    /// The configuration as set so far, with the defaults that depend on other keys filled in:
    /// `vicidial.query_timeout`, when not set, is the smaller of 5 s and half of `vicidial.interval`, so a short
    /// interval alone is accepted.
    fn resolved(&self) -> Config {
        let mut cfg = self.cfg.clone();
        if !self.seen.contains("vicidial.query_timeout") {
            let vc = &mut cfg.vicidial;
            vc.query_timeout = (vc.interval / 2).min(Duration::from_secs(5));
        }
        cfg
    }

    /// Checks the keys that depend on each other and returns the configuration. An error names the key that was
    /// set (so a host can point at its line) and the partner it lacks.
    pub fn finish(&self) -> Result<Config, ConfigError> {
        let mut cfg = self.resolved();
        cfg.acl = self.http.acl();
        cfg.tls = self.http.tls()?;
        cfg.auth = match (
            &self.auth_username,
            self.http.password(self.auth_password.as_ref())?,
        ) {
            (Some(u), Some(p)) => Some((u.clone(), p)),
            (None, None) => None,
            (Some(_), None) => return Err(pair_error(
                "auth_username",
                "is set but neither auth_password nor auth_password_hash is; set both or neither",
            )),
            (None, Some(_)) => {
                return Err(pair_error(
                    "auth_password",
                    "is set but auth_username is not; set both or neither",
                ))
            }
        };
        if cfg.vicidial.enabled && cfg.vicidial.query_timeout >= cfg.vicidial.interval {
            return Err(pair_error(
                "vicidial.query_timeout",
                &format!(
                    "{} must be shorter than vicidial.interval ({}), or polls would overlap",
                    v::show(cfg.vicidial.query_timeout),
                    v::show(cfg.vicidial.interval)
                ),
            ));
        }
        Ok(cfg)
    }
}

fn pair_error(key: &str, message: &str) -> ConfigError {
    ConfigError {
        key: key.into(),
        value: None,
        message: message.into(),
    }
}

/// A Basic-auth user name: not empty, and without ':' (it separates the user name from the password in the
/// `Authorization` header, so such a name could never log in) or control characters.
fn user_name(value: &str) -> Result<String, String> {
    let t = nonempty(value, "a user name")?;
    if t.contains(':') || t.chars().any(char::is_control) {
        return Err("expected a user name without ':' (it separates user name and password in Basic auth) or control characters".into());
    }
    Ok(t)
}

/// A password, taken exactly as written: never trimmed or otherwise altered. Control characters and spaces at
/// either end are refused rather than silently removed (they are almost always a copy-and-paste accident, and the
/// error cannot show the value to point at them). `may_be_empty`: an empty value means "no password".
fn secret(value: &str, may_be_empty: bool) -> Result<String, String> {
    if value.is_empty() && !may_be_empty {
        return Err("expected a password, not an empty value".into());
    }
    if value.chars().any(char::is_control) {
        return Err(
            "contains a control character (a newline, tab, ...); write the password without it"
                .into(),
        );
    }
    if value.trim() != value {
        return Err("begins or ends with a space; write the password without it (it is taken exactly as written)".into());
    }
    Ok(value.to_string())
}

fn nonempty(value: &str, what: &str) -> Result<String, String> {
    let t = value.trim();
    if t.is_empty() {
        Err(format!("expected {what}, not an empty value"))
    } else {
        Ok(t.to_string())
    }
}

fn stats_prefix(value: &str) -> Result<String, String> {
    let t = value.trim();
    if crate::registry::render::is_valid_metric_name(t) && !t.contains(':') {
        Ok(t.to_string())
    } else {
        Err("expected a metric-name prefix (letters, digits and '_', not starting with a digit), e.g. opensips".into())
    }
}

fn stats_list(value: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = value
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let valid = |s: &String| {
        let name = s.strip_suffix(':').unwrap_or(s);
        s == "all"
            || (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    };
    if items.is_empty() || !items.iter().all(valid) {
        return Err("expected \"all\", or group names ending in ':' (core:, tm:) and statistic names, separated by spaces or commas".into());
    }
    Ok(items)
}

/// The keys of one section (`"vicidial."`), without the section.
fn section_keys(section: &str) -> Vec<&'static str> {
    KEYS.iter()
        .filter_map(|k| k.strip_prefix(section))
        .collect()
}

fn unknown_key(key: &str) -> ConfigError {
    let k = key.trim().to_ascii_lowercase();
    let best = KEYS
        .iter()
        .map(|c| (v::distance(&k, c), *c))
        .min()
        .filter(|(d, _)| *d <= 2);
    let hint = best
        .map(|(_, c)| format!(" (did you mean \"{c}\"?)"))
        .unwrap_or_default();
    ConfigError {
        key: key.to_string(),
        value: None,
        message: format!("unknown key{hint}; allowed keys are: {}", KEYS.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut b = ConfigBuilder::new();
        for (k, val) in pairs {
            b.set(k, val)?;
        }
        b.finish()
    }

    #[test]
    fn defaults_match_the_reference() {
        let c = build(&[]).unwrap();
        assert_eq!(c.listen_addr().to_string(), "127.0.0.1:9101");
        assert_eq!(c.uri, "/metrics");
        assert_eq!(c.max_series_per_family, 10_000);
        assert_eq!(c.sample_interval, Duration::from_secs(5));
        assert!(!c.vicidial.enabled);
        assert_eq!(c.buckets_for("asterisk_queue_wait_seconds")[0], 1.0);
    }

    #[test]
    fn errors_name_key_value_and_what_is_allowed() {
        let e = build(&[("port", "99999")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key \"port\": invalid value \"99999\": expected a whole number from 1 to 65535"
        );
        let e = build(&[("prot", "1")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown key (did you mean \"port\"?)"),
            "{e}"
        );
        let e = build(&[("buckets.nope", "1,2")]).unwrap_err();
        assert!(e.to_string().contains("not a histogram family"), "{e}");
        let e = build(&[("vicidial.colour", "x")]).unwrap_err();
        assert!(e.to_string().contains("vicidial keys are"), "{e}");
    }

    #[test]
    fn secrets_are_hidden_in_errors_and_debug() {
        let mut b = ConfigBuilder::new();
        b.set("vicidial.password", "s3cret").unwrap();
        b.set("vicidial.enabled", "yes").unwrap();
        b.set("vicidial.query_timeout", "20s").unwrap();
        let e = b.finish().unwrap_err();
        assert!(!e.to_string().contains("s3cret"));
        assert!(!format!("{:?}", b.finish()).contains("s3cret"));
        let mut b = ConfigBuilder::new();
        b.set("auth_username", "prom").unwrap();
        let e = b.set("auth_password", "  ").unwrap_err();
        assert!(e.to_string().contains("(hidden)"), "{e}");
    }

    #[test]
    fn values_are_echoed_escaped_bounded_and_after_the_key() {
        let e =
            build(&[("buckets.asterisk_rtcp_mes", "x\n[prom_host] NOTICE: forged")]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("key \"buckets.asterisk_rtcp_mes\": invalid value \"x\\n[prom_host]"),
            "{text}"
        );
        assert!(!text.chars().any(char::is_control), "{text:?}");
        let long = "9".repeat(10_000);
        let text = build(&[("port", &long)]).unwrap_err().to_string();
        assert!(
            text.starts_with("key \"port\": invalid value \"999"),
            "{text}"
        );
        assert!(
            text.contains("(9952 more bytes)") && text.len() < 200,
            "{text}"
        );
        let text = build(&[("labels", "a=1,\u{1b}[31mred")])
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("\\u{1b}[31mred") && !text.contains('\u{1b}'),
            "{text}"
        );
        let text = build(&[(&format!("x\r{}", "k".repeat(5000)), "1")])
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("key \"x\\rkkk") && text.len() < 1000,
            "{}",
            text.len()
        );
    }

    #[test]
    fn durations_past_the_largest_are_refused_not_a_panic() {
        for big in [
            "18446744073709551616s",
            "18446744073709551615",
            "1e400",
            "99999999999999999999999h",
        ] {
            let e = build(&[("sample_interval", big)]).unwrap_err().to_string();
            assert!(
                e.starts_with("key \"sample_interval\": invalid value"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_key_set_twice_is_refused_and_the_first_value_stays() {
        let mut b = ConfigBuilder::new();
        b.set("port", "9200").unwrap();
        let e = b.set(" PORT ", "9300").unwrap_err().to_string();
        assert!(e.starts_with("key \"PORT\": is set twice"), "{e}");
        assert_eq!(b.get_int("port"), Ok(9200));
        b.set("auth_password", "first-pw").unwrap();
        let e = b.set("auth_password", "second-pw").unwrap_err().to_string();
        assert!(!e.contains("-pw"), "{e}");
        // A refused value does not count as set: the corrected line may follow.
        assert!(b.set("sample_interval", "5x").is_err());
        b.set("sample_interval", "2s").unwrap();
    }

    #[test]
    fn user_names_and_secrets_are_refused_rather_than_altered() {
        let e = build(&[("auth_username", "a:b")]).unwrap_err().to_string();
        assert!(
            e.starts_with("key \"auth_username\"") && e.contains("':'"),
            "{e}"
        );
        for bad in ["pw\n", " pw", "pw ", "p\tw", ""] {
            let e = build(&[("auth_password", bad)]).unwrap_err().to_string();
            assert!(e.contains("(hidden)"), "{e}");
        }
        let c = build(&[("auth_username", "prom"), ("auth_password", "p w")]).unwrap();
        assert_eq!(
            c.auth,
            Some(("prom".into(), crate::http::Password::Plain("p w".into())))
        );
        assert!(build(&[("vicidial.password", "x\n")]).is_err());
        assert_eq!(
            build(&[("vicidial.password", "")])
                .unwrap()
                .vicidial
                .password,
            ""
        );
    }

    #[test]
    fn query_timeout_defaults_to_half_a_short_interval() {
        let c = build(&[("vicidial.enabled", "yes"), ("vicidial.interval", "1s")]).unwrap();
        assert_eq!(c.vicidial.query_timeout, Duration::from_millis(500));
        assert_eq!(
            build(&[]).unwrap().vicidial.query_timeout,
            Duration::from_secs(5)
        );
        let mut b = ConfigBuilder::new();
        b.set("vicidial.interval", "4s").unwrap();
        assert_eq!(b.get_int("vicidial.query_timeout"), Ok(2000));
        let e = build(&[
            ("vicidial.enabled", "yes"),
            ("vicidial.interval", "2s"),
            ("vicidial.query_timeout", "2s"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("key \"vicidial.query_timeout\": 2s must be shorter"),
            "{e}"
        );
    }

    #[test]
    fn pairs_must_come_together() {
        assert_eq!(
            build(&[("auth_username", "u")]).unwrap_err().to_string(),
            "key \"auth_username\": is set but neither auth_password nor auth_password_hash is; set both or neither"
        );
        assert!(build(&[("tls_key", "/k")])
            .unwrap_err()
            .to_string()
            .starts_with("key \"tls_key\": is set but tls_cert is not"));
        let c = build(&[("auth_username", "u"), ("auth_password", "p")]).unwrap();
        assert_eq!(
            c.auth,
            Some(("u".into(), crate::http::Password::Plain("p".into())))
        );
        assert!(build(&[("tls_cert", "/a")]).is_err());
    }

    #[test]
    fn every_listed_key_is_accepted() {
        let sample = |k: &str| match k {
            "bindaddr" | "vicidial.server_ip" => "127.0.0.1",
            "port" | "vicidial.port" | "max_series_per_family" => "100",
            "uri" => "/m",
            "labels" => "server=a",
            "phone_fleet" => "1-2",
            "vicidial.socket" | "fail2ban.socket" | "trace_file" | "tls_cert" | "tls_key"
            | "tls_client_ca" => "/tmp/x",
            "fail2ban.jails" => "asterisk, sshd",
            "acl" => "deny 0.0.0.0/0, permit 127.0.0.1",
            "auth_password_hash" => "$2y$04$9wC1CvtOyfn7d1CQ0Fh3.uQ2oH0W2UQ9yYa1R4NK8zHy.hSx9tQ7u",
            "tls_client_auth" => "require",
            "tls_min_version" => "TLS12",
            k if k.ends_with("interval") || k.ends_with("timeout") => "2s",
            "buckets.FAMILY" => "1,2",
            "stats.group_mode" => "2",
            "stats.statistics" => "core: tm:",
            k if k.ends_with("enabled")
                || [
                    "channels",
                    "endpoints",
                    "rtcp",
                    "bridges",
                    "queues",
                    "security",
                    "codecs",
                    "channel_detail",
                ]
                .contains(&k) =>
            {
                "yes"
            }
            _ => "x",
        };
        let mut b = ConfigBuilder::new();
        for k in KEYS {
            let key = k.replace("FAMILY", "asterisk_rtcp_rtt_seconds");
            b.set(&key, sample(k))
                .unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }
}
