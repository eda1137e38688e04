"""Gauges of live state against Asterisk's own view, during a plateau of calls and after a mixed load has ended.

Part of the live test (`tests/asterisk/live_test.py` calls `run`). The load mixes what makes gauges drift in an
exporter that counts events: calls the caller hangs up, calls the called phone hangs up, callers who cancel before
the answer, ViciDial-style transfers through the manager (a Redirect of the called leg, and a double Redirect that
moves both legs), queue callers answered and abandoned, conference participants, and module
reloads in the middle. Each time, every gauge of live state must equal what Asterisk itself reports:
`core show channels count`, `bridge show all`, `queue show`, `confbridge list`, `pjsip show endpoints`.
"""

import re
import time

import astharness as h
from astharness import value, values
from livecheck import check, check_true, wait_for

S = 'server="live-test"'
T = "PJSIP"  # the lab's channel driver, set by run()


def asterisk_view(lab):
    """What Asterisk says of its live state, in the page's terms."""
    view = {}
    out = lab.cli("core show channels count")
    for key, pat in (("channels", r"(\d+) active channels?"), ("calls", r"(\d+) active calls?"),
                     ("processed", r"(\d+) calls? processed")):
        m = re.search(pat, out)
        view[key] = int(m.group(1)) if m else None
    # Bridge-ID, Name (may hold spaces), Chans, Type, Technology, Duration
    bridges = [m for m in (re.match(r"^[0-9a-f]{8}-[0-9a-f-]{27}\s+.*?\s(\d+)\s+\S+\s+\S+\s+[0-9:]+\s*$", line)
                           for line in lab.cli("bridge show all").splitlines()) if m]
    view["bridges"] = len(bridges)
    view["bridged_channels"] = sum(int(m.group(1)) for m in bridges)
    view["queue_callers"] = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"^(\S+) has (\d+) calls?", lab.cli("queue show"), re.M)}
    conf = lab.cli("confbridge list")
    rows = [line.split() for line in conf.split("=\n", 1)[-1].splitlines()] if "=" in conf else []
    rows = [r for r in rows if len(r) >= 2 and r[1].isdigit()]
    view["conferences"] = len(rows)
    view["participants"] = sum(int(r[1]) for r in rows)
    if T == "PJSIP":
        view["endpoint_channels"] = {m.group(1): int(m.group(2)) for m in re.finditer(
            r"^ Endpoint:\s+([^\s/]+)\S*\s+.*?\s(\d+) of \S+\s*$", lab.cli("pjsip show endpoints"), re.M)}
    else:  # chan_sip has no per-peer channel count of its own: count the peers' channels Asterisk lists
        peers = re.findall(r"^(\S+?)\s", lab.cli("sip show peers"), re.M)
        names = [line.split("!")[0] for line in lab.cli("core show channels concise").splitlines() if "!" in line]
        view["endpoint_channels"] = {p.split("/")[0]: sum(n.startswith(f"SIP/{p.split('/')[0]}-") for n in names)
                                     for p in peers if p not in ("Name/username",) and not p[0].isdigit()}
    return view


def page_view(page, endpoints):
    """The same quantities from our page."""
    eps = values(page, "asterisk_endpoint_channels")
    return {
        "channels": round(sum(values(page, "asterisk_channels").values())),
        "channels_by_state": round(sum(values(page, "asterisk_channels_by_state").values())),
        "calls": value(page, f"asterisk_active_calls{{{S}}}"),
        "processed": value(page, f"asterisk_calls_processed_total{{{S}}}"),
        "bridges": round(sum(values(page, "asterisk_bridges").values())),
        "bridged_channels": value(page, f"asterisk_bridged_channels{{{S}}}"),
        "queue_callers": {q: values(page, "asterisk_queue_callers").get(f'{{{S},queue="{q}"}}', 0.0)
                          for q in ("sales", "empty")},
        "conferences": value(page, f"asterisk_confbridge_conferences{{{S}}}"),
        "participants": value(page, f"asterisk_confbridge_participants{{{S}}}"),
        "endpoint_channels": {e: eps.get(f'{{{S},tech="{T}",endpoint="{e}"}}', 0.0) for e in endpoints},
    }


def agree(lab, when, expect_channels=None, timeout=15):
    """Waits until Asterisk is steady (two equal readings 1.5 s apart, the page sampled in between) and our page
    agrees, then checks each quantity against Asterisk's view. Returns Asterisk's view."""
    def steady():
        a = asterisk_view(lab)
        if expect_channels is not None and a["channels"] != expect_channels:
            return None
        time.sleep(1.5)  # active/processed calls are sampled (1 s here)
        p = lab.scrape()
        b = asterisk_view(lab)
        if a != b:
            return None
        ours = page_view(p, list(b["endpoint_channels"]))
        return (b, ours) if all(_same(ours[k], b[k]) for k in b) else None

    got = wait_for(f"{when}: page agrees with Asterisk", steady, timeout=timeout)
    if got is None:  # report each difference from one last reading
        b = asterisk_view(lab)
        got = (b, page_view(lab.scrape(), list(b["endpoint_channels"])))
    ast, ours = got
    for key in ("channels", "calls", "processed", "bridges", "bridged_channels", "conferences", "participants"):
        check(f"{when}: {key} = Asterisk's", ours[key], ast[key])
    check(f"{when}: channels by state add up to channels", ours["channels_by_state"], ast["channels"])
    for q in ("sales", "empty"):
        check(f"{when}: queue {q} callers = queue show", ours["queue_callers"][q], ast["queue_callers"].get(q))
    for e, n in sorted(ast["endpoint_channels"].items()):
        check(f"{when}: endpoint {e} channels = Asterisk's", ours["endpoint_channels"][e], n)
    return ast


def _same(ours, theirs):
    if isinstance(theirs, dict):
        return all(_same(ours.get(k), v) for k, v in theirs.items())
    return ours is not None and theirs is not None and float(ours) == float(theirs)


def held_calls(lab, exten="held"):
    """(caller channel, called channel) of each bridged call placed to `exten`, from Asterisk's concise listing
    (fields: name, context, exten, priority, state, application, data, caller id, account, peer account, AMA flags,
    duration, bridge id, unique id)."""
    legs = [line.split("!") for line in lab.cli("core show channels concise").splitlines() if line.count("!") >= 13]
    bridges = {}
    for leg in legs:
        if leg[12]:
            bridges.setdefault(leg[12], []).append(leg)
    pairs = []
    for members in bridges.values():
        callers = [m for m in members if m[0].startswith(f"{T}/caller-") and m[2] == exten]
        others = [m for m in members if m not in callers]
        if len(members) == 2 and len(callers) == 1:
            pairs.append((callers[0][0], others[0][0]))
    return pairs


def run(lab, note):
    global T
    T = lab.tech
    print("scenario: gauges back to Asterisk's values (plateau, reloads, transfers, CANCEL, BYE from both sides)")
    byer = lab.sipp("uas_bye.xml", h.BYER_IP, "-d", "1000")
    # The plateau: 6 answered calls, 3 conference participants and 2 callers waiting in the memberless queue, for
    # 40 s: 19 channels (12 + 3 + 2, and the conference's two announcer channels), 7 bridges.
    plateau = [lab.call("answer", 6, rate=20, duration_ms=40000, wait=False, port=5062),
               lab.call("conf", 3, rate=20, duration_ms=40000, wait=False, port=5064),
               lab.call("wait", 2, rate=20, duration_ms=40000, wait=False, port=5066)]
    ast = agree(lab, "plateau", expect_channels=19)
    note(f"gauges: plateau of {ast['channels']} channels, {ast['bridges']} bridges, {ast['participants']} "
         f"conference participants, {ast['queue_callers'].get('empty')} queue callers: page equal to Asterisk's")
    lab.cli("module reload res_prom_rs.so")
    agree(lab, "plateau after a module reload", expect_channels=19)

    # The mix, over the plateau. Redirects need calls that stay up until Asterisk hangs the caller up.
    held = lab.call("held", 4, rate=20, duration_ms=0, wait=False, port=5068, scenario="uac_hungup.xml")
    mix = {"10 calls the caller hangs up": lab.call("answer", 10, rate=5, duration_ms=1000, wait=False, port=5070),
           "6 calls the called phone hangs up": lab.call("calleebye", 6, rate=5, duration_ms=0, wait=False,
                                                         port=5072, scenario="uac_hungup.xml"),
           "6 callers who cancel while it rings": lab.call("noanswer", 6, rate=5, duration_ms=800, wait=False,
                                                           port=5074, scenario="uac_cancel.xml"),
           "3 queue callers answered": lab.call("queue", 3, rate=2, duration_ms=1000, wait=False, port=5076),
           "3 queue callers who give up": lab.call("wait", 3, rate=5, duration_ms=1200, wait=False, port=5078)}
    held_pairs = wait_for("the 4 held calls bridged", lambda: (lambda p: p if len(p) == 4 else None)(
        held_calls(lab)), timeout=10) or []
    redirected = 0
    # ViciDial moves calls with manager Redirects: the called leg alone to a short announcement (its caller is hung
    # up), and both legs at once (a double Redirect).
    for caller, callee in held_pairs[:2]:
        r = lab.ami("Redirect", Channel=callee, Context="calls", Exten="brief", Priority="1")
        redirected += r.get("Response") == "Success"
    lab.cli("module reload res_prom_rs.so")
    time.sleep(1)
    for caller, callee in held_pairs[2:4]:
        r = lab.ami("Redirect", Channel=caller, Context="calls", Exten="brief", Priority="1",
                    ExtraChannel=callee, ExtraContext="calls", ExtraExten="brief", ExtraPriority="1")
        redirected += r.get("Response") == "Success"
    check("manager Redirects accepted (2 single, 2 double)", redirected, 4)
    for what, p in mix.items():
        check(f"sipp: {what}, as scripted", lab.wait(p, timeout=90), 0)
    check("held calls ended by Asterisk after the transfers", lab.wait(held, timeout=60), 0)
    for p in plateau:
        check("sipp: plateau calls ended by their callers", lab.wait(p, timeout=90), 0)
    lab.stop_proc(byer)
    ast = agree(lab, "after the load", expect_channels=0, timeout=30)
    check_true("after the load: the mix really ran (calls processed grew)", (ast["processed"] or 0) >= 40,
               str(ast["processed"]))
    note(f"gauges: after {ast['processed']} calls (BYE from both sides, CANCEL, 4 manager Redirects, queue, "
         "conference, 2 module reloads): channels, calls, bridges, queue callers, participants and endpoint "
         "channels all equal to Asterisk's (0)")

