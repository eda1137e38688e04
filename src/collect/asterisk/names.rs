//! Fixed vocabularies: host enums and strings mapped to the label values we export. Static tables, so normalising a
//! value on the event path never allocates.

/// Label values of Asterisk's `enum ast_channel_state`, indexed by its numeric value.
pub const CHANNEL_STATES: &[&str] = &[
    "down",
    "reserved",
    "offhook",
    "dialing",
    "ring",
    "ringing",
    "up",
    "busy",
    "dialing_offhook",
    "prering",
];

/// `AST_STATE_UP`.
pub const STATE_UP: i32 = 6;

/// The label for a channel state, or an error naming the allowed range.
pub fn channel_state(v: i32) -> Result<&'static str, String> {
    usize::try_from(v)
        .ok()
        .and_then(|i| CHANNEL_STATES.get(i).copied())
        .ok_or_else(|| format!("channel state {v} is not an ast_channel_state value (0..=9)"))
}

/// Q.850 cause codes with the names Asterisk uses (`ast_str2cause`).
const CAUSES: &[(i32, &str)] = &[
    (0, "NOTDEFINED"),
    (1, "UNALLOCATED"),
    (2, "NO_ROUTE_TRANSIT_NET"),
    (3, "NO_ROUTE_DESTINATION"),
    (5, "MISDIALLED_TRUNK_PREFIX"),
    (6, "CHANNEL_UNACCEPTABLE"),
    (7, "CALL_AWARDED_DELIVERED"),
    (8, "PRE_EMPTED"),
    (14, "NUMBER_PORTED_NOT_HERE"),
    (16, "NORMAL_CLEARING"),
    (17, "USER_BUSY"),
    (18, "NO_USER_RESPONSE"),
    (19, "NO_ANSWER"),
    (20, "SUBSCRIBER_ABSENT"),
    (21, "CALL_REJECTED"),
    (22, "NUMBER_CHANGED"),
    (23, "REDIRECTED_TO_NEW_DESTINATION"),
    (26, "ANSWERED_ELSEWHERE"),
    (27, "DESTINATION_OUT_OF_ORDER"),
    (28, "INVALID_NUMBER_FORMAT"),
    (29, "FACILITY_REJECTED"),
    (30, "RESPONSE_TO_STATUS_ENQUIRY"),
    (31, "NORMAL_UNSPECIFIED"),
    (34, "NORMAL_CIRCUIT_CONGESTION"),
    (38, "NETWORK_OUT_OF_ORDER"),
    (41, "NORMAL_TEMPORARY_FAILURE"),
    (42, "SWITCH_CONGESTION"),
    (43, "ACCESS_INFO_DISCARDED"),
    (44, "REQUESTED_CHAN_UNAVAIL"),
    (50, "FACILITY_NOT_SUBSCRIBED"),
    (52, "OUTGOING_CALL_BARRED"),
    (54, "INCOMING_CALL_BARRED"),
    (57, "BEARERCAPABILITY_NOTAUTH"),
    (58, "BEARERCAPABILITY_NOTAVAIL"),
    (65, "BEARERCAPABILITY_NOTIMPL"),
    (66, "CHAN_NOT_IMPLEMENTED"),
    (69, "FACILITY_NOT_IMPLEMENTED"),
    (81, "INVALID_CALL_REFERENCE"),
    (88, "INCOMPATIBLE_DESTINATION"),
    (95, "INVALID_MSG_UNSPECIFIED"),
    (96, "MANDATORY_IE_MISSING"),
    (97, "MESSAGE_TYPE_NONEXIST"),
    (98, "WRONG_MESSAGE"),
    (99, "IE_NONEXIST"),
    (100, "INVALID_IE_CONTENTS"),
    (101, "WRONG_CALL_STATE"),
    (102, "RECOVERY_ON_TIMER_EXPIRE"),
    (103, "MANDATORY_IE_LENGTH_ERROR"),
    (111, "PROTOCOL_ERROR"),
    (127, "INTERWORKING"),
];

/// The label for a hangup cause: its Asterisk name, `OTHER` for an unassigned code of 0..=127.
pub fn cause(code: i32) -> Result<&'static str, String> {
    match CAUSES.binary_search_by_key(&code, |(c, _)| *c) {
        Ok(i) => Ok(CAUSES[i].1),
        Err(_) if (0..=127).contains(&code) => Ok("OTHER"),
        Err(_) => Err(format!(
            "hangup cause {code} is not a Q.850 cause code (0..=127)"
        )),
    }
}

/// Final DIALSTATUS values (Asterisk's Dial application).
const DIAL_FINAL: &[&str] = &[
    "ANSWER",
    "BUSY",
    "NOANSWER",
    "CANCEL",
    "CONGESTION",
    "CHANUNAVAIL",
    "DONTCALL",
    "TORTURE",
    "INVALIDARGS",
];

/// Interim dial statuses published while a dial is in progress; they are not results.
const DIAL_INTERIM: &[&str] = &["", "RINGING", "PROCEEDING", "PROGRESS"];

/// `Some(label)` for a final dial status (unknown finals become `OTHER`), `None` for an interim one.
pub fn dial_status(s: &str) -> Option<&'static str> {
    // Hosts send the canonical spelling: an exact match (length + memcmp) answers without scanning.
    match s {
        "ANSWER" => return Some("ANSWER"),
        "BUSY" => return Some("BUSY"),
        "NOANSWER" => return Some("NOANSWER"),
        "CANCEL" => return Some("CANCEL"),
        "CONGESTION" => return Some("CONGESTION"),
        "CHANUNAVAIL" => return Some("CHANUNAVAIL"),
        "RINGING" | "PROCEEDING" | "PROGRESS" | "" => return None,
        _ => {}
    }
    let s = s.trim();
    if DIAL_INTERIM.iter().any(|i| i.eq_ignore_ascii_case(s)) {
        return None;
    }
    Some(
        DIAL_FINAL
            .iter()
            .find(|d| d.eq_ignore_ascii_case(s))
            .copied()
            .unwrap_or("OTHER"),
    )
}

/// Endpoint states as Asterisk's `enum ast_endpoint_state` numbers them.
pub const ENDPOINT_STATES: &[&str] = &["unknown", "offline", "online"];

/// The label for an endpoint state.
pub fn endpoint_state(v: i32) -> Result<&'static str, String> {
    usize::try_from(v)
        .ok()
        .and_then(|i| ENDPOINT_STATES.get(i).copied())
        .ok_or_else(|| format!("endpoint state {v} is not 0 (unknown), 1 (offline) or 2 (online)"))
}

/// The contact/peer statuses we export.
pub const CONTACT_STATUSES: &[&str] = &[
    "reachable",
    "lagged",
    "unreachable",
    "registered",
    "unregistered",
    "unknown",
];

/// Index into [`CONTACT_STATUSES`] for a host status string (PJSIP contact status or chan_sip peer status).
pub fn contact_status(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let alias = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(s));
    let idx = if alias(&["Reachable", "OK"]) {
        0
    } else if alias(&["Lagged"]) {
        1
    } else if alias(&["Unreachable"]) {
        2
    } else if alias(&["Registered", "Created"]) {
        3
    } else if alias(&["Unregistered", "Removed"]) {
        4
    } else if alias(&["Unknown", "NonQualified", "Unmonitored", ""]) {
        5
    } else {
        return Err(format!(
            "endpoint status \"{s}\" is not one of Reachable, Lagged, Unreachable, Registered, Unregistered, Unknown"
        ));
    };
    Ok(idx)
}

/// True for statuses that mean the endpoint can be reached.
pub fn contact_status_is_up(idx: usize) -> Option<bool> {
    match idx {
        0 | 1 | 3 => Some(true),
        2 | 4 => Some(false),
        _ => None,
    }
}

/// Outbound registration status as the gauge value (0 unregistered, 1 registered, 2 rejected).
pub fn registration_status(s: &str) -> Result<f64, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("Registered") {
        Ok(1.0)
    } else if s.eq_ignore_ascii_case("Unregistered") {
        Ok(0.0)
    } else if s.eq_ignore_ascii_case("Rejected") || s.eq_ignore_ascii_case("Failed") {
        Ok(2.0)
    } else {
        Err(format!(
            "registration status \"{s}\" is not one of Registered, Unregistered, Rejected"
        ))
    }
}

/// Asterisk security event type names (`ast_security_event_type_names`) and their labels.
const SECURITY_EVENTS: &[(&str, &str)] = &[
    ("FailedACL", "failed_acl"),
    ("InvalidAccountID", "invalid_account_id"),
    ("SessionLimit", "session_limit"),
    ("MemoryLimit", "memory_limit"),
    ("LoadAverageLimit", "load_average_limit"),
    ("RequestNotSupported", "request_not_supported"),
    ("RequestNotAllowed", "request_not_allowed"),
    ("AuthMethodNotAllowed", "auth_method_not_allowed"),
    ("RequestBadFormat", "request_bad_format"),
    ("SuccessfulAuth", "successful_auth"),
    ("UnexpectedAddress", "unexpected_address"),
    ("ChallengeResponseFailed", "challenge_response_failed"),
    ("InvalidPassword", "invalid_password"),
    ("ChallengeSent", "challenge_sent"),
    ("InvalidTransport", "invalid_transport"),
];

/// The label for a security event type; types this table does not know become `other`.
pub fn security_event(s: &str) -> &'static str {
    // The names a host sends most, matched exactly first (a brute-force burst is thousands of these).
    match s {
        "InvalidPassword" => return "invalid_password",
        "ChallengeResponseFailed" => return "challenge_response_failed",
        "InvalidAccountID" => return "invalid_account_id",
        "FailedACL" => return "failed_acl",
        "ChallengeSent" => return "challenge_sent",
        "SuccessfulAuth" => return "successful_auth",
        _ => {}
    }
    let s = s.trim();
    SECURITY_EVENTS
        .iter()
        .find(|(name, label)| name.eq_ignore_ascii_case(s) || label.eq_ignore_ascii_case(s))
        .map(|(_, label)| *label)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies() {
        assert_eq!(channel_state(6), Ok("up"));
        assert!(channel_state(10).is_err());
        assert!(channel_state(-1).is_err());
        assert_eq!(cause(16), Ok("NORMAL_CLEARING"));
        assert_eq!(cause(34), Ok("NORMAL_CIRCUIT_CONGESTION"));
        assert_eq!(cause(4), Ok("OTHER"));
        assert!(cause(300).is_err());
        assert!(
            CAUSES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted for binary search"
        );
        assert_eq!(dial_status("answer"), Some("ANSWER"));
        assert_eq!(dial_status("RINGING"), None);
        assert_eq!(dial_status("WEIRD"), Some("OTHER"));
        assert_eq!(contact_status("Lagged"), Ok(1));
        assert!(contact_status("Sleepy").is_err());
        assert_eq!(security_event("InvalidPassword"), "invalid_password");
        assert_eq!(security_event("Whatever"), "other");
        assert_eq!(registration_status("Rejected"), Ok(2.0));
    }
}
