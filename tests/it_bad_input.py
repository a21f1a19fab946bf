"""Bad input: every malformed request or invalid event gets a clear error naming the problem,
nothing is appended, and the daemon keeps serving.

Request-level errors (PROTOCOL.md): malformed, bad_request, unsupported_version, unknown_op,
too_large, and requests with the wrong framing (no reply). Event-level errors (EVENTS.md,
"Validation errors"): not_a_map, unknown_type, missing_field, unknown_field, wrong_type,
invalid_utf8, too_long, out_of_range, invalid_value."""

import re

import pacertest as pt
from pacertest import expect_ok

GOOD_STATUS = {"v": 1, "op": "status"}


def with_bytes(event, field, raw):
    """msgpack of {"v":1,"op":"append","events":[event]} where event[field] is a str whose bytes
    are `raw` (which may be invalid UTF-8): packed with a same-length placeholder, then patched."""
    placeholder = "\x01PLACEHOLDER%d\x01" % len(raw)
    placeholder = (placeholder * (len(raw) // len(placeholder) + 1))[:len(raw)]
    assert len(placeholder.encode()) == len(raw)
    body = pt.packb({"v": 1, "op": "append", "corr": 1, "events": [dict(event, **{field: placeholder})]})
    assert body.count(placeholder.encode()) == 1
    return body.replace(placeholder.encode(), raw)


def nested(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


class BadInput(pt.PacerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = pt.Daemon()
        cls.d.start()
        # Targets name a defined scope and a known metric (docs/EVENTS.md,
        # "References are checked"): define them once for the whole class.
        with cls.d.client() as c:
            reply = c.append([pt.node_defined(node="acme", kind="company", name="ACME",
                                               parent=None),
                              pt.node_defined(), pt.kpi_defined(),
                              pt.sale_closed(order="10023", amount=10 ** 12)])
            if reply.get("appended") != 4:
                raise AssertionError("set-up events refused: %r" % (reply,))

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        if rc != 0:
            raise AssertionError("pacerd exited %r on SIGTERM" % rc)

    def setUp(self):
        self._daemons.append(self.d)
        self.c = self.d.client()
        self.q = self.d.client("query")
        self.addCleanup(self.c.close)
        self.addCleanup(self.q.close)

    def tearDown(self):
        # Whatever the test sent, the daemon is still serving.
        self.assertServing(self.d)

    def last_seq(self):
        return expect_ok(self.q.status())["last_seq"]

    # -- request level

    def request_error(self, body_bytes, code, names=(), client=None, corr="any"):
        """Sends a raw body; expects ok=false with `code`, a message matching every regex in
        `names`, and nothing appended."""
        client = client or self.c
        before = self.last_seq()
        client.send_body_bytes(body_bytes)
        reply = client.recv_reply()
        self.assertIs(reply["ok"], False, reply)
        if isinstance(code, str):
            self.assertEqual(reply["error"], code, reply)
        else:
            self.assertIn(reply["error"], code, reply)
        self.assertTrue(reply["message"].strip(), "empty message")
        for n in names:
            self.assertRegex(reply["message"], n)
        if corr != "any":
            self.assertEqual(reply["corr"], corr)
        self.assertEqual(self.last_seq(), before, "something was appended")
        return reply

    def test_malformed_msgpack(self):
        good = pt.packb({"v": 1, "op": "append", "events": [pt.sale_closed()]})
        cases = {
            "never-used byte 0xc1": b"\xc1",
            "truncated map": b"\x83\xa1v\x01\xa2op",
            "truncated str": good[:-3],
            "empty frame": b"",
            "trailing byte": good + b"\x00",
            "two values": good + good,
            "str32 length beyond the frame": b"\x81\xa1v\xdb\xff\xff\xff\xff",
            "array32 of 4 billion": b"\xdd\xff\xff\xff\xff",
            "map32 of 4 billion": b"\xdf\xff\xff\xff\xff",
        }
        for name, body in cases.items():
            with self.subTest(name):
                self.request_error(body, "malformed", corr=None)

    def test_deep_nesting(self):
        body = pt.packb({"v": 1, "op": "status", "corr": nested(40)})
        self.request_error(body, "malformed", client=self.q)
        # Nesting deep enough to overflow a recursive decoder's stack.
        self.request_error(b"\x91" * 1000000 + b"\xc0", "malformed", corr=None)
        self.request_error(b"\x81\xa1a" * 500000 + b"\xc0", "malformed", corr=None)
        deep_event = dict(pt.sale_closed(), customer=nested(40))
        self.request_error(pt.packb({"v": 1, "op": "append", "events": [deep_event]}),
                           "malformed")
        # Moderate nesting in corr is fine and echoed unchanged.
        self.q.send_body_bytes(pt.packb({"v": 1, "op": "status", "corr": nested(20)}))
        reply = expect_ok(self.q.recv_reply())
        self.assertEqual(reply["corr"], nested(20))

    def test_body_not_a_map(self):
        for body in ([1, "status"], "status", None, 1, b"\x00"):
            with self.subTest(body=body):
                self.request_error(pt.packb(body), "bad_request")
                self.request_error(pt.packb(body), "bad_request", client=self.q)

    def test_missing_v_or_op(self):
        self.request_error(pt.packb({"op": "status", "corr": 5}), "bad_request", [r"\bv\b"],
                           client=self.q, corr=5)
        self.request_error(pt.packb({"v": 1, "corr": 6}), "bad_request", [r"\bop\b"],
                           client=self.q, corr=6)
        self.request_error(pt.packb({"op": "append", "events": [pt.sale_closed()]}),
                           "bad_request", [r"\bv\b"])
        self.request_error(pt.packb({"v": 1, "events": [pt.sale_closed()]}), "bad_request",
                           [r"\bop\b"])

    def test_wrong_version(self):
        for v in (2, 0, 1000):
            with self.subTest(v=v):
                self.request_error(pt.packb({"v": v, "op": "status", "corr": 9}),
                                   "unsupported_version", client=self.q, corr=9)
                self.request_error(pt.packb({"v": v, "op": "append", "events": [pt.sale_closed()]}),
                                   "unsupported_version")
        for v in ("1", 1.0, None, True):
            with self.subTest(v=v):
                self.request_error(pt.packb({"v": v, "op": "status"}), "bad_request", [r"\bv\b"],
                                   client=self.q)

    def test_unknown_op(self):
        self.request_error(pt.packb({"v": 1, "op": "frobnicate", "corr": 3}), "unknown_op",
                           ["frobnicate"], client=self.q, corr=3)
        self.request_error(pt.packb({"v": 1, "op": "frobnicate"}), "unknown_op", ["frobnicate"])
        # Operations of the other endpoint.
        self.request_error(pt.packb({"v": 1, "op": "status"}), "unknown_op", ["status"])
        self.request_error(pt.packb({"v": 1, "op": "events"}), "unknown_op", ["events"])
        self.request_error(pt.packb({"v": 1, "op": "append", "events": [pt.sale_closed()]}),
                           "unknown_op", ["append"], client=self.q)
        self.request_error(pt.packb({"v": 1, "op": "APPEND", "events": [pt.sale_closed()]}),
                           "unknown_op")
        self.request_error(pt.packb({"v": 1, "op": 1}), "bad_request", [r"\bop\b"])

    def test_wrong_request_field_types(self):
        ev = pt.sale_closed()
        cases = [
            ({"v": 1, "op": "append"}, "events"),
            ({"v": 1, "op": "append", "events": None}, "events"),
            ({"v": 1, "op": "append", "events": ev}, "events"),
            ({"v": 1, "op": "append", "events": "x"}, "events"),
            ({"v": 1, "op": "append", "events": []}, "events"),
            ({"v": 1, "op": "append", "events": [ev], "atomic": "yes"}, "atomic"),
            ({"v": 1, "op": "append", "events": [ev], "atomic": 1}, "atomic"),
        ]
        for body, name in cases:
            with self.subTest(body=body):
                self.request_error(pt.packb(body), "bad_request", [r"\b%s\b" % name])
        for body, name in [({"v": 1, "op": "events", "from": "1"}, "from"),
                           ({"v": 1, "op": "events", "from": 1.5}, "from"),
                           ({"v": 1, "op": "events", "limit": "10"}, "limit"),
                           ({"v": 1, "op": "events", "raw": "yes"}, "raw")]:
            with self.subTest(body=body):
                self.request_error(pt.packb(body), "bad_request", [r"\b%s\b" % name],
                                   client=self.q)
        # The good event was never appended by any of the above.
        self.assertAppended(self.c.append([ev]), 1)

    def test_envelope_and_append_keys_messages(self):
        """v, op, events, atomic and tick's now are read as every query key is (PROTOCOL.md,
        bad_request): `<key>: required (<what>)` or `<key>: expected <what>`, nil taken as the
        key left out; the first key at fault wins, in the order v, op, events, atomic."""
        ev = pt.sale_closed()
        cases = [
            ({"op": "append", "events": [ev]}, "v: required (a non-negative integer)"),
            ({"v": None, "op": "append"}, "v: required (a non-negative integer)"),
            ({"v": "1", "op": "append"}, "v: expected a non-negative integer"),
            ({"v": -1, "op": "append"}, "v: expected a non-negative integer"),
            ({"v": 1}, "op: required (a string)"),
            ({"v": 1, "op": None}, "op: required (a string)"),
            ({"v": 1, "op": 1}, "op: expected a string"),
            ({"v": 1, "op": "append"}, "events: required (a non-empty array)"),
            ({"v": 1, "op": "append", "events": None}, "events: required (a non-empty array)"),
            ({"v": 1, "op": "append", "events": ev}, "events: expected a non-empty array"),
            ({"v": 1, "op": "append", "events": []}, "events: expected a non-empty array"),
            ({"v": 1, "op": "append", "events": [ev], "atomic": 1}, "atomic: expected a boolean"),
            # the first fault wins
            ({"v": "1", "op": 1}, "v: expected a non-negative integer"),
            ({"v": 1, "op": "append", "events": [], "atomic": 1},
             "events: expected a non-empty array"),
        ]
        now_range = "now: expected an integer from 0 to 253402300799999"
        cases += [({"v": 1, "op": "tick", "now": now}, now_range)
                  for now in ("1", -1, 1.5, 253402300800000)]
        for body, message in cases:
            with self.subTest(body=body):
                reply = self.request_error(pt.packb(body), "bad_request")
                self.assertEqual(reply["message"], message)
        # nil is the key left out: a tick at the daemon's clock, a batch that is not atomic
        expect_ok(self.c.call("tick", now=None))
        r = expect_ok(self.c.call("append", events=[ev, dict(pt.sale_closed(), amount="x")],
                                  atomic=None))
        self.assertEqual((r["appended"], r["rejected"]), (1, 1))

    def test_too_large_body(self):
        """A body over 16 MiB is refused as a whole, even though each event in it is valid."""
        reason = "r" * 1000
        events = [pt.sale_cancelled(reason=reason) for _ in range(17 * 1024)]
        body = pt.packb({"v": 1, "op": "append", "corr": 11, "events": events})
        self.assertGreater(len(body), 16 * pt.MiB)
        self.request_error(body, "too_large")

    def test_too_many_events(self):
        events = [pt.sale_cancelled(reason=None, order="o") for _ in range(100001)]
        body = pt.packb({"v": 1, "op": "append", "corr": 12, "events": events})
        self.assertLess(len(body), 16 * pt.MiB)
        self.request_error(body, "too_large")
        # the batch's size is checked before atomic (PROTOCOL.md, "Which check wins")
        body = pt.packb({"v": 1, "op": "append", "events": events, "atomic": "yes"})
        self.request_error(body, "too_large", ["100001 events"])

    def test_wrong_framing_gets_no_reply(self):
        body = pt.packb({"v": 1, "op": "append", "events": [pt.sale_closed()]})
        before = self.last_seq()
        self.c.send_frames([body])                    # no delimiter
        self.c.send_frames([b"", body, b"extra"])     # a third frame
        self.c.send_frames([b"not-empty", body])      # delimiter not empty
        self.c.send_frames([b""])                     # delimiter only
        corr = self.c.send({"v": 1, "op": "append", "events": [pt.sale_closed()]})
        reply = self.c.recv_reply()
        self.assertEqual(reply["corr"], corr, "a badly framed request got a reply")
        self.assertEqual(expect_ok(reply)["results"][0]["seq"], before + 1,
                         "a badly framed request was appended")
        self.assertFalse(self.c.poll(0.5), "a stray reply arrived")

    def test_bad_requests_counter(self):
        before = expect_ok(self.q.status())["counters"]["bad_requests"]
        self.request_error(b"\xc1", "malformed")
        self.request_error(pt.packb([1]), "bad_request")
        after = expect_ok(self.q.status())["counters"]["bad_requests"]
        self.assertGreaterEqual(after - before, 2)

    # -- event level

    def event_error(self, event, code, field=None, body=None):
        """Appends one bad event (or a prepared body); expects that event refused with `code`
        and a message naming `field`, and the log unchanged."""
        before = self.last_seq()
        if body is None:
            reply = self.c.append([event])
        else:
            self.c.send_body_bytes(body)
            reply = self.c.recv_reply()
        expect_ok(reply)
        self.assertEqual(len(reply["results"]), 1)
        res = reply["results"][0]
        self.assertIn("error", res, "accepted: %r" % (event,))
        if isinstance(code, str):
            self.assertEqual(res["error"], code, res)
        else:
            self.assertIn(res["error"], code, res)
        self.assertIsInstance(res.get("message"), str)
        if field:
            self.assertRegex(res["message"], r"\b%s\b" % re.escape(field))
        self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]), (0, 0, 1))
        self.assertEqual(reply["last_seq"], before)
        return res

    def event_ok(self, event):
        reply = expect_ok(self.c.append([event]))
        self.assertNotIn("error", reply["results"][0], "refused: %r" % (event,))
        self.assertEqual(reply["appended"], 1)

    def test_not_a_map(self):
        for ev in ("hello", [1, 2], None, 42, b"\x81"):
            with self.subTest(ev=ev):
                self.event_error(ev, "not_a_map")

    def test_event_error_message_names_index_and_id(self):
        good = pt.sales(2)
        bad = pt.sale_closed(amount="100")
        reply = expect_ok(self.c.append([good[0], good[1], bad]))
        res = reply["results"][2]
        self.assertEqual(res["error"], "wrong_type")
        self.assertIn(bad["id"], res["message"])
        self.assertIn("amount", res["message"])

    def test_wrong_field_types(self):
        cases = [
            (pt.sale_closed(amount="100"), "amount"),
            (pt.sale_closed(amount=12.5), "amount"),
            (pt.sale_closed(amount=100.0), "amount"),  # money is never a float
            (pt.sale_closed(amount=True), "amount"),
            (pt.sale_closed(amount=b"100"), "amount"),
            (pt.sale_closed(occurred_at="2026-01-01"), "occurred_at"),
            (pt.sale_closed(id=12345), "id"),
            (pt.sale_closed(rep=["zhang"]), "rep"),
            (pt.sale_closed(currency=156), "currency"),
            (pt.sale_closed(customer={"id": "c"}), "customer"),
            (pt.sale_closed(quantity="3"), "quantity"),
            (pt.kpi_recorded(value="4.5"), "value"),
            (pt.kpi_recorded(value=True), "value"),
            (pt.node_defined(name=b"East"), "name"),
            (pt.target_set(target=1.5e8), "target"),
        ]
        for ev, field in cases:
            with self.subTest(field=field, value=ev[field]):
                self.event_error(ev, "wrong_type", field)

    def test_missing_required_fields(self):
        def without(ev, field):
            ev = dict(ev)
            del ev[field]
            return ev
        cases = [
            (without(pt.sale_closed(), "amount"), "amount"),
            (pt.sale_closed(amount=None), "amount"),
            (without(pt.sale_closed(), "currency"), "currency"),
            (without(pt.sale_closed(), "id"), "id"),
            (pt.sale_closed(id=None), "id"),
            (without(pt.sale_closed(), "occurred_at"), "occurred_at"),
            (without(pt.sale_closed(), "type"), "type"),
            (pt.node_defined(parent=None), "parent"),  # a region needs a parent
            (without(pt.target_set(), "author"), "author"),
            (without(pt.target_adjusted(), "reason"), "reason"),
            (without(pt.kpi_recorded(), "value"), "value"),
            (without(pt.alert_silenced(), "reason"), "reason"),
        ]
        for ev, field in cases:
            with self.subTest(field=field, type=ev.get("type")):
                self.event_error(ev, "missing_field", field)
        # target_adjusted needs at least one tier; payment_received needs order or customer.
        self.event_error(without(pt.target_adjusted(), "target"), "missing_field")
        self.event_error(pt.payment_received(order=None, customer=None), "missing_field")
        # ...and either one is enough.
        self.event_ok(pt.payment_received(order=None, customer="c-1"))
        self.event_ok(pt.payment_received(order="o-1", customer=None))
        self.event_ok(pt.node_defined(node="acme2", kind="company", parent=None))

    def test_unknown_fields(self):
        cases = [
            (dict(pt.sale_closed(), amout=5), "amout"),
            (dict(pt.node_defined(), amount=5), "amount"),
            (dict(pt.sale_closed(), seq=1), "seq"),
            (dict(pt.sale_closed(), recorded_at=pt.T0), "recorded_at"),
            (dict(pt.sale_closed(), hash=b"\x00" * 32), "hash"),
            (dict(pt.sale_closed(), Amount=5), "Amount"),
            (dict(pt.sale_closed(), extra=None), None),
        ]
        for ev, field in cases:
            with self.subTest(field=field):
                self.event_error(ev, "unknown_field", field)
        non_string_key = pt.sale_closed()
        non_string_key[7] = "x"
        self.event_error(non_string_key, "unknown_field")

    def test_unknown_event_type(self):
        for t in ("sale_opened", "Sale_Closed", "sale_closed ", ""):
            with self.subTest(type=t):
                self.event_error(pt.sale_closed(type=t), "unknown_type", None)

    def test_invalid_utf8(self):
        for field, ev in (("rep", pt.sale_closed()), ("customer", pt.sale_closed()),
                          ("name", pt.node_defined()), ("reason", pt.sale_refunded()),
                          ("id", pt.sale_closed())):
            for raw in (b"ab\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"abc\xe6\xb1"):
                with self.subTest(field=field, raw=raw):
                    self.event_error(None, "invalid_utf8", field, body=with_bytes(ev, field, raw))

    def test_invalid_utf8_where_a_name_is_expected(self):
        """Invalid UTF-8 in an op, a field name or a type is refused, and the reply's message
        is still a valid msgpack str (recv_reply decodes every str as UTF-8)."""
        ph = "\x01PH\x01"
        bad = b"a\xff\xfeb"
        for client in (self.c, self.q):
            with self.subTest(op_on=client.endpoint):
                body = pt.packb({"v": 1, "op": ph}).replace(ph.encode(), bad)
                self.request_error(body, ("unknown_op", "bad_request"), client=client)
        ev = pt.sale_closed()
        ev[ph] = 1
        with self.subTest("field name"):
            body = pt.packb({"v": 1, "op": "append", "events": [ev]}).replace(ph.encode(), bad)
            self.event_error(None, ("unknown_field", "invalid_utf8"), body=body)
        with self.subTest("type"):
            body = pt.packb({"v": 1, "op": "append", "events": [pt.sale_closed(type=ph)]})
            self.event_error(None, ("unknown_type", "invalid_utf8"),
                             body=body.replace(ph.encode(), bad))

    def test_id_rules(self):
        self.event_error(pt.sale_closed(id="x" * 65), "too_long", "id")
        self.event_error(pt.sale_closed(id="汉" * 22), "too_long", "id")  # 22 chars, 66 bytes
        self.event_error(pt.sale_closed(rep="r" * 65), "too_long", "rep")
        self.event_error(pt.sale_closed(id=""), ("invalid_value", "too_long", "out_of_range",
                                                 "missing_field"), "id")
        for bad in ("a\nb", "tab\there", "nul\x00", "del\x7f"):
            with self.subTest(id=bad):
                self.event_error(pt.sale_closed(id=pt.uid(bad)), "invalid_value", "id")
                self.event_error(pt.sale_closed(rep=bad), "invalid_value", "rep")
        # Boundaries that are valid.
        self.event_ok(pt.sale_closed(id=pt.uid("x")[:10] + "y" * 54))  # exactly 64 bytes
        self.event_ok(pt.sale_closed(id=pt.uid("汉")))
        self.event_ok(pt.sale_closed(id=pt.uid("sp ace/colon:ok")))

    def test_text_limits(self):
        self.event_error(pt.node_defined(name="n" * 257), "too_long", "name")
        self.event_error(pt.sale_refunded(reason="r" * 1025), "too_long", "reason")
        self.event_error(pt.kpi_defined(unit="u" * 33), "too_long", "unit")
        self.event_error(pt.alert_silenced(alert="a" * 257), "too_long", "alert")
        self.event_error(pt.sale_refunded(reason="r" * 100000), "too_long", "reason")
        self.event_ok(pt.node_defined(node="n256", name="n" * 256))
        self.event_ok(pt.sale_refunded(reason="理" * 341))  # 1023 bytes
        self.event_ok(pt.sale_refunded(reason=""))

    def test_bad_currency(self):
        for cur in ("cny", "CN", "CNYY", "C1Y", "ÇNY", "", "US D"):
            with self.subTest(currency=cur):
                self.event_error(pt.sale_closed(currency=cur), "invalid_value", "currency")
        self.event_error(pt.target_set(currency="usd"), "invalid_value", "currency")

    def test_bad_period(self):
        for p in ("2026-Q5", "2026-Q0", "2026-13", "2026-00", "2026-W00", "2026-W54",
                  "2026-02-30", "2025-02-29", "FY2026-Q0", "FY2026-Q5", "26", "2026-1",
                  "2026-q4", "FY26", "", "2026-11-22T00:00", "Q4-2026"):
            with self.subTest(period=p):
                self.event_error(pt.target_set(period=p), "invalid_value", "period")
        for p in ("2026", "2026-Q4", "2026-11", "2026-W47", "2026-11-22", "FY2026",
                  "FY2026-Q1", "2024-02-29"):
            with self.subTest(valid_period=p):
                self.event_ok(pt.target_set(period=p))

    def test_bad_date(self):
        for date in ("2026-02-30", "2025-02-29", "2026-13-01", "2026-2-3", "20260101",
                     "2026-10-01 ", ""):
            with self.subTest(date=date):
                self.event_error(pt.calendar_day_set(date=date), "invalid_value", "date")
        self.event_ok(pt.calendar_day_set(date="2024-02-29"))

    def test_bad_metric(self):
        for m in ("Revenue", "1rev", "rev-enue", "", "kpi csat", "m" * 65):
            with self.subTest(metric=m):
                self.event_error(pt.target_set(metric=m), ("invalid_value", "too_long"), "metric")
        for m in ("kpi:csat", "activities.visit", "new_customers", "collection_rate"):
            with self.subTest(valid_metric=m):
                self.event_ok(pt.target_set(metric=m))
        # well-formed but not a metric pacer knows: refused, naming the field
        for m in ("m" * 64, "kpi:nps", "activities.email"):
            with self.subTest(unknown_metric=m):
                self.event_error(pt.target_set(metric=m), "invalid_value", "metric")

    def test_bad_enum(self):
        cases = [(pt.node_defined(kind="Region"), "kind"),
                 (pt.node_defined(kind="division"), "kind"),
                 (pt.activity_logged(activity="email"), "activity"),
                 (pt.kpi_defined(aggregation="median"), "aggregation"),
                 (pt.calendar_day_set(day_type="weekend"), "day_type")]
        for ev, field in cases:
            with self.subTest(field=field):
                self.event_error(ev, "invalid_value", field)

    def test_tier_order_and_ranges(self):
        cases = [
            (pt.target_set(floor=200, target=100, stretch=300), "floor"),
            (pt.target_set(floor=10, target=100, stretch=50), "stretch"),
            (pt.target_set(target=-1, floor=None, stretch=None), "target"),
            (pt.target_set(target=2 ** 62 + 1, floor=None, stretch=None), "target"),
            (pt.target_adjusted(floor=5, target=3), "floor"),
            (pt.target_adjusted(target=10, stretch=9), "stretch"),
            (pt.sale_closed(amount=-1), "amount"),
            (pt.sale_closed(amount=2 ** 62 + 1), "amount"),
            (pt.sale_closed(amount=2 ** 64 - 1), "amount"),
            (pt.sale_closed(margin=-(2 ** 62) - 1), "margin"),
            (pt.sale_closed(quantity=0), "quantity"),
            (pt.sale_closed(quantity=2 ** 31 + 1), "quantity"),
            (pt.sale_refunded(amount=0), "amount"),
            (pt.payment_received(amount=0), "amount"),
            (pt.sale_closed(occurred_at=-1), "occurred_at"),
            (pt.sale_closed(occurred_at=253402300800000), "occurred_at"),
            (pt.sale_closed(due_at=-5), "due_at"),
        ]
        for ev, field in cases:
            with self.subTest(field=field, value=ev.get(field)):
                self.event_error(ev, "out_of_range", field)
        for v in (float("nan"), float("inf"), float("-inf")):
            with self.subTest(value=v):
                self.event_error(pt.kpi_recorded(value=v), ("out_of_range", "invalid_value"),
                                 "value")
        # Boundaries that are valid.
        self.event_ok(pt.sale_closed(amount=2 ** 62, margin=-(2 ** 62), quantity=2 ** 31))
        self.event_ok(pt.sale_closed(amount=0, occurred_at=253402300799999))
        self.event_ok(pt.sale_closed(occurred_at=0))
        self.event_ok(pt.target_set(floor=5, target=5, stretch=5))
        self.event_ok(pt.target_set(target=2 ** 62, floor=0, stretch=2 ** 62))

    def test_bad_events_in_a_batch_do_not_stop_good_ones(self):
        before = self.last_seq()
        good = pt.sales(3)
        reply = expect_ok(self.c.append([good[0], pt.sale_closed(currency="x"), good[1],
                                         "not a map", good[2]]))
        codes = [r.get("error") for r in reply["results"]]
        self.assertEqual(codes, [None, "invalid_value", None, "not_a_map", None])
        self.assertEqual([r["seq"] for r in reply["results"] if "seq" in r],
                         [before + 1, before + 2, before + 3])
        self.assertEqual((reply["appended"], reply["rejected"]), (3, 2))


if __name__ == "__main__":
    pt.main()
