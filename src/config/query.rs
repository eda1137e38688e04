//! Reading numeric settings back, so a host shim acts on the values the core accepted instead of parsing the same
//! text a second time (`prom_rs_config_get_int`).

use super::{values, Config, ConfigBuilder, ConfigError, KEYS};
use std::time::Duration;

/// A setting a shim can read back as one integer.
enum Number {
    Bool(bool),
    Duration(Duration),
    Int(i64),
}

impl Number {
    fn as_i64(&self) -> i64 {
        match *self {
            Number::Bool(b) => i64::from(b),
            Number::Duration(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Number::Int(n) => n,
        }
    }
}

impl Config {
    /// The setting behind `key`, when it is a boolean, a duration or an integer. The one place that maps readable
    /// keys to fields: the list of readable keys in the error message is derived from it.
    fn number(&self, key: &str) -> Option<Number> {
        use Number::{Bool, Duration as Dur, Int};
        let (c, vc) = (&self.collectors, &self.vicidial);
        Some(match key {
            "enabled" => Bool(self.enabled),
            "port" => Int(self.port.into()),
            "max_series_per_family" => Int(i64::try_from(self.max_series_per_family).ok()?),
            "sample_interval" => Dur(self.sample_interval),
            "channels" => Bool(c.channels),
            "endpoints" => Bool(c.endpoints),
            "rtcp" => Bool(c.rtcp),
            "bridges" => Bool(c.bridges),
            "queues" => Bool(c.queues),
            "security" => Bool(c.security),
            "codecs" => Bool(c.codecs),
            "channel_detail" => Bool(self.channel_detail),
            "vicidial.enabled" => Bool(vc.enabled),
            "vicidial.port" => Int(vc.port.into()),
            "vicidial.interval" => Dur(vc.interval),
            "vicidial.connect_timeout" => Dur(vc.connect_timeout),
            "vicidial.query_timeout" => Dur(vc.query_timeout),
            "fail2ban.enabled" => Bool(self.fail2ban.enabled),
            "fail2ban.interval" => Dur(self.fail2ban.interval),
            "stats.group_mode" => Int(self.stats.group_mode.into()),
            _ => return None,
        })
    }

    /// The value held for `key` (spelled as for [`ConfigBuilder::set`]): a boolean as 0 or 1, a duration in
    /// milliseconds, an integer as it is. Any other key is refused with a message naming it and listing the keys
    /// that can be read.
    pub fn get_int(&self, key: &str) -> Result<i64, ConfigError> {
        let k = key.trim().to_ascii_lowercase();
        if let Some(n) = self.number(&k) {
            return Ok(n.as_i64());
        }
        let what = if is_known(&k) {
            "holds text, not a boolean, a duration or an integer".to_string()
        } else {
            let hint = KEYS
                .iter()
                .map(|c| (values::distance(&k, c), *c))
                .min()
                .filter(|(d, _)| *d <= 2)
                .map(|(_, c)| format!(" (did you mean \"{c}\"?)"))
                .unwrap_or_default();
            format!("unknown key{hint}")
        };
        let readable: Vec<&str> = KEYS
            .iter()
            .copied()
            .filter(|k| self.number(k).is_some())
            .collect();
        Err(ConfigError {
            key: key.to_string(),
            value: None,
            message: format!(
                "{what}; readable keys are booleans (as 0 or 1), durations (in milliseconds) and integers: {}",
                readable.join(", ")
            ),
        })
    }
}

impl ConfigBuilder {
    /// [`Config::get_int`] on the values set so far (the defaults for keys not set).
    pub fn get_int(&self, key: &str) -> Result<i64, ConfigError> {
        self.resolved().get_int(key)
    }
}

fn is_known(key: &str) -> bool {
    KEYS.contains(&key) || key.starts_with("buckets.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_convert_as_documented() {
        let mut b = ConfigBuilder::new();
        assert_eq!(b.get_int("sample_interval"), Ok(5000));
        assert_eq!(b.get_int("queues"), Ok(1));
        assert_eq!(b.get_int("port"), Ok(9101));
        b.set("sample_interval", "1.5s").unwrap();
        b.set("Queues", "no").unwrap();
        b.set("vicidial.port", "3307").unwrap();
        assert_eq!(b.get_int(" SAMPLE_INTERVAL "), Ok(1500));
        assert_eq!(b.get_int("queues"), Ok(0));
        assert_eq!(b.get_int("vicidial.port"), Ok(3307));
    }

    #[test]
    fn every_known_key_is_readable_or_refused_as_text() {
        let b = ConfigBuilder::new();
        for k in KEYS {
            let key = k.replace("FAMILY", "asterisk_rtcp_rtt_seconds");
            match b.get_int(&key) {
                Ok(_) => {}
                Err(e) => assert!(e.message.starts_with("holds text"), "{k}: {e}"),
            }
        }
        let e = b.get_int("labels").unwrap_err().to_string();
        assert!(
            e.contains("\"labels\"") && e.contains("sample_interval") && e.contains("milliseconds"),
            "{e}"
        );
        let e = b.get_int("sample_intervall").unwrap_err().to_string();
        assert!(
            e.contains("did you mean \"sample_interval\"") && e.contains("readable keys"),
            "{e}"
        );
    }
}
