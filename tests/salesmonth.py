"""salesmonth: a pacerd that lived through two months of sales, for it_report and it_top.

pacer-gen writes October and November 2026 for a small company (2 regions x 2 teams x about 3
reps: 6 thousand events a month). The events are appended a local day at a time to a pacerd on
a manual alert clock, with a tick at 18:00 Asia/Shanghai after each day, so the alerts come at
the times they would have in production: reps and teams fall behind, some recover, anomaly
flags are raised on the injected frauds. Then a manager adjusts one target (with a reason) and
dismisses one anomaly flag. Built in about a second.
"""

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import pacertest as pt
from pacertest import expect_ok

SHANGHAI = timezone(timedelta(hours=8))
PACER_GEN = os.path.join(pt.BIN_DIR, "pacer-gen")


def local(y, mo, d, h=0, mi=0):
    return int(datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).timestamp() * 1000)


def local_day(ms):
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def generate(tmp, start="2026-10-01", months=2, seed=3):
    out = os.path.join(tmp, "history.jsonl")
    subprocess.run([PACER_GEN, "--seed", str(seed), "--start", start, "--months", str(months),
                    "--regions", "2", "--teams", "2", "--reps", "3", "--out", out], check=True,
                   preexec_fn=pt._die_with_parent)
    with open(out) as f:
        return [json.loads(line) for line in f]


def append_by_day(d, events, until=None):
    """Append the events a local day at a time, each day followed by a tick at 18:00 that day
    (events of a day are appended before its tick; the alert clock never goes back). Stops
    before the first event on or after `until` (ms); returns the events not appended."""
    by_day = {}
    order = []
    rest = []
    for e in events:
        if until is not None and e["occurred_at"] >= until:
            rest.append(e)
            continue
        day = local_day(e["occurred_at"])
        if day not in by_day:
            by_day[day] = []
            order.append(day)
        by_day[day].append(e)
    with d.client() as c:
        for day in order:
            batch = by_day[day]
            for i in range(0, len(batch), 2000):
                reply = expect_ok(c.append(batch[i:i + 2000]))
                refused = [r for r in reply["results"] if "error" in r]
                assert not refused, refused[:3]
            at = local(day.year, day.month, day.day, 18)
            expect_ok(c.call("tick", now=at))
    return rest


def adjust_and_review(d, scope="shanghai", author="li.wei"):
    """A target adjustment with its reason, and a dismissed anomaly flag (if one was raised)."""
    with d.client() as c:
        reply = expect_ok(c.append([{
            "type": "target_adjusted", "id": "adj:%s:2026-11" % scope,
            "occurred_at": local(2026, 11, 16, 9), "scope": scope, "metric": "revenue",
            "period": "2026-11", "floor": 2700000000, "target": 3000000000,
            "stretch": 3450000000, "author": author,
            "reason": "key account moved to next quarter"}]))
        assert reply["appended"] == 1, reply
    with d.client("query") as q:
        flags = expect_ok(q.call("alerts_active", prefix="alert/anomaly/"))["alerts"]
    flags = [f for f in flags if local(2026, 11, 1) <= f["since"] < local(2026, 12, 1)]
    if flags:
        with d.client() as c:
            reply = expect_ok(c.append([{
                "type": "anomaly_reviewed", "id": "review:1", "occurred_at": local(2026, 12, 1, 9),
                "alert": flags[0]["key"], "verdict": "dismissed", "author": author,
                "reason": "re-keyed by the CRM"}]))
            assert reply["appended"] == 1, reply
    return flags[0]["key"] if flags else None
