//! Bridges, ConfBridge, app_queue and security events.

use super::*;

fn bridge<'a>(id: &'a str, technology: &'a str, invisible: i32) -> Event<'a> {
    Event::BridgeCreated {
        bridge_id: id,
        technology,
        invisible,
        ts_us: T0,
    }
}

fn enter(id: &str) -> Event<'_> {
    Event::BridgeEnter {
        bridge_id: id,
        uniqueid: "chan",
        ts_us: T0,
    }
}

fn leave(id: &str) -> Event<'_> {
    Event::BridgeLeave {
        bridge_id: id,
        uniqueid: "chan",
        ts_us: T0,
    }
}

fn destroy(id: &str) -> Event<'_> {
    Event::BridgeDestroyed {
        bridge_id: id,
        ts_us: T0,
    }
}

fn conf(conference: &str, kind: i32) -> Event<'_> {
    Event::Confbridge {
        conference,
        kind,
        ts_us: T0,
    }
}

const START: i32 = 0;
const END: i32 = 1;
const JOIN: i32 = 2;
const LEAVE: i32 = 3;

fn queue<'a>(q: &'a str, id: &'a str, kind: i32, ts: i64) -> Event<'a> {
    Event::QueueCaller {
        queue: q,
        uniqueid: id,
        kind,
        ts_us: ts,
    }
}

const QJOIN: i32 = 0;
const QLEAVE: i32 = 1;
const QABANDON: i32 = 2;

#[test]
fn bridges_exclude_invisible_ones_and_count_members() {
    let m = model(&[]);
    let p = page(&m);
    assert_val(&p, "asterisk_bridged_channels", 0.0);
    assert!(!has_family(&p, "asterisk_bridges"), "{p}");

    ok(&m, bridge("b1", "simple_bridge", 0));
    ok(&m, bridge("b2", "holding_bridge", 1));
    ok(&m, bridge("b3", "softmix", 0));
    ok(&m, bridge("b1", "simple_bridge", 0)); // duplicate
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_bridges"), "gauge");
    assert_val(&p, "asterisk_bridges{technology=\"simple_bridge\"}", 1.0);
    assert_val(&p, "asterisk_bridges{technology=\"softmix\"}", 1.0);
    assert_absent(&p, "asterisk_bridges{technology=\"holding_bridge\"}");

    ok(&m, enter("b1"));
    ok(&m, enter("b1"));
    ok(&m, enter("b2")); // invisible: not counted
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_bridged_channels"), "gauge");
    assert_val(&p, "asterisk_bridged_channels", 2.0);

    ok(&m, leave("b1"));
    assert_val(&page(&m), "asterisk_bridged_channels", 1.0);
    ok(&m, leave("b1"));
    ok(&m, leave("b1")); // nobody left in b1: no change
    ok(&m, leave("nope"));
    assert_val(&page(&m), "asterisk_bridged_channels", 0.0);

    ok(&m, enter("b1"));
    for _ in 0..3 {
        ok(&m, enter("b3"));
    }
    assert_val(&page(&m), "asterisk_bridged_channels", 4.0);
    // Destroying takes the remaining members off.
    ok(&m, destroy("b3"));
    let p = page(&m);
    assert_val(&p, "asterisk_bridged_channels", 1.0);
    assert_val(&p, "asterisk_bridges{technology=\"softmix\"}", 0.0);
    ok(&m, destroy("b3")); // twice: nothing more
    ok(&m, destroy("b2")); // invisible: nothing visible changes
    let p = page(&m);
    assert_val(&p, "asterisk_bridged_channels", 1.0);
    assert_val(&p, "asterisk_bridges{technology=\"simple_bridge\"}", 1.0);
    assert_val(&p, "asterisk_bridges{technology=\"softmix\"}", 0.0);

    // Entering a bridge never seen (module loaded mid-call) creates it as technology "unknown".
    ok(&m, enter("bx"));
    let p = page(&m);
    assert_val(&p, "asterisk_bridges{technology=\"unknown\"}", 1.0);
    assert_val(&p, "asterisk_bridged_channels", 2.0);
}

#[test]
fn confbridge_conferences_and_participants() {
    let m = model(&[]);
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_confbridge_conferences"), "gauge");
    assert_eq!(type_of(&p, "asterisk_confbridge_participants"), "gauge");
    assert_val(&p, "asterisk_confbridge_conferences", 0.0);
    assert_val(&p, "asterisk_confbridge_participants", 0.0);

    ok(&m, conf("c1", START));
    ok(&m, conf("c1", START)); // already started
    ok(&m, conf("c1", JOIN));
    ok(&m, conf("c1", JOIN));
    ok(&m, conf("c2", JOIN)); // unknown conference: starts it
    let p = page(&m);
    assert_val(&p, "asterisk_confbridge_conferences", 2.0);
    assert_val(&p, "asterisk_confbridge_participants", 3.0);

    ok(&m, conf("c1", LEAVE));
    assert_val(&page(&m), "asterisk_confbridge_participants", 2.0);
    ok(&m, conf("c1", LEAVE));
    ok(&m, conf("c1", LEAVE)); // below zero is impossible
    ok(&m, conf("c9", LEAVE)); // unknown conference
    let p = page(&m);
    assert_val(&p, "asterisk_confbridge_participants", 1.0);
    assert_val(&p, "asterisk_confbridge_conferences", 2.0);

    // Ending with a participant still in takes it off.
    ok(&m, conf("c2", JOIN));
    ok(&m, conf("c2", END));
    let p = page(&m);
    assert_val(&p, "asterisk_confbridge_conferences", 1.0);
    assert_val(&p, "asterisk_confbridge_participants", 0.0);
    ok(&m, conf("c1", END));
    ok(&m, conf("c1", END));
    ok(&m, conf("c9", END));
    let p = page(&m);
    assert_val(&p, "asterisk_confbridge_conferences", 0.0);
    assert_val(&p, "asterisk_confbridge_participants", 0.0);

    let e = refused(&m, conf("c1", 4));
    assert!(e.contains('4'), "{e}");
    refused(&m, conf("c1", -1));
}

#[test]
fn queue_callers_joins_abandons_and_wait() {
    let m = model(&[]);
    let w = "asterisk_queue_wait_seconds";
    ok(&m, queue("sales", "u1", QJOIN, T0));
    ok(&m, queue("sales", "u2", QJOIN, T0 + secs(1)));
    ok(&m, queue("support", "u3", QJOIN, T0));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_queue_callers"), "gauge");
    assert_eq!(
        type_of(&p, "asterisk_queue_callers_joined_total"),
        "counter"
    );
    assert_val(&p, "asterisk_queue_callers{queue=\"sales\"}", 2.0);
    assert_val(&p, "asterisk_queue_callers{queue=\"support\"}", 1.0);
    assert_val(
        &p,
        "asterisk_queue_callers_joined_total{queue=\"sales\"}",
        2.0,
    );
    assert!(!has_family(&p, w), "no wait before anyone left\n{p}");

    ok(&m, queue("sales", "u1", QLEAVE, T0 + secs(30)));
    let p = page(&m);
    assert_eq!(type_of(&p, w), "histogram");
    assert_val(&p, "asterisk_queue_callers{queue=\"sales\"}", 1.0);
    assert_val(&p, &format!("{w}_count{{queue=\"sales\"}}"), 1.0);
    assert_val(&p, &format!("{w}_sum{{queue=\"sales\"}}"), 30.0);
    assert_val(&p, &format!("{w}_bucket{{queue=\"sales\",le=\"20\"}}"), 0.0);
    assert_val(&p, &format!("{w}_bucket{{queue=\"sales\",le=\"30\"}}"), 1.0);

    // Abandon then leave (app_queue's order): the wait ends once, the caller leaves the gauge once.
    ok(&m, queue("sales", "u2", QABANDON, T0 + secs(6)));
    ok(&m, queue("sales", "u2", QLEAVE, T0 + secs(7)));
    let p = page(&m);
    assert_eq!(
        type_of(&p, "asterisk_queue_callers_abandoned_total"),
        "counter"
    );
    assert_val(
        &p,
        "asterisk_queue_callers_abandoned_total{queue=\"sales\"}",
        1.0,
    );
    assert_val(&p, "asterisk_queue_callers{queue=\"sales\"}", 0.0);
    assert_val(&p, &format!("{w}_count{{queue=\"sales\"}}"), 2.0);
    assert_val(&p, &format!("{w}_sum{{queue=\"sales\"}}"), 35.0);
    assert_val(&p, &format!("{w}_bucket{{queue=\"sales\",le=\"1\"}}"), 0.0);
    assert_val(&p, &format!("{w}_bucket{{queue=\"sales\",le=\"5\"}}"), 1.0);
    assert_absent(
        &p,
        "asterisk_queue_callers_abandoned_total{queue=\"support\"}",
    );

    // A second join of a waiting caller counts the join but not a second caller.
    ok(&m, queue("support", "u3", QJOIN, T0 + secs(2)));
    // Leaving a queue nobody joined changes nothing.
    ok(&m, queue("support", "zz", QLEAVE, T0 + secs(2)));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_queue_callers_joined_total{queue=\"support\"}",
        2.0,
    );
    assert_val(&p, "asterisk_queue_callers{queue=\"support\"}", 1.0);
    assert_absent(&p, &format!("{w}_count{{queue=\"support\"}}"));

    let e = refused(&m, queue("support", "u3", 3, T0 + secs(3)));
    assert!(e.contains('3'), "{e}");
    refused(&m, queue("support", "u4", -1, T0 + secs(3)));
}

#[test]
fn security_events_by_service_and_normalized_event() {
    let m = model(&[]);
    let sec = |service: &'static str, event: &'static str| Event::SecurityEvent {
        service,
        event,
        ts_us: T0,
    };
    assert!(!has_family(&page(&m), "asterisk_security_events_total"));
    ok(&m, sec("PJSIP", "InvalidPassword"));
    ok(&m, sec("PJSIP", "InvalidPassword"));
    ok(&m, sec("PJSIP", "invalid_password"));
    ok(&m, sec("PJSIP", "FailedACL"));
    ok(&m, sec("SIP", "ChallengeResponseFailed"));
    ok(&m, sec("AMI", "SomethingNew"));
    ok(&m, sec("AMI", "AnotherNewThing"));
    let p = page(&m);
    let s = |service: &str, event: &str| {
        format!("asterisk_security_events_total{{service=\"{service}\",event=\"{event}\"}}")
    };
    assert_eq!(type_of(&p, "asterisk_security_events_total"), "counter");
    assert_val(&p, &s("PJSIP", "invalid_password"), 3.0);
    assert_val(&p, &s("PJSIP", "failed_acl"), 1.0);
    assert_val(&p, &s("SIP", "challenge_response_failed"), 1.0);
    assert_val(&p, &s("AMI", "other"), 2.0);
    assert_absent(&p, &s("PJSIP", "InvalidPassword"));
    assert_eq!(count_lines(&p, "asterisk_security_events_total{"), 4, "{p}");
}
