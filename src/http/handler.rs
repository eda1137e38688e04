//! From a parsed request to a response: method and body checks, auth, routes.
//!
//! Only cheap decisions are taken here, on the event loop; pages and bcrypt verifications become [`Job`]s run by
//! the pool (see `pool.rs`).

use super::auth::Check;
use super::negotiate::{accepts_gzip, choose_format, collect_params};
use super::pool::Job;
use super::request::{Request, Version};
use super::response::Response;
use super::{HttpSettings, PageSource};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A response plus how to send it.
#[derive(Debug)]
pub(crate) struct Answer {
    /// What to send.
    pub response: Response,
    /// How to send it.
    pub how: How,
}

/// How an answer is sent, decided from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct How {
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
            how: How {
                head_only: false,
                keep_alive: false,
                http10: false,
            },
        }
    }
}

/// What to do with a request.
pub(crate) enum Reply {
    /// Answer at once.
    Now(Answer),
    /// Answer once `job` is done (a page: send it; a verification: decide again).
    Later(Job, How),
}

/// Decide on one request.
pub(crate) fn answer(req: &Request, settings: &HttpSettings) -> Reply {
    let has_body = match req.has_body() {
        Ok(b) => b,
        Err(_) => return Reply::Now(Answer::closing(Response::plain(400))),
    };
    let how = How {
        head_only: req.method == "HEAD",
        // We never read a body, so a request announcing one ends the connection.
        keep_alive: req.keep_alive() && !has_body,
        http10: req.version == Version::Http10,
    };
    let now = |response| Reply::Now(Answer { response, how });
    if req.method != "GET" && !how.head_only {
        return now(Response::plain(405).with("Allow", "GET, HEAD"));
    }
    if has_body {
        return now(Response::plain(400));
    }
    if let Some(auth) = &settings.auth {
        match auth.check(req.header("authorization")) {
            Check::Allowed => {}
            Check::Denied => {
                return now(
                    Response::plain(401).with("WWW-Authenticate", "Basic realm=\"res_prom_rs\"")
                )
            }
            Check::Verify(v) => return Reply::Later(Job::Verify(v), how),
        }
    }
    if req.path == settings.uri {
        let job = Job::Metrics {
            format: choose_format(req.headers_named("accept")),
            collect: collect_params(&req.query),
            gzip: accepts_gzip(req.headers_named("accept-encoding")),
        };
        Reply::Later(job, how)
    } else if req.path == "/" {
        Reply::Later(Job::Landing, how)
    } else {
        now(Response::plain(404))
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

    fn reply(raw: &str, settings: &HttpSettings) -> Reply {
        let Parsed::Complete(req, _) = parse_head(raw.as_bytes(), 8192) else {
            panic!("{raw}")
        };
        answer(&req, settings)
    }

    fn status(raw: &str, settings: &HttpSettings) -> (u16, bool) {
        match reply(raw, settings) {
            Reply::Now(a) => (a.response.status, a.how.keep_alive),
            Reply::Later(..) => (0, true),
        }
    }

    fn settings(uri: &str) -> HttpSettings {
        HttpSettings::new("127.0.0.1:0".parse().unwrap(), uri)
    }

    #[test]
    fn routes() {
        let s = settings("/metrics");
        assert!(matches!(
            reply("GET /metrics HTTP/1.1\r\n\r\n", &s),
            Reply::Later(Job::Metrics { .. }, _)
        ));
        assert_eq!(status("GET /metrics/ HTTP/1.1\r\n\r\n", &s).0, 404);
        assert!(matches!(
            reply("GET /?x HTTP/1.1\r\n\r\n", &s),
            Reply::Later(Job::Landing, _)
        ));
        let Reply::Later(_, how) = reply("HEAD /metrics HTTP/1.0\r\n\r\n", &s) else {
            panic!()
        };
        assert!(how.head_only && !how.keep_alive && how.http10);
        assert_eq!(
            status("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n", &s),
            (405, false)
        );
        assert_eq!(
            status(
                "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                &s
            ),
            (400, false)
        );
        // uri "/" wins over the landing page
        let s = settings("/");
        let r = reply(
            "GET /?collect[]=a HTTP/1.1\r\nAccept: application/openmetrics-text\r\nAccept-Encoding: gzip\r\n\r\n",
            &s,
        );
        let Reply::Later(
            Job::Metrics {
                format,
                collect,
                gzip,
            },
            _,
        ) = r
        else {
            panic!()
        };
        assert_eq!(
            (format, collect, gzip),
            (Format::OpenMetrics100, vec!["a".to_string()], true)
        );
    }

    #[test]
    fn auth_on_every_route() {
        let mut s = settings("/metrics");
        s.auth = Some(BasicAuth::plain("a", "b"));
        for path in ["/metrics", "/", "/nope"] {
            assert_eq!(
                status(&format!("GET {path} HTTP/1.1\r\n\r\n"), &s),
                (401, true)
            );
        }
        // "a:b" = YTpi
        let ok = "GET /metrics HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n";
        assert!(matches!(
            reply(ok, &s),
            Reply::Later(Job::Metrics { .. }, _)
        ));
        s.auth = Some(BasicAuth::bcrypt("a", bcrypt::hash("b", 4).unwrap()));
        assert!(matches!(reply(ok, &s), Reply::Later(Job::Verify(_), _)));
    }
}
