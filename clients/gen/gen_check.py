#!/usr/bin/env python3
"""gen_check: how far each injected kind stands from the legitimate history around it.

    python3 clients/gen/gen_check.py HISTORY.jsonl [LABELS.jsonl]

For each detector, one plain signal that a detector could compute from the events alone,
measured on the labelled incidents and on everything else (the legitimate near misses).
It is not a detector: it shows that a pacer-gen history has near misses at all, and that an
injected incident is not indistinguishable from them. docs/GENERATOR.md quotes its output.
Standard library only; about 2 s for the default history.
"""

import bisect
import collections
import datetime
import json
import math
import sys

TZ_MS = 8 * 3600 * 1000  # Asia/Shanghai
DAY_MS = 86400 * 1000
BENFORD = [math.log10(1 + 1 / d) for d in range(1, 10)]


def local_day(ms):
    return (ms + TZ_MS) // DAY_MS


def date_of(day):
    return datetime.date(1970, 1, 1) + datetime.timedelta(days=day)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def benford_mad(amounts):
    counts = collections.Counter(int(str(a)[0]) for a in amounts if a > 0)
    n = sum(counts.values())
    return sum(abs(counts[d] / n - BENFORD[d - 1]) for d in range(1, 10)) / 9


def fmt(x, digits=2):
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    return ("%." + str(digits) + "f") % x


class History:
    def __init__(self, events, labels):
        self.events = events
        self.labels = labels
        self.by_id = {e["id"]: e for e in events}
        self.kinds_of = collections.defaultdict(set)
        for lab in labels:
            for eid in lab["event_ids"]:
                self.kinds_of[eid].add(lab["detector"])
        self.sales = [e for e in events if e["type"] == "sale_closed"]
        self.orders = {e["order"]: e for e in self.sales}
        self.end = max(e["occurred_at"] for e in events) + 1
        self.reversal = {}
        for e in events:
            if e["type"] in ("sale_cancelled", "sale_refunded"):
                self.reversal[e["order"]] = e
        self.paid = collections.defaultdict(list)
        for e in events:
            if e["type"] == "payment_received" and "order" in e:
                self.paid[e["order"]].append(e["occurred_at"])
        self.contacts = collections.defaultdict(list)
        for e in events:
            if e["type"] == "activity_logged" and "customer" in e:
                self.contacts[e["customer"]].append(e["occurred_at"])
        for times in self.contacts.values():
            times.sort()
        special = {e["date"]: e["day_type"] for e in events if e["type"] == "calendar_day_set"}
        self.working = lambda day: (special[str(date_of(day))] == "workday"
                                    if str(date_of(day)) in special else date_of(day).weekday() < 5)

    def labelled(self, event, kind):
        return kind in self.kinds_of[event["id"]]

    def fully_reversed(self, order):
        r = self.reversal.get(order)
        return r is not None and (r["type"] == "sale_cancelled"
                                  or r["amount"] >= self.orders[order]["amount"])


def amount_outlier(h):
    """Robust z of log unit price (amount without a quantity) within each product line."""
    legit, injected = [], []
    by_line = collections.defaultdict(list)
    for e in h.sales:
        by_line[e.get("product_line")].append(e)
    for sales in by_line.values():
        logs = [math.log(e["amount"] / e.get("quantity", 1)) for e in sales]
        m = median(logs)
        mad = median([abs(x - m) for x in logs]) or 1e-9
        for e, x in zip(sales, logs):
            z = abs(0.6745 * (x - m) / mad)
            if h.labelled(e, "amount_outlier"):
                injected.append(z)
            elif not h.labelled(e, "benford"):
                legit.append(z)
    return ("|z| of log unit price in its line", max(legit, default=None),
            sum(1 for z in legit if z > 3.5), min(injected, default=None), "above 3.5")


def duplicate_order(h):
    """Hours between two sales of the same customer, line and amount."""
    groups = collections.defaultdict(list)
    for e in h.sales:
        groups[(e.get("customer"), e.get("product_line"), e["amount"])].append(e)
    pairs = set()
    injected = []
    for lab in h.labels:
        if lab["detector"] == "duplicate_order":
            a, b = (h.by_id[i] for i in lab["event_ids"])
            pairs.add((a["id"], b["id"]))
            injected.append((b["occurred_at"] - a["occurred_at"]) / 3.6e6)
    legit = []
    for sales in groups.values():
        sales.sort(key=lambda e: e["occurred_at"])
        for a, b in zip(sales, sales[1:]):
            if (a["id"], b["id"]) not in pairs:
                legit.append((b["occurred_at"] - a["occurred_at"]) / 3.6e6)
    return ("hours between same customer+line+amount", min(legit, default=None),
            sum(1 for x in legit if x < 48), max(injected, default=None), "under 48 h")


def customer_burst(h):
    """customer_created by one rep in one local day."""
    legit, injected = collections.Counter(), collections.Counter()
    for e in h.events:
        if e["type"] == "customer_created":
            key = (e["rep"], local_day(e["occurred_at"]))
            (injected if h.labelled(e, "customer_burst") else legit)[key] += 1
    return ("new customers by a rep in a day", max(legit.values(), default=None),
            sum(1 for v in legit.values() if v >= 6), min(injected.values(), default=None),
            "6 or more")


def period_end_stuffing(h):
    """Share of a rep's month revenue booked in its last 3 working days and reversed in the
    next month's first 8 working days."""
    months = sorted({str(date_of(local_day(e["occurred_at"])))[:7] for e in h.sales})
    last3, first8 = {}, {}
    for m in months[:-1]:
        y, mo = int(m[:4]), int(m[5:])
        start = (datetime.date(y, mo, 1) - datetime.date(1970, 1, 1)).days
        nxt = (datetime.date(y + mo // 12, mo % 12 + 1, 1) - datetime.date(1970, 1, 1)).days
        last3[m] = set([d for d in range(start, nxt) if h.working(d)][-3:])
        first8[m] = [d for d in range(nxt, nxt + 40) if h.working(d)][:8]
    stuffed = set()
    for lab in h.labels:
        if lab["detector"] == "period_end_stuffing":
            stuffed.add((lab["rep"], str(date_of(local_day(lab["at"])))[:7]))
    revenue, reversed_ = collections.Counter(), collections.Counter()
    for e in h.sales:
        m = str(date_of(local_day(e["occurred_at"])))[:7]
        if m not in last3:
            continue
        key = (e["rep"], m)
        revenue[key] += e["amount"]
        r = h.reversal.get(e["order"])
        if local_day(e["occurred_at"]) in last3[m] and r and \
                first8[m][0] <= local_day(r["occurred_at"]) <= first8[m][-1]:
            reversed_[key] += e["amount"] if r["type"] == "sale_cancelled" else r["amount"]
    legit = [reversed_[k] / v for k, v in revenue.items() if k not in stuffed and v]
    injected = [reversed_[k] / v for k, v in revenue.items() if k in stuffed and v]
    return ("month revenue reversed early next month", max(legit, default=None),
            sum(1 for x in legit if x >= 0.1), min(injected, default=None), "10% or more")


def padding(h):
    """A full reversal, then within 7 days a sale of the same customer and line at +-10% by
    another rep."""
    by_customer = collections.defaultdict(list)
    for e in h.sales:
        by_customer[e.get("customer")].append(e)
    legit = injected = 0
    for order, r in h.reversal.items():
        o = h.orders[order]
        if not h.fully_reversed(order):
            continue
        for s in by_customer[o.get("customer")]:
            if (0 < s["occurred_at"] - r["occurred_at"] < 7 * DAY_MS and s["rep"] != o["rep"]
                    and s.get("product_line") == o.get("product_line")
                    and abs(s["amount"] - o["amount"]) <= 0.1 * o["amount"]):
                if h.labelled(s, "padding"):
                    injected += 1
                else:
                    legit += 1
    return ("reversal re-booked by another rep in 7 days", None, legit, injected, "count")


def no_sales_trail(h):
    """Sales of at least 3x their line's median amount with no activity for the customer in
    the 30 days before."""
    by_line = collections.defaultdict(list)
    for e in h.sales:
        by_line[e.get("product_line")].append(e["amount"])
    medians = {k: median(v) for k, v in by_line.items()}
    legit = injected = 0
    for e in h.sales:
        if e["amount"] < 3 * medians[e.get("product_line")]:
            continue
        times = h.contacts.get(e.get("customer"), [])
        i = bisect.bisect_left(times, e["occurred_at"])
        if i > 0 and times[i - 1] >= e["occurred_at"] - 30 * DAY_MS:
            continue
        if h.labelled(e, "no_sales_trail"):
            injected += 1
        else:
            legit += 1
    return ("large sales without activity in 30 days", None, legit, injected, "count")


def benford(h):
    """First-digit MAD against Benford of each rep with 200 or more sales."""
    by_rep = collections.defaultdict(list)
    for e in h.sales:
        by_rep[e["rep"]].append(e["amount"])
    fabricated = {lab["rep"] for lab in h.labels if lab["detector"] == "benford"}
    legit = [benford_mad(a) for r, a in by_rep.items() if len(a) >= 200 and r not in fabricated]
    injected = [benford_mad(by_rep[r]) for r in fabricated]
    return ("first-digit MAD of reps with 200+ sales", max(legit, default=None),
            sum(1 for x in legit if x > 0.045), min(injected, default=None), "above 0.045",
            4)


def overdue_collection(h):
    """Sales with a due date, not reversed in full, with no payment by due_at + 8 days, where
    that is before the end of the history."""
    legit = injected = 0
    for e in h.sales:
        due = e.get("due_at")
        if due is None or due + 8 * DAY_MS > h.end or h.fully_reversed(e["order"]):
            continue
        if any(t <= due + 8 * DAY_MS for t in h.paid.get(e["order"], [])):
            continue
        if h.labelled(e, "overdue_collection"):
            injected += 1
        else:
            legit += 1
    return ("unpaid 8 days after due_at", None, legit, injected, "count")


CHECKS = [amount_outlier, duplicate_order, customer_burst, period_end_stuffing, padding,
          no_sales_trail, benford, overdue_collection]


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        events = [json.loads(line) for line in f if line.strip()]
    labels = []
    if len(argv) == 3:
        with open(argv[2], encoding="utf-8") as f:
            labels = [json.loads(line) for line in f if line.strip()]
    h = History(events, labels)
    count = collections.Counter(lab["detector"] for lab in labels)
    print("%d events, %d sales, %d labels" % (len(events), len(h.sales), len(labels)))
    print("%-20s %-44s %6s %-20s %10s" % ("detector", "signal", "labels", "legit: extreme (n)",
                                          "injected"))
    for check in CHECKS:
        row = check(h)
        signal, extreme, n, injected, what = row[:5]
        digits = row[5] if len(row) > 5 else 2
        legit = "%s (%s %s)" % (fmt(extreme, digits), n, what) if extreme is not None \
            else "%s" % n
        inj = fmt(injected, digits) if not isinstance(injected, int) else str(injected)
        print("%-20s %-44s %6d %-20s %10s" % (check.__name__, signal, count[check.__name__],
                                              legit, inj))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
