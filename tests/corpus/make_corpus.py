#!/usr/bin/python3
"""Writes the fuzzers' seed corpus and dictionary (tests/corpus/): run it again after a change to
docs/EVENTS.md or docs/PROTOCOL.md, and check in what it writes.

  fuzz_event/<type>.mp      one valid event of every type of EVENTS.md, optional fields included,
                            as msgpack; sequence.mp: all of them in an order whose references
                            resolve (fuzz_event folds an array into a fresh projection)
  fuzz_request/<op>.mp      one valid request body of every operation of PROTOCOL.md
  fuzz_json/<type>.jsonl    each event as the JSON line `pacer append` reads
  fuzz_alert/*.mp           an alert record as published, and `alerts`, `alerts_active`
                            replies (PROTOCOL.md, "Alerts")
  fuzz_record/*.rec         log records as stored (PROTOCOL.md, "The log"): version 1
                            [1, recorded_at, hash, event] and version 2 with the principal
  fixture.mp                the events the harnesses fold before the input (= sequence.mp)
  pacer.dict                libFuzzer dictionary: type, field, op, key and enum names, each as
                            a msgpack str and as a quoted JSON string

Everything is deterministic (fixed ids and times), so running it twice changes nothing. Files
named crash-*, leak-*, timeout-* or oom-* beside the seeds are inputs a fuzzer once failed on,
kept as regression tests: this script leaves them alone."""

import json
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))

T0 = 1790784000000  # 2026-10-01T00:00:00+08:00
DAY = 86400000


def ev(etype, eid, **fields):
    """An event: the envelope, then the fields in the order given (EVENTS.md's order)."""
    e = {"type": etype, "id": eid, "occurred_at": fields.pop("occurred_at", T0)}
    e.update(fields)
    return e


# One event of each type, in an order whose references resolve: companies before regions before
# reps, a target's scope before the target, an order before its refund.
EVENTS = [
    ev("node_defined", "org:acme", node="acme", kind="company", name="ACME", owner="ceo"),
    ev("node_defined", "org:east", source="hr-system", node="east", kind="region", name="East",
       parent="acme", owner="li.wei", effective_at=T0),
    ev("node_defined", "org:west", node="west", kind="region", name="West", parent="acme"),
    ev("node_defined", "org:t3", node="t3", kind="team", name="Team 3", parent="east"),
    ev("node_defined", "org:zhang", node="zhang", kind="rep", name="张三", parent="t3",
       owner="zhang"),
    ev("node_defined", "org:wang", node="wang", kind="rep", name="王五", parent="t3"),
    ev("node_moved", "org:wang:moved", node="wang", parent="west", effective_at=T0 + 20 * DAY,
       author="hr", reason="reorg"),
    ev("node_retired", "org:wang:retired", node="wang", effective_at=T0 + 60 * DAY,
       reason="left the company"),
    ev("kpi_defined", "kpi:csat", kpi="csat", aggregation="average",
       name="Customer satisfaction", unit="points"),
    ev("target_set", "tgt:east:q4", scope="east", metric="revenue", period="2026-Q4",
       product_line="cloud", target=100000000, floor=80000000, stretch=120000000,
       currency="CNY", author="ceo", reason="Q4 plan", allocation="alloc-1"),
    ev("target_set", "tgt:east:q4:all", scope="east", metric="revenue", period="2026-Q4",
       target=100000000, floor=80000000, stretch=120000000, currency="CNY", author="ceo"),
    ev("target_set", "tgt:zhang:deals", scope="zhang", metric="deals", period="2026-10",
       target=20, author="li.wei"),
    ev("target_set", "tgt:zhang:csat", scope="zhang", metric="kpi:csat", period="FY2026-Q4",
       target=4, author="li.wei"),
    ev("target_adjusted", "tgt:east:q4:adj", scope="east", metric="revenue", period="2026-Q4",
       product_line="cloud", floor=90000000, target=110000000, stretch=130000000,
       author="ceo", reason="bigger market"),
    ev("sale_closed", "crm:10023", occurred_at=T0 + 5 * DAY, order="10023", rep="zhang",
       amount=2500000, currency="CNY", customer="c-88", margin=-5000, product_line="cloud",
       quantity=3, due_at=T0 + 35 * DAY),
    ev("sale_closed", "crm:10024", occurred_at=T0 + 6 * DAY, order="10024", rep="wang",
       amount=900000, currency="CNY"),
    ev("sale_refunded", "crm:10023:r1", occurred_at=T0 + 9 * DAY, order="10023",
       amount=300000, currency="CNY", reason="partial return"),
    ev("sale_cancelled", "crm:10024:c", occurred_at=T0 + 10 * DAY, order="10024",
       reason="customer withdrew"),
    ev("payment_received", "erp:pay:1", occurred_at=T0 + 12 * DAY, amount=1000000,
       currency="CNY", order="10023", customer="c-88", rep="zhang"),
    ev("activity_logged", "crm:act:1", occurred_at=T0 + 2 * DAY, rep="zhang", activity="quote",
       customer="c-88", order="10023"),
    ev("customer_created", "crm:cust:88", occurred_at=T0 + DAY, customer="c-88", rep="zhang",
       name="Big Customer Ltd"),
    ev("kpi_recorded", "kpi:csat:1", occurred_at=T0 + 3 * DAY, kpi="csat", scope="zhang",
       value=4.25, product_line="cloud"),
    ev("calendar_day_set", "cal:2026-10-01", date="2026-10-01", day_type="holiday",
       name="National Day"),
    ev("calendar_day_set", "cal:2026-10-11", date="2026-10-11", day_type="workday",
       name="Make-up day"),
    ev("alert_silenced", "ops:silence:1", occurred_at=T0 + 7 * DAY,
       alert="alert/behind/acme/east/", author="ops", reason="known, being handled",
       until=T0 + 14 * DAY),
    ev("alert_unsilenced", "ops:unsilence:1", occurred_at=T0 + 8 * DAY,
       alert="alert/behind/acme/east/", author="ops", reason="handled"),
    ev("alert_rule_set", "ops:rule:1", rule="behind", param="threshold", value=0.75,
       metric="revenue", kind="rep", author="ops", reason="reps run behind at first"),
    ev("anomaly_reviewed", "ops:review:1", occurred_at=T0 + 11 * DAY,
       alert="anomaly/duplicate_order/10023", verdict="dismissed", author="li.wei",
       reason="two real orders"),
]

NOW = T0 + 15 * DAY


def req(op, **fields):
    r = {"v": 1, "op": op, "corr": 7}
    r.update(fields)
    return r


REQUESTS = {
    "append": req("append", events=[EVENTS[0], EVENTS[14], EVENTS[21]], atomic=True),
    "status": req("status"),
    "events": req("events", **{"from": 1, "limit": 100, "raw": True}),
    "progress": req("progress", scope="acme/east", period="2026-Q4", metric="revenue",
                    each_product_line=True, now=NOW, curve="working", limit=100),
    "leaderboard": req("leaderboard", level="rep", period="2026-10", metric="deals",
                       scope="east", now=NOW, curve="linear", limit=10),
    "target_history": req("target_history", scope="east", metric="revenue", period="2026-Q4",
                          product_line="cloud"),
    "undefined_nodes": req("undefined_nodes", limit=10),
    "allocate": req("allocate", id="alloc-east-q4", occurred_at=T0, scope="east",
                    metric="revenue", period="2026-Q4", method="weights",
                    weights={"t3": 3}, author="ceo", reason="split by territory",
                    preview=True),
    "allocate_history": req("allocate", id="alloc-east-q4-h", occurred_at=T0, scope="east",
                            metric="revenue", period="2026-Q4", method="history",
                            history_periods=2, author="ceo"),
    "rebuild": req("rebuild"),
    "tick": req("tick", now=NOW),
    "alerts": req("alerts", **{"from": 1, "to": 100, "prefix": ["alert/behind/"], "limit": 10}),
    "alerts_active": req("alerts_active", prefix="alert/", severity="warning", limit=10,
                         now=NOW),
    "silences": req("silences", now=NOW),
}


def alert(aseq, rule, path, state="firing", severity="critical", **extra):
    """An alert record as PROTOCOL.md, "Alert records", lists its keys."""
    scope = path.rsplit("/", 1)[-1]
    r = {"aseq": aseq, "key": "%s/%s/revenue/2026-Q4" % (rule, scope),
         "topic": "alert/%s/%s/" % (rule, path), "rule": rule, "state": state,
         "severity": severity, "at": NOW + aseq * 60000, "since": NOW, "scope": scope,
         "path": path, "metric": "revenue", "period": "2026-Q4", "product_line": None,
         "owner": "li.wei", "notify": ["li.wei", "ceo"],
         "summary": "%s revenue 2026-Q4: 41%% of target with 63%% of working days gone "
                    "(pace 0.65, %s)" % (path, rule),
         "values": {"actual": 4100000, "target": 10000000, "currency": "CNY",
                    "pace_ratio": 0.65, "threshold": 0.8},
         "evidence": [{"seq": 15, "id": "crm:10023"}], "log_seq": 28}
    r.update(extra)
    return r


ALERTS = [alert(1, "behind", "acme/east"),
          alert(2, "at_risk", "acme/east/t3/zhang", severity="warning"),
          alert(3, "behind", "acme/east", state="resolved")]
ACTIVE = [dict(alert(1, "behind", "acme/east"), silenced=True,
               silenced_by="alert/behind/acme/east/", silenced_until=NOW + DAY),
          dict(alert(2, "at_risk", "acme/east/t3/zhang", severity="warning"), silenced=False)]

# fuzz_alert: an alert record (frame 1 of a publication), and alerts / alerts_active replies
ALERT_INPUTS = {
    "record": ALERTS[0],
    "record_silenced": ACTIVE[0],
    "page_alerts": {"v": 1, "corr": 7, "ok": True, "alerts": ALERTS, "next": 4, "last_aseq": 3},
    "page_active": {"v": 1, "corr": 7, "ok": True, "alerts": ACTIVE, "total": 2,
                    "last_aseq": 3},
}

# Names the dictionary holds, besides every event type and field name.
WORDS = sorted(set(
    [e["type"] for e in EVENTS] + [k for e in EVENTS for k in e]
    + [k for r in REQUESTS.values() for k in r] + [r["op"] for r in REQUESTS.values()]
    + [k for r in ACTIVE for k in r] + [k for r in ALERT_INPUTS.values() for k in r]
    + ["firing", "repeat", "resolved", "seq", "results", "dup", "error", "message"]
    + ["company", "region", "team", "rep", "visit", "call", "quote", "demo", "sum", "count",
       "average", "holiday", "workday", "confirmed", "dismissed", "equal", "weights", "history",
       "linear", "working", "profile", "info", "warning", "critical", "revenue", "margin",
       "deals", "new_customers", "activities", "activities.visit", "collections", "kpi:",
       "at_risk", "behind", "momentum", "forecast_floor", "achieved", "stretch_achieved", "lag",
       "anomaly/", "enabled", "min_elapsed", "repeat_hours", "factor", "window_days",
       "as_of", "as_of_seq", "preview", "CNY", "USD", "EUR", "2026", "2026-Q4", "2026-11",
       "2026-W53", "2026-11-22", "FY2026", "FY2026-Q1", "FY2026-M01", "2026-02-29"]))


def record(event, recorded_at, principal=None):
    """A log record's bytes as daemon/store_log.c writes them (fixed-width header; hash not checked
    by the decoder, so a fixed one)."""
    head = b"\x95\x02" if principal else b"\x94\x01"
    head += b"\xcf" + struct.pack(">Q", recorded_at) + b"\xc4\x20" + bytes(range(32))
    if principal:
        p = principal.encode()
        head += b"\xd9" + bytes([len(p)]) + p
    return head + pack(event)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def msgpack_str(s):
    return pack(s)


def dict_escape(b):
    return "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02x" % c for c in b)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    types = {}  # the event of each type with the most fields
    for e in EVENTS:
        if len(e) > len(types.get(e["type"], {})):
            types[e["type"]] = e
    for t, e in types.items():
        write(os.path.join(HERE, "fuzz_event", t + ".mp"), pack(e))
        write(os.path.join(HERE, "fuzz_json", t + ".jsonl"),
              (json.dumps(e, ensure_ascii=False) + "\n").encode())
    write(os.path.join(HERE, "fuzz_event", "sequence.mp"), pack(EVENTS))
    write(os.path.join(HERE, "fixture.mp"), pack(EVENTS))
    for e in (types["sale_closed"], types["target_set"], types["node_defined"]):
        write(os.path.join(HERE, "fuzz_record", "v1_" + e["type"] + ".rec"), record(e, T0 + 1000))
        write(os.path.join(HERE, "fuzz_record", "v2_" + e["type"] + ".rec"),
              record(e, T0 + 2000, principal="producer:east-crm"))
    for name, r in REQUESTS.items():
        write(os.path.join(HERE, "fuzz_request", name + ".mp"), pack(r))
    for name, a in ALERT_INPUTS.items():
        write(os.path.join(HERE, "fuzz_alert", name + ".mp"), pack(a))
    lines = ["# libFuzzer dictionary of pacer's names, written by make_corpus.py.",
             "# Each name as a msgpack str (m_) and as a JSON string (j_)."]
    for i, w in enumerate(WORDS):
        lines.append('m_%d="%s"' % (i, dict_escape(msgpack_str(w))))
        lines.append('j_%d="%s"' % (i, dict_escape(json.dumps(w).encode())))
    # msgpack headers of the wider integer and float forms the schema checks
    for name, b in (("u64", b"\xcf"), ("i64", b"\xd3"), ("f64", b"\xcb"), ("f32", b"\xca"),
                    ("nil", b"\xc0"), ("true", b"\xc3"), ("bin8", b"\xc4"),
                    ("time_max", b"\xcf" + struct.pack(">Q", 253402300799999)),
                    ("amount_max", b"\xcf" + struct.pack(">Q", 1 << 62))):
        lines.append('h_%s="%s"' % (name, dict_escape(b)))
    write(os.path.join(HERE, "pacer.dict"), ("\n".join(lines) + "\n").encode())


if __name__ == "__main__":
    main()
