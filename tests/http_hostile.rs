//! The scrape endpoint under hostile clients, over real TCP on loopback: a full connection table, slowloris,
//! idle and never-reading sockets, garbage, a per-peer cap, the access list, and big pages (rendered off the event
//! loop, shared by concurrent scrapes).
#![allow(unsafe_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use res_prom_rs::http::{Acl, HttpServer, HttpSettings, Limits, PageSource};
use res_prom_rs::registry::Format;

/// A page source whose full page is `full` bytes and takes `delay` to render; `collect[]` pages are tiny and fast.
struct Source {
    full: Vec<u8>,
    delay: Duration,
    renders: AtomicUsize,
    codes: Mutex<Vec<u16>>,
}

impl Source {
    fn new(full_len: usize, delay: Duration) -> Arc<Source> {
        let line = b"# a metric line of the big page\n";
        let full: Vec<u8> = line.iter().copied().cycle().take(full_len).collect();
        Arc::new(Source {
            full,
            delay,
            renders: AtomicUsize::new(0),
            codes: Mutex::new(Vec::new()),
        })
    }
}

impl PageSource for Source {
    fn render_metrics(&self, _: Format, collect: &[String]) -> Vec<u8> {
        if !collect.is_empty() {
            return b"small 1\n".to_vec();
        }
        self.renders.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.full.clone()
    }
    fn render_landing(&self) -> Vec<u8> {
        b"<html></html>".to_vec()
    }
    fn record_request(&self, code: u16) {
        self.codes.lock().unwrap().push(code);
    }
    fn record_scrape(&self, _: f64) {}
}

fn start(source: Arc<Source>, limits: Limits, acl: Acl) -> HttpServer {
    let mut s = HttpSettings::new("127.0.0.1:0".parse().unwrap(), "/metrics");
    s.acl = acl;
    HttpServer::start_with_limits(s, source, limits).expect("start")
}

/// A connection from `from` (any 127/8 address is loopback on Linux).
fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddr::new(from, 0).into())?;
    sock.connect(&to.into())?;
    Ok(sock.into())
}

/// Send `path`, read one response framed by Content-Length; `None` on EOF, reset or timeout.
fn request(
    s: &mut TcpStream,
    path: &str,
    keep_alive: bool,
    timeout: Duration,
) -> Option<(u16, Vec<u8>)> {
    s.set_read_timeout(Some(timeout)).unwrap();
    let conn = if keep_alive { "keep-alive" } else { "close" };
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: {conn}\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (end, len) = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())?;
            break (p + 4, len);
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    while buf.len() < end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let status = std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()?;
    Some((status, buf[end..end + len].to_vec()))
}

/// Whether the server closed `s` (EOF or reset), waiting at most `wait`.
fn closed(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1024];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => return !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }
}

fn small_limits() -> Limits {
    Limits {
        max_connections: 8,
        poll_interval: Duration::from_millis(50),
        ..Limits::default()
    }
}

#[test]
fn a_full_table_makes_room_starting_with_the_longest_waiting_head() {
    let src = Source::new(100, Duration::ZERO);
    let server = start(src.clone(), small_limits(), Acl::default());
    let addr = server.local_addr();
    // A scraper's kept-alive connection, then the table filled with connections that send nothing.
    let mut scraper = TcpStream::connect(addr).unwrap();
    assert_eq!(
        request(&mut scraper, "/metrics", true, Duration::from_secs(2))
            .unwrap()
            .0,
        200
    );
    let mut silent: Vec<TcpStream> = Vec::new();
    for _ in 0..7 {
        silent.push(TcpStream::connect(addr).unwrap());
        std::thread::sleep(Duration::from_millis(20)); // distinct ages, oldest first
    }
    // Three newcomers (kept alive): each is served and the three oldest silent ones made room, in age order.
    let mut newcomers = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(addr).unwrap();
        assert_eq!(
            request(&mut c, "/metrics", true, Duration::from_secs(2))
                .unwrap()
                .0,
            200
        );
        newcomers.push(c);
    }
    for (i, s) in silent.iter_mut().enumerate() {
        let gone = closed(s, Duration::from_millis(100));
        assert_eq!(gone, i < 3, "silent connection {i} (oldest first)");
    }
    // The kept-alive scraper connection survived all of it.
    assert_eq!(
        request(&mut scraper, "/metrics", true, Duration::from_secs(2))
            .unwrap()
            .0,
        200
    );
    server.stop();
}

#[test]
fn one_peer_cannot_take_more_than_its_share() {
    let src = Source::new(100, Duration::ZERO);
    let limits = Limits {
        max_per_peer: 3,
        ..small_limits()
    };
    let server = start(src, limits, Acl::default());
    let addr = server.local_addr();
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let mut held: Vec<TcpStream> = (0..6)
        .map(|_| {
            let s = connect_from(other, addr).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s
        })
        .collect();
    let open: Vec<bool> = held
        .iter_mut()
        .map(|s| !closed(s, Duration::from_millis(100)))
        .collect();
    assert_eq!(
        open,
        [false, false, false, true, true, true],
        "the peer's own oldest made room"
    );
    // Other peers still have the rest of the table.
    let mut c = TcpStream::connect(addr).unwrap();
    assert_eq!(
        request(&mut c, "/metrics", false, Duration::from_secs(2))
            .unwrap()
            .0,
        200
    );
    server.stop();
}

#[test]
fn the_access_list_closes_refused_peers_before_reading() {
    let src = Source::new(100, Duration::ZERO);
    let acl = Acl::parse("deny 127.0.0.0/8, permit 127.0.0.1").unwrap();
    let server = start(src.clone(), small_limits(), acl);
    let addr = server.local_addr();
    let mut refused = connect_from("127.0.0.3".parse().unwrap(), addr).unwrap();
    assert_eq!(
        request(&mut refused, "/metrics", false, Duration::from_secs(2)),
        None
    );
    let mut ok = TcpStream::connect(addr).unwrap();
    assert_eq!(
        request(&mut ok, "/metrics", false, Duration::from_secs(2))
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        *src.codes.lock().unwrap(),
        [200],
        "the refused request was never read"
    );
    server.stop();
}

#[test]
fn a_slow_render_blocks_no_other_request_and_is_shared() {
    // The bounds below are loose (a shared, busy test machine); what matters is far below the render time.
    let src = Source::new(4 << 20, Duration::from_millis(1500));
    let server = start(src.clone(), small_limits(), Acl::default());
    let addr = server.local_addr();
    let t0 = Instant::now();
    let full: Vec<_> = (0..5)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                request(&mut s, "/metrics", false, Duration::from_secs(5)).unwrap()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(150)); // the render is under way
    for path in ["/metrics?collect[]=small", "/", "/nope"] {
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        let (status, _) = request(&mut s, path, false, Duration::from_secs(5)).unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(800),
            "{path} waited {:?} behind the render",
            t.elapsed()
        );
        assert_ne!(status, 0);
    }
    for h in full {
        let (status, body) = h.join().unwrap();
        assert_eq!((status, body.len()), (200, 4 << 20));
    }
    assert!(
        t0.elapsed() < Duration::from_millis(2900),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        src.renders.load(Ordering::SeqCst),
        1,
        "five concurrent scrapes share one render"
    );
    server.stop();
}

#[test]
fn slow_readers_of_a_big_page_neither_stall_others_nor_get_a_copy_each() {
    let src = Source::new(8 << 20, Duration::from_millis(100));
    let limits = Limits {
        max_connections: 64,
        ..small_limits()
    };
    let server = start(src.clone(), limits, Acl::default());
    let addr = server.local_addr();
    // 20 readers ask for the page at once and read nothing.
    let mut slow: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for s in &mut slow {
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(400));
    for _ in 0..10 {
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        assert_eq!(
            request(
                &mut s,
                "/metrics?collect[]=x",
                false,
                Duration::from_secs(2)
            )
            .unwrap()
            .0,
            200
        );
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    assert_eq!(
        src.renders.load(Ordering::SeqCst),
        1,
        "one render for 20 concurrent readers"
    );
    // The readers are still connected (they may read later) and one of them now reads it all.
    let mut s = slow.pop().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = 0;
    let mut chunk = vec![0u8; 1 << 16];
    while got < 8 << 20 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got >= 8 << 20, "read {got}");
    server.stop();
}

/// Raise the soft descriptor limit (1,000 hostile sockets, up to 512 on the server side, the scraper).
fn raise_fd_limit(want: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < want {
            r.rlim_cur = want.min(r.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
        r.rlim_cur
    }
}

#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Connects and sends nothing.
    Idle,
    /// Sends one header byte every 200 ms, never ending the head.
    Slowloris,
    /// Sends requests and never reads the answers.
    NeverReads,
    /// Sends bytes that are not HTTP (answered 400 and closed), then reconnects.
    Garbage,
}

/// Keep `n` connections of one kind open until `quit`, reconnecting whatever the server closes.
fn hostile(
    kind: Hostile,
    n: usize,
    addr: SocketAddr,
    quit: Arc<AtomicBool>,
    made: Arc<AtomicUsize>,
) {
    let open = |made: &AtomicUsize| -> Option<TcpStream> {
        let s = TcpStream::connect(addr).ok()?;
        s.set_nonblocking(true).ok()?;
        made.fetch_add(1, Ordering::Relaxed);
        Some(s)
    };
    let mut socks: Vec<Option<TcpStream>> = (0..n).map(|_| open(&made)).collect();
    let mut buf = [0u8; 4096];
    while !quit.load(Ordering::Relaxed) {
        for slot in socks.iter_mut() {
            let alive = match slot.as_mut() {
                None => false,
                Some(s) => {
                    let sent = match kind {
                        Hostile::Idle => Ok(0),
                        Hostile::Slowloris => {
                            s.write(b"GET /metrics HTTP/1.1\r\nX: ").and(s.write(b"a"))
                        }
                        Hostile::NeverReads => s.write(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"),
                        Hostile::Garbage => s.write(b"\x16\x03\x01 not http at all\r\n\r\n"),
                    };
                    let write_ok = match sent {
                        Ok(_) => true,
                        Err(e) => e.kind() == ErrorKind::WouldBlock,
                    };
                    let read_ok = match kind {
                        Hostile::NeverReads => true,
                        _ => match s.read(&mut buf) {
                            Ok(0) => false,
                            Ok(_) => !matches!(kind, Hostile::Garbage),
                            Err(e) => e.kind() == ErrorKind::WouldBlock,
                        },
                    };
                    write_ok && read_ok
                }
            };
            if !alive {
                *slot = open(&made);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_scraper_gets_through_a_thousand_hostile_connections() {
    let limit = raise_fd_limit(8192);
    let per_kind = if limit >= 2600 {
        250
    } else {
        (limit.saturating_sub(700) / 4) as usize
    };
    assert!(
        per_kind >= 100,
        "descriptor limit {limit} too low for this test"
    );
    let src = Source::new(64 * 1024, Duration::ZERO);
    let server = start(src, Limits::default(), Acl::default()); // the production limits
    let addr = server.local_addr();
    let quit = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = [
        Hostile::Idle,
        Hostile::Slowloris,
        Hostile::NeverReads,
        Hostile::Garbage,
    ]
    .into_iter()
    .map(|k| {
        let (q, m) = (quit.clone(), made.clone());
        std::thread::spawn(move || hostile(k, per_kind, addr, q, m))
    })
    .collect();
    std::thread::sleep(Duration::from_secs(1)); // the table is full and churning
                                                // 100 scrapes: even ones on one kept-alive connection, odd ones on a new connection each.
    let mut kept = TcpStream::connect(addr).unwrap();
    let mut kept_reconnects = 0;
    let mut ok = 0;
    let mut slow = Vec::new();
    for i in 0..100 {
        let t = Instant::now();
        let r = if i % 2 == 0 {
            let r = request(&mut kept, "/metrics", true, Duration::from_secs(1));
            if r.is_none() {
                kept_reconnects += 1;
                kept = TcpStream::connect(addr).unwrap();
            }
            r
        } else {
            TcpStream::connect(addr)
                .ok()
                .and_then(|mut s| request(&mut s, "/metrics", false, Duration::from_secs(1)))
        };
        let took = t.elapsed();
        if matches!(r, Some((200, ref b)) if b.len() == 64 * 1024) && took <= Duration::from_secs(1)
        {
            ok += 1;
        } else {
            slow.push((i, took, r.map(|r| r.0)));
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    quit.store(true, Ordering::Relaxed);
    for a in attackers {
        a.join().unwrap();
    }
    let hostile_connections = made.load(Ordering::Relaxed);
    server.stop();
    assert!(hostile_connections >= 4 * per_kind, "{hostile_connections}");
    assert!(
        ok >= 99,
        "{ok}/100 scrapes got 200 within 1 s; failed: {slow:?}"
    );
    assert_eq!(
        kept_reconnects, 0,
        "the scraper's kept-alive connection was closed"
    );
}
