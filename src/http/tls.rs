//! HTTPS with rustls (ring provider: no OpenSSL, builds with a C compiler only), and the byte stream a connection
//! reads and writes, plain or TLS.
//!
//! Certificates are read when a [`TlsServer`] is loaded, that is at start and at every reload, so a renewed
//! certificate is picked up by a reload while the port stays bound (connections already open keep theirs).

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

/// Ciphertext rustls may hold for one connection before writes report "would block": bounds memory per slow
/// reader independently of the page size.
const TLS_SEND_BUFFER: usize = 64 * 1024;

/// Oldest TLS version accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3 (the default, as exporter-toolkit's).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// When a client certificate is asked for (only with a client CA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Every client must present a certificate signed by the CA (exporter-toolkit's `RequireAndVerifyClientCert`).
    #[default]
    Require,
    /// A client may connect without one; one it presents must verify (`VerifyClientCertIfGiven`).
    VerifyIfGiven,
}

/// HTTPS settings: which files to read and what to ask of clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file with the server certificate chain, leaf first (`tls_cert`).
    pub cert: PathBuf,
    /// PEM file with the private key (`tls_key`).
    pub key: PathBuf,
    /// PEM file with the CA certificates client certificates must chain to (`tls_client_ca`).
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is required (`tls_client_auth`).
    pub client_auth: ClientAuth,
    /// Oldest version accepted (`tls_min_version`).
    pub min_version: TlsVersion,
}

/// Why a TLS setup could not be loaded: the key at fault and what is wrong (paths escaped, never key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// Configuration key at fault.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for TlsError {}

/// A loaded TLS server configuration, shared by every connection accepted while it is current.
#[derive(Clone)]
pub struct TlsServer(Arc<ServerConfig>);

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsServer")
    }
}

/// A path for a message: escaped (no control characters reach a log) and bounded.
fn shown(p: &Path) -> String {
    let s: String = p.display().to_string().escape_debug().take(200).collect();
    format!("\"{s}\"")
}

fn certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |message: String| TlsError { key, message };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(format!("cannot read {}: {}", shown(path), pem_error(&e))))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            fail(format!(
                "{} is not valid PEM: {}",
                shown(path),
                pem_error(&e)
            ))
        })?;
    if certs.is_empty() {
        return Err(fail(format!(
            "no \"BEGIN CERTIFICATE\" block in {}; expected PEM certificates",
            shown(path)
        )));
    }
    Ok(certs)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        _ => "malformed PEM".to_string(),
    }
}

impl TlsServer {
    /// Whether both are the same loaded setup (not merely equal files).
    pub(crate) fn same(&self, other: &TlsServer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Read the files named by `s` and build the server configuration.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the key whose file cannot be read or used.
    pub fn load(s: &TlsSettings) -> Result<TlsServer, TlsError> {
        let chain = certs("tls_cert", &s.cert)?;
        let key = PrivateKeyDer::from_pem_file(&s.key).map_err(|e| TlsError {
            key: "tls_key",
            message: match e {
                rustls::pki_types::pem::Error::NoItemsFound => format!(
                    "no private key in {}; expected a PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"",
                    shown(&s.key)
                ),
                e => format!("cannot read {}: {}", shown(&s.key), pem_error(&e)),
            },
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match s.min_version {
            TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| TlsError {
                key: "tls_min_version",
                message: e.to_string(),
            })?;
        let builder = match &s.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in certs("tls_client_ca", ca)? {
                    roots.add(c).map_err(|e| TlsError {
                        key: "tls_client_ca",
                        message: format!(
                            "a certificate in {} cannot be used as a CA: {e}",
                            shown(ca)
                        ),
                    })?;
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let v = match s.client_auth {
                    ClientAuth::Require => v,
                    ClientAuth::VerifyIfGiven => v.allow_unauthenticated(),
                };
                builder.with_client_cert_verifier(v.build().map_err(|e| TlsError {
                    key: "tls_client_ca",
                    message: format!("cannot verify clients with {}: {e}", shown(ca)),
                })?)
            }
        };
        let mut cfg = builder.with_single_cert(chain, key).map_err(|e| TlsError {
            key: "tls_key",
            message: format!(
                "cannot be used with the certificate in tls_cert ({e}); expected the private key of its first certificate"
            ),
        })?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsServer(Arc::new(cfg)))
    }
}

/// A connection's byte stream.
pub(crate) enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<(TcpStream, ServerConnection)>),
}

impl Transport {
    /// Wrap an accepted socket; `None` when the TLS session cannot be created.
    pub fn new(tcp: TcpStream, tls: Option<&TlsServer>) -> Option<Transport> {
        match tls {
            None => Some(Transport::Plain(tcp)),
            Some(t) => {
                let mut conn = ServerConnection::new(Arc::clone(&t.0)).ok()?;
                conn.set_buffer_limit(Some(TLS_SEND_BUFFER));
                Some(Transport::Tls(Box::new((tcp, conn))))
            }
        }
    }

    /// The socket (for registering it).
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(b) => &mut b.0,
        }
    }

    /// Plaintext read. `Ok(0)`: the peer closed. `WouldBlock`: nothing more now.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (tcp, tls) = match self {
            Transport::Plain(s) => return s.read(buf),
            Transport::Tls(b) => (&mut b.0, &mut b.1),
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if tls.read_tls(tcp)? == 0 {
                return Ok(0);
            }
            if let Err(e) = tls.process_new_packets() {
                // Send the alert saying why, if the socket takes it.
                let _ = tls.write_tls(tcp);
                return Err(io::Error::new(ErrorKind::InvalidData, e));
            }
            // Handshake messages; if the socket is full the writable event resumes them.
            match flush_tls(tcp, tls) {
                Err(e) if e.kind() != ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
    }

    /// Plaintext write; `WouldBlock` when nothing could be taken.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let (tcp, tls) = match self {
            Transport::Plain(s) => return s.write(data),
            Transport::Tls(b) => (&mut b.0, &mut b.1),
        };
        loop {
            let n = tls.writer().write(data)?;
            let flushed = flush_tls(tcp, tls);
            if n > 0 {
                return match flushed {
                    Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
                    _ => Ok(n),
                };
            }
            // Buffer full: `flushed` is WouldBlock (wait for writable) or an error; Ok means room again.
            flushed?;
        }
    }

    /// Send buffered ciphertext. `Ok(())`: nothing of ours is left buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(b) => {
                let (tcp, tls) = &mut **b;
                flush_tls(tcp, tls)
            }
        }
    }

    /// Whether ciphertext waits to be sent.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(b) => b.1.wants_write(),
        }
    }

    /// End our side: TLS `close_notify` (best effort), then a TCP half-close.
    pub fn shutdown_write(&mut self) {
        if let Transport::Tls(b) = self {
            let (tcp, tls) = &mut **b;
            tls.send_close_notify();
            let _ = flush_tls(tcp, tls);
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

fn flush_tls(tcp: &mut TcpStream, tls: &mut ServerConnection) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(tcp) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
