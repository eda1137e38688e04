//! Integration tests of the scrape endpoint over real TCP on 127.0.0.1.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use res_prom_rs::http::{
    BasicAuth, HttpError, HttpServer, HttpSettings, Limits, PageSource, THREAD_NAME,
};
use res_prom_rs::registry::Format;

const PAGE: &[u8] = b"# TYPE up gauge\nup 1\n# TYPE calls_total counter\ncalls_total 42\n";
const LANDING: &[u8] = b"<html><body><a href=\"/metrics\">metrics</a></body></html>";

/// Every test that runs a server holds this for reading; the thread-count
/// test holds it for writing so that no other server thread exists meanwhile.
static SERVERS: RwLock<()> = RwLock::new(());

fn shared_lock() -> RwLockReadGuard<'static, ()> {
    SERVERS.read().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Fake {
    renders: Mutex<Vec<(Format, Vec<String>)>>,
    codes: Mutex<Vec<u16>>,
    scrapes: Mutex<Vec<f64>>,
}

impl PageSource for Fake {
    fn render_metrics(&self, format: Format, collect: &[String]) -> Vec<u8> {
        self.renders
            .lock()
            .unwrap()
            .push((format, collect.to_vec()));
        PAGE.to_vec()
    }
    fn render_landing(&self) -> Vec<u8> {
        LANDING.to_vec()
    }
    fn record_request(&self, code: u16) {
        self.codes.lock().unwrap().push(code);
    }
    fn record_scrape(&self, seconds: f64) {
        self.scrapes.lock().unwrap().push(seconds);
    }
}

fn settings(auth: Option<BasicAuth>) -> HttpSettings {
    let mut s = HttpSettings::new("127.0.0.1:0".parse().unwrap(), "/metrics");
    s.auth = auth;
    s
}

fn test_limits() -> Limits {
    Limits {
        head_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(2),
        poll_interval: Duration::from_millis(50),
        linger: Duration::from_millis(500),
        ..Limits::default()
    }
}

fn start_with(auth: Option<BasicAuth>, limits: Limits) -> (HttpServer, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let server =
        HttpServer::start_with_limits(settings(auth), fake.clone(), limits).expect("start");
    (server, fake)
}

fn start() -> (HttpServer, Arc<Fake>) {
    start_with(None, test_limits())
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client reading responses framed by Content-Length.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, raw: &[u8]) -> &mut Client {
        self.stream.write_all(raw).expect("write");
        self
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    fn response(&mut self, head_only: bool) -> Resp {
        let end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            assert!(
                self.fill(),
                "EOF before a response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("utf-8 head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .expect("content-length");
        let body_len = if head_only { 0 } else { len };
        while self.buf.len() < end + body_len {
            assert!(self.fill(), "EOF in body");
        }
        let body = self.buf[end..end + body_len].to_vec();
        self.buf.drain(..end + body_len);
        Resp {
            status,
            headers,
            body,
        }
    }

    /// True when the server closed the connection (EOF or reset) with nothing more to read.
    fn closed_by_server(&mut self) -> bool {
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
        }
    }
}

fn get(addr: SocketAddr, raw: &str) -> Resp {
    Client::connect(addr)
        .send(raw.as_bytes())
        .response(raw.starts_with("HEAD "))
}

fn scrape(addr: SocketAddr) -> Resp {
    get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
}

/// Wait (up to 1 s) until `n` threads named prom_rs-http exist; return the count.
fn await_threads(n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(1);
    while prom_threads() != n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    prom_threads()
}

fn prom_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|c| c.trim_end() == THREAD_NAME)
        .count()
}

#[test]
fn content_types_for_both_formats() {
    let _g = shared_lock();
    let (server, fake) = start();
    let addr = server.local_addr();
    let r = scrape(addr);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, PAGE);
    let r = get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: application/openmetrics-text;version=1.0.0,\
         text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let r = get(
        addr,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;q=0\r\n\r\n",
    );
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let formats: Vec<Format> = fake
        .renders
        .lock()
        .unwrap()
        .iter()
        .map(|(f, _)| *f)
        .collect();
    assert_eq!(
        formats,
        [Format::Text004, Format::OpenMetrics100, Format::Text004]
    );
    assert_eq!(*fake.codes.lock().unwrap(), [200, 200, 200]);
    assert_eq!(fake.scrapes.lock().unwrap().len(), 3);
    server.stop();
}

#[test]
fn gzip_body_decompresses_to_page() {
    let _g = shared_lock();
    let (server, _fake) = start();
    let r = get(
        server.local_addr(),
        "GET /metrics HTTP/1.1\r\nAccept-Encoding: deflate, gzip;q=0.8\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let mut page = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_end(&mut page)
        .unwrap();
    assert_eq!(page, PAGE);
    let r = get(
        server.local_addr(),
        "GET /metrics HTTP/1.1\r\nAccept-Encoding: gzip;q=0\r\n\r\n",
    );
    assert_eq!((r.header("content-encoding"), &r.body[..]), (None, PAGE));
}

#[test]
fn collect_values_reach_the_source() {
    let _g = shared_lock();
    let (server, fake) = start();
    let r = get(
        server.local_addr(),
        "GET /metrics?collect[]=up&other=1&collect%5B%5D=calls%5Ftotal&collect[]=a+b HTTP/1.1\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let (_, collect) = fake.renders.lock().unwrap().last().cloned().unwrap();
    assert_eq!(collect, ["up", "calls_total", "a b"]);
}

#[test]
fn landing_page_404_and_head() {
    let _g = shared_lock();
    let (server, fake) = start();
    let addr = server.local_addr();
    let r = get(addr, "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("text/html; charset=utf-8"))
    );
    assert_eq!(r.body, LANDING);
    let r = get(addr, "GET /nothing HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(!r.body.is_empty() && r.body.len() < 100);
    assert_eq!(get(addr, "GET /metrics/extra HTTP/1.1\r\n\r\n").status, 404);
    // HEAD: the GET headers, no body.
    let mut c = Client::connect(addr);
    let r = c
        .send(b"HEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
        .response(true);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(PAGE.len().to_string().as_str())
    );
    assert!(c.closed_by_server(), "HEAD response carried a body");
    assert_eq!(*fake.codes.lock().unwrap(), [200, 404, 404, 200]);
}

#[test]
fn other_methods_get_405() {
    let _g = shared_lock();
    let (server, _fake) = start();
    let addr = server.local_addr();
    for raw in [
        "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
        "DELETE /metrics HTTP/1.1\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\n\r\n",
    ] {
        let r = get(addr, raw);
        assert_eq!(r.status, 405, "{raw}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
    // A body on GET is not supported.
    let mut c = Client::connect(addr);
    let r = c
        .send(b"GET /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
        .response(false);
    assert_eq!((r.status, r.header("connection")), (400, Some("close")));
    assert!(c.closed_by_server());
}

#[test]
fn basic_auth_none_wrong_right() {
    let _g = shared_lock();
    let auth = BasicAuth::plain("prom", "secret");
    let (server, fake) = start_with(Some(auth), test_limits());
    let addr = server.local_addr();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for path in ["/metrics", "/"] {
        let r = get(addr, &format!("GET {path} HTTP/1.1\r\n\r\n"));
        assert_eq!(r.status, 401);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"res_prom_rs\"")
        );
        let wrong = format!(
            "GET {path} HTTP/1.1\r\nAuthorization: Basic {}\r\n\r\n",
            b64("prom:nope")
        );
        assert_eq!(get(addr, &wrong).status, 401);
        let right = format!(
            "GET {path} HTTP/1.1\r\nAuthorization: Basic {}\r\n\r\n",
            b64("prom:secret")
        );
        assert_eq!(get(addr, &right).status, 200);
    }
    assert!(
        fake.renders.lock().unwrap().len() == 1,
        "rendered without credentials"
    );
    // update() swaps credentials and path without rebinding.
    server.update(HttpSettings {
        uri: "/m2".into(),
        ..settings(None)
    });
    assert_eq!(get(addr, "GET /m2 HTTP/1.1\r\n\r\n").status, 200);
    assert_eq!(get(addr, "GET /metrics HTTP/1.1\r\n\r\n").status, 404);
    assert_eq!(server.local_addr(), addr);
}

#[test]
fn oversized_head_gets_431_and_server_still_answers() {
    let _g = shared_lock();
    let (server, _fake) = start();
    let addr = server.local_addr();
    let mut raw = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    raw.resize(20 * 1024, b'a');
    raw.extend_from_slice(b"\r\n\r\n");
    let mut c = Client::connect(addr);
    let r = c.send(&raw).response(false);
    assert_eq!((r.status, r.header("connection")), (431, Some("close")));
    assert!(c.closed_by_server());
    assert_eq!(scrape(addr).status, 200);
}

#[test]
fn garbage_gets_400_and_server_still_answers() {
    let _g = shared_lock();
    let (server, fake) = start();
    let addr = server.local_addr();
    for raw in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"\xff\xfe\xfd\r\n\r\n",
        b"HELLO\r\n\r\n",
    ] {
        let mut c = Client::connect(addr);
        let r = c.send(raw).response(false);
        assert_eq!(r.status, 400, "{raw:?}");
        assert!(c.closed_by_server());
    }
    assert_eq!(get(addr, "GET /metrics HTTP/3.0\r\n\r\n").status, 505);
    assert_eq!(scrape(addr).status, 200);
    assert_eq!(*fake.codes.lock().unwrap(), [400, 400, 400, 505, 200]);
}

#[test]
fn keep_alive_and_pipelining() {
    let _g = shared_lock();
    let (server, fake) = start();
    let mut c = Client::connect(server.local_addr());
    for _ in 0..3 {
        let r = c
            .send(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
            .response(false);
        assert_eq!((r.status, r.header("connection")), (200, None));
    }
    c.send(b"GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\nHEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(c.response(false).status, 200);
    assert_eq!(c.response(false).status, 404);
    assert_eq!(c.response(true).status, 200);
    // HTTP/1.0 keeps the connection only when asked.
    let r = c
        .send(b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .response(false);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    let r = c.send(b"GET /metrics HTTP/1.0\r\n\r\n").response(false);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed_by_server());
    assert_eq!(fake.codes.lock().unwrap().len(), 8);
}

#[test]
fn idle_and_half_sent_connections_do_not_block_scrapes() {
    let _g = shared_lock();
    // Production timeouts: nothing gets closed during the test.
    let (server, _fake) = start_with(None, Limits::default());
    let addr = server.local_addr();
    let mut held = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 2 == 1 {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: slow\r\nAcce")
                .unwrap();
        }
        held.push(s);
    }
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(scrape(addr).status, 200);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "scrape took {:?}",
            t.elapsed()
        );
    }
    drop(held);
}

#[test]
fn a_newcomer_over_the_limit_takes_a_silent_connections_place() {
    let _g = shared_lock();
    let (server, _fake) = start_with(
        None,
        Limits {
            max_connections: 4,
            ..test_limits()
        },
    );
    let addr = server.local_addr();
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200)); // let the server accept them
                                                    // The table is full of connections that sent nothing: the newcomer is served anyway.
    assert_eq!(scrape(addr).status, 200);
    let mut first = Client {
        stream: held.into_iter().next().unwrap(),
        buf: Vec::new(),
    };
    first
        .stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        first.closed_by_server(),
        "the oldest silent connection made room"
    );
}

#[test]
fn slow_head_is_closed_after_timeout() {
    let _g = shared_lock();
    let (server, fake) = start(); // head timeout 500 ms
    let addr = server.local_addr();
    let t = Instant::now();
    let mut c = Client::connect(addr);
    let r = c
        .send(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n")
        .response(false);
    assert_eq!((r.status, r.header("connection")), (408, Some("close")));
    assert!(c.closed_by_server());
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // A connection that sends nothing is closed silently.
    let t = Instant::now();
    let mut silent = Client::connect(addr);
    assert!(silent.closed_by_server());
    assert!(silent.buf.is_empty());
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(*fake.codes.lock().unwrap(), [408]);
}

#[test]
fn stop_then_rebind_same_port() {
    let _g = shared_lock();
    let (server, _fake) = start();
    let addr = server.local_addr();
    assert_eq!(scrape(addr).status, 200);
    let _connected = TcpStream::connect(addr).unwrap();
    server.stop();
    let again = TcpListener::bind(addr).expect("port free right after stop");
    drop(again);
}

#[test]
fn second_server_on_a_bound_port_fails() {
    let _g = shared_lock();
    let (server, _fake) = start();
    let addr = server.local_addr();
    let fake = Arc::new(Fake::default());
    let err = HttpServer::start(
        HttpSettings {
            bind: addr,
            ..settings(None)
        },
        fake.clone(),
    )
    .unwrap_err();
    match &err {
        HttpError::Bind { addr: a, source } => {
            assert_eq!(*a, addr);
            assert_eq!(source.kind(), ErrorKind::AddrInUse);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(msg.contains("`port` or `bindaddr`"), "{msg}");
    // A port held by a plain std listener fails the same way.
    let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = std_listener.local_addr().unwrap();
    let err = HttpServer::start(
        HttpSettings {
            bind: taken,
            ..settings(None)
        },
        fake,
    )
    .unwrap_err();
    assert!(matches!(err, HttpError::Bind { .. }), "{err}");
    assert!(server.is_running());
}

#[test]
fn stop_with_clients_connected_is_prompt_and_joins_the_thread() {
    // Exclusive: no other test's server thread exists while we count.
    let _g = SERVERS.write().unwrap_or_else(|e| e.into_inner());
    let before = prom_threads();
    let (server, _fake) = start_with(None, Limits::default());
    let addr = server.local_addr();
    assert!(server.is_running());
    assert_eq!(await_threads(before + 1), before + 1);
    let mut clients: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    clients[0].write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    let mut keep = Client::connect(addr);
    assert_eq!(
        keep.send(b"GET /metrics HTTP/1.1\r\n\r\n")
            .response(false)
            .status,
        200
    );
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    server.stop();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t.elapsed()
    );
    // The kernel may reap the joined thread a moment after join returns.
    assert_eq!(await_threads(before), before);
    assert!(keep.closed_by_server());
    // Drop also stops.
    let (server, _fake) = start();
    assert_eq!(await_threads(before + 1), before + 1);
    drop(server);
    assert_eq!(await_threads(before), before);
}

#[test]
fn a_pipelining_flood_neither_starves_scrapes_nor_delays_stop() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let _g = shared_lock();
    let (server, _fake) = start();
    let addr = server.local_addr();
    let flood = TcpStream::connect(addr).unwrap();
    let mut reader = flood.try_clone().unwrap();
    let mut writer = flood;
    let quit = Arc::new(AtomicBool::new(false));
    let quit_w = quit.clone();
    let w = std::thread::spawn(move || {
        let batch = b"GET /x HTTP/1.1\r\n\r\n".repeat(500);
        while !quit_w.load(Ordering::Relaxed) && writer.write_all(&batch).is_ok() {}
    });
    let r = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(scrape(addr).status, 200);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "scrape took {:?}",
            t.elapsed()
        );
    }
    let t = Instant::now();
    server.stop();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t.elapsed()
    );
    quit.store(true, Ordering::Relaxed);
    w.join().unwrap();
    r.join().unwrap();
}

struct Panicky;

impl PageSource for Panicky {
    fn render_metrics(&self, _: Format, collect: &[String]) -> Vec<u8> {
        if collect.iter().any(|c| c == "panic") {
            panic!("page source panicked (expected by the test)");
        }
        PAGE.to_vec()
    }
    fn render_landing(&self) -> Vec<u8> {
        panic!("landing panicked (expected by the test)");
    }
    fn record_request(&self, code: u16) {
        if code == 404 {
            panic!("record_request panicked (expected by the test)");
        }
    }
    fn record_scrape(&self, _: f64) {}
}

#[test]
fn a_panicking_page_source_gets_500_and_serving_goes_on() {
    let _g = shared_lock();
    let server =
        HttpServer::start_with_limits(settings(None), Arc::new(Panicky), test_limits()).unwrap();
    let addr = server.local_addr();
    assert_eq!(
        get(addr, "GET /metrics?collect[]=panic HTTP/1.1\r\n\r\n").status,
        500
    );
    assert_eq!(get(addr, "GET / HTTP/1.1\r\n\r\n").status, 500);
    assert_eq!(get(addr, "GET /nope HTTP/1.1\r\n\r\n").status, 404);
    assert_eq!(scrape(addr).status, 200);
    assert!(server.is_running());
}

#[test]
fn server_handle_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<HttpServer>();
    check::<HttpSettings>();
    check::<HttpError>();
}
