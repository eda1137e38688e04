//! HTTP Basic credentials: a plain password compared in constant time, or a bcrypt hash verified off the event
//! loop with the outcome cached.
//!
//! bcrypt costs tens of milliseconds by design, so verifying it per request would let any client stall the port.
//! As Prometheus's exporter-toolkit does, the outcome of a verification is cached, keyed by the credentials; here
//! the key is a SHA-256 of a per-process random salt and the `Authorization` value, so no password (not even a fast
//! hash of one that could be looked up elsewhere) is kept. A cache hit costs one SHA-256 on the event loop; a miss
//! is verified on the server's `prom_rs-auth` thread while other connections are served.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::negotiate::decode_basic;
/// Verified-good credentials kept (a scraper or two, with room for a password change).
const MAX_GOOD: usize = 16;
/// Verified-bad credentials kept, so repeating one wrong password costs no bcrypt.
const MAX_BAD: usize = 1024;

/// What a password is compared with.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    /// A plain password (`auth_password`).
    Plain(String),
    /// A bcrypt hash, `$2y$...`, `$2b$...` or `$2a$...` (`auth_password_hash`).
    Bcrypt(String),
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Password::Plain(_) => "Plain(<redacted>)",
            Password::Bcrypt(_) => "Bcrypt(<redacted>)",
        })
    }
}

/// HTTP Basic credentials required on every route when set.
#[derive(Clone)]
pub struct BasicAuth {
    /// Expected user name.
    pub username: String,
    /// Expected password or its hash. Never printed by `Debug` and never logged.
    pub password: Password,
    cache: Arc<Mutex<Cache>>,
}

#[derive(Default)]
struct Cache {
    good: HashSet<[u8; 32]>,
    bad: HashSet<[u8; 32]>,
}

impl PartialEq for BasicAuth {
    fn eq(&self, other: &Self) -> bool {
        self.username == other.username && self.password == other.password
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.password {
            Password::Plain(_) => "<redacted>",
            Password::Bcrypt(_) => "<bcrypt hash, redacted>",
        };
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &kind)
            .finish()
    }
}

/// Result of checking a request's `Authorization` header.
pub(crate) enum Check {
    /// Let it through.
    Allowed,
    /// Answer 401.
    Denied,
    /// Unknown credentials against a hash: verify them on the auth thread, then check again.
    Verify(Verification),
}

/// A pending bcrypt verification; the outcome lands in the cache of the [`BasicAuth`] it came from.
pub(crate) struct Verification {
    auth: BasicAuth,
    /// Cache key of the credentials.
    pub key: [u8; 32],
    user: Vec<u8>,
    pass: Vec<u8>,
}

impl Verification {
    /// Run bcrypt and record the outcome.
    pub fn run(self) {
        let Password::Bcrypt(hash) = &self.auth.password else {
            return;
        };
        // The hash runs for a wrong user name too, so a probe cannot tell the user name by timing.
        let pass_ok = bcrypt::verify(&self.pass, hash).unwrap_or(false);
        let user_ok: bool = self.user.ct_eq(self.auth.username.as_bytes()).into();
        let mut cache = self
            .auth
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let set = if pass_ok && user_ok {
            if cache.good.len() >= MAX_GOOD {
                cache.good.clear();
            }
            &mut cache.good
        } else {
            if cache.bad.len() >= MAX_BAD {
                cache.bad.clear();
            }
            &mut cache.bad
        };
        set.insert(self.key);
    }
}

impl BasicAuth {
    /// Credentials with a plain password.
    pub fn plain(username: impl Into<String>, password: impl Into<String>) -> BasicAuth {
        Self::with(username.into(), Password::Plain(password.into()))
    }

    /// Credentials with a bcrypt hash of the password.
    pub fn bcrypt(username: impl Into<String>, hash: impl Into<String>) -> BasicAuth {
        Self::with(username.into(), Password::Bcrypt(hash.into()))
    }

    fn with(username: String, password: Password) -> BasicAuth {
        BasicAuth {
            username,
            password,
            cache: Arc::default(),
        }
    }

    /// Check the value of an `Authorization` header (absent: `None`).
    pub(crate) fn check(&self, header: Option<&str>) -> Check {
        let Some((user, pass)) = header.and_then(decode_basic) else {
            return Check::Denied;
        };
        match &self.password {
            Password::Plain(expected) => {
                let ok = user.ct_eq(self.username.as_bytes()) & pass.ct_eq(expected.as_bytes());
                if bool::from(ok) {
                    Check::Allowed
                } else {
                    Check::Denied
                }
            }
            Password::Bcrypt(_) => {
                let key = cache_key(header.unwrap_or_default());
                let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                if cache.good.contains(&key) {
                    Check::Allowed
                } else if cache.bad.contains(&key) {
                    Check::Denied
                } else {
                    Check::Verify(Verification {
                        auth: self.clone(),
                        key,
                        user,
                        pass,
                    })
                }
            }
        }
    }
}

fn cache_key(header: &str) -> [u8; 32] {
    static SALT: OnceLock<[u8; 32]> = OnceLock::new();
    let salt = SALT.get_or_init(|| {
        let mut s = [0u8; 32];
        if getrandom::fill(&mut s).is_err() {
            // No OS randomness: fall back to std's per-process random hasher keys (still unknown outside).
            use std::hash::{BuildHasher, Hasher};
            for chunk in s.chunks_mut(8) {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u8(0);
                chunk.copy_from_slice(&h.finish().to_le_bytes());
            }
        }
        s
    });
    let mut h = Sha256::new();
    h.update(salt);
    h.update(header.trim().as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn header(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[test]
    fn plain_password() {
        let a = BasicAuth::plain("prom", "s3cret");
        assert!(matches!(
            a.check(Some(&header("prom:s3cret"))),
            Check::Allowed
        ));
        assert!(matches!(
            a.check(Some(&header("prom:s3cre"))),
            Check::Denied
        ));
        assert!(matches!(
            a.check(Some(&header("pro:s3cret"))),
            Check::Denied
        ));
        assert!(matches!(a.check(Some("Bearer x")), Check::Denied));
        assert!(matches!(a.check(Some("Basic !!!")), Check::Denied));
        assert!(matches!(a.check(None), Check::Denied));
        assert!(!format!("{a:?}").contains("s3cret"));
    }

    #[test]
    fn bcrypt_is_verified_once_then_cached() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let a = BasicAuth::bcrypt("prom", hash.clone());
        assert!(!format!("{a:?}").contains(&hash));
        for (cred, good) in [
            ("prom:s3cret", true),
            ("prom:nope", false),
            ("other:s3cret", false),
        ] {
            let h = header(cred);
            let Check::Verify(v) = a.check(Some(&h)) else {
                panic!("{cred}: first sight must be verified")
            };
            v.run();
            let again = a.check(Some(&h));
            assert_eq!(matches!(again, Check::Allowed), good, "{cred}");
            assert_eq!(matches!(again, Check::Denied), !good, "{cred}");
        }
        // A copy made by a reload with other credentials does not share the cache.
        let b = BasicAuth::bcrypt("prom", bcrypt::hash("other", 4).unwrap());
        assert!(matches!(
            b.check(Some(&header("prom:s3cret"))),
            Check::Verify(_)
        ));
        assert!(matches!(a.check(None), Check::Denied));
    }
}
