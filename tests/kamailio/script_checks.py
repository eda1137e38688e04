"""Checks of the routing script's metrics in a real Kamailio (called by tests/kamailio/live_test.py).

One Kamailio with 4 SIP workers, our module and xhttp_prom side by side (tests/kamailio/scriptlab.py): a labelled
counter incremented from every worker (N requests -> exactly N, as xhttp_prom counts them too), a histogram and a
gauge updated from the script, KEMI (app_jsdt) calls, resets, the RPCs, hostile label values parsed back with
prometheus_client's parsers in both formats, promtool on the text page; then a lab with a short script_timeout and a small cap
(idle series removed, new ones dropped and counted); then declarations Kamailio must refuse at startup."""

import re
import subprocess
import time

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kamharness as h  # noqa: E402
import scriptlab as s  # noqa: E402
from livecheck import RESULTS, check, check_true, wait_for  # noqa: E402

N = 400  # requests of the counting scenario


try:
    import prometheus_client  # noqa: F401
except ImportError:  # another python3 first in PATH: use Debian's package (scripts/install-test-deps.sh)
    sys.path.append("/usr/lib/python3/dist-packages")


def parse(text, openmetrics=False):
    """{(sample name, frozenset of labels): value} with prometheus_client's parser of that format."""
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            out[(smp.name, frozenset(smp.labels.items()))] = smp.value
    return out


def key(name, **labels):
    return (name, frozenset(labels.items()))


def page(lab, openmetrics=False):
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else None
    return lab.scrape(headers=headers)


def sampled(lab, name, want, timeout=5, **labels):
    """Waits until the page shows `want` for the series (the exporter samples the store every second); returns the
    last value seen."""
    k = key(name, **labels)
    deadline = time.time() + timeout
    while True:
        got = parse(page(lab)).get(k)
        if got == want or time.time() > deadline:
            return got
        time.sleep(0.1)


def worker_pids(lab):
    return sorted(lab.pids("udp receiver"))


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


# ---- the main lab ------------------------------------------------------------------------------------------------

def counting(lab):
    print("script metrics: a labelled counter from all 4 SIP workers, beside xhttp_prom")
    rc, out = lab.sipp("script_options.xml", N, rate=400, service="count")
    check_true(f"sipp: {N} OPTIONS to the counting route, all answered", rc == 0, out[-600:] if rc else "")
    got = sampled(lab, "kamailio_sip_requests_total", float(N), method="OPTIONS", code="200")
    check("kamailio_sip_requests_total{method=OPTIONS,code=200} after N requests", got, float(N))
    theirs = s.xhttp_prom_values(lab.scrape_theirs()).get('kamailio_xp_sip_requests{method="OPTIONS", code="200"}')
    check("xhttp_prom counted the same increments", theirs, float(N))
    values = parse(page(lab))
    by_pid = {dict(k[1])["pid"]: v for k, v in values.items() if k[0] == "kamailio_requests_by_worker_total"}
    pids = [str(p) for p in worker_pids(lab)]
    check("the 4 SIP workers (core.psx udp receiver)", len(pids), 4)
    check("requests_by_worker: a series for each SIP worker, and only those", sorted(by_pid), sorted(pids))
    check("requests_by_worker: the workers' counts add up to N", sum(by_pid.values()), float(N))
    print(f"  per worker: {', '.join(f'{p}: {int(v)}' for p, v in sorted(by_pid.items()))}")
    # The histogram, observed N times with 0.3 from the script.
    hk = lambda n, **l: values.get(key(n, method="OPTIONS", **l))  # noqa: E731
    check("reply_seconds_count", hk("kamailio_reply_seconds_count"), float(N))
    check("reply_seconds_sum", round(hk("kamailio_reply_seconds_sum"), 6), round(0.3 * N, 6))
    check("reply_seconds buckets le=0.1, 0.5, 1, +Inf",
          [hk("kamailio_reply_seconds_bucket", le=b) for b in ("0.1", "0.5", "1", "+Inf")],
          [0.0, float(N), float(N), float(N)])
    xp = s.xhttp_prom_values(lab.scrape_theirs())
    check("xhttp_prom's histogram count is the same", xp.get('kamailio_xp_reply_seconds_count{method="OPTIONS"}'),
          float(N))
    check("in_flight (gauge_inc from the script)", values.get(key("kamailio_in_flight")), float(N))


def kemi_and_resets(lab):
    print("script metrics: KEMI (KSR.prom_rs via app_jsdt), resets, gauge set and increment by RPC")
    rc, out = lab.sipp("script_options.xml", 5, rate=50, service="kemi")
    check_true("sipp: 5 OPTIONS to the KEMI route", rc == 0, out[-400:] if rc else "")
    check("KSR.prom_rs.counter_inc_l2 x5", sampled(lab, "kamailio_sip_requests_total", 5.0, method="KEMI",
                                                  code="200"), 5.0)
    values = parse(page(lab))
    check("KSR.prom_rs.gauge_set", values.get(key("kamailio_temperature")), 21.5)
    check("KSR.prom_rs.histogram_observe_l1 x5 (value 2: the +Inf bucket only)",
          [values.get(key("kamailio_reply_seconds_bucket", method="KEMI", le=b)) for b in ("1", "+Inf")],
          [0.0, 5.0])
    check("rpc prom_rs.gauge_set in_flight 2.5", lab.kamcmd("prom_rs.gauge_set", "in_flight", "2.5")[1].strip(), "ok")
    check("gauge set by RPC reaches the page", sampled(lab, "kamailio_in_flight", 2.5), 2.5)
    lab.kamcmd("prom_rs.gauge_inc", "in_flight", "s:-1")
    check("rpc prom_rs.gauge_inc in_flight -1", sampled(lab, "kamailio_in_flight", 1.5), 1.5)
    rc, out = lab.sipp("script_options.xml", 1, rate=10, service="reset")
    check_true("sipp: OPTIONS to the reset route", rc == 0, out[-400:] if rc else "")
    check("prom_rs_counter_reset from the script", sampled(lab, "kamailio_sip_requests_total", 0.0,
                                                           method="OPTIONS", code="200"), 0.0)
    check("prom_rs_gauge_reset from the script", sampled(lab, "kamailio_in_flight", 0.0), 0.0)
    xp = s.xhttp_prom_values(lab.scrape_theirs())
    check("xhttp_prom's counter was reset by the same route",
          xp.get('kamailio_xp_sip_requests{method="OPTIONS", code="200"}'), 0.0)
    lab.kamcmd("prom_rs.counter_inc", "sip_requests", "7", "OPTIONS", "s:200")
    check("rpc prom_rs.counter_inc after the reset", sampled(lab, "kamailio_sip_requests_total", 7.0,
                                                             method="OPTIONS", code="200"), 7.0)
    lab.kamcmd("prom_rs.counter_reset", "sip_requests", "OPTIONS", "s:200")
    check("rpc prom_rs.counter_reset", sampled(lab, "kamailio_sip_requests_total", 0.0, method="OPTIONS",
                                               code="200"), 0.0)
    lab.kamcmd("prom_rs.histogram_observe", "reply_seconds", "0.05", "RPC")
    check("rpc prom_rs.histogram_observe 0.05: bucket le=0.1",
          sampled(lab, "kamailio_reply_seconds_bucket", 1.0, method="RPC", le="0.1"), 1.0)
    # Refusals name what is wrong and change nothing.
    for args, want in ((("nope", "1"), "no such metric"), (("sip_requests", "s:-1", "a", "b"), "whole numbers >= 0"),
                       (("sip_requests", "1.5", "a", "b"), "whole numbers >= 0"),
                       (("sip_requests", "1", "a"), "wrong number of label values")):
        rc, out = lab.kamcmd("prom_rs.counter_inc", *args, check=False)
        check_true(f"rpc prom_rs.counter_inc {' '.join(args)}: refused ({want})", "error: 400" in out and want in out,
                   out)
    rc, out = lab.kamcmd("prom_rs.gauge_set", "sip_requests", "1", "a", "b", check=False)
    check_true("rpc prom_rs.gauge_set on a counter: refused", "error: 400" in out and "another metric type" in out,
               out)


def label_values(lab):
    print("script metrics: label values with quotes, backslashes, newlines and UTF-8, parsed back in both formats")
    rc, out = lab.sipp("script_options.xml", 1, rate=10, service="special")
    check_true("sipp: OPTIONS to the special-values route", rc == 0, out[-400:] if rc else "")
    rpc_method, rpc_code = 'tab\there "q" \\ back\\slash', "日本語\nnext line ✓"
    lab.kamcmd("prom_rs.counter_inc", "sip_requests", "3", "s:" + rpc_method, "s:" + rpc_code)
    rc, out = lab.sipp("script_options.xml", 1, rate=10, service="wide")
    check_true("sipp: OPTIONS to the 8-label route", rc == 0, out[-400:] if rc else "")
    script_labels = dict(method='say "hi"', code="c:\\dir ünïcødé ✓")
    wait_for("the special series", lambda: key("kamailio_wide_total", a="a", b="b", c="c", d="d", e="e", f="f",
                                                g="g", h="h") in parse(page(lab)), timeout=5)
    text, om = page(lab), page(lab, openmetrics=True)
    counter = "kamailio_sip_requests_total"
    for fmt, values in (("text 0.0.4", parse(text)), ("OpenMetrics", parse(om, openmetrics=True))):
        check(f"{fmt}: script literal values round-trip", values.get(key(counter, **script_labels)), 2.0)
        check(f"{fmt}: RPC values (tab, quotes, backslashes, newline, UTF-8) round-trip",
              values.get(key(counter, method=rpc_method, code=rpc_code)), 3.0)
        check(f"{fmt}: 8 labels, the last five split on sep",
              values.get(key("kamailio_wide_total", a="a", b="b", c="c", d="d", e="e", f="f", g="g", h="h")), 1.0)
    check_true("the page escapes them (text format)",
               'method="say \\"hi\\"",code="c:\\\\dir ünïcødé ✓"' in text)
    rc, msg = promtool(text)
    check_true("promtool check metrics: text format", rc == 0, msg[:500])
    # promtool reads only the text format; the OpenMetrics page went through prometheus_client's strict
    # OpenMetrics parser above.
    check_true("OpenMetrics page ends with # EOF", om.rstrip().endswith("# EOF"))
    listing = lab.kamcmd("prom_rs.metric_list")[1]
    check_true("rpc prom_rs.metric_list lists families and series",
               "# counter sip_requests:" in listing and 'counter wide{a="a",b="b"' in listing, listing[:400])
    check_true("HELP from the declaration",
               "# HELP kamailio_sip_requests_total SIP requests seen by the script, by method and code" in text)


def latency(lab):
    """How long an update takes to reach the page: at most one sample interval (1 s) plus the scrape."""
    worst = 0.0
    for i in range(5):
        before = parse(page(lab)).get(key("kamailio_temperature"))
        t0 = time.time()
        lab.kamcmd("prom_rs.gauge_set", "temperature", str(100 + i))
        got = wait_for("the new value", lambda: parse(page(lab)).get(key("kamailio_temperature")) == 100 + i,
                       timeout=5, step=0.05) if before != 100 + i else True
        worst = max(worst, time.time() - t0)
        if not got:
            worst = 99
    check_true(f"an update reaches the page within one sample interval (worst of 5: {worst:.2f} s)", worst <= 1.3)
    return worst


def main_lab(module, keep, notes):
    lab = s.ScriptLab(module, keep=keep)
    try:
        lab.start()
        counting(lab)
        kemi_and_resets(lab)
        label_values(lab)
        worst = latency(lab)
        notes.append(f"script metrics: {N} requests from 4 workers counted exactly (ours and xhttp_prom), "
                     f"update-to-page worst {worst:.2f} s")
    finally:
        lab.close()


# ---- idle removal and the cap -------------------------------------------------------------------------------------

def idle_and_cap(module, keep, notes):
    print("script metrics: script_timeout 2s removes idle series; max_series_per_family 3 drops and counts new ones")
    ours = s.OURS + [("counter", "name=idle; label=k")]
    lab = s.ScriptLab(module, prom=[("script_timeout", "2s"), ("max_series_per_family", 3)], ours=ours, keep=keep,
                      name="idle")
    try:
        lab.start()
        for k in ("1", "2", "3"):
            lab.kamcmd("prom_rs.counter_inc", "idle", "1", "s:" + k)
        rc, out = lab.kamcmd("prom_rs.counter_inc", "idle", "1", "s:4", check=False)
        check_true("a 4th label set is refused at the cap", "error: 503" in out and "max_series_per_family" in out, out)
        dropped = key("prom_rs_series_dropped_total", family="kamailio_idle_total")
        check("prom_rs_series_dropped_total{family=kamailio_idle_total}",
              wait_for("the drop on the page", lambda: parse(page(lab)).get(dropped), timeout=5), 1.0)
        series = lambda: sorted(dict(k[1])["k"] for k in parse(page(lab)) if k[0] == "kamailio_idle_total")  # noqa
        check("three series on the page", series(), ["1", "2", "3"])
        # Keep k=1 busy; 2 and 3 go idle. The store's clock moves once a sample (1 s), so a series goes between
        # the timeout minus one interval and the timeout plus two after its last update.
        lab.kamcmd("prom_rs.counter_inc", "idle", "1", "s:2")
        lab.kamcmd("prom_rs.counter_inc", "idle", "1", "s:3")
        t0 = time.time()
        gone = None
        while time.time() - t0 < 10:
            lab.kamcmd("prom_rs.counter_inc", "idle", "1", "s:1")
            if series() == ["1"]:
                gone = time.time() - t0
                break
            time.sleep(0.2)
        check_true(f"idle series removed after 1-4 s, the busy one kept ({gone and f'{gone:.1f} s'})",
                   gone is not None and 1.0 <= gone <= 4.5, str(series()))
        listing = lab.kamcmd("prom_rs.metric_list")[1]
        check_true("metric_list no longer lists them", 'k="2"' not in listing and 'k="1"' in listing, listing)
        lab.kamcmd("prom_rs.counter_inc", "idle", "5", "s:2")
        check("a removed label set starts again from 0", sampled(lab, "kamailio_idle_total", 5.0, k="2"), 5.0)
        notes.append(f"script_timeout 2s: idle series gone after {gone or 0:.1f} s; cap 3: 4th dropped and counted")
    finally:
        lab.close()


# ---- refused declarations -----------------------------------------------------------------------------------------

def bad_declarations(module, keep):
    print("script metrics: bad declarations stop Kamailio at startup, naming the modparam and what is wrong")
    cases = [
        ("a name that is not a metric name", [("counter", "name=9lives")], [],
         r'modparam "counter": counter name "9lives" is not a metric name'),
        ("an unknown attribute", [("gauge", "name=g; lable=a")], [],
         r'modparam "gauge": unknown attribute "lable" \(a gauge takes name, label, help, sep\)'),
        ("nine labels", [("counter", "name=c; label=a:b:c:d:e:f:g:h:i")], [],
         r'modparam "counter": label=: more than 8 label names'),
        ("buckets not increasing", [("histogram", "name=h; buckets=1:0.5")], [],
         r'modparam "histogram": histogram h: buckets: bucket bounds must be strictly increasing'),
        ("a name declared twice", [("counter", "name=x"), ("gauge", "name=x")], [],
         r'modparam "gauge": a counter named x is already declared'),
        ("a repeated label", [("counter", "name=c; label=a:a")], [], r'counter c: label "a" is repeated'),
        ("a bad script_timeout", [], [("script_timeout", "soon")],
         r'modparam "script_timeout": "soon" is not a duration'),
    ]
    for what, ours, prom, want in cases:
        lab = s.ScriptLab(module, prom=prom, ours=ours, keep=keep, name="baddecl")
        try:
            rc, log = lab.run_to_exit()
            check_true(f"{what}: Kamailio refused to start", rc not in (None, 0), f"rc {rc}")
            m = re.search(want, log)
            check_true(f"{what}: the message says so", m, m.group(0) if m else log[-600:])
            if ours or prom:
                last = s.decl_lines("prom_rs", ours[-1:]) if ours else h.modparam_lines(prom[-1:])
                line = lab.cfg_line_of(last)
                check_true(f"{what}: Kamailio's error gives the line ({line})",
                           re.search(r"line %d, column" % line, log), log[-300:])
        finally:
            lab.close()
    # A script function naming a metric nobody declared: refused when Kamailio fixes up the script.
    lab = s.ScriptLab(module, keep=keep, name="baddecl",
                      extra_route='\nroute[TYPO] {\n    prom_rs_counter_inc("sip_reqests", "1", "a", "b");\n}\n')
    try:
        rc, log = lab.run_to_exit()
        check_true("an undeclared name in the script: Kamailio refused to start", rc not in (None, 0), f"rc {rc}")
        m = re.search(r'prom_rs_counter_inc: no metric named "sip_reqests" is declared', log)
        check_true("an undeclared name in the script: named", m, log[-600:])
    finally:
        lab.close()


def run(module, keep, notes=None):
    notes = [] if notes is None else notes
    for part in (lambda: main_lab(module, keep, notes), lambda: idle_and_cap(module, keep, notes),
                 lambda: bad_declarations(module, keep)):
        try:
            part()
        except Exception as e:  # noqa: BLE001 - report and count; the summary line must come
            check_true(f"no error in the script-metric checks ({type(e).__name__})", False, str(e)[:1500])


if __name__ == "__main__":
    # Alone: KAMAILIO_MODULE=build/kamailio/prom_rs.so python3 tests/kamailio/script_checks.py
    notes = []
    run(os.environ["KAMAILIO_MODULE"], bool(os.environ.get("PROM_RS_KEEP")), notes)
    for n in notes:
        print(f"  {n}")
    print(f"script checks: {sum(RESULTS)} passed, {len(RESULTS) - sum(RESULTS)} failed")
    sys.exit(0 if RESULTS and all(RESULTS) else 1)
