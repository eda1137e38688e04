//! fail2ban-server's control socket, as `fail2ban-client` uses it: a Unix stream socket on which each request is a
//! pickled list of strings followed by the end-of-message marker, and each reply one pickled `(code, value)` pair
//! (code 0: the value is the answer; 1: the command failed) followed by the same marker. `<F2B_CLOSE_COMMAND>` and the
//! marker end the conversation.
//!
//! Everything here is bounded: the connect (non-blocking, retried while the server's backlog is full), every write
//! and read (the poll's deadline, in slices of 100 ms so a stop request is seen), and every reply
//! ([`MAX_REPLY`] bytes). Pickles are decoded by `serde-pickle` into plain values; a Python object (the exception of an
//! error reply) becomes the tuple of its constructor's arguments: its class is never looked up, nothing is run.

use crate::worker::Stop;
use serde_pickle::{DeOptions, SerOptions, Value};
use socket2::{Domain, SockAddr, Socket, Type};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Ends every request and every reply.
const END: &[u8] = b"<F2B_END_COMMAND>";
/// Sent (with [`END`]) before closing, as fail2ban-client does.
const CLOSE: &[u8] = b"<F2B_CLOSE_COMMAND>";
/// Largest reply accepted: a jail status with a long list of banned addresses (from servers that do not know the
/// `short` status) fits many times over.
pub const MAX_REPLY: usize = 1 << 20;
/// Longest single wait on the socket, so a stop request is seen within it.
const SLICE: Duration = Duration::from_millis(100);

/// What went wrong, in the terms an operator acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing at the socket path.
    Missing(PathBuf),
    /// The process may not connect to the socket.
    PermissionDenied(PathBuf),
    /// A socket is there but nobody accepts on it (a server that died and left it behind).
    Refused(PathBuf),
    /// The path exists and is not a socket.
    NotASocket(PathBuf),
    /// No complete answer before the deadline (command, time allowed).
    Timeout(String, Duration),
    /// The server closed the connection before answering (command).
    Lost(String),
    /// The reply is not what fail2ban-server sends (command, what was wrong).
    Protocol(String, String),
    /// The server answered with an error (command, its message if it sent one as text).
    Refusal(String, String),
    /// Any other socket error (step, error).
    Io(String, String),
    /// The thread is being stopped.
    Stopped,
}

impl Failure {
    /// A short key for the kind of failure: the operator is told once per change of situation.
    pub fn situation(&self) -> String {
        match self {
            Failure::Missing(_) => "missing".into(),
            Failure::PermissionDenied(_) => "permission".into(),
            Failure::Refused(_) => "refused".into(),
            Failure::NotASocket(_) => "not a socket".into(),
            Failure::Timeout(..) => "timeout".into(),
            Failure::Lost(_) => "lost".into(),
            Failure::Protocol(..) => "protocol".into(),
            Failure::Refusal(cmd, _) => format!("refusal:{cmd}"),
            Failure::Io(step, _) => format!("io:{step}"),
            Failure::Stopped => "stopped".into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Missing(p) => write!(
                f,
                "no socket at {}: fail2ban-server is not running, or fail2ban.socket is not the socket its fail2ban.conf sets",
                p.display()
            ),
            Failure::PermissionDenied(p) => write!(
                f,
                "permission denied on {}: this process (uid {}) may not connect to it; fail2ban makes it root-only (see \"fail2ban\" in the README: access to this socket is access to root)",
                p.display(),
                own_uid().map_or_else(|| "unknown".to_string(), |u| u.to_string())
            ),
            Failure::Refused(p) => write!(
                f,
                "{} refuses connections: fail2ban-server is not running (the socket was left behind)",
                p.display()
            ),
            Failure::NotASocket(p) => write!(
                f,
                "{} is not a socket: set fail2ban.socket to fail2ban-server's control socket",
                p.display()
            ),
            Failure::Timeout(cmd, d) => write!(
                f,
                "no answer to `{cmd}` within {} ms: fail2ban-server is busy or hung",
                d.as_millis()
            ),
            Failure::Lost(cmd) => write!(
                f,
                "fail2ban-server closed the connection before answering `{cmd}`"
            ),
            Failure::Protocol(cmd, what) => write!(
                f,
                "protocol error: the answer to `{cmd}` {what} (is fail2ban.socket fail2ban-server's control socket?)"
            ),
            Failure::Refusal(cmd, msg) => {
                write!(f, "fail2ban-server refused `{cmd}`")?;
                if !msg.is_empty() {
                    write!(f, ": {msg}")?;
                }
                Ok(())
            }
            Failure::Io(step, e) => write!(f, "{step}: {e}"),
            Failure::Stopped => write!(f, "stopped"),
        }
    }
}

/// The uid this process runs as (the owner of `/proc/self`), for the permission message.
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Text from the peer made safe for a log line: control characters replaced, at most 200 characters.
pub fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 200 {
        out.push_str("...");
    }
    out
}

/// One conversation with the server, ended by [`Conn::close`] or by dropping it.
pub struct Conn {
    stream: UnixStream,
    deadline: Instant,
    allowed: Duration,
}

impl Conn {
    /// Connects to `path`; this and every exchange on the connection must end within `allowed` from now (a full
    /// backlog makes a connect wait, so it is retried until then).
    pub fn connect(path: &Path, allowed: Duration, stop: &Stop) -> Result<Conn, Failure> {
        let deadline = Instant::now() + allowed;
        let addr =
            SockAddr::unix(path).map_err(|e| Failure::Io("socket path".into(), e.to_string()))?;
        let sock = Socket::new(Domain::UNIX, Type::STREAM, None)
            .map_err(|e| Failure::Io("socket".into(), e.to_string()))?;
        sock.set_nonblocking(true)
            .map_err(|e| Failure::Io("socket".into(), e.to_string()))?;
        loop {
            match sock.connect(&addr) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The listen backlog is full (fail2ban listens with a backlog of 1): try again shortly.
                    if stop.is_set() {
                        return Err(Failure::Stopped);
                    }
                    if Instant::now() >= deadline {
                        return Err(Failure::Timeout("connect".into(), allowed));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(connect_failure(path, e)),
            }
        }
        let stream = UnixStream::from(std::os::fd::OwnedFd::from(sock));
        stream
            .set_nonblocking(false)
            .map_err(|e| Failure::Io("socket".into(), e.to_string()))?;
        Ok(Conn {
            stream,
            deadline,
            allowed,
        })
    }

    /// Sends one command and returns the value of a successful answer.
    pub fn command(&mut self, args: &[&str], stop: &Stop) -> Result<Value, Failure> {
        // Jail names come from the server: made printable before they reach a log line.
        let shown = printable(&args.join(" "));
        let request = Value::List(args.iter().map(|a| Value::String(a.to_string())).collect());
        let mut bytes = serde_pickle::value_to_vec(&request, SerOptions::new())
            .map_err(|e| Failure::Io("encoding the request".into(), e.to_string()))?;
        bytes.extend_from_slice(END);
        self.write_all(&bytes, &shown)?;
        let reply = self.read_reply(&shown, stop)?;
        let value =
            serde_pickle::value_from_slice(&reply, DeOptions::new().replace_unresolved_globals())
                .map_err(|e| {
                Failure::Protocol(
                    shown.clone(),
                    format!("is not a pickle fail2ban sends ({e})"),
                )
            })?;
        answer(&shown, value)
    }

    /// Ends the conversation politely (errors do not matter: the connection is closed either way).
    pub fn close(mut self) {
        let mut bytes = CLOSE.to_vec();
        bytes.extend_from_slice(END);
        let _ = self.stream.set_write_timeout(Some(SLICE));
        let _ = self.stream.write_all(&bytes);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    fn remaining(&self, cmd: &str) -> Result<Duration, Failure> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout(cmd.into(), self.allowed));
        }
        Ok(left)
    }

    fn write_all(&mut self, bytes: &[u8], cmd: &str) -> Result<(), Failure> {
        let left = self.remaining(cmd)?;
        self.stream
            .set_write_timeout(Some(left))
            .map_err(|e| Failure::Io("socket".into(), e.to_string()))?;
        self.stream.write_all(bytes).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Failure::Timeout(cmd.into(), self.allowed)
            }
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Failure::Lost(cmd.into()),
            _ => Failure::Io(format!("sending `{cmd}`"), e.to_string()),
        })
    }

    /// Reads until the end marker; returns the pickle without it.
    fn read_reply(&mut self, cmd: &str, stop: &Stop) -> Result<Vec<u8>, Failure> {
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        let mut chunk = [0u8; 8192];
        loop {
            if stop.is_set() {
                return Err(Failure::Stopped);
            }
            let left = self.remaining(cmd)?;
            self.stream
                .set_read_timeout(Some(left.min(SLICE)))
                .map_err(|e| Failure::Io("socket".into(), e.to_string()))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Failure::Lost(cmd.into())),
                Ok(n) => {
                    if buf.len() + n > MAX_REPLY + END.len() {
                        return Err(Failure::Protocol(
                            cmd.into(),
                            format!("is longer than {} KiB", MAX_REPLY / 1024),
                        ));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.ends_with(END) {
                        buf.truncate(buf.len() - END.len());
                        return Ok(buf);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(Failure::Lost(cmd.into()))
                }
                Err(e) => {
                    return Err(Failure::Io(
                        format!("reading the answer to `{cmd}`"),
                        e.to_string(),
                    ))
                }
            }
        }
    }
}

fn connect_failure(path: &Path, e: io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::NotFound => Failure::Missing(path.into()),
        io::ErrorKind::PermissionDenied => Failure::PermissionDenied(path.into()),
        io::ErrorKind::ConnectionRefused => match std::fs::metadata(path) {
            Ok(m) if !m.file_type().is_socket() => Failure::NotASocket(path.into()),
            _ => Failure::Refused(path.into()),
        },
        _ if e.raw_os_error() == Some(20) => Failure::Missing(path.into()), // ENOTDIR: a file where a folder should be
        _ => Failure::Io(format!("connecting to {}", path.display()), e.to_string()),
    }
}

/// Decodes one answer into plain values. A Python object (the exception of an error answer) becomes the tuple of
/// its constructor's arguments, so the exception's message can be shown; its class is not looked up.
pub fn decode(pickle: &[u8]) -> Result<Value, serde_pickle::Error> {
    serde_pickle::value_from_slice(
        pickle,
        DeOptions::new()
            .replace_unresolved_globals()
            .keep_restore_state(),
    )
}

/// Unpacks a decoded `(code, value)` reply.
pub fn answer(cmd: &str, reply: Value) -> Result<Value, Failure> {
    let mut parts = match reply {
        Value::Tuple(p) | Value::List(p) if p.len() == 2 => p,
        // A failure in the server's request handler itself is a bare string ("ERROR: ...").
        Value::String(s) => return Err(Failure::Refusal(cmd.into(), printable(&s))),
        _ => {
            return Err(Failure::Protocol(
                cmd.into(),
                "is not a (code, value) pair".into(),
            ))
        }
    };
    let value = parts.pop().unwrap_or(Value::None);
    match parts.pop() {
        Some(Value::I64(0)) => Ok(value),
        Some(Value::I64(_)) => Err(Failure::Refusal(
            cmd.into(),
            match value {
                Value::String(s) => printable(&s),
                Value::Tuple(args) => match args.first() {
                    Some(Value::String(s)) => printable(s),
                    _ => String::new(),
                },
                _ => String::new(),
            },
        )),
        _ => Err(Failure::Protocol(cmd.into(), "has no numeric code".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn error_answers_of_a_real_server_give_their_message() {
        // fail2ban 1.0.2 answering `status nojail` (its UnknownJailException) and `bogus` (a builtins.Exception).
        let unknown = "80059541000000000000004b018c136661696c3262616e2e657863657074696f6e73948c14556e6b6e6f776e4a61696c457863657074696f6e9493948c066e6f6a61696c948594529486942e";
        let invalid = "80059534000000000000004b018c086275696c74696e73948c09457863657074696f6e9493948c0f496e76616c696420636f6d6d616e64948594529486942e";
        let e = answer("status nojail", decode(&bytes(unknown)).unwrap()).unwrap_err();
        assert_eq!(e, Failure::Refusal("status nojail".into(), "nojail".into()));
        let e = answer("bogus", decode(&bytes(invalid)).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "fail2ban-server refused `bogus`: Invalid command"
        );
        // The version answer, and what is not an answer.
        let version = "8005950d000000000000004b008c05312e302e329486942e";
        assert_eq!(
            answer("version", decode(&bytes(version)).unwrap()),
            Ok(Value::String("1.0.2".into()))
        );
        assert!(decode(b"<html>").is_err());
        let e = answer("status", Value::I64(3)).unwrap_err();
        assert_eq!(e.situation(), "protocol");
        assert!(e.to_string().contains("is not a (code, value) pair"), "{e}");
        let e = answer("status", Value::String("ERROR: boom\n".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "fail2ban-server refused `status`: ERROR: boom?"
        );
    }

    #[test]
    fn peer_text_is_made_printable_and_short() {
        assert_eq!(printable("a\x1b[2Jb\r\n"), "a?[2Jb??");
        assert_eq!(printable(&"x".repeat(300)).len(), 203);
    }
}
