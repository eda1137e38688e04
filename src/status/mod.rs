//! The live status page at `/`: the numbers an on-call engineer looks for first, with charts of the last minutes,
//! as one self-contained HTML page (inline CSS and SVG, no script, no external assets). Every request renders it
//! afresh from Rust-side state, like a scrape; it never calls into the host.

pub mod history;
pub mod numbers;
pub mod svg;

use crate::clock::unix_now;
use history::{Point, POINTS, STEP};
use numbers::Numbers;
use std::fmt::Write as _;
use svg::{chart, esc, fmt_num, Line};

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#222;background:#fafafa}\
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.2em 0 .4em}.sub{color:#666}\
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{background:#fff;border:1px solid #ddd;border-radius:6px;\
padding:.5em .9em;min-width:9em}.card b{display:block;font-size:1.7em}.card.bad{border-color:#d33;color:#b00}\
.card.ok{border-color:#3a3}.charts{display:flex;flex-wrap:wrap;gap:.6em}.chart{background:#fff;border:1px solid #ddd;\
border-radius:6px}.ct{font-size:11px;font-weight:600}.lg,.yl,.xl{font-size:10px}.yl{text-anchor:end}\
.ax{stroke:#999}.gr{stroke:#eee}table{border-collapse:collapse;background:#fff;margin-bottom:.4em}\
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}td.n{text-align:right}.cols{display:flex;\
flex-wrap:wrap;gap:1.5em}.down{color:#b00;font-weight:600}.up{color:#383}";

fn card(out: &mut String, label: &str, value: &str, class: &str) {
    let _ = write!(
        out,
        "<div class=\"card {class}\"><b>{}</b>{}</div>",
        esc(value),
        esc(label)
    );
}

fn table(out: &mut String, title: &str, head: &[&str], rows: &[Vec<String>], empty: &str) {
    let _ = write!(out, "<div><h2>{}</h2>", esc(title));
    if rows.is_empty() {
        let _ = write!(out, "<p class=\"sub\">{}</p></div>", esc(empty));
        return;
    }
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let class = if i > 0 && c.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>");
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

fn percent(ratio: f64) -> String {
    format!("{:.2} %", ratio * 100.0)
}

fn charts(out: &mut String, points: &[Point], now: f64) {
    let span = (POINTS as f64) * STEP.as_secs_f64();
    let series = |f: fn(&Point) -> f64| points.iter().map(|p| (p.t, f(p))).collect::<Vec<_>>();
    let per_minute: Vec<(f64, f64)> = points
        .windows(2)
        .filter(|w| w[1].t > w[0].t)
        .map(|w| {
            (
                w[1].t,
                ((w[1].created - w[0].created).max(0.0)) * 60.0 / (w[1].t - w[0].t),
            )
        })
        .collect();
    out.push_str("<h2>Last minutes</h2><div class=\"charts\">");
    out.push_str(&chart(
        "Calls and channels",
        &[
            Line {
                name: "calls",
                color: "#2563eb",
                points: series(|p| p.calls),
            },
            Line {
                name: "channels",
                color: "#9333ea",
                points: series(|p| p.channels),
            },
        ],
        now,
        span,
    ));
    out.push_str(&chart(
        "Channels created per minute",
        &[Line {
            name: "per min",
            color: "#0d9488",
            points: per_minute,
        }],
        now,
        span,
    ));
    out.push_str(&chart(
        "Endpoints down",
        &[Line {
            name: "down",
            color: "#dc2626",
            points: series(|p| p.endpoints_down),
        }],
        now,
        span,
    ));
    out.push_str(&chart(
        "Queue callers waiting",
        &[Line {
            name: "waiting",
            color: "#ea580c",
            points: series(|p| p.queue_waiting),
        }],
        now,
        span,
    ));
    if points
        .iter()
        .any(|p| p.agents_incall + p.agents_waiting > 0.0)
    {
        out.push_str(&chart(
            "ViciDial agents",
            &[
                Line {
                    name: "in call",
                    color: "#16a34a",
                    points: series(|p| p.agents_incall),
                },
                Line {
                    name: "waiting",
                    color: "#ca8a04",
                    points: series(|p| p.agents_waiting),
                },
            ],
            now,
            span,
        ));
    }
    out.push_str("</div>");
}

/// Everything the page shows, gathered from the collectors at request time (Rust-side state only, like a scrape).
#[derive(Debug, Default)]
pub struct View {
    /// The collectors' numbers now.
    pub numbers: Numbers,
    /// The last minutes, oldest first.
    pub history: Vec<Point>,
    /// Series on the page.
    pub series: usize,
    /// Events received from the host.
    pub events: u64,
    /// Unix time of the last scrape (0 if none).
    pub last_scrape: f64,
    /// Each pulling collector and whether it is up.
    pub collectors: Vec<(String, bool)>,
}

/// Renders the page.
pub fn page(view: &View) -> String {
    let now = unix_now();
    let n = &view.numbers;
    let mut points = view.history.clone();
    points.push(Point::from_numbers(n, now));
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>res_prom_rs status</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>\
         <h1>res_prom_rs status</h1><p class=\"sub\">res_prom_rs {} · {} series · {} events received · last scrape {} · \
         reload the page for fresh numbers · metrics at the configured <code>uri</code> (default <a href=\"/metrics\">/metrics</a>)</p>",
        env!("CARGO_PKG_VERSION"),
        view.series,
        view.events,
        match view.last_scrape {
            t if t > 0.0 => format!("{} s ago", fmt_num((now - t).max(0.0).round())),
            _ => "never".into(),
        },
    );

    out.push_str("<div class=\"cards\">");
    card(
        &mut out,
        "active calls",
        &n.active_calls.map(fmt_num).unwrap_or_else(|| "–".into()),
        "",
    );
    card(&mut out, "channels", &fmt_num(n.channels()), "");
    let down = n.endpoints_down.len();
    card(
        &mut out,
        &format!("endpoints down (of {})", n.endpoints_up + down),
        &down.to_string(),
        if down > 0 { "bad" } else { "ok" },
    );
    let waiting = n.queue_waiting()
        + n.call_center
            .as_ref()
            .map_or(0.0, |v| v.calls_waiting as f64);
    card(
        &mut out,
        "calls waiting",
        &fmt_num(waiting),
        if waiting > 0.0 { "bad" } else { "" },
    );
    if let Some(v) = &n.call_center {
        card(
            &mut out,
            "agents in call",
            &n.agents(&["INCALL"]).to_string(),
            "",
        );
        card(
            &mut out,
            "agents waiting",
            &n.agents(&["READY", "CLOSER"]).to_string(),
            "",
        );
        card(
            &mut out,
            "agents paused",
            &n.agents(&["PAUSED"]).to_string(),
            "",
        );
        let m = v.recordings_missing;
        card(
            &mut out,
            "recordings missing (1 h)",
            &m.to_string(),
            if m > 0 { "bad" } else { "ok" },
        );
    }
    if let Some((jitter, loss)) = n.rtcp_mean {
        card(&mut out, "mean RTCP jitter", &ms(jitter), "");
        card(
            &mut out,
            "mean RTCP loss",
            &percent(loss),
            if loss > 0.02 { "bad" } else { "" },
        );
    }
    out.push_str("</div>");

    charts(&mut out, &points, now);

    out.push_str("<div class=\"cols\">");
    let rows: Vec<Vec<String>> = n
        .channels_by_tech
        .iter()
        .map(|(t, c)| vec![t.clone(), fmt_num(*c)])
        .collect();
    table(
        &mut out,
        "Channels by technology",
        &["tech", "channels"],
        &rows,
        "No live channels.",
    );
    let rows: Vec<Vec<String>> = n
        .endpoints_down
        .iter()
        .take(50)
        .map(|(t, e)| vec![t.clone(), e.clone()])
        .collect();
    table(
        &mut out,
        "Endpoints down",
        &["tech", "endpoint"],
        &rows,
        "Every known endpoint is up.",
    );
    let rows: Vec<Vec<String>> = n
        .round_trips
        .iter()
        .take(10)
        .map(|((t, e), rtt)| vec![t.clone(), e.clone(), ms(*rtt)])
        .collect();
    table(
        &mut out,
        "Longest round trips",
        &["tech", "endpoint", "qualify RTT"],
        &rows,
        "No round trips reported yet.",
    );
    let rows: Vec<Vec<String>> = n
        .worst_media
        .iter()
        .map(|m| {
            vec![
                m.endpoint.0.clone(),
                m.endpoint.1.clone(),
                percent(m.loss),
                ms(m.jitter),
            ]
        })
        .collect();
    table(
        &mut out,
        "Media quality (worst first)",
        &["tech", "endpoint", "loss", "jitter"],
        &rows,
        "No RTCP reports yet.",
    );
    let rows: Vec<Vec<String>> = n
        .queues
        .iter()
        .map(|q| {
            vec![
                q.queue.clone(),
                fmt_num(q.waiting),
                q.joined.to_string(),
                q.abandoned.to_string(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Queues",
        &["queue", "waiting", "joined", "abandoned"],
        &rows,
        "No queue activity yet.",
    );
    if let Some(v) = &n.call_center {
        let rows: Vec<Vec<String>> = v
            .agents_by_status
            .iter()
            .map(|(st, c)| vec![st.to_string(), c.to_string()])
            .collect();
        table(
            &mut out,
            "ViciDial agents by state",
            &["status", "agents"],
            &rows,
            "No agents logged in.",
        );
        let rows: Vec<Vec<String>> = v
            .longest
            .iter()
            .map(|(a, st, secs)| vec![a.clone(), st.clone(), format!("{secs} s")])
            .collect();
        table(
            &mut out,
            "Longest in their state",
            &["agent", "status", "for"],
            &rows,
            "No agents logged in.",
        );
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let state = |up: bool| if up { "up" } else { "DOWN" }.to_string();
    for (name, up) in &view.collectors {
        rows.push(vec![name.clone(), state(*up)]);
    }
    table(
        &mut out,
        "Collectors",
        &["collector", "state"],
        &rows,
        "Only event collectors are running.",
    );
    out.push_str("</div></body></html>\n");
    out
}
