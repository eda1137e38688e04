//! Keys of the scrape endpoint beyond address and path: `acl`, `auth_password_hash` and the `tls_*` keys.
//!
//! Certificate and key files are read (and must work together) when the configuration is finished, so a bad file
//! is refused like a bad value, naming its key; the core reads them again at start and at every reload, which is how
//! a renewed certificate is picked up.

use std::path::PathBuf;

use super::ConfigError;
use crate::http::{Acl, ClientAuth, Password, TlsServer, TlsSettings, TlsVersion};

/// Values of these keys as they arrive.
#[derive(Debug, Clone, Default)]
pub(super) struct HttpKeys {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    client_auth: Option<ClientAuth>,
    min_version: Option<TlsVersion>,
    password_hash: Option<String>,
    acl: Option<Acl>,
}

fn path(value: &str) -> Result<PathBuf, String> {
    let t = value.trim();
    if t.is_empty() {
        return Err("expected a file path, not an empty value".into());
    }
    if t.chars().any(char::is_control) {
        return Err("expected a file path without control characters".into());
    }
    Ok(PathBuf::from(t))
}

fn client_auth(value: &str) -> Result<ClientAuth, String> {
    let v = value.trim().to_ascii_lowercase().replace(['-', '_'], "");
    match v.as_str() {
        "require" | "requireandverifyclientcert" => Ok(ClientAuth::Require),
        "verifyifgiven" | "verifyclientcertifgiven" => Ok(ClientAuth::VerifyIfGiven),
        _ => Err("expected require (RequireAndVerifyClientCert: every client presents a certificate signed by \
                  tls_client_ca) or verify_if_given (VerifyClientCertIfGiven: a certificate is optional, one \
                  presented must verify)"
            .into()),
    }
}

fn min_version(value: &str) -> Result<TlsVersion, String> {
    let v = value
        .trim()
        .to_ascii_lowercase()
        .replace(['.', ' ', '_', 'v'], "");
    match v.as_str() {
        "tls12" | "12" => Ok(TlsVersion::Tls12),
        "tls13" | "13" => Ok(TlsVersion::Tls13),
        "tls10" | "10" | "tls11" | "11" => Err(
            "TLS 1.0 and 1.1 are not offered (obsolete, RFC 8996); expected TLS12 or TLS13".into(),
        ),
        _ => Err("expected TLS12 or TLS13 (also written 1.2, 1.3)".into()),
    }
}

fn bcrypt_hash(value: &str) -> Result<String, String> {
    let t = value.trim();
    let prefix_ok = ["$2a$", "$2b$", "$2y$"].iter().any(|p| t.starts_with(p));
    if !prefix_ok || t.len() != 60 || t.parse::<bcrypt::HashParts>().is_err() {
        return Err("expected a bcrypt hash: 60 characters starting with $2y$, $2b$ or $2a$, as printed by \
                    `htpasswd -nbB USER PASSWORD` (the part after \"USER:\")"
            .into());
    }
    Ok(t.to_string())
}

fn refuse(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        value: None,
        message: message.into(),
    }
}

impl HttpKeys {
    /// Set `key` (lower-case) if it is one of this file's: `None` when it is not.
    pub(super) fn set(&mut self, key: &str, value: &str) -> Option<Result<(), String>> {
        let r = match key {
            "acl" => Acl::parse(value).map(|a| self.acl = Some(a)),
            "auth_password_hash" => bcrypt_hash(value).map(|h| self.password_hash = Some(h)),
            "tls_cert" => path(value).map(|p| self.cert = Some(p)),
            "tls_key" => path(value).map(|p| self.key = Some(p)),
            "tls_client_ca" => path(value).map(|p| self.client_ca = Some(p)),
            "tls_client_auth" => client_auth(value).map(|c| self.client_auth = Some(c)),
            "tls_min_version" => min_version(value).map(|v| self.min_version = Some(v)),
            _ => return None,
        };
        Some(r)
    }

    /// The password to check against: the plain one or the hash, not both.
    pub(super) fn password(&self, plain: Option<&String>) -> Result<Option<Password>, ConfigError> {
        match (plain, &self.password_hash) {
            (Some(_), Some(_)) => Err(refuse(
                "auth_password_hash",
                "auth_password is set too; set one of them (the hash keeps the password out of the configuration)",
            )),
            (Some(p), None) => Ok(Some(Password::Plain(p.clone()))),
            (None, Some(h)) => Ok(Some(Password::Bcrypt(h.clone()))),
            (None, None) => Ok(None),
        }
    }

    /// The access list (empty: everyone).
    pub(super) fn acl(&self) -> Acl {
        self.acl.clone().unwrap_or_default()
    }

    /// The HTTPS settings, checked together and against their files.
    pub(super) fn tls(&self) -> Result<Option<TlsSettings>, ConfigError> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            (None, None) => {
                let stray = [
                    ("tls_client_ca", self.client_ca.is_some()),
                    ("tls_client_auth", self.client_auth.is_some()),
                    ("tls_min_version", self.min_version.is_some()),
                ];
                if let Some((k, _)) = stray.iter().find(|(_, set)| *set) {
                    return Err(refuse(
                        k,
                        "only applies to HTTPS; set tls_cert and tls_key too, or leave it unset",
                    ));
                }
                return Ok(None);
            }
            (Some(_), None) => {
                return Err(refuse(
                    "tls_cert",
                    "is set but tls_key is not; set both or neither",
                ))
            }
            (None, Some(_)) => {
                return Err(refuse(
                    "tls_key",
                    "is set but tls_cert is not; set both or neither",
                ))
            }
        };
        if self.client_auth.is_some() && self.client_ca.is_none() {
            return Err(refuse(
                "tls_client_auth",
                "is set but tls_client_ca is not (the CA client certificates must be signed by)",
            ));
        }
        let settings = TlsSettings {
            cert,
            key,
            client_ca: self.client_ca.clone(),
            client_auth: self.client_auth.unwrap_or_default(),
            min_version: self.min_version.unwrap_or_default(),
        };
        TlsServer::load(&settings).map_err(|e| refuse(e.key, e.message))?;
        Ok(Some(settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        let mut k = HttpKeys::default();
        assert!(k.set("port", "1").is_none());
        assert_eq!(k.set("tls_min_version", "1.3"), Some(Ok(())));
        assert_eq!(k.min_version, Some(TlsVersion::Tls13));
        assert!(k
            .set("tls_min_version", "TLS11")
            .unwrap()
            .unwrap_err()
            .contains("not offered"));
        assert!(k
            .set("tls_min_version", "SSL3")
            .unwrap()
            .unwrap_err()
            .contains("expected TLS12 or TLS13"));
        assert_eq!(
            k.set("tls_client_auth", "VerifyClientCertIfGiven"),
            Some(Ok(()))
        );
        assert_eq!(k.client_auth, Some(ClientAuth::VerifyIfGiven));
        assert!(k.set("tls_client_auth", "sometimes").unwrap().is_err());
        assert!(k.set("tls_cert", "  ").unwrap().is_err());
        assert!(k.set("tls_cert", "/a\nb").unwrap().is_err());
        let h = bcrypt::hash("pw", 4).unwrap();
        assert_eq!(k.set("auth_password_hash", &h), Some(Ok(())));
        for bad in ["pw", "$2y$10$short", &h[..59], &format!("$1${}", &h[3..])] {
            let e = k.set("auth_password_hash", bad).unwrap().unwrap_err();
            assert!(
                e.contains("expected a bcrypt hash") && !e.contains(bad),
                "{bad}: {e}"
            );
        }
        assert!(k.set("acl", "permit 1.2.3.4").unwrap().is_ok());
        assert!(k.set("acl", "allow all").unwrap().is_err());
    }

    #[test]
    fn keys_that_go_together() {
        let mut k = HttpKeys::default();
        k.set("tls_min_version", "TLS13");
        assert_eq!(k.tls().unwrap_err().key, "tls_min_version");
        k.set("tls_cert", "/nonexistent/cert.pem");
        assert_eq!(k.tls().unwrap_err().key, "tls_cert");
        k.set("tls_key", "/nonexistent/key.pem");
        let e = k.tls().unwrap_err();
        assert_eq!(e.key, "tls_cert");
        assert!(
            e.message.contains("cannot read \"/nonexistent/cert.pem\""),
            "{}",
            e.message
        );
        k.set("tls_client_auth", "require");
        assert_eq!(k.tls().unwrap_err().key, "tls_client_auth");
        k.set("auth_password_hash", &bcrypt::hash("pw", 4).unwrap());
        assert_eq!(
            k.password(Some(&"x".into())).unwrap_err().key,
            "auth_password_hash"
        );
        assert!(matches!(k.password(None), Ok(Some(Password::Bcrypt(_)))));
    }
}
