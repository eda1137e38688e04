#!/usr/bin/env python3
"""Live test of prom_rs.so inside the installed Kamailio (`make test-kamailio`).

Starts Kamailio in the foreground on loopback (4 SIP workers, ctl for kamcmd, our module) in a private run
directory, drives SIP traffic with sipp (OPTIONS, REGISTER into usrloc, INVITEs the script refuses with 404 and
486), and checks: every Kamailio statistic equals `kamcmd stats.fetch all`, with the right type; promtool accepts
the page; kamcmd prom_rs.status; a killed core process is restarted while SIP goes on; SIGTERM to our process exits
0 and frees the port. Then: bad modparams stop Kamailio at startup naming the key; a taken port is logged and
retried while SIP service continues, and served once free; Kamailio's own shutdown stops us and frees the port.

Environment: KAMAILIO_MODULE (required, the built prom_rs.so); PROM_RS_KEEP=1 keeps the run directories.
Ends with one line `kamailio live test: N passed, M failed`; exit status 0 when every check passed.
"""

import os
import re
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kamharness as h  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from livecheck import RESULTS, check, check_true, wait_for  # noqa: E402
import script_checks  # noqa: E402

NOTES = []

# What the module types as gauges (c_shim/kamailio/prom_rs_stats.c); everything else is a counter.
GAUGES = [("shmem", "*"), ("tmx", "inuse_transactions"), ("tmx", "active_transactions"),
          ("dialog", "active_dialogs"), ("dialog", "early_dialogs"), ("usrloc", "registered_users"),
          ("usrloc", "*_users"), ("usrloc", "*_contacts"), ("registrar", "max_expires"),
          ("registrar", "max_contacts"), ("registrar", "default_expire"), ("registrar", "default_expires_range"),
          ("registrar", "expires_range"), ("tcp", "current_opened_connections"),
          ("tcp", "current_write_queue_size"), ("sctp", "current_opened_connections"),
          ("sctp", "current_tracked_connections")]

N_OPTIONS, N_REGISTER, N_NOT_FOUND, N_BUSY = 40, 25, 15, 10


def fnmatch(pattern, s):
    import fnmatch as f
    return f.fnmatchcase(s, pattern)


def is_gauge(group, name):
    return any(fnmatch(g, group) and fnmatch(n, name) for g, n in GAUGES)


def family(group, name, prefix="kamailio"):
    """The family a statistic is exported as with group_mode 1 (the default)."""
    clean = lambda s: re.sub(r"[^A-Za-z0-9_]", "_", s)  # noqa: E731
    fam = f"{prefix}_{clean(group)}_{clean(name)}"
    if not is_gauge(group, name) and not fam.endswith("_total"):
        fam += "_total"
    return fam


def parse_page(text):
    """{series: value} and {family: type} of a text-format page."""
    values, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(None, 3)
            types[fam] = typ
        elif line and not line.startswith("#"):
            series, _, val = line.rpartition(" ")
            values[series] = float(val)
    return values, types


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def sipp_ok(lab, name, scenario, calls, service=None):
    rc, out = lab.sipp(scenario, calls, service=service)
    check_true(f"sipp {name}: {calls} calls, all successful", rc == 0, out[-600:] if rc else "")


# ---- scenario 1: traffic, statistics, page ---------------------------------------------------------------------

def compare_stats(lab):
    """Every Kamailio statistic against the page. Kamailio's values are read before and after the scrape; a
    statistic that moved in between is compared with both."""
    for attempt in range(8):
        before = lab.stats()
        time.sleep(2.2)  # at least two samples of the exporter (1 s interval)
        page = lab.scrape()
        after = lab.stats()
        values, types = parse_page(page)
        missing, wrong, moving = [], [], []
        for (g, n), v in sorted(before.items()):
            fam = family(g, n)
            got = values.get(fam)
            if got is None:
                missing.append(f"{g}:{n} ({fam})")
            elif after.get((g, n)) != v:
                lo, hi = sorted((v, after.get((g, n), v)))
                (moving if lo <= got <= hi else wrong).append(f"{g}:{n}={got:g} kamcmd {v}..{after.get((g, n))}")
            elif got != v:
                wrong.append(f"{g}:{n}={got:g} kamcmd {v}")
        if not missing and not wrong and not moving:
            break
    return before, values, types, page, missing, wrong, moving


def scenario_traffic(lab):
    print("scenario: SIP traffic, then every statistic against kamcmd stats.fetch all")
    page = wait_for("the page", lambda: lab.try_scrape(), timeout=20)
    check_true("page served on the configured port", page is not None and "kamailio_core_rcv_requests" in page)
    base = lab.stats()
    sipp_ok(lab, "OPTIONS", "options.xml", N_OPTIONS)
    sipp_ok(lab, "REGISTER (distinct users)", "register.xml", N_REGISTER)
    sipp_ok(lab, "INVITE answered 404", "invite_refused.xml", N_NOT_FOUND, service="nobody")
    sipp_ok(lab, "INVITE answered 486", "invite_refused.xml", N_BUSY, service="busy")
    # Let tm's wait timer free the transactions, so the statistics stop moving.
    wait_for("no transactions in use", lambda: lab.stats().get(("tmx", "inuse_transactions")) == 0, timeout=20)
    stats, values, types, page, missing, wrong, moving = compare_stats(lab)
    check("statistics read from kamcmd", len(stats) > 100, True)
    check("statistics missing from the page", missing, [])
    check("statistics whose value differs from kamcmd", wrong, [])
    if moving:
        print(f"  note: {len(moving)} statistics moved during the comparison and matched one of their values: "
              f"{', '.join(moving[:5])}")
    groups = sorted({g for g, _ in stats})
    NOTES.append(f"{len(stats)} statistics in {len(groups)} groups ({' '.join(groups)}) equal to kamcmd stats.fetch")
    print(f"  groups: {' '.join(groups)}")
    for want in ("core", "shmem", "sl", "tmx", "tcp", "dns", "usrloc", "registrar", "dialog", "script"):
        check_true(f"group {want} exported", want in groups)
    # The type of every family: gauges from the table, counters (with _total) for the rest.
    bad_types = [f"{family(g, n)}={types.get(family(g, n))}" for g, n in stats
                 if types.get(family(g, n)) != ("gauge" if is_gauge(g, n) else "counter")]
    check("families with the wrong TYPE", bad_types, [])
    host_families = {f for f in types if f.startswith("kamailio_") and not f.startswith(RPC_FAMILY_PREFIXES)}
    check("page families not from a Kamailio statistic", sorted(host_families - {family(g, n) for g, n in stats}),
          [])
    # The traffic itself, as Kamailio counted it and as the page shows it.
    delta = lambda g, n: stats.get((g, n), 0) - base.get((g, n), 0)  # noqa: E731
    check("core:rcv_requests_options moved by the OPTIONS sent", delta("core", "rcv_requests_options"), N_OPTIONS)
    check("kamailio_core_rcv_requests_options_total", values.get("kamailio_core_rcv_requests_options_total"),
          float(stats[("core", "rcv_requests_options")]))
    check("kamailio_usrloc_registered_users (gauge)", values.get("kamailio_usrloc_registered_users"),
          float(N_REGISTER))
    check("kamailio_usrloc_location_contacts (gauge)", values.get("kamailio_usrloc_location_contacts"),
          float(N_REGISTER))
    check("kamailio_registrar_accepted_regs_total", values.get("kamailio_registrar_accepted_regs_total"),
          float(N_REGISTER))
    check("kamailio_script_refused_invites_total", values.get("kamailio_script_refused_invites_total"),
          float(N_NOT_FOUND + N_BUSY))
    check("kamailio_core_rcv_requests_invite_total moved", delta("core", "rcv_requests_invite"), N_NOT_FOUND + N_BUSY)
    check("kamailio_tmx_4xx_transactions_total", values.get("kamailio_tmx_4xx_transactions_total"),
          float(N_NOT_FOUND + N_BUSY))
    check("kamailio_dialog_failed_dialogs_total", values.get("kamailio_dialog_failed_dialogs_total"),
          float(N_NOT_FOUND + N_BUSY))
    # tm's wait timer frees a transaction seconds after its final reply, and Kamailio's own count can move back up
    # while it does: wait until Kamailio and the page both say 0.
    def no_transactions():
        on_page = parse_page(lab.scrape())[0].get("kamailio_tmx_inuse_transactions")
        return lab.stats().get(("tmx", "inuse_transactions")) == 0 and on_page == 0.0
    check_true("kamailio_tmx_inuse_transactions (gauge) back to 0 after traffic, as in kamcmd",
               wait_for("no transactions in use, in kamcmd and on the page", no_transactions, timeout=30))
    check_true("kamailio_shmem_used_size is a gauge above 0",
               types.get("kamailio_shmem_used_size") == "gauge" and values.get("kamailio_shmem_used_size", 0) > 0)
    rc, out = promtool(page)
    check_true("promtool check metrics accepts the page", rc == 0, out[:500])
    om = lab.scrape(headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    check_true("OpenMetrics page ends with # EOF", om.rstrip().endswith("# EOF"))
    NOTES.append(f"page: {len(values)} series, {len(page)} bytes; promtool ok={rc == 0}")


def scenario_status(lab):
    print("scenario: kamcmd prom_rs.status")
    status = wait_for("a status with host statistics",
                      lambda: (lambda o: o if "Host statistics" in o else None)(
                          lab.kamcmd("prom_rs.status", check=False)[1]), timeout=10) or ""
    check_true("status names the listen address", f"http://{h.IP}:{lab.scrape_port}/metrics" in status,
               status[:300])
    m = re.search(r"Host statistics:\s+(\d+) Kamailio counters", status)
    check_true("status counts the sampled statistics", m and int(m.group(1)) > 100, status[-300:])
    check_true("status shows the series count", re.search(r"Series:\s+\d+", status) is not None)


def scenario_core_crash(lab):
    print("scenario: the core process is killed (SIGKILL): Kamailio keeps serving SIP, the core comes back")
    status = lab.kamcmd("prom_rs.status", check=False)[1]
    m = re.search(r"by pid (\d+) \(core process\)", status)
    if not check_true("status names the core process", m, status[-200:]):
        return
    core_pid = int(m.group(1))
    mark = len(lab.log())
    os.kill(core_pid, 9)
    logged = lab.wait_log(r"the core process \(pid %d\) was killed by signal 9" % core_pid, since=mark)
    check_true("the supervisor logged the death and the restart", logged, logged.group(0) if logged else "")
    sipp_ok(lab, "OPTIONS while the core restarts", "options.xml", 10)
    check_true("Kamailio still running", lab.proc.poll() is None)
    # The new core serves before its first sample lands: wait for the statistics, not just a page.
    page = wait_for("the page again", lambda: (lambda p: p if p and "kamailio_core_rcv_requests" in p else None)(
        lab.try_scrape()), timeout=15)
    check_true("page served again by a new core process", page is not None and "kamailio_core_rcv_requests" in page)
    new = re.search(r"by pid (\d+) \(core process\)", wait_for(
        "a new core pid", lambda: (lambda o: o if re.search(r"by pid (?!%d\b)\d+ \(core" % core_pid, o) else None)(
            lab.kamcmd("prom_rs.status", check=False)[1]), timeout=10) or "")
    check_true("a new core process pid", new and int(new.group(1)) != core_pid)


def scenario_sigterm_ours(lab):
    print("scenario: SIGTERM to our process (what Kamailio sends at shutdown)")
    pids = lab.pids("prom_rs exporter")
    if not check("one 'prom_rs exporter' process in core.psx", len(pids), 1):
        return
    mark = len(lab.log())
    os.kill(pids[0], 15)
    # Kamailio reaps its child and logs the status (then, as for any child that exits, shuts down).
    exited = lab.wait_log(r"child process %d exited normally, status=(\d+)" % pids[0], since=mark, timeout=20)
    check_true("our process exited", exited, exited.group(0) if exited else lab.log()[mark:][-800:])
    if exited:
        check("its exit status", int(exited.group(1)), 0)
    check_true("the core logged its stop", "exporter stopped, port released" in lab.log()[mark:])
    check_true("scrape port free", wait_for("port free", lambda: h.port_free(lab.scrape_port, reuse=True), timeout=10))
    rc, took = lab.stop()
    NOTES.append(f"SIGTERM to our process: exit status {exited.group(1) if exited else '?'}")


# ---- RPC-only data (tm.stats, pkg.stats, core.uptime/info, dispatcher.list), load, both formats ---------------

# tm.stats key -> our series (c_shim/kamailio/prom_rs_rpcdata.c).
TM_SERIES = {"current": "kamailio_tm_current_transactions", "waiting": "kamailio_tm_waiting_transactions",
             "total": "kamailio_tm_transactions_total", "total_local": "kamailio_tm_local_transactions_total",
             "rpl_received": "kamailio_tm_replies_received_total",
             "rpl_generated": "kamailio_tm_replies_generated_total", "rpl_sent": "kamailio_tm_replies_sent_total",
             "created": "kamailio_tm_created_transactions_total", "freed": "kamailio_tm_freed_transactions_total",
             "delayed_free": "kamailio_tm_delayed_free_transactions_total"}
PKG_SERIES = {"used": "kamailio_pkg_used_bytes", "free": "kamailio_pkg_free_bytes",
              "real_used": "kamailio_pkg_real_used_bytes", "total_size": "kamailio_pkg_total_bytes",
              "total_frags": "kamailio_pkg_total_frags"}
RPC_FAMILY_PREFIXES = ("kamailio_tm_", "kamailio_pkg_", "kamailio_dispatcher_", "kamailio_core_uptime_seconds",
                       "kamailio_core_build_info")
PAGES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build",
                         "kamailio", "pages")


def kv_lines(text):
    """`key: value` lines of kamcmd's output, in order (nesting flattened)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\s*([A-Za-z0-9_]+):\s*(.*?)\s*$", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def kamcmd_tm(lab):
    return {k: int(v) for k, v in kv_lines(lab.kamcmd("tm.stats")[1]) if re.fullmatch(r"-?\d+", v)}


def tm_series(key):
    return f'kamailio_tm_completed_transactions_total{{code="{key}"}}' if re.fullmatch(r"[1-6]xx", key) \
        else TM_SERIES.get(key, f"kamailio_tm_{key}_total")


def kamcmd_pkg(lab):
    """pkg.stats rows: {(pid, rank, desc): {field: value}}."""
    rows, cur = {}, {}
    for k, v in kv_lines(lab.kamcmd("pkg.stats")[1]):
        if k == "entry" and cur:
            rows[(cur["pid"], cur["rank"], cur.get("desc", ""))] = cur
            cur = {}
        cur[k] = v
    if cur:
        rows[(cur["pid"], cur["rank"], cur.get("desc", ""))] = cur
    return rows


def pkg_series(field, key):
    pid, rank, desc = key
    esc = desc.replace("\\", "\\\\").replace('"', '\\"')
    return f'{PKG_SERIES[field]}{{pid="{pid}",rank="{rank}",desc="{esc}"}}'


def scenario_rpc_data(lab):
    print("scenario: RPC-only data (tm.stats, pkg.stats, core.uptime, core.info) against kamcmd, no dispatcher")
    # tm.stats after the traffic: wait until no transaction is left, then kamcmd before and after one page.
    wait_for("tm.stats current 0", lambda: kamcmd_tm(lab).get("current") == 0, timeout=30)
    for _ in range(5):
        before = kamcmd_tm(lab)
        time.sleep(2.2)
        values = parse_page(lab.scrape())[0]
        after = kamcmd_tm(lab)
        wrong = [f"{k}: page {values.get(tm_series(k))} kamcmd {v}" for k, v in before.items()
                 if after.get(k) == v and values.get(tm_series(k)) != float(v)]
        if not wrong and before == after:
            break
    check("tm.stats keys read from kamcmd", len(before) >= 12, True)
    check("tm.stats values that differ from kamcmd (read after traffic)", wrong, [])
    check("kamailio_tm_completed_transactions_total{code=\"4xx\"} counts the refused INVITEs",
          values.get('kamailio_tm_completed_transactions_total{code="4xx"}'), float(before.get("4xx", -1)))
    check_true("tm families typed (current gauge, total counter)",
               parse_page(lab.scrape())[1].get("kamailio_tm_current_transactions") == "gauge" and
               parse_page(lab.scrape())[1].get("kamailio_tm_transactions_total") == "counter")
    # pkg.stats: the same processes (pid, rank, desc); sizes equal. `used`, `free`, `real_used` and the fragment
    # count move whenever a process allocates: the ctl handler allocates to answer kamcmd itself (and is the one
    # process whose numbers differ between its own answer and our read a moment later), the others may be woken
    # by timers. A value equal in kamcmd before and after our page must be equal on the page; one that moved must
    # lie between (the ctl handler within 64 KiB of kamcmd's view, since kamcmd's own call is what moves it).
    for _ in range(5):
        before = kamcmd_pkg(lab)
        time.sleep(2.2)
        values = parse_page(lab.scrape())[0]
        after = kamcmd_pkg(lab)
        page_keys = set()
        for series in values:
            m = re.match(r'kamailio_pkg_total_bytes\{pid="(\d+)",rank="(-?\d+)",desc="(.*)"\}$', series)
            if m:
                page_keys.add((m.group(1), m.group(2), m.group(3)))
        wrong = []
        for key, row in before.items():
            for field in PKG_SERIES:
                got, v, w = values.get(pkg_series(field, key)), int(row[field]), int(after.get(key, row)[field])
                if key[2] == "ctl handler":
                    if got is None or abs(got - v) > 65536:
                        wrong.append(f"{key[2]} {field}: page {got} kamcmd {v}")
                elif got is None or not (min(v, w) <= got <= max(v, w)):
                    wrong.append(f"{key[2]} ({key[0]}) {field}: page {got} kamcmd {v}..{w}")
        if not wrong:
            break
    check("pkg.stats processes (pid, rank, desc) on the page", sorted(page_keys), sorted(before))
    check("pkg.stats values that differ from kamcmd", wrong, [])
    NOTES.append(f"pkg.stats: {len(before)} processes equal to kamcmd (ctl handler within 64 KiB)")
    # Uptime and build info.
    up = int(dict(kv_lines(lab.kamcmd("core.uptime")[1]))["uptime"])
    page = lab.scrape()
    values, types = parse_page(page)
    got = values.get("kamailio_core_uptime_seconds")
    check_true("kamailio_core_uptime_seconds equals core.uptime (within the sample interval)",
               got is not None and up - 2 <= got <= up + 2, f"page {got} kamcmd {up}")
    version = lab.kamcmd("core.version")[1].strip()
    flags = lab.kamcmd("core.flags")[1].strip()
    info = [k for k in values if k.startswith("kamailio_core_build_info{")]
    check("one kamailio_core_build_info series", len(info), 1)
    if info:
        check_true("build_info version is core.version's", f'version="{version.split()[-1].split("-")[0]}"'
                   in info[0] or f'version="{version.split()[1]}"' in info[0], f"{info[0][:120]} / {version}")
        check_true("build_info flags are core.flags'", f'flags="{flags}"' in info[0], flags[:80])
    # Our collector's health, and no dispatcher families without the dispatcher module (one log line).
    check("prom_rs_collector_up{collector=\"kamailio\"}", values.get('prom_rs_collector_up{collector="kamailio"}'),
          1.0)
    check_true("prom_rs_collector_duration_seconds{collector=\"kamailio\"} measured",
               (values.get('prom_rs_collector_duration_seconds{collector="kamailio"}') or -1) >= 0)
    check("dispatcher families without the dispatcher module",
          [k for k in values if k.startswith("kamailio_dispatcher_")], [])
    check("log lines about the missing dispatcher module",
          len(re.findall(r"RPC dispatcher\.list is not available", lab.log())), 1)


def scenario_load(lab):
    """50 scrapes while sipp sends 300 OPTIONS/s; then both formats through promtool; pages kept for the Rust
    tests (independent parser, monitoring end to end)."""
    import threading
    print("scenario: 50+ scrapes while sipp sends 300 requests/s")
    calls = 1500
    base = lab.stats().get(("core", "rcv_requests_options"), 0)
    result = {}
    t = threading.Thread(target=lambda: result.update(zip(("rc", "out"), lab.sipp("options.xml", calls, rate=300))))
    t.start()
    times = []
    while t.is_alive() or len(times) < 50:
        t0 = time.perf_counter()
        page = lab.scrape()
        times.append(time.perf_counter() - t0)
        time.sleep(0.05)
    t.join()
    check_true(f"sipp: {calls} OPTIONS at 300/s, all answered", result.get("rc") == 0, result.get("out", "")[-600:])
    m = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", result.get("out", ""))
    if m:
        check("sipp's count of successful calls", int(m.group(1)), calls)
    got = lab.stats().get(("core", "rcv_requests_options"), 0) - base
    check("requests Kamailio received (core:rcv_requests_options)", got, calls)
    check_true("50 or more scrapes during the load", len(times) >= 50, str(len(times)))
    times.sort()
    p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
    NOTES.append(f"{len(times)} scrapes during 300 OPTIONS/s: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
                 f"{calls}/{calls} requests answered")
    print(f"  scrape latency under load: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms ({len(times)} scrapes)")
    text = lab.scrape()
    om = lab.scrape(headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    # promtool reads the text format only (an OpenMetrics page names counter families without `_total`, which
    # it takes for missing HELP); both pages go to the independent parser in tests/kamailio_page.rs.
    rc, out = promtool(text)
    check_true("promtool check metrics accepts the page under load (RPC families included)", rc == 0, out[:400])
    check_true("OpenMetrics page under load ends with # EOF", om.rstrip().endswith("# EOF"))
    check_true("RPC families on the page", all(any(k.startswith(p) for k in parse_page(text)[0])
                                               for p in RPC_FAMILY_PREFIXES if "dispatcher" not in p))
    os.makedirs(PAGES_DIR, exist_ok=True)
    for name, body in (("metrics.txt", text), ("metrics.om.txt", om)):
        with open(os.path.join(PAGES_DIR, name), "w") as f:
            f.write(body)


DISPATCHER_CFG = """loadmodule "dispatcher.so"
modparam("dispatcher", "list_file", "{dir}/dispatcher.list")
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("tm", "fr_timer", 1000)
"""


def kamcmd_dispatcher(lab):
    """dispatcher.list as {(set, uri): flags}."""
    out, cur_set, uri = {}, None, None
    for k, v in kv_lines(lab.kamcmd("dispatcher.list")[1]):
        if k == "ID":
            cur_set = v
        elif k == "URI":
            uri = v
        elif k == "FLAGS" and uri:
            out[(cur_set, uri)] = v
            uri = None
    return out


def page_dispatcher(lab):
    values = parse_page(lab.scrape())[0]
    states, counts = {}, {}
    for series, v in values.items():
        m = re.match(r'kamailio_dispatcher_destination_state\{set="(\d+)",uri="([^"]*)",state="(\w+)"\}$', series)
        if m and v == 1:
            states[(m.group(1), m.group(2))] = m.group(3)
        m = re.match(r'kamailio_dispatcher_destinations\{set="(\d+)",state="(\w+)"\}$', series)
        if m:
            counts[(m.group(1), m.group(2))] = v
    return states, counts, values


def scenario_dispatcher(module, keep):
    print("scenario: a dispatcher set with one live destination (sipp answering OPTIONS) and one dead")
    lab = h.Lab(module, keep=keep, name="dispatcher", extra=DISPATCHER_CFG)
    live, dead = lab.free_ports
    with open(os.path.join(lab.dir, "dispatcher.list"), "w") as f:
        f.write(f"1 sip:{h.IP}:{live}\n1 sip:{h.IP}:{dead}\n")
    uas = subprocess.Popen(["sipp", "-sf", os.path.join(h.SIPP_DIR, "uas_options.xml"), "-i", h.IP, "-p", str(live),
                            "-nostdin"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=lab.dir,
                           start_new_session=True)
    name = {"A": "active", "I": "inactive", "D": "disabled", "T": "trying"}
    try:
        lab.start()
        want_live, want_dead = ("1", f"sip:{h.IP}:{live}"), ("1", f"sip:{h.IP}:{dead}")

        def settled():
            d = kamcmd_dispatcher(lab)
            return d if d.get(want_live, "")[:1] == "A" and d.get(want_dead, "")[:1] == "I" else None
        kam = wait_for("the live destination active and the dead one inactive in kamcmd", settled, timeout=30) or {}
        time.sleep(2.2)
        states, counts, values = page_dispatcher(lab)
        check("destination states on the page equal kamcmd dispatcher.list",
              states, {k: name[v[0]] for k, v in kamcmd_dispatcher(lab).items()})
        check("live destination up", states.get(want_live), "active")
        check("dead destination down", states.get(want_dead), "inactive")
        check("destinations per state in set 1", {s: counts.get(("1", s)) for s in name.values()},
              {"active": 1.0, "inactive": 1.0, "disabled": 0.0, "trying": 0.0})
        check("probing flag of both destinations (ds_probing_mode 1)",
              [values.get(f'kamailio_dispatcher_destination_probing{{set="1",uri="{u}"}}') for _, u in
               (want_live, want_dead)], [1.0, 1.0])
        rc, out = promtool(lab.scrape())
        check_true("promtool accepts the page with dispatcher families", rc == 0, out[:300])
        # The live destination goes away: no active destination left (what the alert fires on).
        uas.terminate()
        uas.wait(10)
        gone = wait_for("no active destination on the page",
                        lambda: page_dispatcher(lab)[1].get(("1", "active")) == 0.0, timeout=30)
        check_true("kamailio_dispatcher_destinations{state=\"active\"} drops to 0 when the live one dies", gone)
        check("kamcmd agrees: no destination active",
              [f for f in kamcmd_dispatcher(lab).values() if f.startswith("A")], [])
        os.makedirs(PAGES_DIR, exist_ok=True)
        with open(os.path.join(PAGES_DIR, "dispatcher.txt"), "w") as f:
            f.write(lab.scrape())
        NOTES.append(f"dispatcher: {len(kam)} destinations, states equal to kamcmd dispatcher.list")
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()
        lab.close()


# ---- scenario 2: refused configurations --------------------------------------------------------------------------

def scenario_bad_modparams(module, keep):
    print("scenario: a bad modparam stops Kamailio at startup, naming the key")
    cases = [
        ("a port out of range", [("port", "99999")],
         r'key "port": invalid value "99999": expected a whole number from 1 to 65535'),
        ("a bad group_mode", [("group_mode", 5)], r'modparam "group_mode": key "stats.group_mode": invalid value "5"'),
        ("a key set twice", [("port", "9300"), ("port", "9301")], r'key "port": is set twice'),
        ("a user name with ':'", [("auth_username", "a:b")], r'key "auth_username": invalid value "a:b"'),
        ("a duration past the largest", [("sample_interval", "18446744073709551616s")],
         r'key "sample_interval": invalid value "18446744073709551616s": expected a duration'),
        ("a bad duration", [("sample_interval", "soon")], r'key "sample_interval"'),
        ("set with an unknown key", [("set", "prot=1")], r'unknown key \(did you mean "port"\?\); allowed keys are'),
        ("auth_username without auth_password", [("auth_username", "prom")],
         r'key "auth_username": is set but neither auth_password nor auth_password_hash is; set both or neither'),
        ("an unknown modparam", [("prot", 1)], r"parameter <prot> of type <2:int> not found in module <prom_rs>"),
    ]
    for what, params, want in cases:
        lab = h.Lab(module, prom=params, keep=keep, name="badcfg")
        try:
            rc, log = lab.run_to_exit()
            line = lab.cfg_line_of(h.modparam_lines(params[-1:]))
            check_true(f"{what}: Kamailio refused to start", rc not in (None, 0), f"rc {rc}")
            m = re.search(want, log)
            check_true(f"{what}: message names the key", m, m.group(0) if m else log[-600:])
            if params[-1][0] != "auth_username":
                check_true(f"{what}: Kamailio's error gives the line ({line})",
                           re.search(r"line %d, column" % line, log), log[-300:])
        finally:
            lab.close()


# ---- scenario 3: a taken port -------------------------------------------------------------------------------------

def scenario_taken_port(module, keep):
    print("scenario: the scrape port is taken at startup: logged, retried with backoff, SIP service goes on")
    lab = h.Lab(module, keep=keep, name="taken")
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((h.IP, lab.scrape_port))
    squatter.listen(1)
    try:
        lab.start()
        logged = lab.wait_log(r"cannot start the exporter: [^\n]*%d[^\n]*; SIP service is not affected, next attempt "
                              r"in \d+ s" % lab.scrape_port)
        check_true("the refusal is logged with the address", logged, logged.group(0)[:200] if logged else
                   lab.log()[-800:])
        sipp_ok(lab, "OPTIONS while the port is taken", "options.xml", 20)
        status = lab.kamcmd("prom_rs.status", check=False)[1]
        check_true("prom_rs.status says not serving and when it retries", "not serving" in status and
                   "Next attempt" in status, status[:300])
        squatter.close()
        t0 = time.time()
        page = wait_for("the page once the port is free", lambda: lab.try_scrape(), timeout=40)
        took = time.time() - t0
        check_true("served once the port is free", page is not None and "kamailio_core_rcv_requests" in page,
                   f"{took:.1f} s")
        check_true("the recovery is logged", lab.wait_log(r"serving now, after \d+ failed attempts?", timeout=5))
        NOTES.append(f"taken port: SIP answered meanwhile, served {took:.1f} s after the port was freed")
        print("scenario: Kamailio's own shutdown (SIGTERM to the main process)")
        rc, took = lab.stop()
        check("Kamailio's exit status", rc, 0)
        check_true("our process stopped cleanly", "exporter process stopped" in lab.log() and
                   "exporter stopped, port released" in lab.log())
        check_true("scrape port free after shutdown", h.port_free(lab.scrape_port, reuse=True))
        NOTES.append(f"Kamailio shutdown with our module: {took:.2f} s")
    finally:
        squatter.close()
        lab.close()


def main():
    module = os.environ.get("KAMAILIO_MODULE")
    if not module or not os.path.isfile(module):
        raise SystemExit("KAMAILIO_MODULE must name the built prom_rs.so (make kamailio)")
    keep = bool(os.environ.get("PROM_RS_KEEP"))
    t0 = time.time()
    version = subprocess.run([h.find_binary("kamailio"), "-v"], capture_output=True, text=True).stdout
    v = re.search(r"version: (kamailio [^\s]+)", version)
    print(f"kamailio live test: {v.group(1) if v else 'kamailio'}, sipp on {h.IP}, module {module}")
    lab = h.Lab(module, keep=keep)
    try:
        print(f"  run directory {lab.dir}, SIP {lab.sip_port}, scrape {lab.scrape_port}")
        lab.start()
        check_true("module loaded (exporter process started)", lab.wait_log(r"exporter process started"))
        scenario_traffic(lab)
        scenario_status(lab)
        scenario_rpc_data(lab)
        scenario_load(lab)
        scenario_core_crash(lab)
        scenario_sigterm_ours(lab)
    except Exception as e:  # noqa: BLE001 - report and count, the summary line must come
        check_true(f"no error in the live scenarios ({type(e).__name__})", False, str(e)[:1500])
    finally:
        lab.close()
    script_checks.run(module, keep, NOTES)  # metrics from the routing script (tests/kamailio/script_checks.py)
    for scenario in (scenario_dispatcher, scenario_bad_modparams, scenario_taken_port):
        try:
            scenario(module, keep)
        except Exception as e:  # noqa: BLE001
            check_true(f"no error in {scenario.__name__} ({type(e).__name__})", False, str(e)[:1500])
    for n in NOTES:
        print(f"  {n}")
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"kamailio live test: {passed} passed, {failed} failed ({time.time() - t0:.0f} s)")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
