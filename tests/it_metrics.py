"""Prometheus metrics over HTTP (pacerd --metrics HOST:PORT, GET /metrics): the text exposition
format 0.0.4 parses (one sample per line, every family introduced by its # HELP and # TYPE,
histogram buckets cumulative with _count equal to the +Inf bucket), and the values move with
what the daemon does: appends, duplicates, refusals, bad requests, commits, the log's last seq,
subscriptions, snapshots, alerts. Scraped with urllib, as any client would."""

import math
import re
import socket
import urllib.error
import urllib.request

import pacertest as pt
from pacertest import expect_ok, zmq
from it_alerts import DAY, H, NOV2, org, sale

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} and {family: type}, checking the format as it goes."""
    samples, types, helps = {}, {}, set()
    assert text.endswith("\n"), "the exposition ends with a newline"
    for line in text.splitlines():
        assert line, "an empty line"
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, "two HELP lines for %s" % name
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name in helps, "TYPE before HELP for %s" % name
            assert name not in types, "two TYPE lines for %s" % name
            types[name] = kind
            continue
        assert not line.startswith("#"), "an unknown comment: %r" % line
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, "sample %s before its TYPE" % name
        pairs = LABEL.findall(labels)
        assert ",".join('%s="%s"' % p for p in pairs) == labels, "labels %r" % labels
        v = float(value)  # "+Inf" included
        key = (name, frozenset(pairs))
        assert key not in samples, "a repeated sample %r" % (key,)
        samples[key] = v
    return samples, types


class Scrape:
    def __init__(self, text):
        self.samples, self.types = parse(text)

    def get(self, name, **labels):
        return self.samples[(name, frozenset(labels.items()))]

    def buckets(self, name):
        out = []
        for (n, labels), v in self.samples.items():
            if n == name + "_bucket":
                le = dict(labels)["le"]
                out.append((math.inf if le == "+Inf" else float(le), v))
        return sorted(out)


class Metrics(pt.PacerTestCase):

    def metrics_daemon(self, *args, **kw):
        port = pt.free_ports(1)[0]
        d = self.start_daemon(extra_args=["--metrics", "127.0.0.1:%d" % port] + list(args), **kw)
        d.metrics_url = "http://127.0.0.1:%d/metrics" % port
        return d

    def scrape(self, d):
        with urllib.request.urlopen(d.metrics_url, timeout=30) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["Content-Type"],
                             "text/plain; version=0.0.4; charset=utf-8")
            return Scrape(r.read().decode("utf-8"))

    def check_histogram(self, s, name):
        self.assertEqual(s.types[name], "histogram")
        b = s.buckets(name)
        self.assertEqual(b[-1][0], math.inf)
        counts = [v for _, v in b]
        self.assertEqual(counts, sorted(counts), "%s buckets are not cumulative" % name)
        self.assertEqual(s.get(name + "_count"), counts[-1])
        return s.get(name + "_count"), s.get(name + "_sum")

    def test_format_and_values_move_with_appends(self):
        d = self.metrics_daemon()
        s0 = self.scrape(d)
        for name, kind in [("pacer_requests_total", "counter"),
                           ("pacer_events_appended_total", "counter"),
                           ("pacer_commits_total", "counter"),
                           ("pacer_map_resizes_total", "counter"),
                           ("pacer_log_last_seq", "gauge"), ("pacer_map_used_bytes", "gauge"),
                           ("pacer_map_size_bytes", "gauge"),
                           ("pacer_publish_subscriptions", "gauge"),
                           ("pacer_snapshot_seq", "gauge"), ("pacer_alerts_active", "gauge"),
                           ("pacer_alerts_last_aseq", "gauge"), ("pacer_alerts_held", "gauge"),
                           ("pacer_alert_sweep_keys_left", "gauge"),
                           ("pacer_alert_timers", "gauge")]:
            self.assertEqual(s0.types[name], kind, name)
        self.assertEqual(s0.get("pacer_info", version=d.status()["version"]), 1)
        self.assertEqual(s0.get("pacer_events_appended_total"), 0)
        self.assertEqual(s0.get("pacer_log_last_seq"), 0)
        for h in ("pacer_ack_latency_seconds", "pacer_group_events", "pacer_commit_seconds"):
            self.assertEqual(self.check_histogram(s0, h), (0, 0))

        batch = pt.sales(60)
        with d.client() as c:
            self.assertAppended(c.append(batch), 60)
            self.assertAppended(c.append(pt.sales(40)), 40)
            expect_ok(c.append(batch[:10]))                          # 10 duplicates
            expect_ok(c.append([pt.sale_closed(amount="much")]))     # 1 refused
            c.send_body_bytes(b"\xc1")                               # malformed
            self.assertEqual(c.recv_reply()["error"], "malformed")
        st = d.status()
        s1 = self.scrape(d)
        self.assertEqual(s1.get("pacer_requests_total"), 5)
        self.assertEqual(s1.get("pacer_events_appended_total"), 100)
        self.assertEqual(s1.get("pacer_events_duplicate_total"), 10)
        self.assertEqual(s1.get("pacer_events_rejected_total"), 1)
        self.assertEqual(s1.get("pacer_bad_requests_total"), 1)
        self.assertEqual(s1.get("pacer_commits_total"), st["counters"]["commits"])
        self.assertGreaterEqual(s1.get("pacer_commits_total"), 2)
        self.assertEqual(s1.get("pacer_log_last_seq"), 100)
        self.assertEqual(s1.get("pacer_map_size_bytes"), st["map_size"])
        self.assertGreater(s1.get("pacer_map_used_bytes"), s0.get("pacer_map_used_bytes"))
        self.assertEqual(s1.get("pacer_commit_failures_total"), 0)
        self.assertEqual(s1.get("pacer_disk_full"), 0)
        # every request answered on the append endpoint has an ack latency
        n, total = self.check_histogram(s1, "pacer_ack_latency_seconds")
        self.assertEqual(n, 5)
        self.assertGreater(total, 0)
        # groups that appended: their events add up to what was appended
        n, total = self.check_histogram(s1, "pacer_group_events")
        self.assertEqual(n, s1.get("pacer_commits_total"))
        self.assertEqual(total, 100)
        n, total = self.check_histogram(s1, "pacer_commit_seconds")
        self.assertEqual(n, s1.get("pacer_commits_total"))
        self.assertGreater(total, 0)
        # a HEAD, another path, another method
        req = urllib.request.Request(d.metrics_url, method="HEAD")
        with urllib.request.urlopen(req, timeout=30) as r:
            self.assertEqual((r.status, r.read()), (200, b""))
        for url, method, code in [(d.metrics_url.replace("/metrics", "/"), "GET", 404),
                                  (d.metrics_url + "x", "GET", 404),
                                  (d.metrics_url, "POST", 405)]:
            with self.subTest(url=url, method=method):
                with self.assertRaises(urllib.error.HTTPError) as e:
                    urllib.request.urlopen(urllib.request.Request(url, method=method, data=None),
                                           timeout=30)
                self.assertEqual(e.exception.code, code)

    def test_subscriptions_and_snapshot(self):
        d = self.metrics_daemon()
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"event/")
        sub.setsockopt(zmq.SUBSCRIBE, b"heartbeat/")
        sub.connect(d.publish_ep)
        try:
            pt.wait_until(lambda: self.scrape(d).get("pacer_publish_subscriptions") == 2, 30,
                          "two subscriptions counted")
        finally:
            sub.close(0)
        pt.wait_until(lambda: self.scrape(d).get("pacer_publish_subscriptions") == 0, 30,
                      "the subscriptions gone")
        with d.client() as c:
            expect_ok(c.append(pt.sales(30)))
        s = self.scrape(d)
        self.assertEqual(s.get("pacer_snapshot_seq"), 0)
        self.assertEqual(s.get("pacer_snapshot_behind_events"), 30)
        self.assertNotIn(("pacer_snapshot_age_seconds", frozenset()), s.samples)
        # a clean stop writes a snapshot at the last seq; the next start loads it
        self.stop_ok(d)
        self.restart(d)
        s = self.scrape(d)
        self.assertEqual(s.get("pacer_snapshot_seq"), 30)
        self.assertEqual(s.get("pacer_snapshot_behind_events"), 0)
        self.assertEqual(s.get("pacer_log_last_seq"), 30)
        age = s.get("pacer_snapshot_age_seconds")
        self.assertGreaterEqual(age, 0)
        self.assertLess(age, 600)

    def test_active_alerts_and_last_aseq(self):
        d = self.metrics_daemon("--manual-clock", "--tick", "0")
        with d.client() as c:
            expect_ok(c.append(org()))
            expect_ok(c.append([sale(1000000, NOV2 + 10 * H)]))
            s = self.scrape(d)
            self.assertEqual((s.get("pacer_alerts_active"), s.get("pacer_alerts_last_aseq")),
                             (0, 0))
            # 14.5 of 21 working days gone with 1% of the target: behind (and forecast_floor)
            raised = expect_ok(c.call("tick", now=NOV2 + 18 * DAY + 12 * H))
        with d.client("query") as q:
            active = expect_ok(q.call("alerts_active"))
        s = self.scrape(d)
        self.assertGreaterEqual(raised["raised"], 1)
        self.assertEqual(s.get("pacer_alerts_active"), len(active["alerts"]))
        self.assertGreaterEqual(s.get("pacer_alerts_active"), 1)
        self.assertEqual(s.get("pacer_alerts_last_aseq"), raised["last_aseq"])
        # a tick request finishes the day's sweep; the key waits in the timers
        self.assertEqual(s.get("pacer_alert_sweep_keys_left"), 0)
        self.assertGreaterEqual(s.get("pacer_alert_timers"), 1)
        self.assertEqual(s.get("pacer_alerts_held"), 0)
        # a flag raised under a silence is held, and counted so
        at = NOV2 + 18 * DAY + 12 * H
        with d.client() as c:
            expect_ok(c.append([pt.alert_silenced(alert="alert/anomaly/", until=None,
                                                  occurred_at=at)]))
            r = expect_ok(c.append([pt.sale_closed(rep="rep-42", customer="c-9", amount=4321000,
                                                   product_line="cloud", occurred_at=at - h * H)
                                    for h in (2, 1)]))
            self.assertEqual(r["rejected"], 0, r)
        s = self.scrape(d)
        self.assertEqual(s.get("pacer_alerts_held"), 1)
        self.assertEqual(s.get("pacer_alerts_active"), len(active["alerts"]) + 1)

    def test_off_unless_asked_and_bind_failure(self):
        d = self.start_daemon()
        self.assertNotIn("metrics", d.log_text())
        # a port in use: pacerd says so and exits 1 (not a settings error)
        port = pt.free_ports(1)[0]
        taken = socket.socket()
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        try:
            d2 = pt.Daemon(extra_args=["--metrics", "127.0.0.1:%d" % port])
            d2.spawn()
            rc = d2.wait()
            self.assertEqual(rc, 1, d2.log_text())
            self.assertIn("cannot serve HTTP on 127.0.0.1:%d" % port, d2.log_text())
        finally:
            taken.close()


if __name__ == "__main__":
    pt.main()
