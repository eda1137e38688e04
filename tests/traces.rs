//! Replays event traces recorded from real Asterisk servers (tests/traces/, see its README) through the built
//! library, the way a host would send them, and checks the page against what the recorded scenario did: the live test
//! (`make test-asterisk`) placed a known number of calls, busy and unanswered calls, wrong passwords, queue callers and
//! conference participants, so the expected values are exact. Every scenario was recorded on Asterisk 20 and 22; both
//! recordings must give the same metrics.

mod common;

use common::{scrape, value, Core, Lib};
use std::path::PathBuf;

/// Each recording: its folder and the channel driver its phones used (`tech`/`service` label).
const VERSIONS: &[(&str, &str)] = &[
    ("asterisk20", "PJSIP"),
    ("asterisk22", "PJSIP"),
    ("asterisk18-sip", "SIP"),
    ("asterisk20-sip", "SIP"),
];

fn trace_path(version: &str, scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/traces")
        .join(version)
        .join(format!("{scenario}.trace"))
}

fn lines(version: &str, scenario: &str) -> Vec<String> {
    let path = trace_path(version, scenario);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// A fresh core on its own port.
struct Replay {
    lib: Lib,
    core: Core,
    port: u16,
    what: String,
}

impl Replay {
    fn new(version: &str, scenario: &str) -> Replay {
        let lib = Lib::load();
        let port = common::port();
        let core = lib
            .start(&[("port", &port.to_string())])
            .unwrap_or_else(|(c, m)| panic!("start ({c}): {m}"));
        Replay {
            lib,
            core,
            port,
            what: format!("{version}/{scenario}"),
        }
    }

    /// Applies lines; every one must be accepted.
    fn apply<'a>(&self, lines: impl IntoIterator<Item = &'a String>) {
        for (i, line) in lines.into_iter().enumerate() {
            let r = self.lib.trace(self.core, line);
            assert_eq!(
                r,
                common::OK,
                "{}: line {} refused: {}\n{line}",
                self.what,
                i + 1,
                self.lib.last_error()
            );
        }
    }

    fn page(&self) -> String {
        scrape(self.port)
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.lib.stop(self.core);
    }
}

/// The value of a series, 0 when it is absent (a counter never incremented).
fn val(page: &str, series: &str) -> f64 {
    value(page, series).unwrap_or(0.0)
}

fn assert_series(what: &str, page: &str, series: &str, want: f64) {
    assert_eq!(
        val(page, series),
        want,
        "{what}: {series}\n--- page ---\n{page}"
    );
}

/// Counts the trace lines of one event kind that satisfy `pred` on their TAB-separated fields.
fn count(lines: &[String], kind: &str, pred: impl Fn(&[&str]) -> bool) -> f64 {
    lines
        .iter()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[0] == kind && pred(f))
        .count() as f64
}

#[test]
fn calls_answered_busy_unanswered() {
    // 10 answered calls, 3 to a busy phone, 2 to a phone that rings until Dial gives up after 2 s.
    for &(v, tech) in VERSIONS {
        let r = Replay::new(v, "calls");
        r.apply(&lines(v, "calls"));
        let p = r.page();
        let w = &r.what;
        assert_series(
            w,
            &p,
            "asterisk_dial_results_total{dialstatus=\"ANSWER\"}",
            10.0,
        );
        assert_series(
            w,
            &p,
            "asterisk_dial_results_total{dialstatus=\"BUSY\"}",
            3.0,
        );
        assert_series(
            w,
            &p,
            "asterisk_dial_results_total{dialstatus=\"NOANSWER\"}",
            2.0,
        );
        assert_series(
            w,
            &p,
            &format!("asterisk_channels_created_total{{tech=\"{tech}\"}}"),
            30.0,
        );
        // Both legs of answered calls end NORMAL_CLEARING, as does the caller leg after an unanswered Dial; a busy
        // phone's 486 is USER_BUSY on both legs; the cancelled leg of an unanswered call has no cause on chan_pjsip
        // and NORMAL_CLEARING on chan_sip.
        let hangups = |cause: &str| {
            format!("asterisk_channel_hangups_total{{tech=\"{tech}\",cause=\"{cause}\"}}")
        };
        let sip = f64::from(u8::from(tech == "SIP"));
        assert_series(w, &p, &hangups("NORMAL_CLEARING"), 22.0 + 2.0 * sip);
        assert_series(w, &p, &hangups("USER_BUSY"), 6.0);
        assert_series(w, &p, &hangups("NOTDEFINED"), 2.0 - 2.0 * sip);
        assert_series(w, &p, &format!("asterisk_channels{{tech=\"{tech}\"}}"), 0.0);
        assert_series(
            w,
            &p,
            &format!("asterisk_channel_duration_seconds_count{{tech=\"{tech}\"}}"),
            30.0,
        );
        assert_series(
            w,
            &p,
            &format!("asterisk_channel_answered_duration_seconds_count{{tech=\"{tech}\"}}"),
            20.0,
        );
        assert_series(w, &p, "asterisk_bridged_channels", 0.0);
        for bt in ["simple_bridge", "native_rtp"] {
            assert_series(
                w,
                &p,
                &format!("asterisk_bridges{{technology=\"{bt}\"}}"),
                0.0,
            );
        }
    }
}

#[test]
fn security_wrong_passwords_and_unknown_accounts() {
    // 3 INVITEs with a wrong password and 2 from an unknown account, each challenged and answered with a digest.
    for &(v, tech) in VERSIONS {
        let r = Replay::new(v, "security");
        r.apply(&lines(v, "security"));
        let p = r.page();
        let sec =
            |e: &str| format!("asterisk_security_events_total{{service=\"{tech}\",event=\"{e}\"}}");
        // chan_pjsip refuses with ChallengeResponseFailed (and InvalidAccountID per INVITE of an unknown account);
        // chan_sip with alwaysauthreject reports every refusal as InvalidPassword.
        let want: &[(&str, f64)] = if tech == "PJSIP" {
            &[
                ("challenge_sent", 5.0),
                ("challenge_response_failed", 5.0),
                ("invalid_account_id", 4.0),
            ]
        } else {
            &[("challenge_sent", 5.0), ("invalid_password", 5.0)]
        };
        for &(e, n) in want {
            assert_series(&r.what, &p, &sec(e), n);
        }
        let total: f64 = p
            .lines()
            .filter(|l| l.starts_with("asterisk_security_events_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        let wanted: f64 = want.iter().map(|&(_, n)| n).sum();
        assert_eq!(total, wanted, "{}: no other security event\n{p}", r.what);
    }
}

#[test]
fn queue_answered_and_abandoned() {
    // 3 callers to queue "sales", each answered by its agent; 2 callers to the memberless queue "empty" hang up.
    for &(v, tech) in VERSIONS {
        let r = Replay::new(v, "queue");
        r.apply(&lines(v, "queue"));
        let p = r.page();
        let w = &r.what;
        let q = |fam: &str, queue: &str| format!("{fam}{{queue=\"{queue}\"}}");
        assert_series(
            w,
            &p,
            &q("asterisk_queue_callers_joined_total", "sales"),
            3.0,
        );
        assert_series(
            w,
            &p,
            &q("asterisk_queue_callers_abandoned_total", "sales"),
            0.0,
        );
        assert_series(
            w,
            &p,
            &q("asterisk_queue_callers_joined_total", "empty"),
            2.0,
        );
        assert_series(
            w,
            &p,
            &q("asterisk_queue_callers_abandoned_total", "empty"),
            2.0,
        );
        assert_series(w, &p, &q("asterisk_queue_callers", "sales"), 0.0);
        assert_series(w, &p, &q("asterisk_queue_callers", "empty"), 0.0);
        assert_series(w, &p, &q("asterisk_queue_wait_seconds_count", "sales"), 3.0);
        assert_series(w, &p, &q("asterisk_queue_wait_seconds_count", "empty"), 2.0);
        assert_series(
            w,
            &p,
            "asterisk_dial_results_total{dialstatus=\"ANSWER\"}",
            3.0,
        );
        // Each answered caller and its agent leg, and the two callers who gave up.
        assert_series(
            w,
            &p,
            &format!("asterisk_channels_created_total{{tech=\"{tech}\"}}"),
            8.0,
        );
        assert_series(w, &p, &format!("asterisk_channels{{tech=\"{tech}\"}}"), 0.0);
    }
}

#[test]
fn conference_of_three() {
    // 3 callers join ConfBridge 100 together and leave 4 s later; the conference ends with the last one.
    for &(v, tech) in VERSIONS {
        let all = lines(v, "conference");
        let first_leave = all
            .iter()
            .position(|l| l.starts_with("confbridge_event\t100\t3\t"))
            .expect("a participant leaves");
        let r = Replay::new(v, "conference");
        r.apply(&all[..first_leave]);
        let p = r.page();
        assert_series(&r.what, &p, "asterisk_confbridge_conferences", 1.0);
        assert_series(&r.what, &p, "asterisk_confbridge_participants", 3.0);
        assert_series(&r.what, &p, "asterisk_bridges{technology=\"softmix\"}", 1.0);
        r.apply(&all[first_leave..]);
        let p = r.page();
        assert_series(&r.what, &p, "asterisk_confbridge_conferences", 0.0);
        assert_series(&r.what, &p, "asterisk_confbridge_participants", 0.0);
        assert_series(&r.what, &p, "asterisk_bridges{technology=\"softmix\"}", 0.0);
        assert_series(
            &r.what,
            &p,
            &format!("asterisk_channels_created_total{{tech=\"{tech}\"}}"),
            3.0,
        );
        assert_series(
            &r.what,
            &p,
            &format!("asterisk_channels{{tech=\"{tech}\"}}"),
            0.0,
        );
    }
}

#[test]
fn qualify_and_outbound_registration() {
    // The callee answers OPTIONS throughout; the "dead" phone answers, then stops; the registrar accepts us.
    for &(v, tech) in VERSIONS {
        let r = Replay::new(v, "endpoints");
        r.apply(&lines(v, "endpoints"));
        let p = r.page();
        let w = &r.what;
        let ep = |fam: &str, e: &str| format!("{fam}{{tech=\"{tech}\",endpoint=\"{e}\"}}");
        assert_series(w, &p, &ep("asterisk_endpoint_up", "callee"), 1.0);
        assert_series(w, &p, &ep("asterisk_endpoint_up", "dead"), 0.0);
        let status = |e: &str, s: &str| {
            format!("asterisk_endpoint_status{{tech=\"{tech}\",endpoint=\"{e}\",status=\"{s}\"}}")
        };
        assert_series(w, &p, &status("callee", "reachable"), 1.0);
        assert_series(w, &p, &status("dead", "unreachable"), 1.0);
        let rtt = value(&p, &ep("asterisk_endpoint_rtt_seconds", "callee"));
        assert!(
            matches!(rtt, Some(s) if s > 0.0 && s < 1.0),
            "{w}: loopback qualify round trip {rtt:?}"
        );
        assert_eq!(
            value(&p, &ep("asterisk_endpoint_rtt_seconds", "dead")),
            None,
            "{w}"
        );
        assert!(
            val(&p, &ep("asterisk_endpoint_state_changes_total", "dead")) >= 1.0,
            "{w}: the dead phone went down\n{p}"
        );
        // PJSIP names the registration by its URIs, chan_sip by the user and host of its register => line.
        let (user, domain) = if tech == "PJSIP" {
            ("sip:pbx@127.0.0.8:5060", "sip:127.0.0.8:5060")
        } else {
            ("pbx", "127.0.0.8")
        };
        assert_series(
            w,
            &p,
            &format!(
                "asterisk_outbound_registration_status{{tech=\"{tech}\",username=\"{user}\",\
                 domain=\"{domain}\"}}"
            ),
            1.0,
        );
    }
}

#[test]
fn chan_sip_lagged_peer_and_registering_phone() {
    // chan_sip only: a peer whose phone answers qualify at once and then 300 ms late (limit 200 ms) turns lagged,
    // then unreachable once its phone stops; a phone registers with a password and later removes its binding.
    for &(v, tech) in VERSIONS.iter().filter(|(_, t)| *t == "SIP") {
        let all = lines(v, "endpoints");
        let lagged = all
            .iter()
            .position(|l| l.starts_with("endpoint_contact\tSIP\tlaggy\tLagged\t"))
            .expect("the peer turns lagged");
        let gone = lagged
            + all[lagged..]
                .iter()
                .position(|l| {
                    // the peer status or the endpoint going offline, whichever Asterisk sent first
                    l.starts_with("endpoint_contact\tSIP\tlaggy\tUnreachable\t")
                        || l.starts_with("endpoint_state\tSIP\tlaggy\t1\t")
                })
                .expect("the lagged peer goes unreachable");
        let r = Replay::new(v, "endpoints");
        r.apply(&all[..gone]);
        let p = r.page();
        let w = &r.what;
        let ep = |fam: &str, e: &str| format!("{fam}{{tech=\"{tech}\",endpoint=\"{e}\"}}");
        let status = |e: &str, s: &str| {
            format!("asterisk_endpoint_status{{tech=\"{tech}\",endpoint=\"{e}\",status=\"{s}\"}}")
        };
        assert_series(w, &p, &status("laggy", "lagged"), 1.0);
        assert_series(w, &p, &ep("asterisk_endpoint_up", "laggy"), 1.0);
        let rtt = value(&p, &ep("asterisk_endpoint_rtt_seconds", "laggy"));
        assert!(
            matches!(rtt, Some(s) if (0.2..0.4).contains(&s)),
            "{w}: lagged round trip {rtt:?}"
        );
        r.apply(&all[gone..]);
        let p = r.page();
        assert_series(w, &p, &status("laggy", "unreachable"), 1.0);
        assert_series(w, &p, &ep("asterisk_endpoint_up", "laggy"), 0.0);
        assert_eq!(
            value(&p, &ep("asterisk_endpoint_rtt_seconds", "laggy")),
            None,
            "{w}"
        );
        assert_series(w, &p, &status("phone", "unregistered"), 1.0);
        assert_series(w, &p, &ep("asterisk_endpoint_up", "phone"), 0.0);
        let registered = count(&all, "endpoint_contact", |f| {
            f[2] == "phone" && f[3] == "Registered"
        });
        assert_eq!(registered, 1.0, "{w}: the phone registered once");
    }
}

#[test]
fn rtcp_reports_of_a_call_through_asterisk() {
    // A 6 s call: the caller (sipp, echoing RTP) -> Asterisk -> PJSIP back into Asterisk, where Milliwatt() plays a
    // tone. Every RTCP report the legs sent and received is in the histograms; per endpoint the latest is kept.
    for &(v, tech) in VERSIONS {
        let all = lines(v, "rtcp");
        let r = Replay::new(v, "rtcp");
        r.apply(&all);
        let p = r.page();
        let w = &r.what;
        let dir = |d: &str| if d == "0" { "rx" } else { "tx" };
        for d in ["0", "1"] {
            let n = count(&all, "rtcp_report", |f| f[3] == d);
            assert!(n >= 2.0, "{w}: {n} reports in direction {}", dir(d));
            for fam in [
                "asterisk_rtcp_jitter_seconds_count",
                "asterisk_rtcp_packet_loss_ratio_count",
            ] {
                assert_series(w, &p, &format!("{fam}{{direction=\"{}\"}}", dir(d)), n);
            }
            let mes = count(&all, "rtcp_report", |f| f[3] == d && !f[7].starts_with('-'));
            assert_series(
                w,
                &p,
                &format!("asterisk_rtcp_mes_count{{direction=\"{}\"}}", dir(d)),
                mes,
            );
        }
        let rtt = count(&all, "rtcp_report", |f| !f[6].starts_with('-'));
        assert!(rtt >= 1.0, "{w}: received reports carry a round trip");
        assert_series(w, &p, "asterisk_rtcp_rtt_seconds_count", rtt);
        // chan_sip knows Asterisk's own loop call as the loopout peer in both directions.
        let loop_eps: &[&str] = if tech == "PJSIP" {
            &["caller", "loopout", "loopin"]
        } else {
            &["caller", "loopout"]
        };
        for &e in loop_eps {
            let series = format!(
                "asterisk_endpoint_rtcp_jitter_seconds{{tech=\"{tech}\",endpoint=\"{e}\"}}"
            );
            assert!(value(&p, &series).is_some(), "{w}: {series}\n{p}");
        }
        assert_series(
            w,
            &p,
            "asterisk_dial_results_total{dialstatus=\"ANSWER\"}",
            1.0,
        );
        assert_series(
            w,
            &p,
            &format!("asterisk_channels_created_total{{tech=\"{tech}\"}}"),
            3.0,
        );
        assert_series(w, &p, &format!("asterisk_channels{{tech=\"{tech}\"}}"), 0.0);
    }
}

#[test]
fn committed_traces_are_small() {
    // Test data stays reviewable: the whole directory under 200 KB.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/traces");
    let mut total = 0;
    for &(v, _) in VERSIONS {
        for e in std::fs::read_dir(dir.join(v)).unwrap() {
            total += e.unwrap().metadata().unwrap().len();
        }
    }
    assert!(total < 200_000, "tests/traces holds {total} bytes");
}
