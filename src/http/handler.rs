//! From a parsed request to a response: method and body checks, auth, routes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use super::negotiate::{accepts_gzip, check_basic, choose_format, collect_params};
use super::request::{Request, Version};
use super::response::{gzip, Response};
use super::{HttpSettings, PageSource};

/// A response plus how to send it.
#[derive(Debug)]
pub(crate) struct Answer {
    /// What to send.
    pub response: Response,
    /// `HEAD`: send the head only.
    pub head_only: bool,
    /// Keep the connection open afterwards.
    pub keep_alive: bool,
    /// The request was HTTP/1.0 (keep-alive must be spelled out).
    pub http10: bool,
}

impl Answer {
    /// A final error answer: the connection closes after it.
    pub fn closing(response: Response) -> Answer {
        Answer {
            response,
            head_only: false,
            keep_alive: false,
            http10: false,
        }
    }
}

/// Answer one request. A panic in the page source becomes a `500`.
pub(crate) fn answer(req: &Request, settings: &HttpSettings, source: &dyn PageSource) -> Answer {
    let http10 = req.version == Version::Http10;
    let has_body = match req.has_body() {
        Ok(b) => b,
        Err(_) => return Answer::closing(Response::plain(400)),
    };
    // We never read a body, so a request announcing one ends the connection.
    let keep_alive = req.keep_alive() && !has_body;
    let head_only = req.method == "HEAD";
    let response = if req.method != "GET" && !head_only {
        Response::plain(405).with("Allow", "GET, HEAD")
    } else if has_body {
        Response::plain(400)
    } else if settings
        .auth
        .as_ref()
        .is_some_and(|a| !check_basic(req.header("authorization"), a))
    {
        Response::plain(401).with("WWW-Authenticate", "Basic realm=\"res_prom_rs\"")
    } else {
        match catch_unwind(AssertUnwindSafe(|| route(req, settings, source))) {
            Ok(r) => r,
            Err(_) => return Answer::closing(Response::plain(500)),
        }
    };
    Answer {
        response,
        head_only,
        keep_alive,
        http10,
    }
}

fn route(req: &Request, settings: &HttpSettings, source: &dyn PageSource) -> Response {
    if req.path == settings.uri {
        metrics(req, source)
    } else if req.path == "/" {
        Response::new(200, "text/html; charset=utf-8", source.render_landing())
    } else {
        Response::plain(404)
    }
}

fn metrics(req: &Request, source: &dyn PageSource) -> Response {
    let start = Instant::now();
    let format = choose_format(req.headers_named("accept"));
    let gz = accepts_gzip(req.headers_named("accept-encoding"));
    let collect = collect_params(&req.query);
    let page = source.render_metrics(format, &collect);
    let body = if gz { gzip(&page) } else { page };
    source.record_scrape(start.elapsed().as_secs_f64());
    let r = Response::new(200, format.content_type(), body).with("Vary", "Accept-Encoding");
    if gz {
        r.with("Content-Encoding", "gzip")
    } else {
        r
    }
}

/// Report an answered request to the source; a panic there is swallowed.
pub(crate) fn record(source: &dyn PageSource, code: u16) {
    let _ = catch_unwind(AssertUnwindSafe(|| source.record_request(code)));
}

#[cfg(test)]
mod tests {
    use super::super::request::{parse_head, Parsed};
    use super::super::BasicAuth;
    use super::*;
    use crate::registry::Format;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Src {
        seen: Mutex<Vec<(Format, Vec<String>)>>,
    }
    impl PageSource for Src {
        fn render_metrics(&self, f: Format, c: &[String]) -> Vec<u8> {
            self.seen.lock().unwrap().push((f, c.to_vec()));
            if c.iter().any(|s| s == "panic") {
                panic!("boom");
            }
            b"m 1\n".to_vec()
        }
        fn render_landing(&self) -> Vec<u8> {
            b"<html></html>".to_vec()
        }
        fn record_request(&self, _: u16) {}
        fn record_scrape(&self, _: f64) {}
    }

    fn ans(raw: &str, settings: &HttpSettings, src: &Src) -> Answer {
        let Parsed::Complete(req, _) = parse_head(raw.as_bytes(), 8192) else {
            panic!("{raw}")
        };
        answer(&req, settings, src)
    }

    fn settings(uri: &str) -> HttpSettings {
        HttpSettings {
            bind: "127.0.0.1:0".parse().unwrap(),
            uri: uri.into(),
            auth: None,
        }
    }

    #[test]
    fn routes() {
        let src = Src::default();
        let s = settings("/metrics");
        assert_eq!(
            ans("GET /metrics HTTP/1.1\r\n\r\n", &s, &src)
                .response
                .status,
            200
        );
        assert_eq!(
            ans("GET /metrics/ HTTP/1.1\r\n\r\n", &s, &src)
                .response
                .status,
            404
        );
        assert_eq!(
            ans("GET /?x HTTP/1.1\r\n\r\n", &s, &src).response.body,
            b"<html></html>"
        );
        let a = ans("HEAD /metrics HTTP/1.0\r\n\r\n", &s, &src);
        assert!(a.head_only && !a.keep_alive && a.http10);
        let a = ans(
            "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
            &s,
            &src,
        );
        assert_eq!(a.response.status, 405);
        assert!(!a.keep_alive);
        let a = ans(
            "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            &s,
            &src,
        );
        assert_eq!((a.response.status, a.keep_alive), (400, false));
        // uri "/" wins over the landing page
        let s = settings("/");
        let a = ans(
            "GET /?collect[]=a HTTP/1.1\r\nAccept: application/openmetrics-text\r\n\r\n",
            &s,
            &src,
        );
        assert_eq!(a.response.body, b"m 1\n");
        let last = src.seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last, (Format::OpenMetrics100, vec!["a".to_string()]));
    }

    #[test]
    fn source_panic_is_500() {
        let src = Src::default();
        let a = ans(
            "GET /metrics?collect[]=panic HTTP/1.1\r\n\r\n",
            &settings("/metrics"),
            &src,
        );
        assert_eq!((a.response.status, a.keep_alive), (500, false));
    }

    #[test]
    fn auth_on_every_route() {
        let src = Src::default();
        let mut s = settings("/metrics");
        s.auth = Some(BasicAuth {
            username: "a".into(),
            password: "b".into(),
        });
        for path in ["/metrics", "/", "/nope"] {
            let a = ans(&format!("GET {path} HTTP/1.1\r\n\r\n"), &s, &src);
            assert_eq!(a.response.status, 401);
            assert!(a.keep_alive);
        }
        // "a:b" = YTpi
        let ok = "GET /metrics HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n";
        assert_eq!(ans(ok, &s, &src).response.status, 200);
    }
}
