"""Lag alerts end to end: a real pacerd with --manual-clock (time moves only by `tick`), one rep
with a revenue target for November 2026 (Asia/Shanghai, 21 working days), and the rules at their
thresholds: behind fires once a share of the period has gone, does not flap, repeats after 24 h,
resolves only past threshold + margin; a silence suppresses and its end re-raises; the outbox
survives kill -9 with nothing lost and nothing raised twice; subscribers get every alert on its
topic with its aseq."""

import time

import pacertest as pt
from pacertest import expect_ok, zmq

H = 3600 * 1000
# 2026-11-02 is a Monday; local midnight in Asia/Shanghai is 16:00 UTC the day before.
NOV2 = 1793548800000 - 8 * H  # 2026-11-02T00:00+08:00
DAY = 24 * H
TARGET = 100000000  # 1,000,000.00 CNY


def org():
    return [
        pt.node_defined(node="acme", kind="company", name="ACME", parent=None, owner="ceo",
                        occurred_at=NOV2 - 30 * DAY),
        pt.node_defined(node="east", kind="region", name="East", parent="acme", owner="li.wei",
                        occurred_at=NOV2 - 30 * DAY),
        pt.node_defined(node="t3", kind="team", name="Team 3", parent="east", owner="boss3",
                        occurred_at=NOV2 - 30 * DAY),
        pt.node_defined(node="rep-42", kind="rep", name="Rep 42", parent="t3", owner="rep-42",
                        occurred_at=NOV2 - 30 * DAY),
        pt.target_set(scope="rep-42", metric="revenue", period="2026-11", floor=70000000,
                      target=TARGET, stretch=120000000, currency="CNY",
                      occurred_at=NOV2 - DAY),
    ]


def sale(amount, at):
    return pt.sale_closed(rep="rep-42", amount=amount, occurred_at=at, product_line=None,
                          margin=None)


class Sub:
    def __init__(self, endpoint, *prefixes):
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        for p in prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode())
        self.sock.connect(endpoint)

    def close(self):
        self.sock.close(0)

    def wait_subscribed(self, test):
        """Heartbeats come once a second: one arriving means the subscription is in place."""
        self.sock.setsockopt(zmq.SUBSCRIBE, b"heartbeat/")
        deadline = time.monotonic() + 10
        while not [m for m in self.drain(1.2) if m[0] == "heartbeat/"]:
            test.assertLess(time.monotonic(), deadline, "no heartbeat")

    def collect(self, seconds):
        """Everything received over the next `seconds`."""
        got, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            got += self.drain(max(0.01, end - time.monotonic()))
        return got

    def drain(self, timeout=0.5):
        got = []
        while self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            topic, body = self.sock.recv_multipart()
            got.append((topic.decode(), pt.msgpack.unpackb(body, raw=False)))
            timeout = 0.2
        return got


class Alerts(pt.PacerTestCase):

    def daemon(self, **kw):
        return self.start_daemon(extra_args=["--manual-clock", "--tick", "0"], **kw)

    def tick(self, d, now):
        with d.client() as c:
            return expect_ok(c.call("tick", now=now))

    def alerts(self, d, **kw):
        with d.client("query") as c:
            return expect_ok(c.call("alerts", **kw))["alerts"]

    def active(self, d, **kw):
        with d.client("query") as c:
            return expect_ok(c.call("alerts_active", **kw))["alerts"]

    def progress(self, d, now):
        with d.client("query") as c:
            rows = expect_ok(c.call("progress", scope="rep-42", period="2026-11",
                                    metric="revenue", now=now))["rows"]
        return [r for r in rows if r["has_target"]][0]

    def append(self, d, events):
        with d.client() as c:
            r = expect_ok(c.append(events))
            self.assertEqual(r["rejected"], 0, r)
            return r

    def of_rule(self, alerts, rule):
        return [a for a in alerts if a["rule"] == rule]

    def test_behind_fires_repeats_resolves_with_hysteresis(self):
        d = self.daemon()
        self.append(d, org())
        # 10% of the period: a small sale on the first day, nothing alerted yet at 9:00 on the
        # second day (1.4 working days of 21 is under min_elapsed 0.10)
        self.append(d, [sale(1000000, NOV2 + 10 * H)])
        self.tick(d, NOV2 + DAY + 9 * H)
        self.assertEqual(self.alerts(d), [])
        # Friday the 20th, noon: 14.5 of 21 working days gone, 1% of target: behind
        now = NOV2 + 18 * DAY + 12 * H
        r = self.tick(d, now)
        self.assertGreaterEqual(r["raised"], 1)
        behind = self.of_rule(self.alerts(d), "behind")
        self.assertEqual(len(behind), 1, behind)
        a = behind[0]
        self.assertEqual(a["state"], "firing")
        self.assertEqual(a["severity"], "critical")
        self.assertEqual(a["key"], "behind/rep-42/revenue/2026-11")
        self.assertEqual(a["topic"], "alert/behind/acme/east/t3/rep-42/")
        self.assertEqual(a["path"], "acme/east/t3/rep-42")
        self.assertEqual(a["notify"], ["rep-42", "boss3"])
        self.assertEqual(a["at"], now)
        self.assertIn("acme/east/t3/rep-42 revenue 2026-11: 1% of target", a["summary"])
        self.assertIn("behind", a["summary"])
        self.assertIn("CNY a working day", a["summary"])
        self.assertLess(a["values"]["pace_ratio"], 0.8)
        self.assertEqual(a["values"]["actual"], 1000000)
        # at_risk does not fire for a key that is behind
        self.assertEqual(self.of_rule(self.alerts(d), "at_risk"), [])
        # an hour later: still behind, nothing new (no flapping, no early repeat)
        n = len(self.alerts(d))
        self.tick(d, now + H)
        self.assertEqual(len(self.alerts(d)), n)
        # 24 h after it fired: a repeat
        self.tick(d, now + 24 * H)
        behind = self.of_rule(self.alerts(d), "behind")
        self.assertEqual([b["state"] for b in behind], ["firing", "repeat"])
        self.assertEqual(behind[1]["since"], now)
        # Sales that bring the pace to 0.81: inside the hysteresis band, still active
        t = now + 24 * H + H
        self.tick(d, t)
        p = self.progress(d, t)
        need = int(0.81 * p["expected"]) - p["actual"]
        self.append(d, [sale(need, t - H)])
        self.assertEqual([b["state"] for b in self.of_rule(self.alerts(d), "behind")],
                         ["firing", "repeat"])
        self.assertEqual(len(self.of_rule(self.active(d), "behind")), 1)
        # ... and to 0.84 (> 0.80 + 0.03): resolved, with the numbers
        p = self.progress(d, t)
        need = int(0.84 * p["expected"]) - p["actual"] + 1
        self.append(d, [sale(need, t - H)])
        behind = self.of_rule(self.alerts(d), "behind")
        self.assertEqual([b["state"] for b in behind], ["firing", "repeat", "resolved"])
        self.assertIn("back to", behind[-1]["summary"])
        self.assertEqual(self.of_rule(self.active(d), "behind"), [])
        # aseqs are gap-free from 1
        seqs = [a["aseq"] for a in self.alerts(d)]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))

    def test_silence_suppresses_and_its_end_raises(self):
        d = self.daemon()
        self.append(d, org())
        self.append(d, [sale(1000000, NOV2 + 10 * H)])
        self.tick(d, NOV2 + DAY)
        self.append(d, [pt.alert_silenced(alert="alert/behind/acme/east/", author="li.wei",
                                          reason="quarterly reorg", until=NOV2 + 20 * DAY,
                                          occurred_at=NOV2 + DAY)])
        with d.client("query") as c:
            sil = expect_ok(c.call("silences", now=NOV2 + DAY))["silences"]
        self.assertEqual([s["alert"] for s in sil], ["alert/behind/acme/east/"])
        now = NOV2 + 18 * DAY + 12 * H
        self.tick(d, now)
        self.assertEqual(self.of_rule(self.alerts(d), "behind"), [])
        act = self.of_rule(self.active(d, now=now), "behind")
        self.assertEqual(len(act), 1, act)
        self.assertTrue(act[0]["silenced"])
        self.assertEqual(act[0]["silenced_by"], "alert/behind/acme/east/")
        # no record yet: aseq 0, its rule's severity, the sentence it had when it fired
        self.assertEqual((act[0]["aseq"], act[0]["at"], act[0]["severity"]),
                         (0, act[0]["since"], "critical"))
        self.assertIn("acme/east/t3/rep-42 revenue 2026-11: 1% of target", act[0]["summary"])
        self.assertIn("fired while silenced", act[0]["summary"])
        self.assertEqual(len(self.of_rule(self.active(d, now=now, severity="critical"),
                                          "behind")), 1)
        r = pt.run_cli(["alerts", "--active", "--now", str(now)] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("behind/rep-42/revenue/2026-11", r.stdout)
        self.assertIn("fired while silenced", r.stdout)
        # the silence ends on the 22nd: the next tick raises it
        self.tick(d, NOV2 + 20 * DAY + H)
        behind = self.of_rule(self.alerts(d), "behind")
        self.assertEqual([b["state"] for b in behind], ["firing"])
        # an unsilence of a silence that does not exist is refused, naming it
        with d.client() as c:
            r = expect_ok(c.append([pt._event("alert_unsilenced", alert="alert/nothing/",
                                              author="ops")]))
        self.assertEqual(r["results"][0]["error"], "invalid_value")
        self.assertIn("alert/nothing/", r["results"][0]["message"])

    def test_achieved_once_and_rule_settings(self):
        d = self.daemon()
        self.append(d, org())
        # behind's threshold raised to 0.5 for reps: 1% still fires, the setting is audited
        self.append(d, [pt._event("alert_rule_set", rule="behind", param="threshold", value=0.5,
                                  kind="rep", author="ops", reason="reps get more slack")])
        with d.client() as c:
            r = expect_ok(c.append([pt._event("alert_rule_set", rule="behind", param="nope",
                                              value=1, author="ops")]))
        self.assertEqual(r["results"][0]["error"], "invalid_value")
        self.append(d, [sale(TARGET, NOV2 + 10 * H)])
        self.tick(d, NOV2 + 2 * DAY)
        got = self.alerts(d)
        self.assertEqual(len(self.of_rule(got, "achieved")), 1)
        self.assertIn("target achieved: 1,000,000.00 CNY against 1,000,000.00 CNY",
                      self.of_rule(got, "achieved")[0]["summary"])
        self.append(d, [sale(1000, NOV2 + 11 * H)])
        self.tick(d, NOV2 + 3 * DAY)
        self.assertEqual(len(self.of_rule(self.alerts(d), "achieved")), 1)

    def test_outbox_survives_kill9_and_subscribers_see_every_alert(self):
        d = self.daemon()
        sub = Sub(d.publish_ep, "alert/")
        self.addCleanup(sub.close)
        sub.wait_subscribed(self)
        self.append(d, org())
        self.append(d, [sale(1000000, NOV2 + 10 * H)])
        self.tick(d, NOV2 + 18 * DAY)
        before = self.alerts(d)
        self.assertTrue(before)
        got = [m for m in sub.drain() if m[0].startswith("alert/")]
        self.assertEqual([m[1]["aseq"] for m in got], [a["aseq"] for a in before])
        self.assertEqual(got[0][0], got[0][1]["topic"])
        d.kill()
        self.restart(d)
        # after the restart nothing is raised again at the same time...
        self.tick(d, NOV2 + 18 * DAY + H)
        self.assertEqual(self.alerts(d), before)
        # ...and the sequence carries on where it was
        self.tick(d, NOV2 + 19 * DAY + 1)
        after = self.alerts(d)
        self.assertGreater(len(after), len(before))
        self.assertEqual([a["aseq"] for a in after], list(range(1, len(after) + 1)))
        with d.client("query") as c:
            page = expect_ok(c.call("alerts", **{"from": 2, "limit": 1,
                                                 "prefix": "alert/behind/"}))
        self.assertLessEqual(len(page["alerts"]), 1)
        self.assertEqual(page["last_aseq"], len(after))

    def test_anomaly_flag_is_an_alert_and_a_review_resolves_it(self):
        d = self.daemon()
        sub = Sub(d.publish_ep, "alert/anomaly/")
        self.addCleanup(sub.close)
        sub.wait_subscribed(self)
        self.append(d, org())
        self.tick(d, NOV2 + 3 * DAY)
        first = pt.sale_closed(rep="rep-42", customer="c-9", product_line="cloud",
                               amount=4321000, occurred_at=NOV2 + 2 * DAY)
        again = pt.sale_closed(rep="rep-42", customer="c-9", product_line="cloud",
                               amount=4321000, occurred_at=NOV2 + 2 * DAY + 2 * H)
        r = self.append(d, [first, again])
        flags = [a for a in self.alerts(d) if a["rule"] == "anomaly/duplicate_order"]
        self.assertEqual(len(flags), 1, self.alerts(d))
        f = flags[0]
        self.assertEqual(f["topic"], "alert/anomaly/duplicate_order/acme/east/t3/rep-42/")
        self.assertEqual(f["state"], "firing")
        self.assertIn("43,210.00 CNY", f["summary"])
        ids = [e["id"] for e in f["evidence"]]
        self.assertIn(again["id"], ids)
        self.assertIn(r["results"][1]["seq"], [e["seq"] for e in f["evidence"]])
        self.assertEqual(f["notify"], ["rep-42", "boss3"])
        # a review resolves it, and is audited; an unknown key is refused
        self.append(d, [pt._event("anomaly_reviewed", alert=f["key"], verdict="dismissed",
                                  author="li.wei", reason="two real orders, checked with CRM",
                                  occurred_at=NOV2 + 3 * DAY)])
        last = self.alerts(d)[-1]
        self.assertEqual((last["key"], last["state"], last["verdict"]),
                         (f["key"], "resolved", "dismissed"))
        self.assertEqual([a for a in self.active(d) if a["key"] == f["key"]], [])
        with d.client() as c:
            r = expect_ok(c.append([pt._event("anomaly_reviewed", alert="anomaly/x/y",
                                              verdict="confirmed", author="a", reason="b")]))
        self.assertEqual(r["results"][0]["error"], "invalid_value")
        # a replay does not raise it again
        with d.client() as c:
            expect_ok(c.call("rebuild"))
        self.append(d, [pt.sale_closed(rep="rep-42", occurred_at=NOV2 + 3 * DAY)])
        self.assertEqual(len([a for a in self.alerts(d)
                              if a["rule"] == "anomaly/duplicate_order"]), 2)
        got = [m for m in sub.drain() if m[1].get("key") == f["key"]]
        self.assertTrue(got)

    def test_anomaly_flag_held_by_a_silence_is_raised_when_it_ends(self):
        d = self.daemon()
        sub = Sub(d.publish_ep, "alert/anomaly/")
        self.addCleanup(sub.close)
        sub.wait_subscribed(self)
        self.append(d, org())
        raised = NOV2 + 3 * DAY
        self.tick(d, raised)
        self.append(d, [pt.alert_silenced(alert="alert/anomaly/", author="li.wei",
                                          reason="audit week", until=NOV2 + 10 * DAY,
                                          occurred_at=raised)])

        def twice(customer, amount):
            return [pt.sale_closed(rep="rep-42", customer=customer, product_line="cloud",
                                   amount=amount, occurred_at=NOV2 + 2 * DAY + h * H)
                    for h in (0, 2)]
        held = twice("c-9", 4321000)
        self.append(d, held)
        self.append(d, twice("c-7", 1234500))
        # held: nothing published, but listed whole, with why it is silenced
        self.assertEqual(self.of_rule(self.alerts(d), "anomaly/duplicate_order"), [])
        act = self.of_rule(self.active(d, now=raised), "anomaly/duplicate_order")
        self.assertEqual(len(act), 2, act)
        for a in act:
            self.assertTrue(a["silenced"])
            self.assertEqual(a["silenced_by"], "alert/anomaly/")
            self.assertEqual((a["aseq"], a["at"], a["since"], a["severity"]),
                             (0, raised, raised, "warning"))
        f = [a for a in act if "43,210.00 CNY" in a["summary"]][0]
        other = [a for a in act if a is not f][0]
        r = pt.run_cli(["alerts", "--active", "--now", str(raised)] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("43,210.00 CNY", r.stdout)
        self.assertIn(held[1]["id"], [e["id"] for e in f["evidence"]])
        # reviewed while held: resolved with no record (it never fired in public)
        self.append(d, [pt._event("anomaly_reviewed", alert=other["key"], verdict="dismissed",
                                  author="li.wei", reason="two real orders",
                                  occurred_at=raised)])
        self.assertEqual(len(self.of_rule(self.active(d, now=raised),
                                          "anomaly/duplicate_order")), 1)
        # a restart keeps the held flag, body and all
        d.stop()
        self.restart(d)
        act = self.of_rule(self.active(d, now=raised), "anomaly/duplicate_order")
        self.assertEqual([(a["key"], a["summary"]) for a in act], [(f["key"], f["summary"])])
        sub.wait_subscribed(self)
        # the silence ends: the next tick publishes it, since when raised, at now
        now = NOV2 + 10 * DAY + H
        self.tick(d, now)
        flags = self.of_rule(self.alerts(d), "anomaly/duplicate_order")
        self.assertEqual([(a["key"], a["state"]) for a in flags], [(f["key"], "firing")])
        a = flags[0]
        self.assertEqual((a["since"], a["at"], a["silenced"]), (raised, now, False))
        self.assertEqual((a["summary"], a["evidence"], a["notify"]),
                         (f["summary"], f["evidence"], ["rep-42", "boss3"]))
        got = [m for m in sub.drain(2.0) if m[1].get("key") == f["key"]]
        self.assertEqual([m[1]["aseq"] for m in got], [a["aseq"]])
        act = self.of_rule(self.active(d, now=now), "anomaly/duplicate_order")
        self.assertEqual([(x["key"], x["silenced"]) for x in act], [(f["key"], False)])
        self.tick(d, now + H)  # published once
        self.assertEqual(len(self.of_rule(self.alerts(d), "anomaly/duplicate_order")), 1)
        # a silence lifted by an event: published in that event's group
        self.append(d, [pt.alert_silenced(alert="alert/anomaly/", author="li.wei",
                                          reason="until further notice", until=None,
                                          occurred_at=now)])
        self.append(d, twice("c-5", 777700))
        self.assertEqual(len(self.of_rule(self.alerts(d), "anomaly/duplicate_order")), 1)
        self.append(d, [pt._event("alert_unsilenced", alert="alert/anomaly/", author="li.wei",
                                  occurred_at=now)])
        flags = self.of_rule(self.alerts(d), "anomaly/duplicate_order")
        self.assertEqual(len(flags), 2)
        self.assertIn("7,777.00 CNY", flags[1]["summary"])
        seqs = [x["aseq"] for x in self.alerts(d)]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))

    def test_progress_updates_are_coalesced_per_key(self):
        d = self.daemon()
        sub = Sub(d.publish_ep, "progress/acme/east/")
        self.addCleanup(sub.close)
        sub.wait_subscribed(self)
        self.append(d, org())
        self.tick(d, NOV2 + 5 * DAY)
        total = 0
        for i in range(30):  # 30 commits in well under a second
            self.append(d, [sale(10000 + i, NOV2 + DAY + i * 1000)])
            total += 10000 + i
        got = [m for m in sub.collect(2.5) if m[0].startswith("progress/")]
        self.assertTrue(got)
        self.assertLess(len(got), 10, "30 sales in a burst should coalesce: %d updates" % len(got))
        last = got[-1]
        self.assertEqual(last[0], "progress/acme/east/t3/rep-42/")
        self.assertEqual(last[1]["actual"], total)
        self.assertEqual(last[1]["metric"], "revenue")
        self.assertEqual(last[1]["status"], self.progress(d, NOV2 + 5 * DAY)["status"])

    def test_time_alone_fires_behind_at_the_first_tick_past_the_crossing(self):
        d = self.daemon()
        self.append(d, org())
        self.append(d, [sale(30000000, NOV2 + 10 * H)])  # 30% of target on day one, then nothing
        t = NOV2 + DAY
        self.tick(d, t)  # schedules the key's crossing
        fired_at = None
        prev = t
        while t < NOV2 + 25 * DAY and fired_at is None:
            t += 3 * H
            self.tick(d, t)
            if self.of_rule(self.alerts(d), "behind"):
                fired_at = t
            else:
                prev = t
        self.assertIsNotNone(fired_at, "behind never fired by time alone")
        # the tick before saw the ratio at or above 0.80, this one below: the first tick past it
        self.assertGreaterEqual(self.progress(d, prev)["pace_ratio"], 0.8)
        self.assertLess(self.progress(d, fired_at)["pace_ratio"], 0.8)

    def test_tick_refuses_time_going_back(self):
        d = self.daemon()
        self.tick(d, NOV2)
        with d.client() as c:
            r = c.call("tick", now=NOV2 - 1)
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"], "bad_request")
        self.assertIn("earlier than the alert clock", r["message"])


if __name__ == "__main__":
    pt.main()
