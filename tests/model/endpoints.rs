//! Endpoints: up/down, status, qualify round trip, channels, counts by state, churn; outbound registrations; the
//! phone fleet.

use super::*;

const UNKNOWN: i32 = 0;
const OFFLINE: i32 = 1;
const ONLINE: i32 = 2;

fn up(p: &str, tech: &str, ep: &str) -> Option<f64> {
    value(
        p,
        &format!("asterisk_endpoint_up{{tech=\"{tech}\",endpoint=\"{ep}\"}}"),
    )
}

fn changes(p: &str, tech: &str, ep: &str) -> Option<f64> {
    value(
        p,
        &format!("asterisk_endpoint_state_changes_total{{tech=\"{tech}\",endpoint=\"{ep}\"}}"),
    )
}

#[test]
fn endpoint_up_follows_state() {
    let m = model(&[]);
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_endpoint_up"), "gauge");
    assert_eq!(up(&p, "PJSIP", "1001"), Some(1.0));
    ok(&m, ep_state("PJSIP", "1001", OFFLINE, 0));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(0.0));
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(1.0));

    // First sighting offline exports 0.
    ok(&m, ep_state("SIP", "trunk", OFFLINE, 0));
    assert_eq!(up(&page(&m), "SIP", "trunk"), Some(0.0));

    let e = refused(&m, ep_state("PJSIP", "1001", 3, 0));
    assert!(e.contains('3'), "{e}");
    refused(&m, ep_state("PJSIP", "1001", -1, 0));
}

#[test]
fn endpoint_up_falls_back_to_contact_status_when_state_is_unknown() {
    let m = model(&[]);
    ok(&m, ep_state("PJSIP", "1001", UNKNOWN, 0));
    assert_eq!(
        up(&page(&m), "PJSIP", "1001"),
        Some(0.0),
        "no status yet: down"
    );
    ok(&m, contact("PJSIP", "1001", "Reachable", 10_000));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(1.0));
    ok(&m, contact("PJSIP", "1001", "Unreachable", -1));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(0.0));
    // A known state wins over the contact status...
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(1.0));
    ok(&m, contact("PJSIP", "1001", "Unreachable", -1));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(1.0));
    ok(&m, ep_state("PJSIP", "1001", OFFLINE, 0));
    ok(&m, contact("PJSIP", "1001", "Reachable", 1_000));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(0.0));
    // ...until it is unknown again.
    ok(&m, ep_state("PJSIP", "1001", UNKNOWN, 0));
    assert_eq!(up(&page(&m), "PJSIP", "1001"), Some(1.0));

    // Contact-only endpoints (chan_sip peers): lagged and registered are up, unregistered is down.
    ok(&m, contact("SIP", "a", "Lagged", 900_000));
    ok(&m, contact("SIP", "b", "Registered", -1));
    ok(&m, contact("SIP", "c", "Unregistered", -1));
    let p = page(&m);
    assert_eq!(up(&p, "SIP", "a"), Some(1.0));
    assert_eq!(up(&p, "SIP", "b"), Some(1.0));
    assert_eq!(up(&p, "SIP", "c"), Some(0.0));
}

#[test]
fn endpoint_status_has_one_series_per_endpoint() {
    let m = model(&[]);
    let s = |st: &str| {
        format!("asterisk_endpoint_status{{tech=\"PJSIP\",endpoint=\"1001\",status=\"{st}\"}}")
    };
    let prefix = "asterisk_endpoint_status{tech=\"PJSIP\",endpoint=\"1001\",";
    ok(&m, contact("PJSIP", "1001", "Reachable", 5_000));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_endpoint_status"), "gauge");
    assert_val(&p, &s("reachable"), 1.0);
    assert_eq!(count_lines(&p, prefix), 1);

    ok(&m, contact("PJSIP", "1001", "Lagged", 5_000));
    let p = page(&m);
    assert_absent(&p, &s("reachable"));
    assert_val(&p, &s("lagged"), 1.0);
    assert_eq!(count_lines(&p, prefix), 1);

    // chan_sip's "OK" is reachable; "NonQualified" is unknown.
    ok(&m, contact("PJSIP", "1001", "OK", 5_000));
    assert_val(&page(&m), &s("reachable"), 1.0);
    ok(&m, contact("PJSIP", "1001", "NonQualified", -1));
    let p = page(&m);
    assert_val(&p, &s("unknown"), 1.0);
    assert_eq!(count_lines(&p, prefix), 1);

    let e = refused(&m, contact("PJSIP", "1001", "Sleepy", 1));
    assert!(e.contains("Sleepy"), "{e}");

    // Another endpoint has its own series.
    ok(&m, contact("PJSIP", "1002", "Unreachable", -1));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_endpoint_status{tech=\"PJSIP\",endpoint=\"1002\",status=\"unreachable\"}",
        1.0,
    );
    assert_eq!(count_lines(&p, "asterisk_endpoint_status{"), 2);
}

#[test]
fn rtt_is_set_while_reachable_and_removed_when_unreachable() {
    let m = model(&[]);
    let rtt = "asterisk_endpoint_rtt_seconds{tech=\"PJSIP\",endpoint=\"1001\"}";
    ok(&m, contact("PJSIP", "1001", "Reachable", 25_000));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_endpoint_rtt_seconds"), "gauge");
    assert_val(&p, rtt, 0.025);
    ok(&m, contact("PJSIP", "1001", "Lagged", 500_000));
    assert_val(&page(&m), rtt, 0.5);
    // Reachable without a round trip keeps the last one.
    ok(&m, contact("PJSIP", "1001", "Reachable", -1));
    assert_val(&page(&m), rtt, 0.5);
    ok(&m, contact("PJSIP", "1001", "Unreachable", 0));
    assert_absent(&page(&m), rtt);
    // Unknown status with a round trip sets nothing.
    ok(&m, contact("PJSIP", "1001", "Unknown", 1_000));
    assert_absent(&page(&m), rtt);
    ok(&m, contact("PJSIP", "1001", "Reachable", 0));
    assert_val(&page(&m), rtt, 0.0);
}

#[test]
fn endpoint_channels_follow_the_snapshot() {
    let m = model(&[]);
    let g = "asterisk_endpoint_channels{tech=\"PJSIP\",endpoint=\"1001\"}";
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_endpoint_channels"), "gauge");
    assert_val(&p, g, 0.0);
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 3));
    assert_val(&page(&m), g, 3.0);
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 1));
    assert_val(&page(&m), g, 1.0);
    ok(&m, ep_state("PJSIP", "1001", ONLINE, -2));
    assert_val(&page(&m), g, 0.0);
}

#[test]
fn endpoint_counts_move_between_states() {
    let m = model(&[]);
    let c = |tech: &str, st: &str| format!("asterisk_endpoints{{tech=\"{tech}\",state=\"{st}\"}}");
    ok(&m, ep_state("PJSIP", "a", ONLINE, 0));
    ok(&m, ep_state("PJSIP", "b", ONLINE, 0));
    ok(&m, ep_state("PJSIP", "c", OFFLINE, 0));
    ok(&m, ep_state("SIP", "d", UNKNOWN, 0));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_endpoints"), "gauge");
    assert_val(&p, &c("PJSIP", "online"), 2.0);
    assert_val(&p, &c("PJSIP", "offline"), 1.0);
    assert_absent(&p, &c("PJSIP", "unknown"));
    assert_val(&p, &c("SIP", "unknown"), 1.0);

    ok(&m, ep_state("PJSIP", "a", OFFLINE, 0));
    // A repeated state does not count twice.
    ok(&m, ep_state("PJSIP", "c", OFFLINE, 2));
    let p = page(&m);
    assert_val(&p, &c("PJSIP", "online"), 1.0);
    assert_val(&p, &c("PJSIP", "offline"), 2.0);

    ok(&m, ep_state("PJSIP", "c", UNKNOWN, 0));
    refused(&m, ep_state("PJSIP", "b", 7, 0));
    let p = page(&m);
    assert_val(&p, &c("PJSIP", "online"), 1.0);
    assert_val(&p, &c("PJSIP", "offline"), 1.0);
    assert_val(&p, &c("PJSIP", "unknown"), 1.0);
    let pjsip: f64 = ["online", "offline", "unknown"]
        .iter()
        .map(|s| val(&p, &c("PJSIP", s)))
        .sum();
    assert_eq!(pjsip, 3.0, "the states add up to the PJSIP endpoints");
    assert_val(&p, &c("SIP", "unknown"), 1.0);
}

#[test]
fn state_changes_count_up_down_transitions_only() {
    let m = model(&[]);
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    let p = page(&m);
    assert_eq!(
        changes(&p, "PJSIP", "1001"),
        None,
        "the first sighting is no change"
    );
    // Channel count changes and status changes that keep it up are no transitions.
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 2));
    ok(&m, contact("PJSIP", "1001", "Reachable", 1_000));
    ok(&m, contact("PJSIP", "1001", "Lagged", 1_000));
    assert_eq!(changes(&page(&m), "PJSIP", "1001"), None);

    ok(&m, ep_state("PJSIP", "1001", OFFLINE, 0));
    let p = page(&m);
    assert_eq!(
        type_of(&p, "asterisk_endpoint_state_changes_total"),
        "counter"
    );
    assert_eq!(changes(&p, "PJSIP", "1001"), Some(1.0));
    ok(&m, ep_state("PJSIP", "1001", OFFLINE, 0));
    assert_eq!(changes(&page(&m), "PJSIP", "1001"), Some(1.0));
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    ok(&m, ep_state("PJSIP", "1001", OFFLINE, 0));
    assert_eq!(changes(&page(&m), "PJSIP", "1001"), Some(3.0));

    // Through the contact status (state unknown).
    ok(&m, contact("SIP", "peer", "Reachable", 1_000));
    ok(&m, contact("SIP", "peer", "Unreachable", -1));
    ok(&m, contact("SIP", "peer", "Unreachable", -1));
    ok(&m, contact("SIP", "peer", "Registered", -1));
    assert_eq!(changes(&page(&m), "SIP", "peer"), Some(2.0));
}

#[test]
fn outbound_registration_status_values() {
    let m = model(&[]);
    fn reg(status: &str) -> Event<'_> {
        Event::OutboundRegistration {
            tech: "PJSIP",
            username: "acct",
            domain: "sip.example.com",
            status,
            ts_us: T0,
        }
    }
    let g = "asterisk_outbound_registration_status{tech=\"PJSIP\",username=\"acct\",domain=\"sip.example.com\"}";
    ok(&m, reg("Registered"));
    let p = page(&m);
    assert_eq!(
        type_of(&p, "asterisk_outbound_registration_status"),
        "gauge"
    );
    assert_val(&p, g, 1.0);
    ok(&m, reg("Unregistered"));
    assert_val(&page(&m), g, 0.0);
    ok(&m, reg("Rejected"));
    assert_val(&page(&m), g, 2.0);
    ok(&m, reg("registered"));
    assert_val(&page(&m), g, 1.0);
    ok(&m, reg("Failed"));
    assert_val(&page(&m), g, 2.0);
    let e = refused(&m, reg("Pending"));
    assert!(e.contains("Pending"), "{e}");
    assert_val(&page(&m), g, 2.0);
}

#[test]
fn phone_fleet_states_and_totals() {
    let m = model(&[("phone_fleet", "1001-1004,2001")]);
    let f = |ext: &str| format!("asterisk_phone_fleet_state{{endpoint=\"{ext}\"}}");
    // Before any event: every phone offline, the totals still there.
    let p = page(&m);
    for ext in ["1001", "1002", "1003", "1004", "2001"] {
        assert_val(&p, &f(ext), 0.0);
    }
    assert_val(&p, "asterisk_phone_fleet_registered", 0.0);
    assert_val(&p, "asterisk_phone_fleet_incall", 0.0);
    assert_val(&p, "asterisk_phone_fleet_size", 5.0);

    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    ok(&m, ep_state("PJSIP", "1002", ONLINE, 2));
    ok(&m, ep_state("PJSIP", "1003", OFFLINE, 1));
    ok(&m, contact("SIP", "2001", "Reachable", 1_000));
    ok(&m, ep_state("PJSIP", "3001", ONLINE, 1)); // outside the fleet
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_phone_fleet_state"), "gauge");
    assert_val(&p, &f("1001"), 1.0);
    assert_val(&p, &f("1002"), 2.0);
    assert_val(&p, &f("1003"), 0.0);
    assert_val(&p, &f("1004"), 0.0);
    assert_val(&p, &f("2001"), 1.0);
    assert_absent(&p, &f("3001"));
    assert_eq!(count_lines(&p, "asterisk_phone_fleet_state{"), 5);
    assert_val(&p, "asterisk_phone_fleet_registered", 3.0);
    assert_val(&p, "asterisk_phone_fleet_incall", 1.0);
    assert_val(&p, "asterisk_phone_fleet_size", 5.0);

    ok(&m, ep_state("PJSIP", "1002", ONLINE, 0));
    ok(&m, ep_state("PJSIP", "1001", OFFLINE, 0));
    let p = page(&m);
    assert_val(&p, &f("1002"), 1.0);
    assert_val(&p, &f("1001"), 0.0);
    assert_val(&p, "asterisk_phone_fleet_registered", 2.0);
    assert_val(&p, "asterisk_phone_fleet_incall", 0.0);

    // No fleet configured: none of the fleet families.
    let m = model(&[]);
    ok(&m, ep_state("PJSIP", "1001", ONLINE, 0));
    let p = page(&m);
    assert!(!has_family(&p, "asterisk_phone_fleet_state"), "{p}");
    assert!(!has_family(&p, "asterisk_phone_fleet_size"), "{p}");
}
