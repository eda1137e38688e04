//! A minimal HTTP/1.1 client over loopback for scraping: a fresh connection per request, or one kept alive.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A port free on 127.0.0.1 right now (the kernel picks it; it is released again before returning).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Status and body of a response head + body held in `raw`; `Content-Length` bounds the body when present.
/// Returns `None` while the head or the announced body is incomplete.
fn split_response(raw: &[u8]) -> io::Result<Option<(u16, std::ops::Range<usize>)>> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("response head is not UTF-8"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line in {head:?}")))?;
    let length = head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    let body_start = end + 4;
    match length {
        Some(len) if raw.len() >= body_start + len => {
            Ok(Some((status, body_start..body_start + len)))
        }
        Some(_) => Ok(None),
        None => Ok(Some((status, body_start..raw.len()))),
    }
}

fn request(addr: SocketAddr, path: &str, keep_alive: bool) -> String {
    let conn = if keep_alive { "keep-alive" } else { "close" };
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: {conn}\r\n\r\n")
}

/// A page fetched over a fresh connection.
pub struct Fetched {
    /// Body of the 200 response.
    pub body: Vec<u8>,
    /// From the start of the connect to the first response byte (the server renders before it sends).
    pub first_byte: Duration,
}

/// One GET over a fresh connection (`Connection: close`), read to the end.
pub fn get_fresh(addr: SocketAddr, path: &str) -> io::Result<Fetched> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.write_all(request(addr, path, false).as_bytes())?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut first_byte = None;
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        first_byte.get_or_insert_with(|| start.elapsed());
        raw.extend_from_slice(&chunk[..n]);
    }
    match split_response(&raw)? {
        Some((200, body)) => Ok(Fetched {
            body: raw[body].to_vec(),
            first_byte: first_byte.unwrap_or_default(),
        }),
        Some((status, _)) => Err(bad(format!("HTTP {status}"))),
        None => Err(bad("truncated response")),
    }
}

/// A kept-alive connection; each [`KeepAlive::get`] reuses it (and its buffer).
pub struct KeepAlive {
    addr: SocketAddr,
    stream: TcpStream,
    raw: Vec<u8>,
}

impl KeepAlive {
    /// Connects.
    pub fn connect(addr: SocketAddr) -> io::Result<KeepAlive> {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive {
            addr,
            stream,
            raw: Vec::new(),
        })
    }

    /// One GET; returns the body length of a 200 response (the server must send `Content-Length`).
    pub fn get(&mut self, path: &str) -> io::Result<usize> {
        self.stream
            .write_all(request(self.addr, path, true).as_bytes())?;
        self.raw.clear();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("connection closed mid-response"));
            }
            self.raw.extend_from_slice(&chunk[..n]);
            if let Some((status, body)) = split_response(&self.raw)? {
                if status != 200 {
                    return Err(bad(format!("HTTP {status}")));
                }
                return Ok(body.len());
            }
        }
    }
}

/// Sample lines on an exposition page (lines that are neither blank nor comments).
pub fn sample_lines(page: &[u8]) -> usize {
    page.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .count()
}
