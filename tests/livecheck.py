"""What the live tests against real hosts share (tests/asterisk/live_test.py, tests/kamailio/live_test.py): checks
that print one line each and are counted in RESULTS, and polling with a deadline."""

import time

# One entry per check, True when it passed; each test ends with a summary line made from it.
RESULTS = []


def check(name, got, want):
    """Passes when got == want; prints the value, and what was expected when it differs."""
    ok = got == want
    RESULTS.append(ok)
    print(f"  {'ok  ' if ok else 'FAIL'} {name}: {got!r}" + ("" if ok else f" (expected {want!r})"), flush=True)
    return ok


def check_true(name, cond, detail=""):
    """Passes when cond is true; prints detail when it failed or is short."""
    ok = bool(cond)
    RESULTS.append(ok)
    shown = detail if (detail and (not ok or len(detail) < 100)) else ""
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + shown if shown else ''}", flush=True)
    return ok


def wait_for(what, fn, timeout=30, step=0.25):
    """Calls fn until it returns something true or timeout seconds pass; returns its last value."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    print(f"  (timed out waiting for {what}; last value {last!r})")
    return last
