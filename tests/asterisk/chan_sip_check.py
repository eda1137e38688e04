"""chan_sip peers in the live test (`ASTERISK_CHANNEL=SIP`): what only chan_sip has, against `sip show peers`.

A peer whose phone answers qualify 300 ms late with a 200 ms limit (lagged), and a phone that registers with a
password and later removes its binding (registered, then unregistered). The PJSIP run has its own equivalents
(qualify, contacts, the outbound registration) in live_test.py.

The lagged phone answers its first two qualifies at once and later ones late: chan_sip publishes a peer status only
when the peer changes between unknown/reachable and not reachable, so a peer that goes from Unreachable straight to
late answers stays "Unreachable" for every listener of Asterisk's endpoint messages (res_prom_rs included) while
`sip show peers` shows LAGGED, and a status published before res_prom_rs loaded is not known to it until the next
change (chan_sip keeps it nowhere else).
"""

import re

import astharness as h
from astharness import value
from livecheck import check, check_true, wait_for


def _status(page, peer, status):
    return value(page, f'asterisk_endpoint_status{{server="live-test",tech="SIP",endpoint="{peer}",status="{status}"}}')


def _peer_line(lab, peer):
    m = re.search(rf"^{re.escape(peer)}(/\S+)?\s.*$", lab.cli("sip show peers"), re.M)
    return m.group(0) if m else ""


def run(lab, sc, note):
    print("scenario: chan_sip peers (lagged qualify, a phone that registers and unregisters)")
    laggy = lab.sipp("uas_slow_options.xml", h.LAGGY_IP)
    p = wait_for("laggy peer lagged on the page",
                 lambda: (lambda p: p if _status(p, "laggy", "lagged") == 1 else None)(sc.page()), timeout=30)
    p = p or sc.page()
    line = _peer_line(lab, "laggy")
    check_true("sip show peers: laggy is LAGGED", "LAGGED" in line, line)
    check("endpoint_status laggy lagged", _status(p, "laggy", "lagged"), 1.0)
    check("endpoint_up laggy (lagged still answers)",
          value(p, 'asterisk_endpoint_up{server="live-test",tech="SIP",endpoint="laggy"}'), 1.0)
    rtt = value(p, 'asterisk_endpoint_rtt_seconds{server="live-test",tech="SIP",endpoint="laggy"}')
    m = re.search(r"\((\d+) ms\)", line)
    cli_ms = int(m.group(1)) if m else None
    check_true("laggy round trip near sip show peers' (within 100 ms)",
               rtt is not None and cli_ms is not None and abs(rtt * 1000 - cli_ms) < 100, f"{rtt} s vs {cli_ms} ms")
    lab.stop_proc(laggy)
    p = wait_for("laggy peer unreachable once its phone stops",
                 lambda: (lambda p: p if _status(p, "laggy", "unreachable") == 1 else None)(sc.page()), timeout=30)
    check_true("laggy unreachable after its phone stopped", p is not None and "UNREACHABLE" in _peer_line(lab, "laggy"),
               _peer_line(lab, "laggy"))

    def register(expires):
        return lab.sipp("uac_register.xml", h.PHONE_IP, f"{h.AST_IP}:{lab.sip_port}", "-s", "phone", "-au", "phone",
                        "-ap", "phone-secret", "-key", "expires", str(expires), "-m", "1", "-timeout", "20s",
                        "-timeout_error", wait=True)
    check("sipp: phone registered (401, then 200)", register(60), 0)
    p = wait_for("phone registered on the page",
                 lambda: (lambda p: p if _status(p, "phone", "registered") == 1 else None)(sc.page()), timeout=10)
    p = p or sc.page()
    line = _peer_line(lab, "phone")
    check_true("sip show peers: phone has its address", h.PHONE_IP in line, line)
    check("endpoint_status phone registered", _status(p, "phone", "registered"), 1.0)
    check("endpoint_up phone", value(p, 'asterisk_endpoint_up{server="live-test",tech="SIP",endpoint="phone"}'), 1.0)
    check("sipp: phone unregistered (Expires: 0)", register(0), 0)
    p = wait_for("phone unregistered on the page",
                 lambda: (lambda p: p if _status(p, "phone", "unregistered") == 1 else None)(sc.page()), timeout=10)
    p = p or sc.page()
    line = _peer_line(lab, "phone")
    check_true("sip show peers: phone has no address any more", h.PHONE_IP not in line, line)
    check("endpoint_status phone unregistered", _status(p, "phone", "unregistered"), 1.0)
    check("endpoint_up phone after unregistering",
          value(p, 'asterisk_endpoint_up{server="live-test",tech="SIP",endpoint="phone"}'), 0.0)
    note(f"chan_sip peers: laggy lagged (qualify {rtt * 1000 if rtt else float('nan'):.0f} ms, sip show peers "
         f"{cli_ms} ms), then unreachable; phone registered, then unregistered")
